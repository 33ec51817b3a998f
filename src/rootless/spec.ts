/**
 * A spec adjusted for a rootless container (as runc's `ToRootless` does):
 * the same container, minus what the user namespace's maps cannot express.
 *
 * - A user namespace is added (OCI `linux.namespaces` lists it).
 * - `uid=N`/`gid=N` mount options whose N is not mapped are dropped: the
 *   kernel refuses them with EINVAL. With only root mapped, that is devpts'
 *   `gid=5` (the tty group); new ptys then belong to root's group.
 * - Without a network namespace of its own (`--network host`), sysfs cannot
 *   be mounted (the kernel wants the mounter to own the network namespace
 *   sysfs shows), so the host's /sys is bind-mounted instead.
 * - The user the command runs as must be mapped, and its supplementary
 *   groups too; and with only root mapped the kernel has `setgroups`
 *   denied (so a process cannot drop a group that keeps it out of a file),
 *   which {@link rootlessSetgroups} tells the init.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { hasNamespace, type Mount, type Spec } from "../spec.ts";
import type { IdMaps, IdRange } from "./id_maps.ts";

/** Is container id `id` mapped by `ranges`? */
export function isMapped(ranges: readonly IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.inside && id < r.inside + r.count);
}

/** The highest mapped container id, for messages. */
function highest(ranges: readonly IdRange[]): number {
  return Math.max(...ranges.map((r) => r.inside + r.count - 1));
}

/**
 * `spec` for a rootless container with `maps`. Throws {@link TinycError}
 * when the command's user or groups are not mapped.
 */
export function rootlessSpec(spec: Spec, maps: IdMaps): Spec {
  const { user } = spec.process;
  const hint = maps.warning === undefined
    ? ""
    : " (only root is mapped: see the warning above)";
  if (!isMapped(maps.uid, user.uid)) {
    throw new TinycError(
      `--user: uid ${user.uid} is not mapped in the rootless container (0-${
        highest(maps.uid)
      } are)${hint}`,
    );
  }
  for (const gid of [user.gid, ...(user.additionalGids ?? [])]) {
    if (!isMapped(maps.gid, gid)) {
      throw new TinycError(
        `--user: gid ${gid} is not mapped in the rootless container (0-${
          highest(maps.gid)
        } are)${hint}`,
      );
    }
  }
  const mapped = (opt: string): boolean => {
    const m = opt.match(/^(uid|gid)=(\d+)$/);
    if (!m) return true;
    return isMapped(m[1] === "uid" ? maps.uid : maps.gid, Number(m[2]));
  };
  const namespaces = spec.linux.namespaces.some((n) => n.type === "user")
    ? spec.linux.namespaces
    : [...spec.linux.namespaces, { type: "user" as const }];
  const ownNet = hasNamespace(spec, "network");
  const adjust = (m: Mount): Mount => {
    if (m.type === "sysfs" && !ownNet) {
      return {
        ...m,
        type: "bind",
        source: "/sys",
        options: ["rbind", ...(m.options ?? [])],
      };
    }
    return m.options?.every(mapped) === false
      ? { ...m, options: m.options.filter(mapped) }
      : m;
  };
  return {
    ...spec,
    mounts: spec.mounts.map(adjust),
    linux: { ...spec.linux, namespaces },
  };
}

/**
 * May the init call `setgroups` in a container with `maps`? Not when only
 * root is mapped: unshare then writes `deny` to /proc/PID/setgroups (the
 * kernel requires it before an unprivileged gid_map write), and the
 * command keeps the caller's supplementary groups (shown as `nogroup`).
 */
export function rootlessSetgroups(maps: IdMaps): boolean {
  return maps.gid.length > 1;
}
