/**
 * OCI `linux.resources.devices` (an ordered allow/deny list, last match
 * wins) as tinyc's device allow-list (src/security/devices.ts), which the
 * cgroup-v2 device program enforces.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { DeviceCgroupRule } from "../spec.ts";
import { DEFAULT_DEVICE_RULES, type DeviceRule } from "../security/devices.ts";

function covers(a: DeviceRule, b: DeviceRule): boolean {
  return (a.type === "a" || a.type === b.type) &&
    (a.major === -1 || a.major === b.major) &&
    (a.minor === -1 || a.minor === b.minor);
}

/**
 * The allow-list for OCI rules: a deny-all rule empties the list, an allow
 * rule adds to it, a narrower deny removes the allows it matches exactly;
 * a deny that would cut a hole into a wider allow cannot be expressed and
 * is refused. As runc does, the runtime's default devices (null, zero,
 * full, random, urandom, tty, console, ptmx, pts) are always allowed.
 */
export function deviceAllowList(
  rules: readonly DeviceCgroupRule[] | undefined,
): DeviceRule[] {
  let list: DeviceRule[] = [];
  for (const [i, r] of (rules ?? []).entries()) {
    const rule: DeviceRule = {
      type: r.type ?? "a",
      major: r.major ?? -1,
      minor: r.minor ?? -1,
      access: r.access ?? "rwm",
    };
    if (r.allow) {
      list.push(rule);
      continue;
    }
    const all = rule.type === "a" && rule.major === -1 && rule.minor === -1;
    if (all && ["r", "w", "m"].every((c) => rule.access.includes(c))) {
      list = [];
      continue;
    }
    list = list.filter((a) =>
      !(a.type === rule.type && a.major === rule.major &&
        a.minor === rule.minor && [...a.access].every((c) =>
          rule.access.includes(c)
        ))
    );
    if (list.some((a) => covers(a, rule) || covers(rule, a))) {
      throw new TinycError(
        `config.json: linux.resources.devices[${i}]: a deny inside an earlier allow is not supported by tinyc`,
      );
    }
  }
  for (const d of DEFAULT_DEVICE_RULES) {
    if (
      !list.some((a) =>
        covers(a, d) && [...d.access].every((c) => a.access.includes(c))
      )
    ) {
      list.push({ ...d });
    }
  }
  return list;
}
