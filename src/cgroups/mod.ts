/**
 * The container's cgroup: plan it as plain data, create it, move the
 * container's init into it, read whether it was OOM-killed, destroy it, and
 * clean up what crashed launchers left behind.
 *
 * Sequence for the launcher:
 *
 * ```
 * cleanupStaleCgroups({ parent })          // first; a few readdirs
 * plan = planCgroup({ id: cgroupId(cid), resources, parent })
 * cg = createCgroup(plan)                  // best before spawning the init; if after,
 *                                          // pass children: [initPid] to planCgroup
 * pid = spawn(init)                        // the init blocks on the sync pipe
 * cg.addProcess(pid)                       // BEFORE the init unshares CLONE_NEWCGROUP
 * release the init: unshare(CLONE_NEWCGROUP), mount /sys, apply cgroupMountPlan(plan), ...
 * waitpid(init); oom = cg.oomKilled(); cg.destroy()   // also on every error path after create
 * ```
 *
 * Placement. Every container gets `tinyc-<id>` beneath the launcher's own
 * cgroup in each hierarchy it uses (from `/proc/self/cgroup`), so the caller's
 * limits still apply; `--cgroup-parent PATH` (relative to each hierarchy's
 * root) overrides, and missing directories of that path are created and then
 * left in place (shared by later containers, like docker's `/docker`).
 *
 * cgroup v2's "no internal processes" rule: a non-root cgroup that has
 * processes cannot enable controllers in its `cgroup.subtree_control`
 * (EBUSY), and a cgroup whose subtree_control is non-empty cannot take
 * processes. So with limits, the parent P must (a) already delegate the
 * controllers, (b) be the real root, or (c) have no processes. When the
 * launcher's own cgroup O fails all three:
 *   1. if O holds only the launcher (and its `children`, e.g. under
 *      `systemd-run --scope tinyc ...`), they move into a leaf
 *      `O/tinyc-launcher-<pid>`, as podman does, and O becomes the parent.
 *      The launcher cannot move back (O then delegates), so the empty leaf
 *      outlives it and the next {@link cleanupStaleCgroups} removes it.
 *      Processes tinyc did not start are never moved.
 *   2. otherwise the nearest ancestor of O for which (a)-(c) hold is the
 *      parent, as runc does for a `.scope` (a systemd slice never holds
 *      processes). The container then no longer nests inside O's own limits,
 *      only its ancestors'.
 *   3. if none holds (a cgroup-namespace root with processes, as in docker
 *      without `--cgroupns=host`): an error suggesting `--cgroup-parent` or a
 *      cgroup of its own.
 *
 * Writes to cgroups tinyc did not create: only enabling the needed
 * controllers in the parent's `cgroup.subtree_control` (v2), which the kernel
 * requires before a child can have `memory.max` etc. Those stay enabled after
 * the container is gone: siblings may depend on them by then. (Moving the
 * launcher into its leaf writes only the leaf's own `cgroup.procs`.)
 *
 * cgroup v1 has no such rule: the container goes beneath the launcher's
 * cgroup in each of the memory / cpu / pids hierarchies it needs, and in
 * hybrid layouts also into the controller-less cgroup2 mount, which gives
 * `cgroup.kill` and a cgroup-namespace root there.
 *
 * Files: `resources.ts` (flags -> OCI resources), `layout.ts` (mountinfo,
 * /proc/self/cgroup), `plan.ts`, `cgroup.ts` (apply, handle), `stale.ts`,
 * `mount_plan.ts`, `kernel.ts` (the kernel interface), `testing.ts` (fake).
 *
 * @module
 */

export type { CgroupKernel } from "./kernel.ts";
export { LinuxCgroupKernel } from "./kernel.ts";
export type { CgroupLayout, Hierarchy } from "./layout.ts";
export { detectLayout } from "./layout.ts";
export type { LinuxResources } from "./resources.ts";
export {
  parseCpus,
  parseMemory,
  parsePidsLimit,
  resourcesFromFlags,
} from "./resources.ts";
export type {
  CgroupOptions,
  CgroupPlan,
  CgroupStep,
  PlannedCgroup,
} from "./plan.ts";
export { planCgroup } from "./plan.ts";
export type { Cgroup } from "./cgroup.ts";
export { createCgroup, openCgroup } from "./cgroup.ts";
export type { CleanupOptions } from "./stale.ts";
export { cgroupId, cleanupStaleCgroups } from "./stale.ts";
export type { CgroupMountOp } from "./mount_plan.ts";
export { cgroupMountPlan } from "./mount_plan.ts";
