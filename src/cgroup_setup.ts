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
import type { Spec } from "./spec.ts";
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

/**
 * A host-setup step that creates the container's cgroup and moves the init
 * into it; `onCreated` receives the handle (for the OOM explanation).
 */
export function cgroupStep(
  spec: Spec,
  onCreated: (cg: Cgroup) => void,
): HostSetup {
  return (pid, cfg): Cleanup => {
    const parent = spec.linux.cgroupsPath;
    // Cgroups of launchers that were SIGKILLed: remove them first.
    cleanupStaleCgroups({ parent });
    const plan = planCgroup({
      id: cgroupId(crypto.randomUUID().slice(0, 8)),
      resources: spec.linux.resources ?? {},
      parent,
      children: [pid],
    });
    const cg = createCgroup(plan);
    try {
      // Before the init is released: it unshares its cgroup namespace rooted here.
      cg.addProcess(pid);
    } catch (e) {
      cg.destroy();
      throw e;
    }
    cfg.cgroupMounts = cgroupMountOps(cgroupMountPlan(plan));
    onCreated(cg);
    return () => cg.destroy();
  };
}
