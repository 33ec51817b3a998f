/**
 * `exec`: run another process in a running container. The launcher joins
 * the container's namespaces (all but mount, on its main thread) and spawns
 * a Deno "exec init" into them with a read-only mount of the runtime's
 * binary, moves it into the container's cgroup, and sends it the process;
 * the exec init joins the mount namespace itself (its code is loaded by
 * then), applies the process's user, capabilities, no_new_privs and the
 * container's seccomp, and execs. See `execInitMain` in src/init.ts.
 *
 * ```text
 *   launcher                                    exec init (container pid ns)
 *   setns(net, ipc, uts, pid, cgroup)
 *   unshare(mnt) + ro bind of deno; spawn ───▶ boots; reads fd 3
 *   setns back; write pid to cgroup.procs
 *   send {process, seccomp} ─────────────────▶ unshare(CLONE_FS); setns(fd 5, mnt)
 *   (-t: take the pty master) ◀────────────── chdir, lookup, pty, setsid
 *   EOF: exec succeeded ◀──────────────────── user, caps, nnp, seccomp; execve
 * ```
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { Spec } from "../spec.ts";
import type { ContainerRecord, StateStore } from "./state.ts";
import { readJsonFile, writePidFile } from "./container.ts";
import { sendFdToSocket } from "./console.ts";
import { CLONE, LinuxSys } from "../sys.ts";
import { libc } from "../libc.ts";
import { tinycArgv } from "../self.ts";
import {
  CONFIG_FD,
  EXEC_MNT_FD,
  type InitFailure,
  type InitPty,
  pipe,
  receiveMessage,
  REPORT_FD,
  sendMessage,
} from "../sync.ts";

/** What the launcher sends the exec init. */
export interface ExecConfig {
  process: Spec["process"];
  /** False where the user namespace denies setgroups (rootless). */
  setgroups?: boolean;
  seccomp?: { program: number[]; flags: number };
  lastCap: number;
}

/** Options of {@link execOci} (runc's `exec` flags). */
export interface ExecOptions {
  processFile?: string;
  args: string[];
  tty: boolean;
  cwd?: string;
  env: string[];
  user?: string;
  caps: string[];
  noNewPrivs: boolean;
  detach: boolean;
  pidFile?: string;
  consoleSocket?: string;
  /**
   * The process's stdin, stdout and stderr instead of ours (runc's exec
   * hands over the caller's; `tinyc exec -d` gives /dev/null, as docker).
   */
  stdio?: [number, number, number];
}

/** The process to exec: from --process, or the container's with overrides. */
export async function execProcess(
  r: ContainerRecord,
  o: ExecOptions,
): Promise<Spec["process"]> {
  if (o.processFile) {
    const { specFromOciConfig } = await import("../oci/config.ts");
    const p = readJsonFile(o.processFile, "--process");
    const spec = specFromOciConfig(
      {
        ociVersion: "1.0.0",
        root: { path: "/" },
        process: p,
        linux: { namespaces: [{ type: "mount" }] },
      },
      "/",
    );
    return spec.process;
  }
  if (o.args.length === 0) throw new TinycError("exec: no command given");
  const base = structuredClone(r.spec.process);
  base.args = o.args;
  base.terminal = o.tty;
  if (o.cwd) base.cwd = o.cwd;
  for (const e of o.env) {
    const k = e.split("=")[0];
    base.env = [...base.env.filter((x) => x.split("=")[0] !== k), e];
  }
  if (o.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(o.user);
    if (!m) throw new TinycError(`--user ${o.user}: must be UID[:GID]`);
    base.user = {
      uid: Number(m[1]),
      gid: m[2] !== undefined ? Number(m[2]) : 0,
      additionalGids: [],
    };
  }
  if (o.caps.length) {
    const caps = base.capabilities ?? {
      bounding: [],
      effective: [],
      permitted: [],
      inheritable: [],
      ambient: [],
    };
    for (const c of o.caps) {
      for (const set of ["bounding", "effective", "permitted"] as const) {
        if (!caps[set].includes(c)) caps[set].push(c);
      }
    }
    base.capabilities = caps;
  }
  if (o.noNewPrivs) base.noNewPrivileges = true;
  base.consoleSize = undefined;
  return base;
}

/** `exec`: resolves to the process's exit status (0 with --detach). */
export async function execOci(
  store: StateStore,
  id: string,
  o: ExecOptions,
): Promise<number> {
  const r = store.load(id);
  const status = store.status(r);
  if (status !== "running" && status !== "created") {
    throw new TinycError(`cannot exec in a ${status} container`);
  }
  const process = await execProcess(r, o);
  if (process.terminal && o.detach && !o.consoleSocket) {
    throw new TinycError("exec -t --detach needs --console-socket");
  }
  const launcher = await import("../launcher.ts");
  const { spawnInNamespaces } = launcher;
  const sys = new LinuxSys();
  const ns = (f: string) => `/proc/${r.pid}/ns/${f}`;
  const joins = [
    { file: "net", type: CLONE.CLONE_NEWNET },
    { file: "ipc", type: CLONE.CLONE_NEWIPC },
    { file: "uts", type: CLONE.CLONE_NEWUTS },
    { file: "pid_for_children", path: "pid", type: CLONE.CLONE_NEWPID },
    { file: "cgroup", type: CLONE.CLONE_NEWCGROUP },
  ].map((j) => ({ file: j.file, path: ns(j.path ?? j.file), type: j.type }));
  const mntFd = sys.openNs(ns("mnt"));
  const [cfgRead, cfgWrite] = pipe();
  const [repRead, repWrite] = pipe();
  let pid: number;
  const fds: Array<[number, number]> = [
    [CONFIG_FD, cfgRead],
    [REPORT_FD, repWrite],
    [EXEC_MNT_FD, mntFd],
  ];
  o.stdio?.forEach((fd, i) => fds.push([i, fd]));
  const containerUserNs = r.spec.linux.namespaces.some((n) =>
    n.type === "user"
  );
  try {
    if (containerUserNs || launcher.inUserNamespace()) {
      // Only a single-threaded helper joins a user namespace, and we could
      // not setns back into ours: nsenter does it (src/engine/adopt.ts).
      const { spawnAdoptedExec } = await import("./adopt.ts");
      const env = Object.entries(Deno.env.toObject()).map(([k, v]) =>
        `${k}=${v}`
      );
      const denoDir = containerUserNs ? r.denoDir : undefined;
      if (denoDir) env.push(`DENO_DIR=${denoDir}`);
      pid = spawnAdoptedExec(
        r.pid,
        containerUserNs,
        tinycArgv("__exec"),
        fds,
        env,
      );
    } else {
      pid = spawnInNamespaces(
        sys,
        {
          flags: CLONE.CLONE_NEWNS,
          files: [...joins.map((j) => j.file), "mnt"],
          joins,
        },
        tinycArgv("__exec"),
        fds,
      );
    }
  } finally {
    sys.close(cfgRead);
    sys.close(repWrite);
    sys.close(mntFd);
  }
  let master = -1;
  try {
    for (const c of r.cgroup?.cgroups ?? []) {
      Deno.writeTextFileSync(`${c.dir}/cgroup.procs`, String(pid));
    }
    let seccomp: ExecConfig["seccomp"] = r.seccompProgram;
    if (r.rawSeccomp) {
      const { compileSeccomp, parseSeccompProfile } = await import(
        "../security/seccomp.ts"
      );
      const profile = parseSeccompProfile(JSON.stringify(r.rawSeccomp), {
        source: "config.json linux.seccomp",
        caps: process.capabilities?.bounding ?? [],
        kernel: Deno.osRelease(),
      });
      seccomp = {
        program: Array.from(compileSeccomp(profile)),
        flags: profile.flags,
      };
    }
    const cfg: ExecConfig = {
      process,
      seccomp,
      ...(setgroupsDenied() ? { setgroups: false } : {}),
      lastCap: Number(
        Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim(),
      ),
    };
    sendMessage(cfgWrite, cfg);
    sys.close(cfgWrite);
    let failure: InitFailure | null = null;
    if (process.terminal) {
      const m = receiveMessage<InitPty | InitFailure>(repRead);
      if (m && "pty" in m) {
        const { takeFd } = await import("../terminal.ts");
        master = takeFd(pid, m.pty);
      } else failure = m;
    }
    failure ??= receiveMessage<InitFailure>(repRead);
    if (failure) {
      await launcher.waitForExit(pid);
      throw new TinycError(failure.message, failure.code);
    }
  } catch (e) {
    libcKill(pid);
    sys.close(repRead);
    throw e;
  }
  sys.close(repRead);
  if (o.pidFile) writePidFile(o.pidFile, pid);
  if (master >= 0 && o.consoleSocket) {
    sendFdToSocket(o.consoleSocket, master, "/dev/ptmx");
    sys.close(master);
    master = -1;
  }
  if (o.detach) {
    if (master >= 0) sys.close(master);
    return 0;
  }
  return await launcher.attach(pid, master);
}

function libcKill(pid: number): void {
  libc().kill(pid, 9);
}

/** Does our user namespace deny setgroups (rootless, only root mapped)? */
function setgroupsDenied(): boolean {
  try {
    return Deno.readTextFileSync("/proc/self/setgroups").trim() === "deny";
  } catch {
    return false;
  }
}
