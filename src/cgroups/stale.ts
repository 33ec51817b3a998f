/**
 * Finding and removing cgroups left behind by launchers that died.
 *
 * @module
 */

import * as posix from "../posix_path.ts";
import { type CgroupKernel, LinuxCgroupKernel } from "./kernel.ts";
import { cgroupDir, cgroupVisible, detectLayout } from "./layout.ts";
import { procsTree, removeTree } from "./cgroup.ts";
import { FLAG, normalizeParent } from "./plan.ts";

/**
 * A cgroup id that records its owner, `<pid>-<suffix>`, so that
 * {@link cleanupStaleCgroups} can tell a crashed launcher's cgroup from a
 * live one: pass `cgroupId(containerId)` as {@link CgroupOptions.id}.
 */
export function cgroupId(suffix: string, pid: number = Deno.pid): string {
  return `${pid}-${suffix}`;
}

/** `tinyc-<pid>-<suffix>` (container) or `tinyc-launcher-<pid>` (v2 leaf): the owner pid. */
const OWNED = /^tinyc-(?:(\d+)-.+|launcher-(\d+))$/;

/** Inputs of {@link cleanupStaleCgroups}; same defaults as {@link CgroupOptions}. */
export interface CleanupOptions {
  /** `--cgroup-parent` to scan instead of the launcher's own cgroup and its ancestors. */
  parent?: string;
  /** The cgroup root. Default `/sys/fs/cgroup`. */
  root?: string;
  /** Contents of `/proc/self/cgroup`. */
  procSelfCgroup?: string;
  /** Contents of `/proc/self/mountinfo`. */
  mountinfo?: string;
  /** Default: the real one. */
  kernel?: CgroupKernel;
}

/**
 * Remove cgroups left by launchers that died (e.g. SIGKILLed) and return
 * their directories. Scans, in every hierarchy tinyc uses (v2, and v1 ones
 * with cpu, memory or pids), the places {@link planCgroup} can put
 * containers: the launcher's own cgroup and its ancestors (or the
 * `--cgroup-parent`). A directory is removed only when all hold:
 * - its name is `tinyc-<pid>-<...>` or `tinyc-launcher-<pid>` (tinyc's own);
 * - that owner pid is not a live process (a live owner may be between
 *   creating the cgroup and moving its init in);
 * - neither it nor any descendant lists a process in `cgroup.procs`.
 * Anything else, including tinyc cgroups whose id does not encode a pid, is
 * left alone. A recycled owner pid only delays removal to a later run.
 */
export function cleanupStaleCgroups(opts: CleanupOptions = {}): string[] {
  const k = opts.kernel ?? new LinuxCgroupKernel();
  const layout = detectLayout(
    opts.root ?? "/sys/fs/cgroup",
    opts.mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo"),
    opts.procSelfCgroup ?? Deno.readTextFileSync("/proc/self/cgroup"),
  );
  const removed: string[] = [];
  // Only hierarchies planCgroup ever uses.
  const used = layout.hierarchies.filter((h) =>
    h.version === 2 || h.controllers.some((c) => c in FLAG)
  );
  for (const h of used) {
    const scan: string[] = [];
    if (opts.parent !== undefined) {
      scan.push(normalizeParent(opts.parent));
    } else {
      for (let p = h.own;; p = posix.dirname(p)) {
        if (!cgroupVisible(h, p)) break;
        scan.push(p);
        if (p === "/") break;
      }
    }
    for (const parent of scan.filter((p) => cgroupVisible(h, p))) {
      const dir = cgroupDir(h, parent);
      for (const name of k.subdirs(dir)) {
        const m = OWNED.exec(name);
        if (!m) continue;
        const owner = Number(m[1] ?? m[2]);
        if (owner === Deno.pid || k.alive(owner)) continue;
        const path = posix.join(dir, name);
        if (procsTree(k, path).length) continue;
        if (removeTree(k, path, new Map())) removed.push(path);
      }
    }
  }
  return removed;
}
