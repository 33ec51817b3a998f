/**
 * `tinyc run`: flags -> {@link RunOptions} -> {@link Spec}. Pure; the CLI
 * entry (main.ts) does the I/O.
 *
 * @module
 */

import { flagHelp, type Parsed, parseFlags } from "./flags.ts";
import { RUN_FLAGS } from "./run_flags.ts";

export { RUN_FLAGS };
import { parsePublish, type PortMapping } from "./network/publish.ts";
import { TinycError } from "./errors.ts";
import { resolveCapabilities } from "./security/capabilities.ts";
import { resolve } from "./posix_path.ts";
import { parseCgroupParent, resourcesFromFlags } from "./cgroups/resources.ts";
import {
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
} from "./security/paths.ts";
import {
  defaultSeccompProfile,
  parseSeccompProfile,
  type SeccompProfile,
} from "./security/seccomp.ts";
import type { ExecUser } from "./security/user.ts";
import {
  DEFAULT_PATH,
  defaultDevices,
  defaultMounts,
  defaultNamespaces,
  DEMO_ENV,
  type Device,
  envSet,
  type LinuxResources,
  type Mount,
  type Namespace,
  type Spec,
} from "./spec.ts";

/** `tinyc run` usage text. */
export function runHelp(): string {
  return `Usage: tinyc run [OPTIONS] IMAGE [CMD [ARGS...]]
       tinyc run [OPTIONS] --root DIR [-- CMD [ARGS...]]

Run CMD in a new container: on a copy-on-write layer over IMAGE (pulled
first if missing; the image's Entrypoint, Cmd, Env, WorkingDir and User
apply, flags override them), or with DIR as / (CMD defaults to --shell, else
/bin/sh).
The container gets new mount, UTS, IPC, PID, network and cgroup namespaces,
hostname tinyhost (the host's with --network host), its own /proc, a minimal
/dev and a read-only /sys.

Options:
${flagHelp(RUN_FLAGS)}

Exit status: the command's; 125 if tinyc fails, 126 if the command cannot be
invoked, 127 if it is not found, 128+N if it was killed by signal N.`;
}

/** What the user asked `tinyc run` for. */
export interface RunOptions {
  root: string;
  /** `tinyc run IMAGE`: the image and what the flags say about it. */
  image?: {
    ref: string;
    pull: "missing" | "always" | "never";
    /** Arguments after IMAGE. */
    command: string[];
    entrypoint?: string;
    /** `-w`, when given. */
    workdir?: string;
  };
  /** The image's Env: after tinyc's defaults, before `-e`. */
  baseEnv?: string[];
  args: string[];
  hostname: string;
  env: string[];
  workdir: string;
  help: boolean;
  /** `--user` as given (resolved against the rootfs later). */
  user?: string;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  /** `default`, `unconfined`, or a profile path. */
  seccomp: string;
  noNewPrivileges: boolean;
  readOnly: boolean;
  tmpfs: Mount[];
  volumes: Array<{ source: string; destination: string; readonly: boolean }>;
  resources: LinuxResources;
  cgroupParent?: string;
  /** `-t`: a pty of the container's own. */
  tty: boolean;
  network: {
    mode: "none" | "host" | "bridge";
    subnet?: string;
    publish: PortMapping[];
    nat: boolean;
  };
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
  hostCpus: number = navigator.hardwareConcurrency,
  hostName: () => string = () => Deno.hostname(),
): RunOptions {
  const { values, rest } = parseFlags(RUN_FLAGS, argv, "tinyc run");
  const help = values.help === true;
  const root = values.root as string | undefined;
  // No --root: the first argument is the image (docker's form).
  const imageRef = root === undefined && !help ? rest.shift() : undefined;
  if (!help && (root === undefined || root === "") && !imageRef) {
    throw new TinycError(
      "tinyc run: give an IMAGE or --root DIR (see 'tinyc run --help')",
    );
  }
  const pull = (values.pull as string | undefined) ?? "missing";
  if (pull !== "missing" && pull !== "always" && pull !== "never") {
    throw new TinycError(
      `tinyc run: --pull ${pull}: use missing, always or never`,
    );
  }
  if (
    !imageRef && (values.pull !== undefined || values.entrypoint !== undefined)
  ) {
    throw new TinycError(
      `tinyc run: --${
        values.pull !== undefined ? "pull" : "entrypoint"
      } needs an IMAGE (not --root)`,
    );
  }
  const shell = values.shell as string | undefined;
  if (shell !== undefined && rest.length > 0) {
    throw new TinycError(
      `tinyc run: --shell ${shell} and the command ${
        rest.join(" ")
      } both given: give the command either with --shell or after the flags`,
    );
  }
  if (shell !== undefined && !shell.startsWith("/")) {
    throw new TinycError(
      `tinyc run: --shell ${shell}: must be an absolute path inside the rootfs`,
    );
  }
  const args = rest.length > 0 ? rest : [shell ?? "/bin/sh"];
  // --network host shares the host's identity on the network: its name
  // too, unless one is given (as docker does).
  const hostname = (values.hostname as string | undefined) ??
    (values.network === "host" ? hostName() : "tinyhost");
  if (!HOSTNAME_RE.test(hostname) || hostname.length > 64) {
    throw new TinycError(
      `tinyc run: --hostname ${hostname}: not a valid hostname (letters, digits, '-' and '.'; labels of at most 63, at most 64 in all)`,
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
  let seccomp = "default";
  let noNewPrivileges = true;
  for (const opt of (values["security-opt"] as string[] | undefined) ?? []) {
    const m = opt.match(/^([a-z-]+)(?:[=:](.*))?$/);
    const [key, val] = m ? [m[1], m[2]] : ["", undefined];
    if (key === "seccomp" && val) seccomp = val;
    else if (key === "no-new-privileges" && (val ?? "true") in BOOL) {
      noNewPrivileges = BOOL[val ?? "true"];
    } else {
      throw new TinycError(
        `tinyc run: --security-opt ${opt}: unsupported (use seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges[=true|false])`,
      );
    }
  }
  const tmpfs = ((values.tmpfs as string[] | undefined) ?? []).map(parseTmpfs);
  const volumes = ((values.volume as string[] | undefined) ?? []).map((v) =>
    parseVolume(v)
  );
  const privileged = values.privileged === true;
  // tinyc's masked paths need its /dev (they bind /dev/null).
  const onDev = [...tmpfs, ...volumes].find((m) => m.destination === "/dev");
  if (onDev && !privileged) {
    throw new TinycError(
      `tinyc run: mounting over /dev (${onDev.destination}) needs --privileged`,
    );
  }
  return {
    root: root ?? "",
    image: imageRef
      ? {
        ref: imageRef,
        pull,
        command: shell !== undefined ? [shell] : rest,
        entrypoint: values.entrypoint as string | undefined,
        workdir: values.workdir as string | undefined,
      }
      : undefined,
    args,
    hostname,
    env,
    workdir,
    help,
    user: values.user as string | undefined,
    capAdd: (values["cap-add"] as string[] | undefined) ?? [],
    capDrop: (values["cap-drop"] as string[] | undefined) ?? [],
    privileged: values.privileged === true,
    seccomp,
    noNewPrivileges,
    readOnly: values["read-only"] === true,
    tmpfs,
    volumes,
    resources: checkCpus(
      resourcesFromFlags({
        memory: values.memory as string | undefined,
        cpus: values.cpus as string | undefined,
        pidsLimit: values["pids-limit"] as string | undefined,
      }),
      values.cpus as string | undefined,
      hostCpus,
    ),
    cgroupParent: parseCgroupParent(
      values["cgroup-parent"] as string | undefined,
    ),
    network: parseNetwork(values),
    tty: values.tty === true,
  };
}

const BOOL: Record<string, boolean> = { true: true, false: false };

function parseNetwork(values: Parsed["values"]): RunOptions["network"] {
  const mode = (values.network as string | undefined) ?? "none";
  if (mode !== "none" && mode !== "host" && mode !== "bridge") {
    throw new TinycError(
      `tinyc run: --network ${mode}: unknown mode (use none, host or bridge)`,
    );
  }
  const publish = ((values.publish as string[] | undefined) ?? []).map(
    parsePublish,
  );
  const subnet = values.subnet as string | undefined;
  const nat = values.nat === true;
  if (mode !== "bridge") {
    const what = publish.length
      ? `--publish ${publish[0].spec}`
      : subnet !== undefined
      ? `--subnet ${subnet}`
      : nat
      ? "--nat"
      : undefined;
    if (what) {
      throw new TinycError(`tinyc run: ${what}: requires --network bridge`);
    }
  }
  return { mode, subnet, publish, nat };
}

/** docker's rule: `--cpus` cannot exceed the CPUs the host has. */
function checkCpus(
  r: LinuxResources,
  given: string | undefined,
  hostCpus: number,
): LinuxResources {
  if (r.cpu?.quota && r.cpu.period && r.cpu.quota / r.cpu.period > hostCpus) {
    throw new TinycError(
      `--cpus ${given}: range of CPUs is from 0.01 to ${
        hostCpus.toFixed(2)
      } (the CPUs available)`,
    );
  }
  return r;
}

/** The namespaces a container gets; `--network host` shares the host's network. */
export function namespacesFor(opts: RunOptions): Namespace[] {
  return defaultNamespaces().filter((n) =>
    n.type !== "network" || opts.network.mode !== "host"
  );
}

/** The seccomp profile for the options: none when privileged or unconfined. */
function seccompFor(
  opts: RunOptions,
  host: HostFacts,
  bounding: readonly string[],
): SeccompProfile | undefined {
  if (opts.privileged || opts.seccomp === "unconfined") return undefined;
  if (opts.seccomp === "default") return defaultSeccompProfile(bounding);
  return parseSeccompProfile(host.seccompProfileText ?? "", {
    caps: bounding,
    kernel: host.kernel,
    source: `--security-opt seccomp=${opts.seccomp}`,
  });
}

const TMPFS_VALUE_OPTIONS = [
  "size",
  "mode",
  "uid",
  "gid",
  "nr_inodes",
  "nr_blocks",
  "huge",
  "mpol",
];
const TMPFS_FLAG_OPTIONS = [
  "ro",
  "rw",
  "nosuid",
  "suid",
  "nodev",
  "dev",
  "noexec",
  "exec",
  "noatime",
  "strictatime",
  "noswap",
  "inode64",
];

/**
 * User mounts, parents before children (as docker sorts them), so a
 * `--tmpfs /tmp` never hides a `-v X:/tmp/data`; stable otherwise.
 */
function byDepth(mounts: Mount[]): Mount[] {
  const depth = (m: Mount) => m.destination.split("/").filter(Boolean).length;
  return mounts.map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i)
    .map(({ m }) => m);
}

/**
 * The canonical form of a mount destination (`//dev/.` -> `/dev`), refusing
 * those tinyc will not mount over: `/` itself, `..`, and /proc.
 */
function checkDestination(flag: string, arg: string, dest: string): string {
  const clean = "/" + dest.split("/").filter((c) => c && c !== ".").join("/");
  if (clean === "/" || dest.split("/").includes("..")) {
    throw new TinycError(
      `tinyc run: ${flag} ${arg}: the container path must not be / or contain '..'`,
    );
  }
  if (clean === "/proc" || clean.startsWith("/proc/")) {
    throw new TinycError(
      `tinyc run: ${flag} ${arg}: mounting over /proc is not allowed`,
    );
  }
  return clean;
}

/** `--tmpfs PATH[:SIZE]` or `PATH:OPTS` (docker's mount options) -> a mount. */
export function parseTmpfs(arg: string): Mount {
  const i = arg.indexOf(":");
  const dest = i < 0 ? arg : arg.slice(0, i);
  const rest = i < 0 ? "" : arg.slice(i + 1);
  if (!dest.startsWith("/")) {
    throw new TinycError(
      `tinyc run: --tmpfs ${arg}: the path must be absolute`,
    );
  }
  const destination = checkDestination("--tmpfs", arg, dest);
  const options = ["nosuid", "nodev", "noexec"];
  if (/^\d+[kmg]?$/i.test(rest)) {
    if (/^0+[kmg]?$/i.test(rest)) {
      throw new TinycError(
        `tinyc run: --tmpfs ${arg}: size 0 would mean no limit; give a size, e.g. ${dest}:64m`,
      );
    }
    options.push(`size=${rest}`);
  } else if (rest !== "") {
    for (const o of rest.split(",")) {
      const m = o.match(/^([a-z_0-9]+)(=[A-Za-z0-9%]+)?$/);
      const known = m &&
        (m[2] ? TMPFS_VALUE_OPTIONS : TMPFS_FLAG_OPTIONS).includes(m[1]);
      if (!known) {
        throw new TinycError(
          `tinyc run: --tmpfs ${arg}: bad option ${o} (use PATH:SIZE like /tmp:64m, or PATH:size=64m,mode=1777)`,
        );
      }
      if (m![1] === "mode" && !/^=[0-7]{1,4}$/.test(m![2])) {
        throw new TinycError(
          `tinyc run: --tmpfs ${arg}: mode must be octal, e.g. mode=1777`,
        );
      }
      if (m![1] === "size" && !/^=\d+[kmg%]?$/i.test(m![2])) {
        throw new TinycError(
          `tinyc run: --tmpfs ${arg}: size must be bytes, k/m/g or a percentage, e.g. size=64m`,
        );
      }
      if (o === "exec") options.splice(options.indexOf("noexec"), 1);
      else options.push(o);
    }
  }
  return { destination, type: "tmpfs", source: "tmpfs", options };
}

/** `-v HOST:CONTAINER[:ro|:rw]` -> source, destination, readonly. */
export function parseVolume(
  arg: string,
): { source: string; destination: string; readonly: boolean } {
  const parts = arg.split(":");
  const [source, destination, mode = "rw"] = parts;
  if (parts.length < 2 || parts.length > 3 || !source || !destination) {
    throw new TinycError(
      `tinyc run: --volume ${arg}: use HOST:CONTAINER[:ro]`,
    );
  }
  // As docker: `.`, `./DIR` and `../DIR` are against the current directory;
  // any other relative name would be a named volume.
  const relative = source === "." || source === ".." ||
    source.startsWith("./") || source.startsWith("../");
  if (!source.startsWith("/") && !relative) {
    throw new TinycError(
      `tinyc run: --volume ${arg}: the host path must be absolute or start with ./ (named volumes are not supported)`,
    );
  }
  if (!destination.startsWith("/")) {
    throw new TinycError(
      `tinyc run: --volume ${arg}: the container path must be absolute`,
    );
  }
  const dest = checkDestination("--volume", arg, destination);
  if (mode !== "ro" && mode !== "rw") {
    throw new TinycError(
      `tinyc run: --volume ${arg}: unknown mode ${mode} (use ro or rw)`,
    );
  }
  return {
    source: relative ? resolve(source) : source,
    destination: dest,
    readonly: mode === "ro",
  };
}

/** Facts about the host the spec depends on (gathered by the CLI). */
export interface HostFacts {
  /** Absolute, resolved rootfs path. */
  rootPath: string;
  /** Is the launcher's stdin a terminal (then TERM is set)? */
  stdinIsTerminal: boolean;
  /** The user to run as, resolved against the rootfs (default root). */
  user?: ExecUser;
  /** Capabilities the host lets us grant (mask), for --privileged / ALL. */
  availableCaps?: bigint;
  /** Contents of the `--security-opt seccomp=PATH` profile, when one is given. */
  seccompProfileText?: string;
  /** Kernel release, for docker profiles' `minKernel`. */
  kernel?: string;
  /** Volumes with their host paths resolved. */
  volumes?: Mount[];
  /** Host device nodes to recreate (--privileged). */
  hostDevices?: Device[];
}

/** Build the container spec for `opts`. */
export function specFromOptions(opts: RunOptions, host: HostFacts): Spec {
  const user = host.user ??
    { uid: 0, gid: 0, additionalGids: [], home: "/root" };
  let env = [
    `PATH=${DEFAULT_PATH}`,
    `HOSTNAME=${opts.hostname}`,
    `HOME=${user.home}`,
    // an image brings its own environment instead of the seed's demo
    ...(opts.image ? [] : [DEMO_ENV]),
  ];
  if (host.stdinIsTerminal || opts.tty) env.push("TERM=xterm");
  for (const e of opts.baseEnv ?? []) env = envSet(env, e);
  for (const e of opts.env) env = envSet(env, e);
  const capabilities = resolveCapabilities({
    add: opts.capAdd,
    drop: opts.capDrop,
    privileged: opts.privileged,
    uid: user.uid,
    available: host.availableCaps,
  });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: opts.tty,
      user: {
        uid: user.uid,
        gid: user.gid,
        additionalGids: user.additionalGids,
      },
      args: opts.args,
      env,
      cwd: opts.workdir,
      capabilities,
      noNewPrivileges: opts.noNewPrivileges,
    },
    root: {
      path: host.rootPath,
      readonly: opts.readOnly,
      nodev: !opts.privileged,
    },
    hostname: opts.hostname,
    mounts: [
      ...defaultMounts().map((m) =>
        // --privileged: /sys is writable.
        opts.privileged && m.type === "sysfs"
          ? { ...m, options: m.options!.filter((o) => o !== "ro") }
          : m
      ),
      ...byDepth([...(host.volumes ?? []), ...opts.tmpfs]),
    ],
    linux: {
      namespaces: namespacesFor(opts),
      devices: opts.privileged && host.hostDevices
        ? host.hostDevices
        : defaultDevices(),
      seccomp: seccompFor(opts, host, capabilities.bounding),
      // docker's device allow-list (the runtime's defaults, src/engine/
      // devices.ts), applied wherever the container's cgroup is made.
      resources: opts.privileged
        ? opts.resources
        : { ...opts.resources, devices: [{ allow: false, access: "rwm" }] },
      cgroupParent: opts.cgroupParent,
      maskedPaths: opts.privileged ? [] : [...DEFAULT_MASKED_PATHS],
      readonlyPaths: opts.privileged ? [] : [...DEFAULT_READONLY_PATHS],
    },
  };
}
