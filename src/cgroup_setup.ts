/**
 * The launcher's cgroup step: put the container in a cgroup of its own with
 * its limits before the user's command starts, tell the init what to mount
 * at /sys/fs/cgroup, explain an OOM kill, and remove the cgroup at the end.
 *
 * @module
 */

import {
  type Cgroup,
  cgroupId,
  cgroupMountPlan,
  cleanupStaleCgroups,
  createCgroup,
  planCgroup,
} from "./cgroups/mod.ts";
import type { MountOp } from "./mounts.ts";
import type { CgroupMountOp } from "./cgroups/mod.ts";
import type { LinuxResources, Spec } from "./spec.ts";
import {
  attachDeviceFilter,
  compileDeviceFilter,
  type DeviceRule,
} from "./security/devices.ts";
import { oneLine, TinycError } from "./errors.ts";
import type { Cleanup, HostSetup } from "./launcher.ts";

/** CgroupMountOp (paths inside the container) -> the init's mount ops. */
export function cgroupMountOps(ops: readonly CgroupMountOp[]): MountOp[] {
  return ops.map((o): MountOp => {
    switch (o.op) {
      case "mkdir":
        return { op: "mkdir", dest: o.path };
      case "symlink":
        return { op: "symlink", dest: o.path, target: o.target };
      case "mount":
        return {
          op: "mount",
          dest: o.target,
          source: o.source,
          fstype: o.fstype,
          flags: o.flags,
          data: o.data ?? "",
        };
    }
  });
}

/** `64m` for 67108864, for messages. */
export function formatBytes(n: number): string {
  for (
    const [unit, size] of [["g", 2 ** 30], ["m", 2 ** 20], [
      "k",
      2 ** 10,
    ]] as const
  ) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return `${n} bytes`;
}

/** A cgroup-v2 directory has `cgroup.controllers` (v1 ones do not). */
function isCgroup2(dir: string): boolean {
  try {
    return Deno.statSync(`${dir}/cgroup.controllers`).isFile;
  } catch {
    return false;
  }
}

/** A cgroup created for an init, with what the init should mount. */
export interface StartedCgroup {
  cg: Cgroup;
  pid: number;
  mounts: MountOp[];
  /**
   * Attach the device filter (cgroup v2), unless attached already; throws a
   * {@link TinycError}. The init must not get its go before this.
   */
  attachFilter: () => void;
}

/**
 * Create the container's cgroup for init `pid` (limits written at
 * creation) and move the init into it (stale cgroups are cleaned up by
 * {@link cgroupStep}, after the init has its config). The move is
 * asynchronous: writing `cgroup.procs` waits for an RCU grace period in the
 * kernel (5-30 ms here), so it runs on Deno's I/O threads, one per
 * hierarchy at once, while the launcher carries on; the init is released
 * only after it.
 *
 * The device filter is attached before the move, unless `deferFilter`: the
 * CLI's early start leaves it (~2-4 ms of compiling and loading a BPF
 * program) for {@link cgroupStep}, after the init has its config, which is
 * still before the init may run anything of the container's.
 */
export async function startCgroup(
  opts: {
    resources: LinuxResources;
    parent?: string;
    /** Devices the container may open (a cgroup-v2 device program); none: no filter. */
    devices?: readonly DeviceRule[];
    /** Name suffix (a detached container's id); default random. */
    id?: string;
    /** Leave the device filter to `attachFilter`. */
    deferFilter?: boolean;
  },
  pid: number,
): Promise<StartedCgroup> {
  const plan = planCgroup({
    id: cgroupId(opts.id ?? crypto.randomUUID().slice(0, 8)),
    resources: opts.resources,
    parent: opts.parent,
    children: [pid],
  });
  const cg = createCgroup(plan);
  let filtered = !opts.devices;
  const attachFilter = () => {
    if (filtered) return;
    try {
      const program = compileDeviceFilter(opts.devices!);
      for (const dir of cg.paths) {
        if (isCgroup2(dir)) attachDeviceFilter(dir, program);
      }
    } catch (e) {
      throw new TinycError(`cgroup: device filter: ${oneLine(e)}`);
    }
    filtered = true;
  };
  try {
    if (!opts.deferFilter) attachFilter();
    await Promise.all(
      cg.paths.map((dir) =>
        Deno.writeTextFile(`${dir}/cgroup.procs`, String(pid))
      ),
    );
  } catch (e) {
    cg.destroy();
    if (e instanceof TinycError) throw e;
    throw new TinycError(
      `cgroup: cannot move the container's init into ${cg.paths[0]}: ${
        oneLine(e)
      }`,
    );
  }
  return {
    cg,
    pid,
    mounts: cgroupMountOps(cgroupMountPlan(plan)),
    attachFilter,
  };
}

/** Started cgroups a {@link cgroupStep} took over (and will destroy). */
export const consumedCgroups: WeakSet<Promise<StartedCgroup>> = new WeakSet();

/**
 * A host-setup step that puts the init in the container's cgroup: the one
 * `started` (begun by the CLI as early as possible), or a new one with the
 * spec's device rules as its device filter. `onCreated` receives the handle
 * (for the OOM explanation).
 */
export function cgroupStep(
  spec: Spec,
  onCreated: (cg: Cgroup) => void,
  started?: Promise<StartedCgroup>,
  id?: string,
): HostSetup {
  return async (pid, cfg): Promise<Cleanup> => {
    if (started) consumedCgroups.add(started);
    // Cgroups of launchers that were SIGKILLed: removed now, while the init
    // builds its filesystem, rather than on the way to its config.
    cleanupStaleCgroups({ parent: spec.linux.cgroupParent });
    // The spec's device rules become the cgroup-v2 device program (the
    // CLI's early start applied the same defaults already).
    const { devices, ...resources } = spec.linux.resources ?? {};
    const s = await (started ?? startCgroup({
      resources,
      parent: spec.linux.cgroupParent,
      id,
      devices: devices
        ? (await import("./engine/devices.ts")).deviceAllowList(devices)
        : undefined,
    }, pid));
    try {
      s.attachFilter();
      // The CLI's early init was replaced (namespaces differed): move this one.
      if (s.pid !== pid) s.cg.addProcess(pid);
    } catch (e) {
      s.cg.destroy();
      throw e;
    }
    cfg.cgroupMounts = s.mounts;
    onCreated(s.cg);
    return () => s.cg.destroy();
  };
}
