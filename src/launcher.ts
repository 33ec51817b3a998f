/**
 * The launcher: runs one container from a {@link Spec} and returns its exit
 * status. Reads top to bottom as the host-side sequence (see src/sync.ts for
 * the ladder with the init):
 *
 *   1. namespaces: save ours, unshare on the main thread
 *   2. spawn the init (re-executed tinyc), born into the new namespaces
 *   3. setns back: the launcher is a normal host process again
 *   4. host-side setup while the init boots: network
 *   5. send the config; cgroup and seccomp while the init builds the
 *      filesystem; go; wait for the exec report
 *   6. forward signals, wait for the container
 *   7. clean up, newest first
 *
 * @module
 */

import { lazyImport } from "./lazy.ts";
import { LinuxSys } from "./sys.ts";
import type { IdMapping, Spec } from "./spec.ts";
import {
  CONFIG_FD,
  EXEC_FIFO_FD,
  type InitConfig,
  type InitFailure,
  type InitGo,
  type InitPty,
  type InitReady,
  pipe,
  receiveMessage,
  REPORT_FD,
  sendMessage,
} from "./sync.ts";
import {
  signal,
  spawn,
  statusToExitCode,
  waitAsync,
  waitSync,
} from "./process.ts";
import { TinycError } from "./errors.ts";
import { cstr, errnoError, libc } from "./libc.ts";
import { trace } from "./trace.ts";
import { type SavedTerminal, saveTerminal, takeFd } from "./terminal.ts";
import { relay } from "./pty_relay.ts";
import { onStrayError } from "./stray.ts";
import {
  discardEarlyInit,
  type EarlyInit,
  envList,
  initArgv,
  planNamespaces,
  spawnInNamespaces,
} from "./spawn_init.ts";

// Steps 1-3 live in src/spawn_init.ts (the CLI spawns the init before it
// loads this module); re-exported for the launcher's other users.
export {
  discardEarlyInit,
  type EarlyInit,
  initArgv,
  type NamespacePlan,
  planNamespaces,
  spawnEarlyInit,
  spawnInNamespaces,
} from "./spawn_init.ts";

/** A cleanup step, run newest first when the container ends. */
export type Cleanup = () => void | Promise<void>;

/** Extra host-side setup steps, run after the init exists and before go. */
export interface HostSetup {
  /** Set up for init `pid`; returns its cleanup. */
  (pid: number, cfg: InitConfig): Cleanup | void | Promise<Cleanup | void>;
}

/** Options of {@link runContainer}. */
export interface LaunchOptions {
  spec: Spec;
  /** Host-side steps before the config is sent; they may add mounts (network). */
  setup?: HostSetup[];
  /**
   * Host-side steps the init waits for before exec, while it builds the
   * filesystem (cgroup: done before the init makes its cgroup namespace).
   */
  setupBeforeExec?: HostSetup[];
  /** Called with the exit status to explain it (e.g. OOM); returns a line or nothing. */
  explain?: Array<(status: number) => string | undefined>;
  /** Where to print explanations (default: stderr). */
  warn?: (line: string) => void;
  /**
   * Rootless (src/rootless): start the init with `argv` (setpriv + unshare,
   * from `prepareRootless`) instead of unsharing here; `spec` must have been
   * through `rootlessSpec`, and `setgroups` is `rootlessSetgroups(maps)`.
   */
  rootless?: { argv: string[]; setgroups: boolean };
  /**
   * An init already started with {@link spawnEarlyInit}, so that its
   * start-up overlapped the CLI's work. Used when its namespaces match the
   * spec's; otherwise it is discarded and a new one spawned.
   */
  early?: EarlyInit;
  /**
   * OCI create: the init waits on this exec fifo once built (src/init_oci.ts),
   * and {@link createContainer} returns then, leaving it running.
   */
  execFifo?: string;
  /**
   * We run as root of a user namespace (rootless podman runs its runtime
   * so), or the container gets one: device nodes are bound from the host,
   * supplementary groups only where setgroups is allowed.
   */
  inUserNamespace?: boolean;
  /**
   * OCI: spawn the init through util-linux helpers that make the
   * namespaces (a user namespace, with these maps), then adopt it; see
   * src/engine/adopt.ts. `env` adds to the init's environment.
   */
  adopt?: {
    uid?: IdMapping[];
    gid?: IdMapping[];
    env?: Record<string, string>;
  };
  /** -t: hand the pty master to this instead of relaying (OCI --console-socket). */
  takePty?: (master: number) => void | Promise<void>;
  /** Detached runs (src/detached): the init's stdin, stdout, stderr instead of ours. */
  stdio?: [number, number, number];
  /** Called once the command runs (its exec succeeded), with the init's pid. */
  onStarted?: (pid: number) => void;
}

const FORWARDED: Deno.Signal[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
  // Ctrl-Z would stop tinyc but not the container (another session).
  "SIGTSTP",
];

/** Run the container described by `opts.spec`; resolves to its exit status. */
export async function runContainer(opts: LaunchOptions): Promise<number> {
  // The user's terminal is put back as it was, whatever the container (or
  // -t's raw mode) did to it.
  const terminal = saveTerminal();
  const run = new ContainerRun(opts, terminal);
  // An error nobody awaited (src/stray.ts) ends the run, through cleanup.
  const unhook = onStrayError(() => run.abort());
  let code = 0;
  let error: unknown;
  try {
    code = await run.start();
  } catch (e) {
    error = e;
  }
  // 7. cleanup, newest first; every step runs, the first error wins.
  const cleanupError = await run.cleanup();
  terminal.restore();
  unhook();
  if (error !== undefined) throw error;
  if (cleanupError !== undefined) throw cleanupError;
  return code;
}

/** open(2) with `flags`, throwing a SysError. */
function libcOpen(path: string, flags: number): number {
  const fd = libc().open(cstr(path), flags, 0);
  if (fd < 0) throw errnoError("open", `\`${path}\``);
  return fd;
}

/** Is setgroups(2) allowed in our user namespace? */
function setgroupsAllowed(): boolean {
  try {
    return Deno.readTextFileSync("/proc/self/setgroups").trim() === "allow";
  } catch {
    return true;
  }
}

/** Are we in a user namespace other than the host's (the initial one)? */
export function inUserNamespace(): boolean {
  try {
    const map = Deno.readTextFileSync("/proc/self/uid_map").trim();
    return !/^0\s+0\s+4294967295$/.test(map);
  } catch {
    return false;
  }
}

/** Wait for our child `pid` to end (reaping it); errors are ignored. */
export async function waitForExit(pid: number): Promise<void> {
  await waitAsync(pid).catch(() => undefined);
}

/**
 * Attached to our child `pid` (OCI `run`, `exec`): forward signals to it,
 * relay the pty `master` (if not -1) with our stdio, and resolve to its
 * exit status.
 */
export async function attach(pid: number, master: number): Promise<number> {
  const forwarders = forwardSignals(
    () => pid,
    Deno.stdin.isTerminal(),
    () => undefined,
  );
  const terminal = saveTerminal();
  if (master >= 0) terminal.makeRaw();
  const pty = master >= 0 ? relay(master) : undefined;
  try {
    return statusToExitCode(await waitAsync(pid));
  } finally {
    forwarders.forEach((remove) => remove());
    await pty?.finish(1000);
    terminal.restore();
  }
}

/**
 * OCI create: start the container up to the exec fifo (`opts.execFifo`) and
 * return the init's pid; the init outlives us. On failure everything the
 * setup steps did is undone. The setup steps' cleanups are not run on
 * success: the caller records what `delete` must undo.
 */
export async function createContainer(opts: LaunchOptions): Promise<number> {
  const run = new ContainerRun(opts, saveTerminal());
  try {
    await run.start();
  } catch (e) {
    await run.cleanup();
    throw e;
  }
  run.release();
  return run.initPid;
}

/** The state of one container run, for {@link runContainer}. */
class ContainerRun {
  private readonly sys = new LinuxSys();
  private readonly cleanups: Cleanup[] = [];
  private readonly fds = new Set<number>();
  /** The container's init: signals and host-side setup go to it. */
  private pid = 0;
  /** Our child, to wait for: the init, or rootless, setpriv/unshare. */
  private child = 0;
  private exited = false;
  private forwarders: Array<() => void> = [];
  private killedByUs = false;

  private aborted = false;

  /** End the run now: kill the container; start() returns, cleanup follows. */
  abort(): void {
    this.aborted = true;
    if (this.exited) return;
    if (this.pid > 0) signal(this.pid, 9);
    if (this.child > 0 && this.child !== this.pid) signal(this.child, 9);
  }

  private stopForwarding(): void {
    this.forwarders.forEach((remove) => remove());
    this.forwarders = [];
  }

  constructor(
    private readonly opts: LaunchOptions,
    private readonly terminal: SavedTerminal,
  ) {}

  /** The container's init (its pid in our namespace). */
  get initPid(): number {
    return this.pid;
  }

  /** OCI create: let the init go on without us (close our fds only). */
  release(): void {
    this.stopForwarding();
    for (const fd of [...this.fds]) this.close(fd);
    this.exited = true;
    this.cleanups.length = 0;
  }

  private close(fd: number): void {
    if (this.fds.delete(fd)) this.sys.close(fd);
  }

  private pipe(): [number, number] {
    const p = pipe();
    p.forEach((fd) => this.fds.add(fd));
    return p;
  }

  /** 1-3: start the init; returns [config fd, report fd]. */
  private async spawnInit(
    ns: { flags: number; files: string[] },
  ): Promise<[number, number]> {
    const [cfgRead, cfgWrite] = this.pipe();
    const [repRead, repWrite] = this.pipe();
    const fds: Array<[number, number]> = [
      [CONFIG_FD, cfgRead],
      [REPORT_FD, repWrite],
    ];
    this.opts.stdio?.forEach((fd, i) => fds.push([i, fd]));
    if (this.opts.execFifo) {
      // The exec fifo by fd: the init may run as a mapped uid that cannot
      // reach the state directory by path.
      const O_PATH_CLOEXEC = 0o10000000 | 0o2000000;
      const f = libcOpen(this.opts.execFifo, O_PATH_CLOEXEC);
      this.fds.add(f);
      fds.push([EXEC_FIFO_FD, f]);
    }
    const { rootless } = this.opts;
    if (rootless) {
      // unshare makes every namespace; see the ladder in src/rootless/mod.ts.
      this.child = spawn(rootless.argv[0], rootless.argv, envList(), { fds });
      this.close(cfgRead);
      this.close(repWrite);
      const { launcherHandover } = await import("./rootless/report.ts");
      const h = launcherHandover(repRead, () => {
        this.exited = true;
        return statusToExitCode(waitSync(this.child));
      });
      this.fds.add(h.reportFd);
      this.close(repRead);
      this.pid = h.pid;
      return [cfgWrite, h.reportFd];
    }
    const { adopt } = this.opts;
    if (adopt) {
      const { spawnAdopted } = await lazyImport<
        typeof import("./engine/adopt.ts")
      >(
        "src/engine/adopt.ts",
      );
      const env = Object.entries({ ...Deno.env.toObject(), ...adopt.env })
        .map(([k, v]) => `${k}=${v}`);
      this.pid = this.child = spawnAdopted(
        initArgv(),
        this.opts.spec.linux.namespaces,
        { uid: adopt.uid, gid: adopt.gid },
        fds,
        env,
      );
    } else {
      this.pid = this.child = spawnInNamespaces(this.sys, ns, initArgv(), fds);
    }
    this.close(cfgRead);
    this.close(repWrite);
    return [cfgWrite, repRead];
  }

  async start(): Promise<number> {
    const { spec, rootless, early } = this.opts;
    const ns = planNamespaces(spec.linux.namespaces);
    let cfgWrite: number, report: number;
    if (early && !rootless && early.flags === ns.flags) {
      // 1-3 were done early, with the right namespaces.
      this.pid = this.child = early.pid;
      [cfgWrite, report] = [early.cfgWrite, early.repRead];
      this.fds.add(cfgWrite);
      this.fds.add(report);
    } else {
      if (early) discardEarlyInit(early);
      [cfgWrite, report] = await this.spawnInit(ns);
    }
    // Forward signals from now on: the command may run (and a test or user
    // may signal tinyc) before the exec report below has been read.
    if (!this.opts.execFifo) {
      this.forwarders = forwardSignals(
        () => this.pid,
        Deno.stdin.isTerminal(),
        () => this.killedByUs = true,
      );
    }

    trace("init spawned");
    // 4. host-side setup while the init boots
    const cfg: InitConfig = {
      // The init gets the compiled filter, not the profile (which holds BigInts).
      spec: { ...spec, linux: { ...spec.linux, seccomp: undefined } },
      // mknod is refused in a user namespace: bind the host's nodes.
      devices: this.opts.inUserNamespace || rootless ? "bind" : "mknod",
      lastCap: Number(
        Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim(),
      ),
    };
    if (this.opts.execFifo) cfg.execFifo = this.opts.execFifo;
    // Only root mapped: unshare denied setgroups (src/rootless/spec.ts).
    if (rootless && !rootless.setgroups) cfg.setgroups = false;
    if (this.opts.inUserNamespace && !setgroupsAllowed()) cfg.setgroups = false;
    // Steps that may add mounts (bridge: /etc/hosts) run before the config.
    await this.runSteps(this.opts.setup ?? [], cfg);

    // 5. the config: the init builds the container's filesystem meanwhile.
    const { cgroupMounts: _c, seccomp: _s, ...first } = cfg;
    sendMessage(cfgWrite, first);
    trace("config sent");
    let failure: InitFailure | null = null;
    let master = -1;
    if (spec.process.terminal) {
      // -t: the init's first report names its pty master; take a copy.
      const m = receiveMessage<InitPty | InitFailure>(report);
      if (m && "pty" in m) {
        master = takeFd(this.pid, m.pty);
        this.fds.add(master);
      } else failure = m;
    }
    if (!failure) {
      try {
        if (spec.linux.seccomp) {
          // Precompiled for the default profile (seccomp_cache.ts).
          const { compiledSeccomp } = await import(
            "./security/seccomp_cache.ts"
          );
          cfg.seccomp = {
            program: Array.from(compiledSeccomp(spec.linux.seccomp)),
            flags: spec.linux.seccomp.flags,
          };
        }
        // Steps the init must wait for before exec (cgroup: before its
        // cgroup namespace is made).
        await this.runSteps(this.opts.setupBeforeExec ?? [], cfg);
        trace("host setup done");
        // go; the init's verdict follows: EOF means the exec succeeded.
        const go: InitGo = {
          cgroupMounts: cfg.cgroupMounts,
          seccomp: cfg.seccomp,
        };
        if (this.aborted) throw new TinycError("run aborted");
        sendMessage(cfgWrite, go);
      } catch (e) {
        // The init may have failed first (then this is EPIPE or a vanished
        // pid): its report says why. Otherwise stop it and report ours.
        signal(this.pid, 9);
        failure = receiveMessage<InitFailure>(report);
        if (!failure) throw e;
      }
    }
    this.close(cfgWrite);
    if (this.opts.execFifo && !failure) {
      // OCI create: the init says it is ready (waiting on the fifo).
      const r = receiveMessage<InitReady | InitFailure>(report);
      if (r === null) {
        throw new TinycError("container init exited before it was ready");
      }
      if ("ready" in r) {
        if (master >= 0) await this.opts.takePty?.(master);
        return 0;
      }
      failure = r;
    }
    failure ??= receiveMessage<InitFailure>(report);
    this.close(report);
    if (failure) throw new TinycError(failure.message, failure.code);
    let pty;
    if (master >= 0 && this.opts.takePty) {
      await this.opts.takePty(master);
      this.close(master);
    } else if (master >= 0) {
      // The relay owns the master from here (closing it hangs up the pty).
      this.fds.delete(master);
      this.terminal.makeRaw();
      pty = relay(master);
    }
    trace("command started");
    this.opts.onStarted?.(this.pid);

    // 6. the container runs: forward signals, wait.
    let status;
    try {
      status = await waitAsync(this.child);
    } finally {
      this.stopForwarding();
      // The container is gone, and with it the last slave fd: the relay
      // drains what is left and ends (bounded, should a descendant linger).
      await pty?.finish(1000);
    }
    this.exited = true;
    trace("container exited");
    let code = statusToExitCode(status);
    // Rootless, unshare reports an init killed by SIGKILL as exit 1 (it
    // cannot re-raise SIGKILL): when tinyc sent it, say what happened.
    if (this.opts.rootless && this.killedByUs && code === 1) code = 137;
    for (const explain of this.opts.explain ?? []) {
      const line = explain(code);
      if (line) (this.opts.warn ?? ((l) => console.error(l)))(line);
    }
    return code;
  }

  private async runSteps(steps: HostSetup[], cfg: InitConfig): Promise<void> {
    for (const step of steps) {
      const undo = await step(this.pid, cfg);
      if (undo) this.cleanups.push(undo);
    }
  }

  /** Kill and reap the init if it still runs, then undo the setup steps. */
  async cleanup(): Promise<unknown> {
    this.stopForwarding();
    for (const fd of [...this.fds]) this.close(fd);
    if (this.child > 0 && !this.exited) {
      if (this.pid > 0) signal(this.pid, 9);
      // Rootless: unshare blocks SIGTERM; SIGKILL to it also kills the
      // init (--kill-child) when we never learnt the init's pid.
      if (this.child !== this.pid) signal(this.child, 9);
      await waitAsync(this.child).catch(() => undefined);
      this.exited = true;
    }
    trace("cleanup");
    let first: unknown;
    for (const undo of this.cleanups.reverse()) {
      try {
        await undo();
      } catch (e) {
        first ??= e;
      }
    }
    trace("cleanup done");
    return first;
  }
}

const STOP_SIGNALS: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"];
/** Signals a terminal sends to its foreground process group. */
const TERMINAL_SIGNALS: Deno.Signal[] = ["SIGWINCH", "SIGTSTP"];

/** What to do with a signal tinyc receives while its container runs. */
export type SignalAction = "forward" | "kill";

/**
 * The forwarding policy, as a pure function of the signal, how many stop
 * signals came before, and whether stdin is a terminal.
 *
 * - A PID 1 without a handler ignores SIGINT/SIGTERM (as under docker), so
 *   a second stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT) kills the
 *   container.
 * - On a terminal, the container shares tinyc's process group, so the
 *   keyboard's SIGINT/SIGQUIT (Ctrl-C, Ctrl-\) already reach it: tinyc
 *   neither forwards nor counts them, and a shell survives any number of
 *   Ctrl-C.
 */
export function signalAction(
  s: Deno.Signal,
  stopsBefore: number,
  interactive: boolean,
): SignalAction {
  if (interactive && (s === "SIGINT" || s === "SIGQUIT")) return "forward";
  if (STOP_SIGNALS.includes(s) && stopsBefore >= 1) return "kill";
  return "forward";
}

/** Install the forwarding handlers; returns their removers. */
export function forwardSignals(
  pid: () => number,
  interactive: boolean,
  onKill: () => void,
): Array<() => void> {
  let stops = 0;
  return FORWARDED.map((s) => {
    const h = () => {
      const action = signalAction(s, stops, interactive);
      const keyboard = interactive && (s === "SIGINT" || s === "SIGQUIT");
      if (!keyboard && STOP_SIGNALS.includes(s)) stops++;
      // From the keyboard, like a terminal does: to the container's
      // process group (PID 1's session, where its jobs run), so Ctrl-C stops
      // the running command and not only the shell.
      const target = keyboard || (interactive && TERMINAL_SIGNALS.includes(s))
        ? -pid()
        : pid();
      if (action === "kill") onKill();
      signal(
        action === "kill" ? pid() : target,
        action === "kill" ? 9 : SIGNALS[s],
      );
    };
    Deno.addSignalListener(s, h);
    return () => Deno.removeSignalListener(s, h);
  });
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGTERM: 15,
  SIGWINCH: 28,
  SIGTSTP: 20,
};
