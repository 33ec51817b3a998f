/**
 * The container's init: the launcher re-executes tinyc as `__init`, born as
 * PID 1 in the new namespaces. It waits for the launcher's go (the config),
 * builds the container's world on its main thread with synchronous calls
 * only, and then `execve`s the user's command in its place, so no Deno process
 * remains inside the container.
 *
 * The sequence, in order:
 *   1. mounts: rootfs, /proc, /dev, /sys, volumes; pivot_root; read-only
 *      root; masked and read-only paths
 *   2-4. hostname, loopback up; working directory, command lookup
 *   5. wait for go (the launcher moved us into the container's cgroup):
 *      cgroup namespace, /sys/fs/cgroup
 *   6. close every fd but stdio
 *   7. user, capabilities, no_new_privs, seccomp (per-thread: right before exec)
 *   8. execve
 *
 * @module
 */

import { CLONE, LinuxSys } from "./sys.ts";
import { addr, errnoError, libc, SYS } from "./libc.ts";
import { applyMounts, planMounts } from "./mounts.ts";
import { DEFAULT_PATH, envGet, hasNamespace, type Spec } from "./spec.ts";
import { execve, resolveCommand } from "./command.ts";
import { bringUpLoopback } from "./netdev.ts";
import { ExitCode, TinycError } from "./errors.ts";
import { trace } from "./trace.ts";
import { adoptPty, openPty } from "./terminal.ts";
import { applyMaskAndReadonly, planMaskAndReadonly } from "./security/paths.ts";
import { applySecurity } from "./security/apply.ts";
import {
  CONFIG_FD,
  EXEC_FIFO_FD,
  EXEC_MNT_FD,
  type InitConfig,
  type InitFailure,
  type InitGo,
  type InitPty,
  type InitReady,
  receiveMessage,
  REPORT_FD,
  sendMessage,
} from "./sync.ts";
import {
  applySysctls,
  type ExecFifo,
  holdExecFifo,
  runHooksSync,
  setDomainname,
  setPersonality,
  setRlimit,
  waitForStart,
} from "./init_oci.ts";
import type { ExecConfig } from "./engine/exec.ts";
import {
  initHandover,
  initHandoverDone,
  ROOTLESS_INIT_ARG,
} from "./rootless/report.ts";

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9;
const CLOSE_RANGE_CLOEXEC = 4;

function prctl(option: number, arg: number): void {
  libc().syscall(BigInt(SYS.prctl), BigInt(option), BigInt(arg), 0n, 0n, 0n);
}

/**
 * The attached launcher's container dies with it: armed here, and again
 * after the credential change that clears it (security plan, parentDeath).
 */
const DIE_WITH_LAUNCHER = SIGKILL;
/** Our parent's pid, before it could die (0 as PID 1 of a new PID namespace). */
let launcherPid = 0;

/** Entry point of `tinyc __init`. Never returns. */
export function initMain(): never {
  launcherPid = libc().getppid();
  // Die with the launcher. Set before reading: if the launcher is already
  // gone, the read below sees EOF. Not when our first parent is the helper
  // the launcher kills to adopt us (src/engine/adopt.ts; OCI only).
  if (!Deno.args.includes("--adopted")) {
    prctl(PR_SET_PDEATHSIG, DIE_WITH_LAUNCHER);
  }
  // Device nodes and mount points get exactly the modes asked for.
  libc().umask(0);
  trace("init running");
  let cfg: InitConfig | null;
  try {
    // Rootless: give the launcher a report pipe unshare does not hold.
    const handover = Deno.args.includes(ROOTLESS_INIT_ARG)
      ? initHandover()
      : -1;
    cfg = receiveMessage<InitConfig>(CONFIG_FD);
    if (handover >= 0) initHandoverDone(handover);
  } catch {
    cfg = null;
  }
  if (cfg === null) Deno.exit(ExitCode.Failed);
  // OCI create: the container outlives `create` (the engine's subreaper
  // adopts it).
  if (cfg.execFifo) prctl(PR_SET_PDEATHSIG, 0);
  try {
    startContainer(cfg);
  } catch (err) {
    failAndExit(err, true);
  }
}

/**
 * Report why the container could not start on the report pipe and exit
 * with the matching code; when nobody reads it any more (OCI, after
 * `start`), on stderr if `toStderr`.
 */
function failAndExit(err: unknown, toStderr: boolean): never {
  const failure: InitFailure = {
    code: err instanceof TinycError ? err.exitCode : ExitCode.Failed,
    message: err instanceof Error ? err.message : String(err),
  };
  try {
    sendMessage(REPORT_FD, failure);
  } catch {
    if (toStderr) {
      try {
        Deno.stderr.writeSync(
          new TextEncoder().encode(`tinyc-oci: ${failure.message}\n`),
        );
      } catch {
        // no stderr either
      }
    }
  }
  Deno.exit(failure.code);
}

/**
 * Entry point of `tinyc __exec` (see src/engine/exec.ts): born in the
 * container's namespaces but the mount one, which it joins once its code is
 * loaded; then the same end as the container's init. Never returns.
 */
export function execInitMain(): never {
  libc().umask(0);
  let cfg: ExecConfig | null;
  try {
    cfg = receiveMessage<ExecConfig>(CONFIG_FD);
  } catch {
    cfg = null;
  }
  if (cfg === null) Deno.exit(ExitCode.Failed);
  try {
    const sys = new LinuxSys();
    const CLONE_FS = 0x200;
    // setns(mnt) needs an fs struct of our own (Deno's threads share it).
    sys.unshare(CLONE_FS);
    sys.setns(EXEC_MNT_FD, CLONE.CLONE_NEWNS, "mnt (the container's)");
    sys.close(EXEC_MNT_FD);
    const { process } = cfg;
    const cwd = process.cwd || "/";
    if (sys.kind(cwd) !== "dir") {
      throw new TinycError(`cwd ${cwd}: not a directory in the container`);
    }
    sys.chdir(cwd);
    const path = resolveCommand(
      process.args[0],
      envGet(process.env, "PATH") ?? DEFAULT_PATH,
      (p) => sys.kind(p),
    );
    let slave = -1;
    if (process.terminal) {
      const [master, s] = openPty();
      slave = s;
      const msg: InitPty = { pty: master };
      sendMessage(REPORT_FD, msg);
    }
    becomeProcess({
      process,
      path,
      slave,
      seccomp: cfg.seccomp,
      lastCap: cfg.lastCap,
      setgroups: cfg.setgroups,
    });
  } catch (err) {
    failAndExit(err, false);
  }
}

/**
 * Give the command default signal dispositions and an empty signal mask:
 * Deno ignores SIGPIPE (and may block others), and ignored or blocked
 * signals survive execve.
 */
function resetSignals(): void {
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  const ignored = BigInt(
    "0x" + (status.match(/^SigIgn:\s*([0-9a-f]+)/m)?.[1] ?? "0"),
  );
  // A zeroed struct sigaction is SIG_DFL with no flags on every layout.
  // The raw call, not glibc's signal(): that refuses glibc's own 32 and 33.
  const dfl = new BigUint64Array(4);
  for (let sig = 1; sig <= 64; sig++) {
    if ((ignored >> BigInt(sig - 1)) & 1n) {
      libc().syscall(
        BigInt(SYS.rt_sigaction),
        BigInt(sig),
        addr(dfl),
        0n,
        8n,
        0n,
      );
    }
  }
  const SIG_SETMASK = 2;
  const empty = new BigUint64Array(1);
  libc().syscall(
    BigInt(SYS.rt_sigprocmask),
    BigInt(SIG_SETMASK),
    addr(empty),
    0n,
    8n,
    0n,
  );
}

function startContainer(cfg: InitConfig): never {
  trace("init got config");
  const { spec } = cfg;
  const sys = new LinuxSys();
  // OCI create: hold the exec fifo while the host's paths are visible.
  const fifo: ExecFifo | null = cfg.execFifo
    ? holdExecFifo(EXEC_FIFO_FD)
    : null;
  // 1. mounts, while the launcher finishes the cgroup; OCI createContainer
  // hooks run in the container's namespaces right before pivot_root.
  const ops = planMounts(spec, cfg.devices, cfg.extraMounts ?? []);
  const pivotAt = ops.findIndex((o) => o.op === "pivot");
  applyMounts(sys, ops.slice(0, pivotAt));
  if (spec.hooks?.createContainer) {
    runHooksSync(
      "createContainer",
      spec.hooks.createContainer,
      cfg.hookState ?? "{}",
    );
  }
  applyMounts(sys, ops.slice(pivotAt));
  trace("mounts done");
  if (spec.linux.sysctl) applySysctls(spec.linux.sysctl);
  // Hide and protect kernel interfaces (masked/read-only paths), after the
  // pivot so the paths are the container's.
  applyMaskAndReadonly(
    planMaskAndReadonly(
      spec.linux.maskedPaths ?? [],
      spec.linux.readonlyPaths ?? [],
      (p) => sys.kind(p),
    ),
    sys,
  );

  // 3. hostname, loopback
  // In a uts namespace of the container's own: new, or joined by path.
  const uts = spec.linux.namespaces.some((n) => n.type === "uts");
  if (uts && spec.hostname) sys.sethostname(spec.hostname);
  if (uts && spec.domainname) setDomainname(spec.domainname);
  if (hasNamespace(spec, "network")) bringUpLoopback();

  // 4. working directory and command
  const cwd = spec.process.cwd || "/";
  if (sys.kind(cwd) === "none") {
    try {
      sys.mkdirAll(cwd);
    } catch (e) {
      throw new TinycError(`workdir ${cwd}: ${(e as Error).message}`);
    }
  }
  if (sys.kind(cwd) !== "dir") {
    throw new TinycError(`workdir ${cwd}: not a directory`);
  }
  sys.chdir(cwd);
  const env = spec.process.env;
  const path = resolveCommand(
    spec.process.args[0],
    envGet(env, "PATH") ?? DEFAULT_PATH,
    (p) => sys.kind(p),
  );

  // -t: a pty from the container's own devpts; the launcher takes a copy
  // of the master (pidfd_getfd) before it sends go.
  let slave = -1;
  if (spec.process.terminal) {
    const [master, s] = openPty();
    slave = s;
    const msg: InitPty = { pty: master };
    sendMessage(REPORT_FD, msg);
  }

  // 5. go: now in the container's cgroup, which becomes the root of our
  // cgroup namespace; then its cgroupfs view at /sys/fs/cgroup.
  const go = receiveMessage<InitGo>(CONFIG_FD);
  if (go === null) Deno.exit(ExitCode.Failed); // the launcher gave up
  trace("init got go");
  if (hasNamespace(spec, "cgroup")) sys.unshare(CLONE.CLONE_NEWCGROUP);
  // Not into a user's own directory bound at /sys.
  const userSys = spec.mounts.some((m) =>
    m.type === "bind" &&
    ["/sys", "/sys/fs", "/sys/fs/cgroup"].includes(m.destination)
  );
  if (!userSys) applyMounts(sys, go.cgroupMounts ?? []);

  becomeProcess({
    process: spec.process,
    path,
    slave,
    seccomp: go.seccomp,
    lastCap: cfg.lastCap,
    setgroups: cfg.setgroups,
    // An attached run dies with its launcher; an OCI container outlives it.
    parentDeath: fifo ? undefined : {
      signal: DIE_WITH_LAUNCHER,
      ppid: launcherPid,
      reportFd: REPORT_FD,
    },
    // OCI: built; `create` may exit. Wait for `start`, then the
    // startContainer hooks, in the container.
    beforeSecurity: fifo
      ? () => {
        const ready: InitReady = { ready: true };
        sendMessage(REPORT_FD, ready);
        libc().close(REPORT_FD);
        waitForStart(fifo);
        if (spec.hooks?.startContainer) {
          runHooksSync(
            "startContainer",
            spec.hooks.startContainer,
            cfg.hookState ?? "{}",
          );
        }
        if (spec.linux.personality) {
          setPersonality(spec.linux.personality.domain);
        }
      }
      : spec.linux.personality
      ? () => setPersonality(spec.linux.personality!.domain)
      : undefined,
  });
}

/** What fd `fd` refers to (`pipe:[123]`, a path), or null. */
function fdTarget(fd: number): string | null {
  try {
    return Deno.readLinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/** Close every fd above 4 (the protocol's) that refers to one of `targets`. */
function closeCopiesOf(targets: readonly string[]): void {
  if (targets.length === 0) return;
  let fds: string[];
  try {
    fds = [...Deno.readDirSync("/proc/self/fd")].map((e) => e.name);
  } catch {
    return;
  }
  for (const name of fds) {
    const fd = Number(name);
    if (fd <= REPORT_FD) continue;
    const t = fdTarget(fd);
    if (t !== null && targets.includes(t)) libc().close(fd);
  }
}

/** What {@link becomeProcess} turns the calling init into. */
interface ProcessPlan {
  process: Spec["process"];
  /** The command, resolved in the container. */
  path: string;
  /** -t: the pty slave to adopt, or -1. */
  slave: number;
  seccomp?: { program: number[]; flags: number };
  lastCap: number;
  setgroups?: boolean;
  /** Last step before the credentials change (OCI: wait for start). */
  beforeSecurity?: () => void;
  /** Die with the launcher, re-armed after the credentials change. */
  parentDeath?: { signal: number; ppid: number; reportFd: number };
}

/**
 * The end of every init (container and exec): a session of its own, the
 * pty, default signals, umask, no stray fds, then user, capabilities,
 * no_new_privs and seccomp, and execve. Never returns.
 */
function becomeProcess(p: ProcessPlan): never {
  const { process } = p;
  // A session of its own: no controlling terminal, so nothing in the
  // container can push input into the user's shell (TIOCSTI) or open
  // /dev/tty; signals from the terminal reach it through the launcher.
  if (libc().setsid() < 0) throw errnoError("setsid", "");
  if (p.slave >= 0) {
    // Deno keeps its own copies of the stdio it started with: with a pty
    // they must go, or an engine waiting for `create`'s output to end
    // (containerd's shim reads it through a pipe) waits forever.
    const original = [0, 1, 2].map(fdTarget);
    adoptPty(p.slave, process.user.uid);
    closeCopiesOf(original.filter((t) => t !== null) as string[]);
  }
  resetSignals();
  libc().umask(process.umask ?? 0o022);

  // 6. Nothing but stdio (and the report pipe until exec) may reach the command.
  libc().syscall(
    BigInt(SYS.close_range),
    3n,
    0xffffffffn,
    BigInt(CLOSE_RANGE_CLOEXEC),
    0n,
    0n,
  );

  p.beforeSecurity?.();
  // OCI rlimits, last: a low RLIMIT_AS or RLIMIT_NOFILE must not hit the
  // Deno init itself. They survive execve.
  for (const rl of process.rlimits ?? []) setRlimit(0, rl);

  // 7. user, capabilities, no_new_privs, seccomp: per-thread, so here on
  // the main thread, and last, so nothing else runs under them before exec.
  const { user, capabilities } = process;
  applySecurity({
    user: {
      uid: user.uid,
      gid: user.gid,
      additionalGids: user.additionalGids ?? [],
      setgroups: p.setgroups,
    },
    capabilities: capabilities ?? {
      bounding: [],
      effective: [],
      permitted: [],
      inheritable: [],
      ambient: [],
    },
    noNewPrivileges: process.noNewPrivileges ?? true,
    seccomp: p.seccomp
      ? { program: new Uint8Array(p.seccomp.program), flags: p.seccomp.flags }
      : null,
    lastCap: p.lastCap,
    parentDeath: p.parentDeath,
  });

  trace("init exec");
  // 8. exec
  return execve(p.path, process.args, process.env);
}
