/**
 * The monitor: one long-lived tinyc process (`tinyc __monitor`) that runs
 * every detached container of a user. The first `tinyc run -d` starts it
 * (in a session of its own); it exits when it has no containers left.
 *
 * Each container is an ordinary attached run (src/run_command.ts and the
 * launcher) inside it, so cgroups, bridge networking, the `-p` proxies and
 * their cleanup work as for `tinyc run`; the init is the monitor's child.
 * Its stdin is /dev/null, its stdout and stderr are pipes that one `poll`
 * loop ({@link PipeHub}) reads into the container's log. The monitor
 * records the exit status and time when the container ends, applies the
 * restart policy, and removes `--rm` containers.
 *
 * The CLI speaks to it over a unix socket (0600) in the state directory:
 * one JSON request a connection, one JSON answer (see {@link Request}).
 * Everything that only reads (ps, inspect, logs) and exec go without it.
 *
 * @module
 */

import { oneLine, TinycError } from "../errors.ts";
import { dupCloexec, errno, libc, SYS } from "../libc.ts";
import { pipe } from "../sync.ts";
import { signal } from "../process.ts";
import {
  type ContainerRecord,
  isAlive,
  processStartTime,
  StateStore,
} from "../engine/state.ts";
import type { CgroupPlan } from "../cgroups/plan.ts";
import type { StartedRun } from "../run_command.ts";
import {
  detachedPaths,
  type DetachedRecord,
  ensureStateDir,
  logPath,
  type RestartPolicy,
} from "./record.ts";
import {
  newId,
  parseRestart,
  portText,
  randomName,
  restartDelay,
  shouldRestart,
  validateName,
} from "./logic.ts";
import { LogWriter } from "./logs.ts";
import { parseRunArgs } from "../cli.ts";

/** What the CLI asks the monitor. */
export type Request =
  | {
    op: "run";
    args: string[];
    env: Record<string, string>;
    cwd: string;
    name?: string;
    rm: boolean;
    restart?: string;
  }
  | { op: "stop"; id: string; timeout: number }
  | { op: "kill"; id: string; signal: number }
  | { op: "wait"; id: string }
  | { op: "rm"; id: string; force: boolean }
  | { op: "ping" };

/** The monitor's answer. */
export type Response =
  | { ok: true; id?: string; code?: number; pid?: number }
  | { ok: false; error: string; code: number };

const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000;
const EAGAIN = 11, EINTR = 4;

function setNonBlocking(fd: number): void {
  const c = libc();
  const fl = c.syscall(
    BigInt(SYS.fcntl),
    BigInt(fd),
    BigInt(F_GETFL),
    0n,
    0n,
    0n,
  );
  c.syscall(
    BigInt(SYS.fcntl),
    BigInt(fd),
    BigInt(F_SETFL),
    fl | BigInt(O_NONBLOCK),
    0n,
    0n,
  );
}

/**
 * Reads many non-blocking fds with one `poll` at a time on a pool thread
 * (a wake-up pipe makes it look again when fds are added); the reads run
 * on the main thread. A callback gets the data, then null at the end (EOF
 * or an error such as a pty's EIO), after which the fd is closed.
 */
export class PipeHub {
  #readers = new Map<number, (d: Uint8Array | null) => void>();
  #wake: [number, number] | undefined;
  #running = false;
  #buf = new Uint8Array(64 * 1024);

  add(fd: number, cb: (d: Uint8Array | null) => void): void {
    setNonBlocking(fd);
    this.#readers.set(fd, cb);
    if (!this.#wake) {
      this.#wake = pipe();
      this.#wake.forEach(setNonBlocking);
    }
    libc().write(this.#wake[1], new Uint8Array([1]), 1n);
    if (!this.#running) this.#loop();
  }

  async #loop(): Promise<void> {
    this.#running = true;
    try {
      while (this.#readers.size > 0) {
        const fds = [this.#wake![0], ...this.#readers.keys()];
        const pfds = new Uint8Array(fds.length * 8);
        const view = new DataView(pfds.buffer);
        fds.forEach((fd, i) => {
          view.setInt32(i * 8, fd, true);
          view.setInt16(i * 8 + 4, 1, /* POLLIN */ true);
        });
        await libc().poll_async(pfds, BigInt(fds.length), -1);
        for (let i = 0; i < fds.length; i++) {
          if (view.getInt16(i * 8 + 6, true) === 0) continue;
          if (i === 0) {
            while (Number(libc().read(fds[0], this.#buf, 4096n)) > 0) {
              // drained
            }
          } else this.#drain(fds[i]);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  #drain(fd: number): void {
    const cb = this.#readers.get(fd);
    if (!cb) return;
    for (let n = 0; n < 16; n++) {
      const r = Number(
        libc().read(fd, this.#buf, BigInt(this.#buf.length)),
      );
      if (r > 0) {
        cb(this.#buf.slice(0, r));
        continue;
      }
      if (r < 0) {
        const e = errno();
        if (e === EAGAIN) return;
        if (e === EINTR) continue;
      }
      this.#readers.delete(fd);
      libc().close(fd);
      cb(null);
      return;
    }
  }
}

/** One detached container in this monitor. */
interface Live {
  id: string;
  name: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  restart: RestartPolicy;
  autoRemove: boolean;
  record?: DetachedRecord;
  /** The running init, 0 between runs. */
  pid: number;
  stopRequested: boolean;
  /** Resolved with the status each time the container ends. */
  waiters: Array<(code: number) => void>;
  /** Wakes a pending restart delay (stop, rm). */
  wake?: () => void;
  /** Resolves when the container's loop is over (no more restarts). */
  done: Promise<void>;
  /** Whether the kernel OOM-killed a process of the current run. */
  oomKilled?: () => boolean;
}

function sleep(ms: number, live: Live): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    live.wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
}

/** A lock so that only one container starts at a time (runs chdir). */
class Mutex {
  #last: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.#last;
    let release!: () => void;
    this.#last = new Promise((r) => release = r);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** The minimal cgroup plan exec needs (the directories, their version). */
function cgroupPlanOf(paths: string[]): CgroupPlan | undefined {
  if (!paths.length) return undefined;
  return {
    name: paths[0].split("/").at(-1) ?? "",
    mode: "unified",
    steps: [],
    cgroups: paths.map((dir) => {
      let v2 = false;
      try {
        v2 = Deno.statSync(`${dir}/cgroup.controllers`).isFile;
      } catch { /* v1 */ }
      return {
        version: v2 ? 2 : 1,
        dir,
        path: "",
        controllers: [],
        mountName: "",
        mountData: "",
      };
    }),
  } as unknown as CgroupPlan;
}

/** The monitor's state and request handling. */
export class Monitor {
  readonly store: StateStore;
  readonly hub = new PipeHub();
  readonly live = new Map<string, Live>();
  readonly #starting = new Mutex();
  /** Names being started (not on disk yet). */
  readonly #reserved = new Set<string>();
  #requests = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly self = { pid: Deno.pid, pidStart: processStartTime(Deno.pid)! };
  /** The seccomp compiler (src/security/seccomp.ts), loaded at start. */
  seccomp?: typeof import("../security/seccomp.ts");

  constructor(root: string, readonly onIdle: () => void) {
    this.store = new StateStore(root);
  }

  /** Records of every detached container on disk. */
  records(): DetachedRecord[] {
    const out: DetachedRecord[] = [];
    for (const id of this.store.ids()) {
      try {
        const r = this.store.load(id);
        if (r.detached) out.push(r as DetachedRecord);
      } catch {
        // being created or removed
      }
    }
    return out;
  }

  async handle(req: Request): Promise<Response> {
    this.#requests++;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    try {
      switch (req.op) {
        case "ping":
          return { ok: true, pid: Deno.pid };
        case "run":
          return { ok: true, id: await this.run(req) };
        case "stop":
          return { ok: true, code: await this.stop(req.id, req.timeout) };
        case "kill":
          this.kill(req.id, req.signal);
          return { ok: true };
        case "wait":
          return { ok: true, code: await this.wait(req.id) };
        case "rm":
          await this.rm(req.id, req.force);
          return { ok: true };
      }
    } catch (e) {
      return {
        ok: false,
        error: oneLine(e),
        code: e instanceof TinycError ? e.exitCode : 125,
      };
    } finally {
      this.#requests--;
      this.#checkIdle();
    }
  }

  #checkIdle(): void {
    if (this.live.size || this.#requests || this.#idleTimer !== undefined) {
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (!this.live.size && !this.#requests) this.onIdle();
    }, 1000);
  }

  async run(req: Extract<Request, { op: "run" }>): Promise<string> {
    const restart = parseRestart(req.restart);
    if (req.rm && restart.name !== "no") {
      throw new TinycError("conflicting options: --restart and --rm");
    }
    const taken = new Set([
      ...this.records().map((r) => r.detached.name),
      ...this.#reserved,
    ]);
    let name = req.name;
    if (name !== undefined) {
      validateName(name);
      if (taken.has(name)) {
        throw new TinycError(
          `container name ${name} is already in use (remove it with 'tinyc rm ${name}')`,
        );
      }
    } else name = randomName(taken);
    const id = newId();
    this.#reserved.add(name);
    let resolveDone!: () => void;
    const live: Live = {
      id,
      name,
      args: req.args,
      env: req.env,
      cwd: req.cwd,
      restart,
      autoRemove: req.rm,
      pid: 0,
      stopRequested: false,
      waiters: [],
      done: new Promise((r) => resolveDone = r),
    };
    try {
      this.store.create(id);
      const log = new LogWriter(logPath(this.store.root, id));
      // The first start: its failure is the CLI's error.
      const first = await this.#start(live, log);
      this.live.set(id, live);
      this.#loop(live, log, first).finally(() => {
        this.live.delete(id);
        resolveDone();
        this.#checkIdle();
      });
      return id;
    } catch (e) {
      this.store.remove(id);
      throw e;
    } finally {
      this.#reserved.delete(name);
    }
  }

  /** Start the container once: resolves when its command runs. */
  #start(live: Live, log: LogWriter): Promise<{ exit: Promise<number> }> {
    return this.#starting.run(async () => {
      const { runDetachedContainer } = await import("../run_command.ts");
      const c = libc();
      const devnull = c.open(
        new TextEncoder().encode("/dev/null\0"),
        0o2000000,
        0,
      );
      const [outR, outW] = pipe();
      const [errR, errW] = pipe();
      let open = true;
      const closeOurs = () => {
        if (!open) return;
        open = false;
        [devnull, outW, errW].forEach((fd) => c.close(fd));
      };
      this.hub.add(outR, (d) => log.write("stdout", d));
      this.hub.add(errR, (d) => log.write("stderr", d));
      let started!: (info: StartedRun) => void;
      const startedP = new Promise<StartedRun>((r) => started = r);
      Deno.chdir(live.cwd);
      let exit: Promise<number>;
      try {
        exit = runDetachedContainer(live.args, (k) => live.env[k], {
          id: live.id,
          stdio: [devnull, outW, errW],
          takePty: (master) => {
            const fd = dupCloexec(master);
            if (fd >= 0) this.hub.add(fd, (d) => log.write("stdout", d));
          },
          onStarted: (info) => {
            closeOurs();
            started(info);
          },
        }).finally(closeOurs);
        // The command runs (onStarted comes before the launcher waits), or
        // the start failed: then this rejects with the launcher's error.
        const info = await Promise.race([startedP, exit.then(() => null)]);
        if (info === null) throw new TinycError("container ended at start-up");
        this.#recordStart(live, info);
      } finally {
        Deno.chdir("/");
      }
      return { exit };
    });
  }

  #recordStart(live: Live, info: StartedRun): void {
    const spec = {
      ...info.spec,
      linux: { ...info.spec.linux, seccomp: undefined },
    };
    // exec applies the same filter: compiled again (as the launcher did).
    const profile = info.spec.linux.seccomp;
    const seccompProgram: ContainerRecord["seccompProgram"] = profile
      ? {
        program: Array.from(this.seccomp!.compileSeccomp(profile)),
        flags: profile.flags,
      }
      : undefined;
    const prev = live.record;
    const now = new Date().toISOString();
    live.pid = info.pid;
    live.record = {
      ociVersion: "1.1.0",
      id: live.id,
      pid: info.pid,
      pidStart: processStartTime(info.pid) ?? "",
      bundle: live.cwd,
      rootfs: info.spec.root.path,
      created: prev?.created ?? now,
      started: now,
      spec,
      seccompProgram,
      cgroup: cgroupPlanOf(info.cgroupPaths),
      detached: {
        name: live.name,
        args: live.args,
        image: imageOf(live.args, info.spec.root.path),
        command: info.spec.process.args,
        restart: live.restart,
        autoRemove: live.autoRemove,
        state: "running",
        startedAt: now,
        restartCount: prev?.detached.restartCount ?? 0,
        ports: info.ports.map(portText),
        address: info.address,
        monitor: this.self,
        oomKilled: false,
      },
    };
    live.oomKilled = info.oomKilled;
    this.store.save(live.record);
  }

  async #loop(
    live: Live,
    log: LogWriter,
    first: { exit: Promise<number> },
  ): Promise<void> {
    let exit = first.exit;
    for (;;) {
      const code = await exit.catch(() => 255);
      live.pid = 0;
      const r = live.record!;
      r.detached.state = "exited";
      r.detached.exitCode = code;
      r.detached.finishedAt = new Date().toISOString();
      r.detached.oomKilled = live.oomKilled?.() ?? false;
      r.detached.stopRequested = live.stopRequested;
      const again = shouldRestart(
        live.restart,
        code,
        r.detached.restartCount,
        live.stopRequested,
      );
      if (again) r.detached.state = "restarting";
      this.#save(live);
      live.waiters.splice(0).forEach((w) => w(code));
      if (!again) break;
      await sleep(restartDelay(r.detached.restartCount), live);
      if (live.stopRequested) {
        r.detached.state = "exited";
        this.#save(live);
        break;
      }
      r.detached.restartCount++;
      try {
        exit = (await this.#start(live, log)).exit;
      } catch (e) {
        r.detached.state = "exited";
        r.detached.error = oneLine(e);
        this.#save(live);
        break;
      }
    }
    log.close();
    if (live.autoRemove) this.store.remove(live.id);
  }

  #save(live: Live): void {
    try {
      if (live.record) this.store.save(live.record);
    } catch {
      // removed meanwhile (rm -f)
    }
  }

  #get(id: string): Live | undefined {
    return this.live.get(id);
  }

  async stop(id: string, timeout: number): Promise<number> {
    const live = this.#get(id);
    if (!live) return this.#exitCodeOnDisk(id);
    live.stopRequested = true;
    live.wake?.();
    if (live.pid > 0) {
      const ended = new Promise<number>((r) => live.waiters.push(r));
      signal(live.pid, 15);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        ended.then(() => false),
        new Promise<boolean>((r) =>
          timer = setTimeout(() => r(true), timeout * 1000)
        ),
      ]);
      clearTimeout(timer);
      if (timedOut && live.pid > 0) signal(live.pid, 9);
    }
    await live.done;
    return live.record?.detached.exitCode ?? 0;
  }

  #exitCodeOnDisk(id: string): number {
    return this.store.load(id).detached?.exitCode ?? 0;
  }

  kill(id: string, sig: number): void {
    const live = this.#get(id);
    if (!live || live.pid <= 0) {
      throw new TinycError(`container ${id.slice(0, 12)} is not running`);
    }
    if (sig === 9) live.stopRequested = true;
    if (!signal(live.pid, sig)) {
      throw new TinycError(`container ${id.slice(0, 12)} is not running`);
    }
  }

  async wait(id: string): Promise<number> {
    const live = this.#get(id);
    if (!live || live.pid <= 0) return this.#exitCodeOnDisk(id);
    return await new Promise<number>((r) => live.waiters.push(r));
  }

  async rm(id: string, force: boolean): Promise<void> {
    const live = this.#get(id);
    if (live) {
      if (live.pid > 0 && !force) {
        throw new TinycError(
          `cannot remove running container ${live.name}: stop it first or use rm -f`,
        );
      }
      live.stopRequested = true;
      live.wake?.();
      if (live.pid > 0) signal(live.pid, 9);
      await live.done;
    }
    this.store.remove(id);
  }
}

/** What ps shows as IMAGE: the image as given to run, or its --root. */
function imageOf(args: string[], rootPath: string): string {
  try {
    const opts = parseRunArgs(args, () => undefined);
    return opts.image?.ref ?? (opts.root || rootPath);
  } catch {
    return rootPath;
  }
}

/** `tinyc __monitor`: serve until no container is left. */
export async function monitorMain(): Promise<number> {
  libc().setsid();
  Deno.chdir("/");
  const paths = detachedPaths();
  ensureStateDir(paths.socket.slice(0, paths.socket.lastIndexOf("/")));
  // Errors nobody awaited are logged; the containers go on.
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    console.error(`tinyc monitor: ${oneLine(e.reason)}`);
  });
  if (!(await takeLock(paths.lock, paths.socket))) return 0;
  try {
    Deno.removeSync(paths.socket);
  } catch { /* none */ }
  const listener = Deno.listen({ transport: "unix", path: paths.socket });
  Deno.chmodSync(paths.socket, 0o600);
  let closing = false;
  const monitor = new Monitor(paths.root, () => {
    closing = true;
    try {
      Deno.removeSync(paths.socket);
    } catch { /* gone */ }
    listener.close();
  });
  monitor.seccomp = await import("../security/seccomp.ts");
  console.error(`tinyc monitor ${Deno.pid}: serving ${paths.socket}`);
  try {
    for await (const conn of listener) serve(monitor, conn);
  } catch (e) {
    if (!closing) throw e;
  }
  return 0;
}

async function serve(monitor: Monitor, conn: Deno.UnixConn): Promise<void> {
  try {
    const req = JSON.parse(await readLine(conn)) as Request;
    const res = await monitor.handle(req);
    await writeAll(conn, new TextEncoder().encode(JSON.stringify(res) + "\n"));
  } catch {
    // the client went away
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Read up to the first newline (requests and answers are one line). */
export async function readLine(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
    if (buf[n - 1] === 10 || total > 16 << 20) break;
  }
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Write all of `data` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/**
 * The monitor lock (flock on `lock`, held for the monitor's life): one
 * monitor at a time. If another holds it, wait until it exits (it may be
 * on its way out) unless it answers on `socket`: then it serves.
 */
async function takeLock(lock: string, socket: string): Promise<boolean> {
  const fd = libc().open(
    new TextEncoder().encode(lock + "\0"),
    0o2 | 0o100 | 0o2000000,
    0o600,
  );
  if (fd < 0) throw new TinycError(`monitor lock ${lock}: cannot open`);
  const LOCK_EX = 2, LOCK_NB = 4;
  for (let i = 0; i < 100; i++) {
    const r = libc().syscall(
      BigInt(SYS.flock),
      BigInt(fd),
      BigInt(LOCK_EX | LOCK_NB),
      0n,
      0n,
      0n,
    );
    if (r === 0n) return true; // kept open (and locked) until we exit
    try {
      const c = await Deno.connect({ transport: "unix", path: socket });
      c.close();
      return false;
    } catch {
      // not serving: perhaps exiting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Is the monitor recorded in `r` still running? */
export function monitorAlive(r: DetachedRecord): boolean {
  return isAlive(r.detached.monitor);
}
