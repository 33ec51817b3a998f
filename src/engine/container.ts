/**
 * The engine: OCI containers with a lifecycle (create, start, kill, delete,
 * state, exec, pause/resume, update), on top of the launcher and init that
 * `tinyc run` uses. State lives in a {@link StateStore}; the container's
 * init outlives the process that created it (the engine's subreaper adopts
 * it).
 *
 * ```text
 *  create: spawn init ─ cgroup ─ prestart/createRuntime hooks ─ config ──▶ init builds the rootfs,
 *          (createContainer hooks in the init) ◀── ready ── init opens exec.fifo for writing (blocks)
 *          record state.json, pid file; exit
 *  start:  open exec.fifo for reading ──▶ init: startContainer hooks, execve(process)
 *          remove exec.fifo; poststart hooks
 *  kill:   kill(pid) after checking pid + start time (kill --all: every pid in the cgroup)
 *  delete: SIGKILL what remains, remove the cgroup, poststop hooks, remove the state
 * ```
 *
 * @module
 */

import { oneLine, TinycError } from "../errors.ts";
import * as posix from "../posix_path.ts";
import type { Spec } from "../spec.ts";
import { defaultDevices } from "../spec.ts";
import {
  type ContainerRecord,
  isAlive,
  makeFifo,
  processStartTime,
  type StateStore,
  type Status,
} from "./state.ts";
import { runHostHooks } from "./hooks.ts";
import { sendFdToSocket } from "./console.ts";
import { addr, errno, errnoError, libc, SYS } from "../libc.ts";
import { RLIMITS } from "../oci/config.ts";
import type { HostSetup } from "../launcher.ts";
import type { CgroupPlan } from "../cgroups/plan.ts";
import type { MountOp } from "../mounts.ts";
import { MS } from "../sys.ts";

/**
 * Modules only some verbs need, imported by computed specifier: Deno loads
 * the graph of every literal dynamic import with this module, and `start`,
 * `state`, `kill` and `delete` need none of create's (the launcher, seccomp,
 * cgroup planning). (`deno task compile` embeds them: main.ts's LAZY_MODULES.)
 */
function load<T>(rel: string): Promise<T> {
  return import(new URL(rel, import.meta.url).href);
}

/** The runtime-spec version tinyc implements. */
export const OCI_VERSION = "1.1.0";

/** Largest config.json / process.json read (bounded read of user input). */
const MAX_JSON = 16 << 20;

/** Read a JSON file, refusing anything but a regular file of bounded size. */
export function readJsonFile(path: string, what: string): unknown {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw new TinycError(`${what} ${path}: ${oneLine(e)}`);
  }
  if (!info.isFile) throw new TinycError(`${what} ${path}: not a regular file`);
  if (info.size > MAX_JSON) {
    throw new TinycError(`${what} ${path}: larger than ${MAX_JSON} bytes`);
  }
  try {
    return JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    throw new TinycError(`${what} ${path}: ${oneLine(e)}`);
  }
}

/** The OCI state object (`tinyc-oci state`). */
export function ociState(
  r: ContainerRecord,
  status: Status,
): Record<string, unknown> {
  return {
    ociVersion: OCI_VERSION,
    id: r.id,
    status,
    pid: status === "stopped" ? 0 : r.pid,
    bundle: r.bundle,
    rootfs: r.rootfs,
    created: r.created,
    ...(r.annotations ? { annotations: r.annotations } : {}),
    owner: "",
  };
}

/** Write `pid` to `file` atomically (runc's format: digits, no newline). */
export function writePidFile(file: string, pid: number): void {
  const abs = file.startsWith("/") ? file : posix.join(Deno.cwd(), file);
  const tmp = `${posix.dirname(abs)}/.${
    posix.basename(abs)
  }.${crypto.randomUUID()}`;
  Deno.writeTextFileSync(tmp, String(pid), { mode: 0o644 });
  Deno.renameSync(tmp, abs);
}

/** Options of {@link createOci}. */
export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  /** -t without a console socket (attached `run`): the pty master, to relay. */
  onPty?: (master: number) => void;
}

/** A signal by number or name (`9`, `KILL`, `SIGKILL`). */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  }
  const name = s.toUpperCase().replace(/^SIG/, "");
  const n = SIGNAL_NUMBERS[name];
  if (n === undefined) {
    throw new TinycError(`unknown signal ${JSON.stringify(s)}`);
  }
  return n;
}

const SIGNAL_NUMBERS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};
for (let i = 0; i <= 30; i++) SIGNAL_NUMBERS[`RTMIN+${i}`] = 34 + i;
for (let i = 0; i <= 30; i++) SIGNAL_NUMBERS[`RTMAX-${i}`] = 64 - i;

/** Convert and check config.json of `bundle` into a spec ready to launch. */
export async function loadBundle(
  bundle: string,
): Promise<{ spec: Spec; rawSeccomp?: Record<string, unknown> }> {
  const { specFromOciConfig } = await load<typeof import("../oci/config.ts")>(
    "../oci/config.ts",
  );
  const config = readJsonFile(`${bundle}/config.json`, "config.json");
  const spec = specFromOciConfig(config, bundle) as Spec & {
    rawSeccomp?: Record<string, unknown>;
  };
  const rawSeccomp = spec.rawSeccomp;
  delete spec.rawSeccomp;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(spec.root.path);
  } catch (e) {
    throw new TinycError(`rootfs ${spec.root.path}: ${oneLine(e)}`);
  }
  if (!info.isDirectory) {
    throw new TinycError(`rootfs ${spec.root.path}: not a directory`);
  }
  spec.root.path = Deno.realPathSync(spec.root.path);
  // The runtime's default devices, then the config's (which win).
  const devices = defaultDevices().filter((d) =>
    !spec.linux.devices.some((c) => c.path === d.path)
  );
  spec.linux.devices = [...devices, ...spec.linux.devices];
  if (rawSeccomp) {
    const { parseSeccompProfile } = await load<
      typeof import("../security/seccomp.ts")
    >("../security/seccomp.ts");
    spec.linux.seccomp = parseSeccompProfile(JSON.stringify(rawSeccomp), {
      source: "config.json linux.seccomp",
      caps: spec.process.capabilities?.bounding ?? [],
      kernel: Deno.osRelease(),
    });
  }
  if (spec.linux.namespaces.some((n) => n.type === "user")) {
    throw new TinycError(
      "config.json: linux.namespaces: user namespaces are not supported by tinyc-oci yet",
    );
  }
  return { spec, rawSeccomp };
}

/** The cgroup (name and parent) for an OCI `cgroupsPath`. */
export function cgroupPlacement(
  cgroupsPath: string | undefined,
  id: string,
): { parent?: string; name: string } {
  if (!cgroupsPath) return { name: id };
  if (cgroupsPath.includes(":")) {
    throw new TinycError(
      `config.json: linux.cgroupsPath ${cgroupsPath}: the systemd form (slice:prefix:name) needs --systemd-cgroup, which tinyc-oci does not support`,
    );
  }
  const parts = cgroupsPath.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 0 || parts.includes("..")) {
    throw new TinycError(
      `config.json: linux.cgroupsPath ${cgroupsPath}: not a cgroup path`,
    );
  }
  const name = parts.pop()!;
  if (!cgroupsPath.startsWith("/")) {
    // Relative: beneath tinyc-oci's own cgroup.
    return parts.length
      ? { parent: undefined, name: [...parts, name].join("/") }
      : { name };
  }
  return { parent: "/" + parts.join("/"), name };
}

/**
 * The cgroup step of an OCI container: create its cgroup with the limits
 * and device filter before the init's config is sent, move the init in,
 * and arrange what it mounts for a `cgroup` mount in config.json.
 */
function ociCgroupStep(
  spec: Spec,
  id: string,
  onPlan: (plan: CgroupPlan) => void,
): HostSetup {
  return async (pid, cfg) => {
    const { planCgroup, createCgroup, cgroupMountPlan } = await load<
      typeof import("../cgroups/mod.ts")
    >("../cgroups/mod.ts");
    const { cgroupMountOps } = await load<typeof import("../cgroup_setup.ts")>(
      "../cgroup_setup.ts",
    );
    const { attachDeviceFilter, compileDeviceFilter } = await load<
      typeof import("../security/devices.ts")
    >("../security/devices.ts");
    const { deviceAllowList } = await load<typeof import("./devices.ts")>(
      "./devices.ts",
    );
    const place = cgroupPlacement(spec.linux.cgroupsPath, id);
    if (place.name.includes("/")) {
      throw new TinycError(
        `config.json: linux.cgroupsPath ${spec.linux.cgroupsPath}: a relative path must be one name`,
      );
    }
    const r = spec.linux.resources ?? {};
    const plan = planCgroup({
      id,
      name: place.name,
      parent: place.parent,
      resources: {
        memory: r.memory,
        cpu: r.cpu
          ? { quota: r.cpu.quota, period: r.cpu.period, shares: r.cpu.shares }
          : undefined,
        pids: r.pids,
      },
      children: [pid],
    });
    if (r.cpu?.cpus || r.cpu?.mems) {
      throw new TinycError(
        "config.json: linux.resources.cpu.cpus/mems: cpusets are not supported by tinyc",
      );
    }
    const cg = createCgroup(plan);
    try {
      const program = compileDeviceFilter(deviceAllowList(r.devices));
      for (const c of plan.cgroups) {
        if (c.version === 2) {
          attachDeviceFilter(c.dir, program);
          for (const [file, value] of Object.entries(r.unified ?? {})) {
            Deno.writeTextFileSync(`${c.dir}/${file}`, value);
          }
        }
      }
      cg.addProcess(pid);
    } catch (e) {
      cg.destroy();
      throw new TinycError(
        `cgroup ${plan.cgroups[0]?.dir ?? ""}: ${oneLine(e)}`,
      );
    }
    onPlan(plan);
    const mount = spec.linux.cgroupMount;
    if (mount) {
      if (spec.linux.namespaces.some((n) => n.type === "cgroup")) {
        // Fresh cgroupfs mounts after the init unshares its cgroup namespace.
        cfg.cgroupMounts = cgroupMountOps(cgroupMountPlan(plan)).map((o) =>
          "dest" in o && o.dest.startsWith("/sys/fs/cgroup")
            ? { ...o, dest: mount.destination + o.dest.slice(14) }
            : o
        );
      } else {
        cfg.extraMounts = cgroupBindOps(plan, mount);
      }
    }
    return () => cg.destroy();
  };
}

/**
 * Without a cgroup namespace: bind the container's own cgroup directories
 * from the host (before pivot_root), as runc does, so the container reads
 * its own limits at the usual paths.
 */
export function cgroupBindOps(
  plan: CgroupPlan,
  mount: { destination: string; readonly: boolean },
): MountOp[] {
  const base = mount.destination;
  const ro = mount.readonly;
  const restrict = MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC;
  if (plan.mode === "v2") {
    return plan.cgroups.map((c) => ({
      op: "bind",
      dest: base,
      source: c.dir,
      flags: MS.MS_BIND,
      readonly: ro,
      restrict,
    }));
  }
  const ops: MountOp[] = [{
    op: "mount",
    dest: base,
    source: "tmpfs",
    fstype: "tmpfs",
    flags: restrict,
    data: "mode=755",
  }];
  for (const c of plan.cgroups) {
    ops.push({
      op: "bind",
      dest: `${base}/${c.mountName}`,
      source: c.dir,
      flags: MS.MS_BIND,
      readonly: ro,
      restrict,
    });
    for (const ctl of c.mountData.split(",")) {
      if (ctl && !ctl.startsWith("name=") && ctl !== c.mountName) {
        ops.push({
          op: "symlink",
          dest: `${base}/${ctl}`,
          target: c.mountName,
        });
      }
    }
  }
  return ops;
}

/** Apply `rlimits` and `oomScoreAdj` of the spec to `pid` (inherited by exec). */
function processLimitsStep(spec: Spec): HostSetup {
  return (pid) => {
    const adj = spec.process.oomScoreAdj;
    if (adj !== undefined) {
      try {
        Deno.writeTextFileSync(`/proc/${pid}/oom_score_adj`, String(adj));
      } catch (e) {
        throw new TinycError(`process.oomScoreAdj ${adj}: ${oneLine(e)}`);
      }
    }
    for (const rl of spec.process.rlimits ?? []) setRlimit(pid, rl);
  };
}

/** prlimit64(pid, resource, {soft, hard}). */
export function setRlimit(
  pid: number,
  rl: { type: string; soft: number; hard: number },
): void {
  const big = (n: number) =>
    n < 0 || n >= 2 ** 64 - 1 ? 0xffffffffffffffffn : BigInt(n);
  const limits = new BigUint64Array([big(rl.soft), big(rl.hard)]);
  const r = libc().syscall(
    BigInt(SYS.prlimit64),
    BigInt(pid),
    BigInt(RLIMITS[rl.type]),
    addr(limits),
    0n,
    0n,
  );
  if (r < 0n) throw errnoError("prlimit", `${rl.type} pid ${pid}`);
}

/**
 * `create`: build the container up to the exec fifo and record it. With
 * `keepChild`, the caller (`run`) waits for the init itself.
 */
export async function createOci(
  store: StateStore,
  id: string,
  opts: CreateOptions,
): Promise<ContainerRecord> {
  const { spec, rawSeccomp } = await loadBundle(opts.bundle);
  if (spec.process.terminal && !opts.consoleSocket && !opts.onPty) {
    throw new TinycError(
      "process.terminal is true but no --console-socket was given",
    );
  }
  const dir = store.create(id);
  const created = new Date().toISOString();
  const record: ContainerRecord = {
    ociVersion: OCI_VERSION,
    id,
    pid: 0,
    pidStart: "",
    bundle: opts.bundle,
    rootfs: spec.root.path,
    created,
    annotations: spec.annotations,
    // The parsed profile holds BigInts; exec parses rawSeccomp again.
    spec: { ...spec, linux: { ...spec.linux, seccomp: undefined } },
    rawSeccomp,
  };
  try {
    makeFifo(store.fifo(id));
    const { createContainer } = await load<typeof import("../launcher.ts")>(
      "../launcher.ts",
    );
    const hookState = (pid: number, status: Status) =>
      ociState({ ...record, pid }, status);
    const setup: HostSetup[] = [
      ociCgroupStep(spec, id, (plan) => record.cgroup = plan),
      processLimitsStep(spec),
      async (pid, cfg) => {
        cfg.hookState = JSON.stringify(hookState(pid, "created"));
        await runHostHooks(
          "prestart",
          spec.hooks?.prestart,
          hookState(pid, "creating"),
        );
        await runHostHooks(
          "createRuntime",
          spec.hooks?.createRuntime,
          hookState(pid, "creating"),
        );
      },
    ];
    const pid = await createContainer({
      spec,
      setup,
      execFifo: store.fifo(id),
      takePty: (master) => {
        if (opts.onPty) return opts.onPty(master);
        if (!opts.consoleSocket) {
          throw new TinycError(
            "process.terminal is true but no --console-socket was given",
          );
        }
        sendFdToSocket(opts.consoleSocket, master, "/dev/ptmx");
      },
    });
    record.pid = pid;
    record.pidStart = processStartTime(pid) ?? "";
    store.save(record);
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    return record;
  } catch (e) {
    if (record.pid > 0) libc().kill(record.pid, 9);
    store.remove(id);
    void dir;
    throw e;
  }
}

/** Sleep without blocking other tasks. */
function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** `start`: release the created container's process. */
export async function startOci(store: StateStore, id: string): Promise<void> {
  await store.locked(id, async () => {
    const r = store.load(id);
    const status = store.status(r);
    if (status !== "created") {
      throw new TinycError(`cannot start a container in status ${status}`);
    }
    const { cstr } = await load<typeof import("../libc.ts")>("../libc.ts");
    const O_RDONLY = 0, O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
    const fifo = store.fifo(id);
    const fd = libc().open(cstr(fifo), O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0) throw errnoError("open", `\`${fifo}\``);
    try {
      const buf = new Uint8Array(1);
      for (;;) {
        const n = Number(libc().read(fd, buf, 1n));
        if (n === 1) break;
        const e = n < 0 ? errno() : 0;
        if (n < 0 && e !== 11 /* EAGAIN */ && e !== 4) {
          throw errnoError("read", `\`${fifo}\``, e);
        }
        if (!isAlive(r)) {
          throw new TinycError(`container ${id}: its init exited before start`);
        }
        await sleep(1);
      }
    } finally {
      libc().close(fd);
    }
    Deno.removeSync(fifo);
    r.started = new Date().toISOString();
    store.save(r);
    await runHostHooks(
      "poststart",
      r.spec.hooks?.poststart,
      ociState(r, "running"),
    )
      .catch((e) => {
        // The container runs; a failed poststart hook is reported, as runc does.
        console.error(`tinyc-oci: ${oneLine(e)}`);
      });
  });
}

/** Pids in the container's cgroup (all hierarchies, deduplicated). */
export function cgroupPids(r: ContainerRecord): number[] {
  const pids = new Set<number>();
  for (const c of r.cgroup?.cgroups ?? []) {
    try {
      for (
        const l of Deno.readTextFileSync(`${c.dir}/cgroup.procs`).split("\n")
      ) {
        if (l.trim()) pids.add(Number(l));
      }
    } catch {
      // gone
    }
  }
  if (pids.size === 0 && isAlive(r)) pids.add(r.pid);
  return [...pids];
}

/** `kill [--all] ID SIGNAL`. */
export async function killOci(
  store: StateStore,
  id: string,
  sig: number,
  all: boolean,
): Promise<void> {
  await store.locked(id, () => {
    const r = store.load(id);
    const status = store.status(r);
    if (status === "stopped" && !all) {
      throw new TinycError(`container ${id} is not running`);
    }
    if (all) {
      for (const pid of cgroupPids(r)) libc().kill(pid, sig);
      return;
    }
    if (libc().kill(r.pid, sig) !== 0) throw errnoError("kill", `pid ${r.pid}`);
  });
}

/** `delete [--force] ID`. */
export async function deleteOci(
  store: StateStore,
  id: string,
  force: boolean,
): Promise<void> {
  await store.locked(id, async () => {
    const r = store.load(id);
    const status = store.status(r);
    if ((status === "running" || status === "paused") && !force) {
      throw new TinycError(
        `cannot delete container ${id} that is not stopped: ${status}`,
      );
    }
    if (status !== "stopped") {
      if (status === "paused") freeze(r, false);
      libc().kill(r.pid, 9);
      for (let i = 0; i < 2000 && isAlive(r); i++) await sleep(1);
    }
    if (r.cgroup) {
      const { openCgroup } = await load<typeof import("../cgroups/mod.ts")>(
        "../cgroups/mod.ts",
      );
      openCgroup(r.cgroup).destroy();
    }
    store.remove(id);
    await runHostHooks(
      "poststop",
      r.spec.hooks?.poststop,
      ociState(r, "stopped"),
    )
      .catch((e) => console.error(`tinyc-oci: ${oneLine(e)}`));
  });
}

/** Freeze or thaw the container's cgroup (v2 `cgroup.freeze`). */
export function freeze(r: ContainerRecord, on: boolean): void {
  const v2 = r.cgroup?.cgroups.find((c) => c.version === 2);
  if (!v2) {
    throw new TinycError(
      `container ${r.id}: pause needs a cgroup v2 hierarchy`,
    );
  }
  Deno.writeTextFileSync(`${v2.dir}/cgroup.freeze`, on ? "1" : "0");
}

/** `pause` / `resume`. */
export async function pauseOci(
  store: StateStore,
  id: string,
  on: boolean,
): Promise<void> {
  await store.locked(id, async () => {
    const r = store.load(id);
    const status = store.status(r);
    if (on && status !== "running") {
      throw new TinycError(`container ${id} is not running: ${status}`);
    }
    if (!on && status !== "paused") {
      throw new TinycError(`container ${id} is not paused: ${status}`);
    }
    freeze(r, on);
    if (on) {
      for (let i = 0; i < 1000 && store.status(r) !== "paused"; i++) {
        await sleep(1);
      }
    }
  });
}

/** `update`: write new limits into the container's cgroups. */
export async function updateOci(
  store: StateStore,
  id: string,
  resources: NonNullable<Spec["linux"]["resources"]>,
): Promise<void> {
  await store.locked(id, async () => {
    const r = store.load(id);
    if (store.status(r) === "stopped") {
      throw new TinycError(`container ${id} is not running`);
    }
    const { limitSteps } = await load<typeof import("../cgroups/plan.ts")>(
      "../cgroups/plan.ts",
    );
    const wanted = [
      ["memory", resources.memory],
      ["cpu", resources.cpu],
      ["pids", resources.pids],
    ].filter(([, v]) => v !== undefined).map(([c]) => c as string);
    for (const controller of wanted) {
      const c = r.cgroup?.cgroups.find((c) =>
        c.controllers.includes(controller)
      ) ?? r.cgroup?.cgroups.find((c) =>
        c.version === 2 && r.cgroup?.mode === "v2"
      );
      if (!c) {
        throw new TinycError(
          `update: the container has no ${controller} cgroup (it was created without ${controller} limits)`,
        );
      }
      for (const step of limitSteps(c.version, controller, c.dir, resources)) {
        if (step.op !== "write") continue;
        if (step.optional) {
          try {
            Deno.statSync(step.path);
          } catch {
            continue;
          }
        }
        try {
          Deno.writeTextFileSync(step.path, step.value);
        } catch (e) {
          throw new TinycError(`update: ${step.path}: ${oneLine(e)}`);
        }
      }
    }
    const merged = r.spec.linux.resources ?? {};
    r.spec.linux.resources = { ...merged, ...resources };
    store.save(r);
  });
}

/**
 * `run`: create and start; attached (we are the init's parent: signals are
 * forwarded, a pty is relayed, the exit status is returned and the
 * container deleted) unless `detach`.
 */
export async function runOci(
  store: StateStore,
  id: string,
  opts: CreateOptions,
  detach: boolean,
): Promise<number> {
  let master = -1;
  const record = await createOci(store, id, {
    ...opts,
    onPty: opts.consoleSocket || detach ? undefined : (m) => {
      master = dupFd(m);
    },
  });
  try {
    await startOci(store, id);
  } catch (e) {
    await deleteOci(store, id, true).catch(() => undefined);
    throw e;
  }
  if (detach) return 0;
  const { attach } = await load<typeof import("../launcher.ts")>(
    "../launcher.ts",
  );
  const code = await attach(record.pid, master);
  await deleteOci(store, id, true);
  return code;
}

/** fcntl(F_DUPFD_CLOEXEC): a copy of `fd` that outlives the original. */
function dupFd(fd: number): number {
  const F_DUPFD_CLOEXEC = 1030;
  const r = Number(
    libc().syscall(
      BigInt(SYS.fcntl),
      BigInt(fd),
      BigInt(F_DUPFD_CLOEXEC),
      3n,
      0n,
      0n,
    ),
  );
  if (r < 0) throw errnoError("fcntl", `F_DUPFD_CLOEXEC ${fd}`);
  return r;
}
