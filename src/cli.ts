/**
 * `tinyc run`: flags -> {@link RunOptions} -> {@link Spec}. Pure; the CLI
 * entry (main.ts) does the I/O.
 *
 * @module
 */

import { type FlagDef, flagHelp, parseFlags } from "./flags.ts";
import { TinycError } from "./errors.ts";
import {
  DEFAULT_PATH,
  defaultDevices,
  defaultMounts,
  defaultNamespaces,
  DEMO_ENV,
  envSet,
  type Spec,
} from "./spec.ts";

/** The flags of `tinyc run`. */
export const RUN_FLAGS: FlagDef[] = [
  {
    name: "root",
    type: "string",
    arg: "DIR",
    help: "rootfs directory (required)",
  },
  {
    name: "shell",
    type: "string",
    arg: "PATH",
    help: "command to run, a path inside the rootfs (default /bin/sh)",
  },
  {
    name: "hostname",
    short: "h",
    type: "string",
    arg: "NAME",
    help: "container hostname (default tinyhost)",
  },
  {
    name: "env",
    short: "e",
    type: "string",
    multiple: true,
    arg: "KEY=VALUE",
    help: "set an environment variable (KEY alone copies the host's value)",
  },
  {
    name: "workdir",
    short: "w",
    type: "string",
    arg: "DIR",
    help: "working directory inside the container (default /)",
  },
  { name: "help", type: "boolean", help: "show this help" },
];

/** `tinyc run` usage text. */
export function runHelp(): string {
  return `Usage: tinyc run [OPTIONS] --root DIR [-- CMD [ARGS...]]

Run CMD (default: --shell, else /bin/sh) in a new container whose / is DIR.
The container gets new mount, UTS, IPC, PID, network and cgroup namespaces,
hostname tinyhost, its own /proc, a minimal /dev and a read-only /sys.

Options:
${flagHelp(RUN_FLAGS)}

Exit status: the command's; 125 if tinyc fails, 126 if the command cannot be
invoked, 127 if it is not found, 128+N if it was killed by signal N.`;
}

/** What the user asked `tinyc run` for. */
export interface RunOptions {
  root: string;
  args: string[];
  hostname: string;
  env: string[];
  workdir: string;
  help: boolean;
}

const HOSTNAME_RE =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Parse `tinyc run` arguments. `hostEnv` resolves `-e KEY` (no value).
 * Throws {@link TinycError} (exit 125) naming the bad flag.
 */
export function parseRunArgs(
  argv: readonly string[],
  hostEnv: (key: string) => string | undefined = () => undefined,
): RunOptions {
  const { values, rest } = parseFlags(RUN_FLAGS, argv, "tinyc run");
  const help = values.help === true;
  const root = values.root as string | undefined;
  if (!help && (root === undefined || root === "")) {
    throw new TinycError("tinyc run: --root DIR is required");
  }
  const shell = values.shell as string | undefined;
  if (shell !== undefined && rest.length > 0) {
    throw new TinycError(
      `tinyc run: give the command either with --shell or after the flags, not both`,
    );
  }
  if (shell !== undefined && !shell.startsWith("/")) {
    throw new TinycError(
      `tinyc run: --shell ${shell}: must be an absolute path inside the rootfs`,
    );
  }
  const args = rest.length > 0 ? rest : [shell ?? "/bin/sh"];
  const hostname = (values.hostname as string | undefined) ?? "tinyhost";
  if (!HOSTNAME_RE.test(hostname) || hostname.length > 64) {
    throw new TinycError(
      `tinyc run: --hostname ${hostname}: not a valid hostname (letters, digits, '-' and '.', at most 64)`,
    );
  }
  const env: string[] = [];
  for (const e of (values.env as string[] | undefined) ?? []) {
    const eq = e.indexOf("=");
    const key = eq < 0 ? e : e.slice(0, eq);
    if (key === "" || /[\s\0]/.test(key)) {
      throw new TinycError(`tinyc run: --env ${e}: invalid variable name`);
    }
    if (eq >= 0) env.push(e);
    else {
      const v = hostEnv(key);
      if (v !== undefined) env.push(`${key}=${v}`);
    }
  }
  const workdir = (values.workdir as string | undefined) ?? "/";
  if (!workdir.startsWith("/")) {
    throw new TinycError(
      `tinyc run: --workdir ${workdir}: must be an absolute path`,
    );
  }
  return { root: root ?? "", args, hostname, env, workdir, help };
}

/** Facts about the host the spec depends on. */
export interface HostFacts {
  /** Absolute, resolved rootfs path. */
  rootPath: string;
  /** Is the launcher's stdin a terminal (then TERM is set)? */
  stdinIsTerminal: boolean;
}

/** Build the container spec for `opts`. */
export function specFromOptions(opts: RunOptions, host: HostFacts): Spec {
  let env = [
    `PATH=${DEFAULT_PATH}`,
    `HOSTNAME=${opts.hostname}`,
    "HOME=/root",
    DEMO_ENV,
  ];
  if (host.stdinIsTerminal) env.push("TERM=xterm");
  for (const e of opts.env) env = envSet(env, e);
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: opts.args,
      env,
      cwd: opts.workdir,
    },
    root: { path: host.rootPath, readonly: false },
    hostname: opts.hostname,
    mounts: defaultMounts(),
    linux: {
      namespaces: defaultNamespaces(),
      devices: defaultDevices(),
    },
  };
}
