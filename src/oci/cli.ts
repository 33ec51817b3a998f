/**
 * `tinyc-oci`: runc's command line, so that podman (conmon), docker and
 * containerd (the runc v2 shim), and Kubernetes through containerd, run
 * containers with tinyc. Global flags come before the verb:
 *
 *   tinyc-oci [--root DIR] [--log FILE] [--log-format text|json] [--debug]
 *             [--systemd-cgroup] VERB [FLAGS] ID ...
 *
 * Errors: one line on stderr (`tinyc-oci: ...`), also appended to the
 * `--log` file (as a JSON line with `--log-format json`, which the shim
 * reads to report the cause), and exit status 1.
 *
 * @module
 */

import { lazyImport } from "../lazy.ts";
import { oneLine, osReason, TinycError } from "../errors.ts";
import { StateStore } from "../engine/state.ts";
import * as posix from "../posix_path.ts";

/**
 * The verbs' modules, imported by computed specifier: Deno loads the whole
 * graph of every literal dynamic import when this module loads, so `state`,
 * `start`, `kill` and `delete` would pay for create's and exec's modules
 * too (see src/lazy.ts).
 */
const container = () =>
  lazyImport<typeof import("../engine/container.ts")>(
    "src/engine/container.ts",
  );
const execModule = () =>
  lazyImport<typeof import("../engine/exec.ts")>("src/engine/exec.ts");
const featuresModule = () =>
  lazyImport<typeof import("./features.ts")>("src/oci/features.ts");
const configModule = () =>
  lazyImport<typeof import("./config.ts")>("src/oci/config.ts");

/** tinyc-oci's version. */
export const VERSION = "0.3.0";

/** Default state root (runc's is /run/runc). */
export const DEFAULT_ROOT = "/run/tinyc-oci";

const USAGE = `Usage: tinyc-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ID [ARGS...]

An OCI runtime with runc's command line (runtime-spec ${"1.1.0"}).

Commands:
  create [--bundle B] [--pid-file F] [--console-socket S] ID   create a container
  start ID                       run the created container's process
  state ID                       print the container's state (JSON)
  kill [--all] ID [SIGNAL]       send a signal (default SIGTERM)
  delete [--force] ID            delete a container
  run [--bundle B] [--detach] [--pid-file F] [--console-socket S] ID
                                 create and start; attached unless --detach
  exec [--process P.json | ARGS...] [--detach] [--tty] [--cwd D] [--env K=V]
       [--user UID[:GID]] [--cap CAP] [--no-new-privs] [--pid-file F]
       [--console-socket S] ID  run a process in a running container
  ps [--format table|json] ID   list the container's processes
  list [--format table|json] [--quiet]   list containers
  pause ID, resume ID            freeze / thaw the container
  update [--resources FILE|-] [--memory N] [--memory-swap N]
         [--memory-reservation N] [--cpu-quota N] [--cpu-period N]
         [--cpu-share N] [--pids-limit N] ID   change resource limits
  features                       what this runtime supports (JSON)
  spec [--rootless] [--bundle B] write a default config.json

Global options:
  --root DIR        state directory (default ${DEFAULT_ROOT})
  --log FILE        also write errors to FILE
  --log-format F    text (default) or json
  --debug           accepted (more output in the log)
  --systemd-cgroup  refused: cgroups are managed through cgroupfs
  --version, -v     print the version`;

/** Flag definitions: name -> takes a value? Aliases map to the name. */
interface FlagSpec {
  [name: string]: { value: boolean; repeat?: boolean; alias?: string[] };
}

interface ParsedArgs {
  flags: Record<string, string | boolean | string[]>;
  positional: string[];
}

/**
 * Parse urfave/cli-style flags (`--x v`, `--x=v`, `-x v`, single-dash long
 * names too) up to the first positional when `stopAtPositional`.
 */
export function parseOciFlags(
  spec: FlagSpec,
  args: readonly string[],
  verb: string,
  stopAtPositional = false,
): ParsedArgs {
  const byName = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) {
    byName.set(name, name);
    for (const a of s.alias ?? []) byName.set(a, name);
  }
  const flags: ParsedArgs["flags"] = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("-") && a !== "-") {
      const body = a.replace(/^--?/, "");
      const eq = body.indexOf("=");
      const key = eq < 0 ? body : body.slice(0, eq);
      const name = byName.get(key);
      if (!name) throw new TinycError(`${verb}: unknown flag ${a}`);
      const s = spec[name];
      let value: string | boolean;
      if (s.value) {
        if (eq >= 0) value = body.slice(eq + 1);
        else if (i + 1 < args.length) value = args[++i];
        else throw new TinycError(`${verb}: flag ${a} needs a value`);
      } else {
        value = eq < 0 ? true : !["false", "0"].includes(body.slice(eq + 1));
      }
      if (s.repeat) {
        const list = (flags[name] as string[] | undefined) ?? [];
        list.push(value as string);
        flags[name] = list;
      } else flags[name] = value;
      continue;
    }
    positional.push(a);
    if (stopAtPositional) {
      // exec: the id, then the command and its own flags.
      positional.push(...args.slice(i + 1));
      break;
    }
  }
  return { flags, positional };
}

const GLOBAL: FlagSpec = {
  root: { value: true },
  log: { value: true },
  "log-format": { value: true },
  debug: { value: false },
  "systemd-cgroup": { value: false },
  rootless: { value: true },
  criu: { value: true },
  version: { value: false, alias: ["v"] },
  help: { value: false, alias: ["h"] },
};

const CREATE: FlagSpec = {
  bundle: { value: true, alias: ["b"] },
  "pid-file": { value: true },
  "console-socket": { value: true },
  "no-pivot": { value: false },
  "no-new-keyring": { value: false },
  "preserve-fds": { value: true },
  detach: { value: false, alias: ["d"] },
  keep: { value: false },
};

const EXEC: FlagSpec = {
  process: { value: true, alias: ["p"] },
  detach: { value: false, alias: ["d"] },
  "pid-file": { value: true },
  "console-socket": { value: true },
  tty: { value: false, alias: ["t"] },
  cwd: { value: true },
  env: { value: true, repeat: true, alias: ["e"] },
  user: { value: true, alias: ["u"] },
  cap: { value: true, repeat: true, alias: ["c"] },
  "no-new-privs": { value: false },
  "preserve-fds": { value: true },
  "additional-gids": { value: true, repeat: true, alias: ["g"] },
  "process-label": { value: true },
  apparmor: { value: true },
  "ignore-paused": { value: false },
  cgroup: { value: true },
};

const UPDATE: FlagSpec = {
  resources: { value: true, alias: ["r"] },
  memory: { value: true, alias: ["m"] },
  "memory-swap": { value: true },
  "memory-reservation": { value: true },
  "cpu-quota": { value: true },
  "cpu-period": { value: true },
  "cpu-share": { value: true },
  "pids-limit": { value: true },
};

function oneId(p: ParsedArgs, verb: string, max = 1): string {
  if (p.positional.length < 1) {
    throw new TinycError(`${verb}: requires a container id`);
  }
  if (p.positional.length > max) {
    throw new TinycError(
      `${verb}: unexpected argument ${p.positional[max]}`,
    );
  }
  return p.positional[0];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** Where errors go besides stderr. */
interface LogTarget {
  file?: string;
  json: boolean;
}

function logError(target: LogTarget, msg: string): void {
  if (!target.file) return;
  const time = new Date().toISOString();
  const line = target.json
    ? JSON.stringify({ level: "error", msg, time }) + "\n"
    : `time="${time}" level=error msg=${JSON.stringify(msg)}\n`;
  try {
    Deno.writeTextFileSync(target.file, line, { append: true, create: true });
  } catch {
    // the log is best effort; stderr has it
  }
}

/** `tinyc-oci ARGS...`: resolves to the exit status. */
export async function ociMain(argv: string[]): Promise<number> {
  const target: LogTarget = { json: false };
  try {
    const g = parseOciFlags(GLOBAL, argv, "tinyc-oci", true);
    target.file = str(g.flags.log);
    target.json = g.flags["log-format"] === "json";
    if (g.flags.version) {
      console.log(`tinyc-oci version ${VERSION}\nspec: 1.1.0`);
      return 0;
    }
    const [verb, ...rest] = g.positional;
    if (g.flags.help || verb === undefined || verb === "help") {
      console.log(USAGE);
      return verb === undefined && !g.flags.help ? 1 : 0;
    }
    if (g.flags["systemd-cgroup"]) {
      throw new TinycError(
        "--systemd-cgroup: tinyc-oci manages cgroups through cgroupfs only (configure the engine's cgroup manager as cgroupfs)",
      );
    }
    const format = str(g.flags["log-format"]);
    if (format && format !== "text" && format !== "json") {
      throw new TinycError(`--log-format ${format}: must be text or json`);
    }
    const store = new StateStore(str(g.flags.root) ?? DEFAULT_ROOT);
    return await dispatch(store, verb, rest);
  } catch (e) {
    const msg = oneLine(e);
    console.error(msg.startsWith("tinyc-oci") ? msg : `tinyc-oci: ${msg}`);
    logError(target, msg);
    return 1;
  }
}

async function dispatch(
  store: StateStore,
  verb: string,
  args: string[],
): Promise<number> {
  switch (verb) {
    case "create":
    case "run": {
      const p = parseOciFlags(CREATE, args, verb);
      const id = oneId(p, verb);
      const preserve = Number(str(p.flags["preserve-fds"]) ?? "0");
      if (preserve !== 0) {
        throw new TinycError(
          `--preserve-fds ${
            p.flags["preserve-fds"]
          }: passing extra fds is not supported by tinyc-oci`,
        );
      }
      if (verb === "create" && p.flags.detach) {
        throw new TinycError("create: unknown flag --detach");
      }
      const bundle = posix.resolve(str(p.flags.bundle) ?? Deno.cwd());
      const c = await container();
      const opts = {
        bundle,
        pidFile: str(p.flags["pid-file"]),
        consoleSocket: str(p.flags["console-socket"]),
      };
      if (verb === "create") {
        await c.createOci(store, id, opts);
        return 0;
      }
      return await c.runOci(store, id, opts, p.flags.detach === true);
    }
    case "start": {
      const id = oneId(parseOciFlags({}, args, verb), verb);
      const c = await container();
      await c.startOci(store, id);
      return 0;
    }
    case "state": {
      const id = oneId(parseOciFlags({}, args, verb), verb);
      const { ociState } = await container();
      const r = store.load(id);
      console.log(JSON.stringify(ociState(r, store.status(r)), null, 2));
      return 0;
    }
    case "kill": {
      const p = parseOciFlags(
        { all: { value: false, alias: ["a"] } },
        args,
        verb,
      );
      const id = oneId(p, verb, 2);
      const c = await container();
      const sig = c.parseSignal(p.positional[1] ?? "SIGTERM");
      await c.killOci(store, id, sig, p.flags.all === true);
      return 0;
    }
    case "delete": {
      const p = parseOciFlags(
        { force: { value: false, alias: ["f"] } },
        args,
        verb,
      );
      const id = oneId(p, verb);
      const c = await container();
      try {
        await c.deleteOci(store, id, p.flags.force === true);
      } catch (e) {
        // runc: deleting a missing container with --force is not an error.
        if (
          p.flags.force && e instanceof TinycError &&
          /does not exist/.test(e.message)
        ) return 0;
        throw e;
      }
      return 0;
    }
    case "exec": {
      const p = parseOciFlags(EXEC, args, verb, true);
      const [id, ...cmd] = p.positional;
      if (!id) throw new TinycError("exec: requires a container id");
      for (const f of ["process-label", "apparmor"]) {
        if (p.flags[f]) {
          throw new TinycError(`exec: --${f}: not supported by tinyc-oci`);
        }
      }
      if (Number(str(p.flags["preserve-fds"]) ?? "0") !== 0) {
        throw new TinycError(
          "exec: --preserve-fds is not supported by tinyc-oci",
        );
      }
      const { execOci } = await execModule();
      return await execOci(store, id, {
        processFile: str(p.flags.process),
        args: cmd,
        tty: p.flags.tty === true,
        cwd: str(p.flags.cwd),
        env: (p.flags.env as string[] | undefined) ?? [],
        user: str(p.flags.user),
        caps: (p.flags.cap as string[] | undefined) ?? [],
        noNewPrivs: p.flags["no-new-privs"] === true,
        detach: p.flags.detach === true,
        pidFile: str(p.flags["pid-file"]),
        consoleSocket: str(p.flags["console-socket"]),
      });
    }
    case "ps": {
      const p = parseOciFlags(
        { format: { value: true, alias: ["f"] } },
        args,
        verb,
        true,
      );
      const [id] = p.positional;
      if (!id) throw new TinycError("ps: requires a container id");
      const c = await container();
      const r = store.load(id);
      const pids = c.cgroupPids(r);
      const format = str(p.flags.format) ?? "table";
      if (format === "json") {
        console.log(JSON.stringify(pids));
        return 0;
      }
      if (format !== "table") {
        throw new TinycError(`ps: --format ${format}: must be table or json`);
      }
      console.log("PID\tCMD");
      for (const pid of pids) {
        let cmd = "";
        try {
          cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0")
            .join(" ").trim();
        } catch {
          continue;
        }
        console.log(`${pid}\t${cmd}`);
      }
      return 0;
    }
    case "list":
    case "ls": {
      const p = parseOciFlags(
        {
          format: { value: true, alias: ["f"] },
          quiet: { value: false, alias: ["q"] },
        },
        args,
        verb,
      );
      const format = str(p.flags.format) ?? "table";
      if (format !== "table" && format !== "json") {
        throw new TinycError(`list: --format ${format}: must be table or json`);
      }
      const { ociState } = await container();
      const states = store.ids().flatMap((id) => {
        try {
          const r = store.load(id);
          return [ociState(r, store.status(r))];
        } catch {
          return [];
        }
      });
      if (p.flags.quiet) {
        for (const s of states) console.log(s.id);
      } else if (format === "json") {
        console.log(JSON.stringify(states));
      } else {
        console.log("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
        for (const s of states) {
          console.log(
            `${s.id}\t${s.pid}\t${s.status}\t${s.bundle}\t${s.created}\troot`,
          );
        }
      }
      return 0;
    }
    case "pause":
    case "resume": {
      const id = oneId(parseOciFlags({}, args, verb), verb);
      const c = await container();
      await c.pauseOci(store, id, verb === "pause");
      return 0;
    }
    case "update": {
      const p = parseOciFlags(UPDATE, args, verb);
      const id = oneId(p, verb);
      const c = await container();
      await c.updateOci(store, id, await updateResources(p));
      return 0;
    }
    case "features": {
      const { features } = await featuresModule();
      console.log(JSON.stringify(features(), null, 2));
      return 0;
    }
    case "spec": {
      const p = parseOciFlags(
        {
          rootless: { value: false },
          bundle: { value: true, alias: ["b"] },
        },
        args,
        verb,
      );
      const { defaultConfig } = await featuresModule();
      const dir = str(p.flags.bundle) ?? ".";
      const file = `${dir}/config.json`;
      try {
        Deno.lstatSync(file);
        throw new TinycError(`spec: ${file} already exists`);
      } catch (e) {
        if (e instanceof TinycError) throw e;
      }
      try {
        Deno.writeTextFileSync(
          file,
          JSON.stringify(defaultConfig(p.flags.rootless === true), null, "\t") +
            "\n",
        );
      } catch (e) {
        throw new TinycError(`spec: ${file}: ${osReason(e)}`);
      }
      return 0;
    }
    default:
      throw new TinycError(`unknown command ${verb} (see 'tinyc-oci --help')`);
  }
}

/** `update`: the resources from `--resources FILE|-` or the flags. */
async function updateResources(
  p: ParsedArgs,
): Promise<import("../spec.ts").LinuxResources> {
  const file = str(p.flags.resources);
  if (file !== undefined) {
    const text = file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : Deno.readTextFileSync(file);
    let r: unknown;
    try {
      r = JSON.parse(text);
    } catch (e) {
      throw new TinycError(`update --resources ${file}: ${oneLine(e)}`);
    }
    const { specFromOciConfig } = await configModule();
    const spec = specFromOciConfig({
      ociVersion: "1.0.0",
      root: { path: "/" },
      process: { args: ["x"] },
      linux: { resources: r, namespaces: [{ type: "mount" }] },
    }, "/");
    return spec.linux.resources ?? {};
  }
  const num = (name: string): number | undefined => {
    const v = str(p.flags[name]);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) {
      throw new TinycError(`update --${name} ${v}: not an integer`);
    }
    return n;
  };
  // Memory flags take sizes as runc's do (64m, 1g; plain bytes; -1).
  const { parseMemory } = await import("../cgroups/resources.ts");
  const size = (name: string): number | undefined => {
    const v = str(p.flags[name]);
    if (v === undefined || /^-?\d+$/.test(v.trim())) return num(name);
    return parseMemory(v, `update --${name}`);
  };
  const out: import("../spec.ts").LinuxResources = {};
  const limit = size("memory"),
    swap = size("memory-swap"),
    reservation = size("memory-reservation");
  if (limit !== undefined || swap !== undefined || reservation !== undefined) {
    out.memory = { limit, swap, reservation };
  }
  const quota = num("cpu-quota"),
    period = num("cpu-period"),
    shares = num("cpu-share");
  if (quota !== undefined || period !== undefined || shares !== undefined) {
    out.cpu = { quota, period, shares };
  }
  const pids = num("pids-limit");
  if (pids !== undefined) out.pids = { limit: pids };
  return out;
}
