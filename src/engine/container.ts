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

import { lazyImport } from "../lazy.ts";
import { oneLine, osReason, TinycError } from "../errors.ts";
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
  validateId,
} from "./state.ts";
import { runHostHooks } from "./hooks.ts";
import { sendFdToSocket } from "./console.ts";
import { dupCloexec, errno, errnoError, libc } from "../libc.ts";
import type { HostSetup } from "../launcher.ts";
import type { CgroupPlan } from "../cgroups/plan.ts";
import type { MountOp } from "../mounts.ts";
import { MS } from "../sys.ts";

/**
 * Modules only some verbs need, imported by computed specifier: Deno loads
 * the graph of every literal dynamic import with this module, and `start`,
 * `state`, `kill` and `delete` need none of create's (the launcher, seccomp,
 * cgroup planning; see src/lazy.ts).
 */

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
    throw new TinycError(`${what} ${path}: ${osReason(e)}`);
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

export { parseSignal } from "../signals.ts";

/** Convert and check config.json of `bundle` into a spec ready to launch. */
export async function loadBundle(
  bundle: string,
): Promise<{ spec: Spec; rawSeccomp?: Record<string, unknown> }> {
  const { specFromOciConfig } = await lazyImport<
    typeof import("../oci/config.ts")
  >(
    "src/oci/config.ts",
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
    const { parseSeccompProfile } = await lazyImport<
      typeof import("../security/seccomp.ts")
    >("src/security/seccomp.ts");
    spec.linux.seccomp = parseSeccompProfile(JSON.stringify(rawSeccomp), {
      source: "config.json linux.seccomp",
      caps: spec.process.capabilities?.bounding ?? [],
      kernel: Deno.osRelease(),
    });
  }
  const userns = spec.linux.namespaces.find((n) => n.type === "user");
  if (userns && !userns.path) {
    const root = (maps?: { containerID: number }[]) =>
      maps?.some((m) => m.containerID === 0);
    if (!root(spec.linux.uidMappings) || !root(spec.linux.gidMappings)) {
      throw new TinycError(
        "config.json: linux.uidMappings/gidMappings: a new user namespace needs both, mapping the container's root (0)",
      );
    }
  }
  return { spec, rawSeccomp };
}

/**
 * The cgroup (name and parent) for an OCI `cgroupsPath`: an absolute path
 * is from each hierarchy's root, a relative one from tinyc-oci's own cgroup
 * (as runc does); none is `<id>` beneath our own.
 */
export function cgroupPlacement(
  cgroupsPath: string | undefined,
  id: string,
): { parent?: string; relativeParent?: string; name: string } {
  if (!cgroupsPath) return { name: id };
  if (/^[^/]*:[^/]*:[^/]*$/.test(cgroupsPath)) {
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
    return parts.length ? { relativeParent: parts.join("/"), name } : { name };
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
  userns: boolean,
): HostSetup {
  return async (pid, cfg) => {
    const { planCgroup, createCgroup, cgroupMountPlan } = await lazyImport<
      typeof import("../cgroups/mod.ts")
    >("src/cgroups/mod.ts");
    const { cgroupMountOps } = await lazyImport<
      typeof import("../cgroup_setup.ts")
    >(
      "src/cgroup_setup.ts",
    );
    const { attachDeviceFilter, compileDeviceFilter, DEFAULT_DEVICE_RULES } =
      await lazyImport<typeof import("../security/devices.ts")>(
        "src/security/devices.ts",
      );
    const { deviceAllowList } = await lazyImport<typeof import("./devices.ts")>(
      "src/engine/devices.ts",
    );
    const place = cgroupPlacement(spec.linux.cgroupsPath, id);
    const r = spec.linux.resources ?? {};
    const plan = planCgroup({
      id,
      name: place.name,
      parent: place.parent,
      relativeParent: place.relativeParent,
      resources: {
        memory: r.memory,
        cpu: r.cpu
          ? {
            quota: r.cpu.quota,
            period: r.cpu.period,
            shares: r.cpu.shares,
            cpus: r.cpu.cpus,
            mems: r.cpu.mems,
          }
          : undefined,
        pids: r.pids,
        // v1 devices cgroup: the config's rules, then the runtime's default
        // devices (as runc appends them): the device program does the same.
        devices: r.devices?.length
          ? [
            ...r.devices,
            ...DEFAULT_DEVICE_RULES.map((d) => ({
              allow: true,
              type: d.type,
              major: d.major,
              minor: d.minor,
              access: d.access,
            })),
          ]
          : undefined,
      },
      children: [pid],
    });
    let cg;
    try {
      cg = createCgroup(plan);
    } catch (e) {
      // As root of a user namespace (rootless podman), cgroups are ours
      // only where they were delegated: without limits asked for, the
      // container simply goes without one, as with runc.
      const code = (e as { code?: string }).code ?? "";
      const limits = r.memory || r.cpu || r.pids || r.unified;
      if (userns && !limits && ["EACCES", "EPERM", "EROFS"].includes(code)) {
        return;
      }
      throw e;
    }
    try {
      const program = compileDeviceFilter(deviceAllowList(r.devices));
      for (const c of plan.cgroups) {
        if (c.version === 2) {
          // A device program needs CAP_SYS_ADMIN on the host; in a user
          // namespace the container's devices are host nodes bound in,
          // which the user could open anyway.
          if (!userns) attachDeviceFilter(c.dir, program);
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

/** Apply `oomScoreAdj` of the spec to `pid` (inherited by exec); rlimits are the init's. */
function processLimitsStep(spec: Spec, userns: boolean): HostSetup {
  return (pid) => {
    const adj = spec.process.oomScoreAdj;
    if (adj !== undefined) {
      try {
        Deno.writeTextFileSync(`/proc/${pid}/oom_score_adj`, String(adj));
      } catch (e) {
        // Lowering it needs CAP_SYS_RESOURCE on the host (rootless: skipped).
        if (!userns) {
          throw new TinycError(`process.oomScoreAdj ${adj}: ${oneLine(e)}`);
        }
      }
    }
  };
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
  validateId(id);
  const { spec, rawSeccomp } = await loadBundle(opts.bundle);
  if (spec.process.terminal && !opts.consoleSocket && !opts.onPty) {
    throw new TinycError(
      "process.terminal is true but no --console-socket was given",
    );
  }
  const dir = store.create(id);
  const rootOf = (maps: Spec["linux"]["uidMappings"]) =>
    maps?.find((m) => m.containerID === 0)?.hostID ?? 0;
  const newUserNsHost =
    spec.linux.namespaces.some((n) => n.type === "user" && !n.path)
      ? {
        uid: rootOf(spec.linux.uidMappings),
        gid: rootOf(spec.linux.gidMappings),
      }
      : undefined;
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
    if (newUserNsHost !== undefined) {
      // Its init runs as the container's mapped root, and must open it.
      Deno.chownSync(store.fifo(id), newUserNsHost.uid, newUserNsHost.gid);
    }
    const { createContainer, inUserNamespace } = await lazyImport<
      typeof import("../launcher.ts")
    >("src/launcher.ts");
    const userns = inUserNamespace();
    const newUserNs = spec.linux.namespaces.some((n) =>
      n.type === "user" && !n.path
    );
    const hookState = (pid: number, status: Status) =>
      ociState({ ...record, pid }, status);
    const setup: HostSetup[] = [
      ociCgroupStep(spec, id, (plan) => record.cgroup = plan, userns),
      processLimitsStep(spec, userns),
      async (pid, cfg) => {
        cfg.hookState = JSON.stringify(hookState(pid, "created"));
        await runHostHooks(
          "prestart",
          spec.hooks?.prestart,
          hookState(pid, "created"),
        );
        await runHostHooks(
          "createRuntime",
          spec.hooks?.createRuntime,
          hookState(pid, "created"),
        );
      },
    ];
    const pid = await createContainer({
      spec,
      setup,
      inUserNamespace: userns || newUserNs,
      adopt: userns || newUserNs
        ? {
          uid: spec.linux.uidMappings,
          gid: spec.linux.gidMappings,
          env: newUserNs
            ? { DENO_DIR: record.denoDir = mappedDenoDir(spec) }
            : undefined,
        }
        : undefined,
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

/**
 * A Deno cache directory the container's mapped root can use (its init runs
 * Deno as that uid): `/run/tinyc-oci-deno/<host uid>`, private to it.
 */
function mappedDenoDir(spec: Spec): string {
  const host = (maps: Spec["linux"]["uidMappings"]) =>
    maps?.find((m) => m.containerID === 0)?.hostID ?? 0;
  const uid = host(spec.linux.uidMappings), gid = host(spec.linux.gidMappings);
  const base = "/run/tinyc-oci-deno";
  Deno.mkdirSync(base, { recursive: true, mode: 0o711 });
  Deno.chmodSync(base, 0o711);
  const dir = `${base}/${uid}`;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
  const st = Deno.lstatSync(dir);
  if (!st.isDirectory) throw new TinycError(`${dir}: not a directory`);
  if (st.uid !== uid) Deno.chownSync(dir, uid, gid);
  return dir;
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
    const { cstr } = await lazyImport<typeof import("../libc.ts")>(
      "src/libc.ts",
    );
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
    let r: ContainerRecord;
    try {
      r = store.load(id);
    } catch (e) {
      // A create killed before it recorded anything left only its
      // directory: --force takes it away.
      if (force && e instanceof TinycError) {
        store.remove(id);
        return;
      }
      throw e;
    }
    const status = store.status(r);
    // runtime-spec: deleting a container that is not stopped is an error
    // (created included; engines pass --force to delete one).
    if (status !== "stopped" && !force) {
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
      const { openCgroup } = await lazyImport<
        typeof import("../cgroups/mod.ts")
      >(
        "src/cgroups/mod.ts",
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
    const { limitSteps } = await lazyImport<
      typeof import("../cgroups/plan.ts")
    >(
      "src/cgroups/plan.ts",
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
      master = dupCloexec(m);
      if (master < 0) throw errnoError("fcntl", `F_DUPFD_CLOEXEC ${m}`);
    },
  });
  try {
    await startOci(store, id);
  } catch (e) {
    await deleteOci(store, id, true).catch(() => undefined);
    throw e;
  }
  if (detach) return 0;
  const { attach } = await lazyImport<typeof import("../launcher.ts")>(
    "src/launcher.ts",
  );
  const code = await attach(record.pid, master);
  await deleteOci(store, id, true);
  return code;
}
