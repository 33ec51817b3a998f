/**
 * The CLI of detached containers: `run -d`, `ps`, `logs`, `exec`, `stop`,
 * `kill`, `wait`, `inspect`, `rm`. Reading verbs (ps, inspect, logs) and
 * exec work from the state files alone; the others ask the monitor
 * (src/detached/monitor.ts), or act on the files when no monitor runs the
 * container any more (it exited, or the monitor is gone).
 *
 * @module
 */

import { tinycArgv } from "../self.ts";
import { oneLine, TinycError } from "../errors.ts";
import { type FlagDef, parseFlags } from "../flags.ts";
import { isAlive, StateStore } from "../engine/state.ts";
import { cstr, libc } from "../libc.ts";
import { spawn } from "../process.ts";
import {
  detachedPaths,
  type DetachedRecord,
  ensureStateDir,
  logPath,
  stateBase,
} from "./record.ts";
import {
  commandText,
  formatTable,
  humanDuration,
  parseSignalName,
  resolveRef,
  statusText,
  viewState,
} from "./logic.ts";
import type { Request, Response } from "./monitor.ts";

const paths = () => detachedPaths(stateBase());
const store = () => new StateStore(paths().root);

/** Every detached container's record. */
export function loadRecords(s: StateStore = store()): DetachedRecord[] {
  const out: DetachedRecord[] = [];
  for (const id of s.ids()) {
    try {
      const r = s.load(id);
      if (r.detached) out.push(r as DetachedRecord);
    } catch {
      // being created or removed
    }
  }
  return out;
}

/** The record `ref` (id, prefix or name) names. */
function find(ref: string, records = loadRecords()): DetachedRecord {
  const id = resolveRef(
    ref,
    records.map((r) => ({ id: r.id, name: r.detached.name })),
  );
  return records.find((r) => r.id === id)!;
}

function view(r: DetachedRecord) {
  return viewState(r.detached, isAlive(r), isAlive(r.detached.monitor));
}

// ---------------------------------------------------------------- monitor

/** The argv that starts the monitor. */
function monitorArgv(): string[] {
  return tinycArgv("__monitor");
}

/** Start a monitor in the background: stdin /dev/null, output to its log. */
function startMonitor(): void {
  const p = paths();
  ensureStateDir(stateBase());
  Deno.mkdirSync(p.root, { recursive: true, mode: 0o700 });
  const c = libc();
  const O_CLOEXEC = 0o2000000;
  const devnull = c.open(cstr("/dev/null"), O_CLOEXEC, 0);
  const log = c.open(
    cstr(p.monitorLog),
    0o1 | 0o100 | 0o2000 | O_CLOEXEC,
    0o600,
  );
  try {
    const argv = monitorArgv();
    const env = Object.entries(Deno.env.toObject()).map(([k, v]) =>
      `${k}=${v}`
    );
    spawn(argv[0], argv, env, {
      fds: [[0, devnull], [1, log >= 0 ? log : devnull], [
        2,
        log >= 0 ? log : devnull,
      ]],
    });
  } finally {
    c.close(devnull);
    if (log >= 0) c.close(log);
  }
}

async function send(req: Request): Promise<Response> {
  const conn = await Deno.connect({ transport: "unix", path: paths().socket });
  try {
    const { readLine, writeAll } = await import("./monitor.ts");
    await writeAll(conn, new TextEncoder().encode(JSON.stringify(req) + "\n"));
    const line = await readLine(conn);
    if (!line) throw new TinycError("the monitor closed the connection");
    return JSON.parse(line) as Response;
  } finally {
    conn.close();
  }
}

/** Ask the monitor, starting one first if `start` and none answers. */
async function ask(req: Request, start = false): Promise<Response> {
  let started = false;
  for (let i = 0;; i++) {
    try {
      return await send(req);
    } catch (e) {
      if (e instanceof TinycError) throw e;
      if (!start || i > 200) {
        throw new TinycError(`cannot reach the monitor: ${oneLine(e)}`);
      }
      if (!started || i % 50 === 49) {
        startMonitor();
        started = true;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function check(res: Response): Extract<Response, { ok: true }> {
  if (!res.ok) throw new TinycError(res.error, res.code);
  return res;
}

// ---------------------------------------------------------------- verbs

/** `tinyc run -d ...`: validated here, run by the monitor; prints the id. */
export async function runDetached(
  args: string[],
  flags: { name?: string; rm: boolean; restart?: string },
): Promise<number> {
  // Everything a plain run would refuse is refused here, before anything starts.
  const { parseRunArgs } = await import("../cli.ts");
  const opts = parseRunArgs(args, (k) => Deno.env.get(k));
  if (!opts.image) {
    // An image's rootfs lives in tinyc's own store; a directory is checked.
    const { resolveRootfs } = await import("../run_command.ts");
    const { reachableWarning } = await import("../rootfs/guard.ts");
    const warning = reachableWarning(resolveRootfs(opts.root));
    if (warning) console.error(warning);
  }
  const { parseRestart, validateName } = await import("./logic.ts");
  const policy = parseRestart(flags.restart);
  if (flags.rm && policy.name !== "no") {
    throw new TinycError("conflicting options: --restart and --rm");
  }
  if (flags.name !== undefined) validateName(flags.name);
  const res = check(
    await ask({
      op: "run",
      args,
      env: Deno.env.toObject(),
      cwd: Deno.cwd(),
      name: flags.name,
      rm: flags.rm,
      restart: flags.restart,
    }, true),
  );
  console.log(res.id);
  return 0;
}

const HELP_FLAG: FlagDef = { name: "help", type: "boolean", help: "usage" };

function parse(defs: FlagDef[], args: string[], cmd: string) {
  return parseFlags([...defs, HELP_FLAG], args, `tinyc ${cmd}`);
}

function helpText(usage: string, about: string, defs: FlagDef[]): string {
  const lines = defs.map((d) => {
    const f = `${d.short ? `-${d.short}, ` : "    "}--${d.name}${
      d.arg ? ` ${d.arg}` : ""
    }`;
    return `  ${f.padEnd(28)}${d.help}`;
  });
  return `Usage: ${usage}\n\n${about}\n${
    lines.length ? `\nOptions:\n${lines.join("\n")}\n` : ""
  }`;
}

const PS_FLAGS: FlagDef[] = [
  {
    name: "all",
    short: "a",
    type: "boolean",
    help: "show all containers (default: running)",
  },
  { name: "quiet", short: "q", type: "boolean", help: "only the ids" },
  {
    name: "no-trunc",
    type: "boolean",
    help: "full ids and commands",
  },
];

/** `tinyc ps [-a] [-q]`. */
export function psCommand(args: string[]): number {
  const { values, rest } = parse(PS_FLAGS, args, "ps");
  if (values.help) {
    console.log(helpText(
      "tinyc ps [-a] [-q] [--no-trunc]",
      "List detached containers: running ones, or all with -a.",
      PS_FLAGS,
    ));
    return 0;
  }
  if (rest.length) throw new TinycError(`tinyc ps: unexpected ${rest[0]}`);
  const now = Date.now();
  const full = values["no-trunc"] === true;
  const rows = loadRecords()
    .map((r) => ({ r, v: view(r) }))
    .filter(({ v }) =>
      values.all === true || v.status === "running" || v.status === "restarting"
    )
    .sort((a, b) => b.r.created.localeCompare(a.r.created));
  if (values.quiet) {
    for (const { r } of rows) console.log(full ? r.id : r.id.slice(0, 12));
    return 0;
  }
  const table = [[
    "CONTAINER ID",
    "IMAGE",
    "COMMAND",
    "CREATED",
    "STATUS",
    "PORTS",
    "NAMES",
  ]];
  for (const { r, v } of rows) {
    const d = r.detached;
    table.push([
      full ? r.id : r.id.slice(0, 12),
      d.image,
      full ? JSON.stringify(d.command.join(" ")) : commandText(d.command),
      `${createdText(r.created, now)}`,
      statusText(v, d.startedAt, now),
      v.status === "running" ? d.ports.join(", ") : "",
      d.name,
    ]);
  }
  console.log(formatTable(table));
  return 0;
}

function createdText(created: string, now: number): string {
  return `${humanDuration(now - Date.parse(created))} ago`;
}

const LOGS_FLAGS: FlagDef[] = [
  {
    name: "follow",
    short: "f",
    type: "boolean",
    help: "keep printing new output until the container ends",
  },
  {
    name: "tail",
    short: "n",
    type: "string",
    arg: "N",
    help: "only the last N lines (default all)",
  },
  {
    name: "timestamps",
    short: "t",
    type: "boolean",
    help: "prefix each line with its time (RFC 3339)",
  },
];

/** `tinyc logs [-f] [--tail N] [-t] NAME`. */
export async function logsCommand(args: string[]): Promise<number> {
  const { values, rest } = parse(LOGS_FLAGS, args, "logs");
  if (values.help) {
    console.log(helpText(
      "tinyc logs [-f] [--tail N] [-t] CONTAINER",
      "Print a detached container's stdout and stderr (kept until rm).",
      LOGS_FLAGS,
    ));
    return 0;
  }
  if (rest.length !== 1) {
    throw new TinycError("tinyc logs: give exactly one container");
  }
  let n = -1;
  const t = values.tail;
  // docker: a number of lines, or "all" (also a negative number)
  if (typeof t === "string" && t !== "all") {
    if (!/^-?\d+$/.test(t)) {
      throw new TinycError(`--tail ${t}: not a number (or "all")`);
    }
    n = Math.max(Number(t), -1);
  }
  const r = find(rest[0]);
  const { parseLog, tail, formatEntry } = await import("./logs.ts");
  const file = logPath(store().root, r.id);
  const ts = values.timestamps === true;
  const enc = new TextEncoder();
  const out = (e: { s: string; m: string; t: string }) => {
    const bytes = enc.encode(formatEntry(e as never, ts));
    (e.s === "stderr" ? Deno.stderr : Deno.stdout).writeSync(bytes);
  };
  const readAll = (path: string) => {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return "";
    }
  };
  const first = readAll(`${file}.1`) + readAll(file);
  // Only whole lines: a line being written is read on the next round.
  let offset = enc.encode(first.slice(0, first.lastIndexOf("\n") + 1)).length -
    enc.encode(readAll(`${file}.1`)).length;
  tail(parseLog(first), n).forEach(out);
  if (!values.follow) return 0;
  let ino = statIno(file);
  for (;;) {
    const running = (() => {
      try {
        const now = store().load(r.id) as DetachedRecord;
        const v = view(now);
        return v.status === "running" || v.status === "restarting";
      } catch {
        return false;
      }
    })();
    const cur = statIno(file);
    if (cur !== ino) {
      // rotated: the rest of the old file is now .1
      const old = readBytes(`${file}.1`, offset);
      offset = 0;
      ino = cur;
      parseLog(old).forEach(out);
    }
    const more = readBytes(file, offset);
    const whole = more.slice(0, more.lastIndexOf("\n") + 1);
    offset += enc.encode(whole).length;
    parseLog(whole).forEach(out);
    if (!running) return 0;
    await new Promise((res) => setTimeout(res, 200));
  }
}

function statIno(path: string): number | null {
  try {
    return Deno.statSync(path).ino;
  } catch {
    return null;
  }
}

function readBytes(path: string, offset: number): string {
  try {
    const f = Deno.openSync(path);
    try {
      f.seekSync(offset, Deno.SeekMode.Start);
      const size = f.statSync().size;
      const buf = new Uint8Array(Math.max(0, size - offset));
      let got = 0;
      while (got < buf.length) {
        const k = f.readSync(buf.subarray(got));
        if (k === null) break;
        got += k;
      }
      return new TextDecoder().decode(buf.subarray(0, got));
    } finally {
      f.close();
    }
  } catch {
    return "";
  }
}

/**
 * `tinyc attach NAME`: follow the container's output from now until it
 * ends, then exit with its status. Its stdin is /dev/null, so there is
 * nothing to type into; Ctrl-C leaves the container running.
 */
export async function attachCommand(args: string[]): Promise<number> {
  const { values, rest } = parse([], args, "attach");
  if (values.help) {
    console.log(helpText(
      "tinyc attach CONTAINER",
      "Print a running container's output as it comes, until it ends; exit with\nits status. Output only (a detached container's stdin is /dev/null);\nCtrl-C leaves it running.",
      [],
    ));
    return 0;
  }
  if (rest.length !== 1) {
    throw new TinycError("tinyc attach: give exactly one container");
  }
  const r = find(rest[0]);
  if (view(r).status !== "running") {
    throw new TinycError(`container ${r.detached.name} is not running`);
  }
  await logsCommand(["-f", "--tail", "0", r.id]);
  try {
    return view(store().load(r.id) as DetachedRecord).exitCode;
  } catch {
    return 0; // removed (--rm)
  }
}

const EXEC_FLAGS: FlagDef[] = [
  {
    name: "interactive",
    short: "i",
    type: "boolean",
    help: "keep stdin open (it always is)",
  },
  { name: "tty", short: "t", type: "boolean", help: "a pseudo-terminal" },
  {
    name: "env",
    short: "e",
    type: "string",
    multiple: true,
    arg: "KEY=VALUE",
    help: "set a variable (KEY alone copies the host's value)",
  },
  {
    name: "workdir",
    short: "w",
    type: "string",
    arg: "DIR",
    help: "working directory inside the container",
  },
  {
    name: "user",
    short: "u",
    type: "string",
    arg: "USER[:GROUP]",
    help: "uid/name (and gid/group) from the container's /etc/passwd",
  },
  {
    name: "detach",
    short: "d",
    type: "boolean",
    help: "run the command in the background",
  },
];

/** `tinyc exec [-it] [-e] [-w] [-u] NAME CMD...`. */
export async function execCommand(args: string[]): Promise<number> {
  const { values, rest } = parse(EXEC_FLAGS, args, "exec");
  if (values.help) {
    console.log(helpText(
      "tinyc exec [OPTIONS] CONTAINER CMD [ARGS...]",
      "Run a command in a running detached container: it joins every namespace\nand the cgroup, with the container's capabilities and seccomp filter.\nExits with the command's status.",
      EXEC_FLAGS,
    ));
    return 0;
  }
  if (rest.length < 2) {
    throw new TinycError("tinyc exec: give a container and a command");
  }
  const r = find(rest[0]);
  if (view(r).status !== "running") {
    throw new TinycError(`container ${r.detached.name} is not running`);
  }
  if (r.spec.linux.namespaces.some((n) => n.type === "user")) {
    // Joining a user namespace takes a single-threaded process (setns).
    throw new TinycError(
      "tinyc exec: not supported in rootless containers yet",
    );
  }
  const env = ((values.env ?? []) as string[]).flatMap((e) => {
    if (e.includes("=")) return [e];
    const v = Deno.env.get(e);
    return v === undefined ? [] : [`${e}=${v}`];
  });
  let user: string | undefined;
  if (typeof values.user === "string") {
    const { withRoot } = await import("../linux/in_root.ts");
    const { resolveUser } = await import("../security/user.ts");
    const MAX = 1 << 20;
    // Through the container's own root (/proc/PID/root): hostile files are
    // read bounded, symlinks resolved inside it.
    const root = `/proc/${r.pid}/root`;
    const read = (p: string) => {
      try {
        return withRoot(root, (x) => x.readTextBounded(p, MAX));
      } catch {
        return "";
      }
    };
    const u = resolveUser(values.user, read("/etc/passwd"), read("/etc/group"));
    user = `${u.uid}:${u.gid}`;
  }
  const { execOci } = await import("../engine/exec.ts");
  // -d: the command's output is not ours (docker's exec -d), so nothing
  // that reads ours (a pipe, `$(...)`) waits for it.
  // Without -i its stdin is not ours either (docker's: it reads EOF).
  let stdio: [number, number, number] | undefined;
  if (values.detach === true || (!values.interactive && !values.tty)) {
    // O_RDWR|O_CLOEXEC: the spawn's dup2 gives the command its own copies.
    const devnull = libc().open(cstr("/dev/null"), 2 | 0o2000000, 0);
    stdio = values.detach === true
      ? [devnull, devnull, devnull]
      : [devnull, 1, 2];
  }
  return await execOci(store(), r.id, {
    ...(stdio && { stdio }),
    args: rest.slice(1),
    tty: values.tty === true,
    cwd: typeof values.workdir === "string" ? values.workdir : undefined,
    env,
    user,
    caps: [],
    noNewPrivs: false,
    detach: values.detach === true,
  });
}

/** Run `fn` for each container named, printing its name as docker does. */
async function each(
  refs: string[],
  verb: string,
  fn: (r: DetachedRecord) => Promise<void>,
): Promise<number> {
  if (!refs.length) throw new TinycError(`tinyc ${verb}: give a container`);
  let code = 0;
  for (const ref of refs) {
    try {
      await fn(find(ref));
      console.log(ref);
    } catch (e) {
      console.error(`tinyc ${verb}: ${oneLine(e)}`);
      code = e instanceof TinycError ? e.exitCode : 125;
    }
  }
  return code;
}

const STOP_FLAGS: FlagDef[] = [{
  name: "time",
  short: "t",
  type: "string",
  arg: "SECONDS",
  help: "grace period before SIGKILL (default 10)",
}];

/** `tinyc stop [-t SECONDS] NAME...`. */
export async function stopCommand(args: string[]): Promise<number> {
  const { values, rest } = parse(STOP_FLAGS, args, "stop");
  if (values.help) {
    console.log(helpText(
      "tinyc stop [-t SECONDS] CONTAINER...",
      "Send SIGTERM to the container's PID 1, and SIGKILL after the grace period.",
      STOP_FLAGS,
    ));
    return 0;
  }
  const t = values.time ?? "10";
  if (typeof t !== "string" || !/^\d+$/.test(t)) {
    throw new TinycError(`--time ${t}: not a number of seconds`);
  }
  return await each(rest, "stop", async (r) => {
    if (!isAlive(r.detached.monitor)) return; // not running any more
    check(await ask({ op: "stop", id: r.id, timeout: Number(t) }));
  });
}

const KILL_FLAGS: FlagDef[] = [{
  name: "signal",
  short: "s",
  type: "string",
  arg: "SIGNAL",
  help: "the signal (name or number; default KILL)",
}];

/** `tinyc kill [-s SIGNAL] NAME...`. */
export async function killCommand(args: string[]): Promise<number> {
  const { values, rest } = parse(KILL_FLAGS, args, "kill");
  if (values.help) {
    console.log(helpText(
      "tinyc kill [-s SIGNAL] CONTAINER...",
      "Send a signal to the container's PID 1.",
      KILL_FLAGS,
    ));
    return 0;
  }
  const sig = parseSignalName(
    typeof values.signal === "string" ? values.signal : "KILL",
  );
  return await each(rest, "kill", async (r) => {
    if (!isAlive(r.detached.monitor) || view(r).status !== "running") {
      throw new TinycError(`container ${r.detached.name} is not running`);
    }
    check(await ask({ op: "kill", id: r.id, signal: sig }));
  });
}

/** `tinyc wait NAME...`: prints each exit code. */
export async function waitCommand(args: string[]): Promise<number> {
  const { values, rest } = parse([], args, "wait");
  if (values.help) {
    console.log(helpText(
      "tinyc wait CONTAINER...",
      "Wait until each container stops, then print its exit code.",
      [],
    ));
    return 0;
  }
  if (!rest.length) throw new TinycError("tinyc wait: give a container");
  let code = 0;
  for (const ref of rest) {
    try {
      const r = find(ref);
      let exit: number;
      if (isAlive(r.detached.monitor)) {
        exit = check(await ask({ op: "wait", id: r.id })).code ?? 0;
      } else exit = view(r).exitCode;
      console.log(exit);
    } catch (e) {
      console.error(`tinyc wait: ${oneLine(e)}`);
      code = 125;
    }
  }
  return code;
}

const RM_FLAGS: FlagDef[] = [{
  name: "force",
  short: "f",
  type: "boolean",
  help: "kill a running container first",
}];

/** `tinyc rm [-f] NAME...`. */
export async function rmCommand(args: string[]): Promise<number> {
  const { values, rest } = parse(RM_FLAGS, args, "rm");
  if (values.help) {
    console.log(helpText(
      "tinyc rm [-f] CONTAINER...",
      "Remove containers: their state, logs, cgroup, network lease and ports.\nA running container is refused without -f.",
      RM_FLAGS,
    ));
    return 0;
  }
  return await each(rest, "rm", async (r) => {
    if (isAlive(r.detached.monitor)) {
      check(await ask({ op: "rm", id: r.id, force: values.force === true }));
      return;
    }
    // No monitor: what a crashed monitor or a reboot left.
    if (isAlive(r)) {
      throw new TinycError(
        `container ${r.detached.name} still runs without its monitor (pid ${r.pid})`,
      );
    }
    for (const c of r.cgroup?.cgroups ?? []) {
      try {
        Deno.removeSync(c.dir);
      } catch { /* gone */ }
    }
    if (Deno.uid() === 0 && r.detached.address) {
      const { reclaimStaleNetworks } = await import("../network/mod.ts");
      reclaimStaleNetworks();
    }
    store().remove(r.id);
  });
}

/** `tinyc inspect NAME...`: a JSON array, as docker's. */
export function inspectCommand(args: string[]): number {
  const { values, rest } = parse([], args, "inspect");
  if (values.help) {
    console.log(helpText(
      "tinyc inspect CONTAINER...",
      "Print what tinyc knows about containers, as a JSON array.",
      [],
    ));
    return 0;
  }
  if (!rest.length) throw new TinycError("tinyc inspect: give a container");
  const records = loadRecords();
  const out = rest.map((ref) => inspectView(find(ref, records)));
  console.log(JSON.stringify(out, null, 2));
  return 0;
}

/** docker-like inspect output of a record. */
export function inspectView(r: DetachedRecord): Record<string, unknown> {
  const d = r.detached;
  const v = view(r);
  const p = r.spec.process;
  return {
    Id: r.id,
    Created: r.created,
    Path: p.args[0],
    Args: p.args.slice(1),
    State: {
      Status: v.status,
      Running: v.status === "running",
      Paused: false,
      Restarting: v.status === "restarting",
      OOMKilled: d.oomKilled ?? false,
      Dead: false,
      Pid: v.status === "running" ? r.pid : 0,
      ExitCode: v.status === "running" ? 0 : v.exitCode,
      Error: d.error ?? "",
      StartedAt: d.startedAt ?? "",
      FinishedAt: v.status === "running" ? "" : (d.finishedAt ?? ""),
    },
    Name: `/${d.name}`,
    RestartCount: d.restartCount,
    LogPath: logPath(store().root, r.id),
    Image: d.image,
    HostConfig: {
      RestartPolicy: {
        Name: d.restart.name,
        MaximumRetryCount: d.restart.max,
      },
      AutoRemove: d.autoRemove,
      CgroupPaths: r.cgroup?.cgroups.map((c) => c.dir) ?? [],
    },
    Config: {
      Hostname: r.spec.hostname,
      User: `${p.user.uid}:${p.user.gid}`,
      Env: p.env,
      Cmd: p.args,
      WorkingDir: p.cwd,
      Tty: p.terminal,
      Args: d.args,
    },
    Mounts: r.spec.mounts
      .filter((m) => m.type === "bind" && m.destination !== "/etc/hosts")
      .map((m) => ({
        Type: "bind",
        Source: m.source,
        Destination: m.destination,
        RW: !(m.options ?? []).includes("ro"),
      })),
    NetworkSettings: {
      IPAddress: d.address ?? "",
      Ports: d.ports,
    },
  };
}
