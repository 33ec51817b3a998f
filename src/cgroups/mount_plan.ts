/**
 * What the container's init mounts at `/sys/fs/cgroup`.
 *
 * @module
 */

import * as posix from "../posix_path.ts";
import { MS } from "../sys.ts";
import type { CgroupPlan } from "./plan.ts";

/** One step of {@link cgroupMountPlan}, with paths as seen inside the container. */
export type CgroupMountOp =
  | { op: "mkdir"; path: string }
  | {
    op: "mount";
    source: string;
    target: string;
    fstype: string;
    /** MS_* flags (`MS` in src/sys.ts). */
    flags: number;
    data?: string;
  }
  | { op: "symlink"; target: string; path: string };

const RO_FLAGS = MS.MS_RDONLY | MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC;

/**
 * What the init mounts at `/sys/fs/cgroup` inside the container, in order,
 * after it has been moved into the cgroup ({@link Cgroup.addProcess}) and
 * has unshared `CLONE_NEWCGROUP` (so each mount shows the container's cgroup
 * as its root), inside its own mount namespace, after `/sys` is mounted.
 *
 * - v2: one read-only cgroup2 mount: the container sees its own cgroup
 *   (limits readable, nothing writable).
 * - v1 / hybrid: a tmpfs with one read-only mount per hierarchy the container
 *   has a cgroup in (`memory`, `cpu`, `pids`, `unified`), plus `cpu` ->
 *   `cpu,cpuacct` style links; then the tmpfs is made read-only. Hierarchies
 *   where the container has no cgroup of its own (cpuset, blkio, ...) are not
 *   mounted: with cgroupns their root would be the launcher's cgroup, often
 *   the host's root, which the container has no business reading.
 *   Verified as root on the hybrid build machine with `unshare --cgroup --mount`.
 * - no cgroups (pure v1 without limits): nothing.
 */
export function cgroupMountPlan(plan: CgroupPlan): CgroupMountOp[] {
  const base = "/sys/fs/cgroup";
  if (plan.cgroups.length === 0) return [];
  if (plan.mode === "v2") {
    return [
      { op: "mkdir", path: base },
      {
        op: "mount",
        source: "cgroup2",
        target: base,
        fstype: "cgroup2",
        flags: RO_FLAGS,
      },
    ];
  }
  const ops: CgroupMountOp[] = [
    { op: "mkdir", path: base },
    {
      op: "mount",
      source: "tmpfs",
      target: base,
      fstype: "tmpfs",
      flags: MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC,
      data: "mode=755",
    },
  ];
  for (const c of plan.cgroups) {
    const target = posix.join(base, c.mountName);
    ops.push({ op: "mkdir", path: target });
    ops.push(
      c.version === 2
        ? {
          op: "mount",
          source: "cgroup2",
          target,
          fstype: "cgroup2",
          flags: RO_FLAGS,
        }
        : {
          op: "mount",
          source: "cgroup",
          target,
          fstype: "cgroup",
          flags: RO_FLAGS,
          data: c.mountData,
        },
    );
    for (const ctl of c.mountData.split(",")) {
      if (ctl && !ctl.startsWith("name=") && ctl !== c.mountName) {
        ops.push({
          op: "symlink",
          target: c.mountName,
          path: posix.join(base, ctl),
        });
      }
    }
  }
  ops.push({
    op: "mount",
    source: "",
    target: base,
    fstype: "",
    flags: MS.MS_REMOUNT | MS.MS_BIND | RO_FLAGS,
  });
  return ops;
}
