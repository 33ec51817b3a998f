/**
 * Linux capabilities: names, docker's default set, `--cap-add/--cap-drop/
 * --privileged` resolved into an OCI `process.capabilities`, and the calls
 * that apply it on the thread that will `execve`.
 *
 * Docker's rules (moby `oci/caps.TweakCapabilities` and `oci.SetCapabilities`,
 * read for this module):
 * - `--privileged`: every capability the host has.
 * - `--cap-add ALL`: every capability except those in `--cap-drop`.
 * - `--cap-drop ALL`: only the `--cap-add` ones.
 * - otherwise: the default set minus `--cap-drop`, plus `--cap-add`.
 * - uid 0: bounding = effective = permitted = that list.
 * - any other uid: bounding only; effective and permitted are empty, "to
 *   match what execve does" for a non-root user (a file without capabilities
 *   gives a non-root process nothing). So `--user 1000 --cap-add NET_ADMIN`
 *   gives the process no usable capability, exactly like docker.
 * - inheritable and ambient stay empty (docker stopped filling inheritable in
 *   20.10.14 for CVE-2022-24769).
 *
 * Applying follows runc's `finalizeNamespace`: drop the bounding set while we
 * are still root with CAP_SETPCAP, set keep-caps, change groups/gid/uid, then
 * capset the final effective/permitted/inheritable sets and raise ambient.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import {
  type CapSets,
  LinuxSecuritySys,
  PR,
  PR_CAP_AMBIENT_CLEAR_ALL,
  PR_CAP_AMBIENT_RAISE,
  type SecuritySys,
} from "./security_sys.ts";

/** Every capability the kernel defines, by number (linux/capability.h). */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** The highest capability number tinyc knows (CAP_CHECKPOINT_RESTORE). */
export const CAP_LAST_KNOWN = 40;

const NAMES_BY_NUMBER: readonly string[] = Object.entries(CAPABILITIES)
  .sort((a, b) => a[1] - b[1]).map(([name]) => name);

/** Docker's default capability set (moby `oci/caps.DefaultCapabilities`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** OCI `process.capabilities`: capability names per set. */
export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

/**
 * `net_admin`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; `all` → `ALL`.
 * `flag` names the option in the error: `--cap-add FOO: unknown capability`.
 */
export function parseCapName(name: string, flag = "--cap-add"): string {
  const upper = name.trim().toUpperCase();
  if (upper === "ALL") return "ALL";
  const full = upper.startsWith("CAP_") ? upper : "CAP_" + upper;
  if (!(full in CAPABILITIES)) {
    throw new TinycError(`${flag} ${name}: unknown capability`);
  }
  return full;
}

/** Bit mask of a list of capability names (bit n = capability n). */
export function capMask(names: readonly string[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const n = CAPABILITIES[name];
    if (n === undefined) throw new TinycError(`${name}: unknown capability`);
    mask |= 1n << BigInt(n);
  }
  return mask;
}

/** Names of the capabilities set in `mask`, in number order. */
export function capNames(mask: bigint): string[] {
  const out: string[] = [];
  for (let n = 0; n <= CAP_LAST_KNOWN; n++) {
    if ((mask >> BigInt(n)) & 1n) out.push(NAMES_BY_NUMBER[n]);
  }
  return out;
}

/** Inputs of {@link resolveCapabilities}, as the CLI collects them. */
export interface CapabilityOptions {
  /** `--cap-add` values, raw (any case, with or without `CAP_`, or `ALL`). */
  add?: readonly string[];
  /** `--cap-drop` values, raw. */
  drop?: readonly string[];
  privileged?: boolean;
  /** The container process's uid (after `--user`); non-root gets bounding only. */
  uid?: number;
  /**
   * Capabilities the host lets us have (mask), used for `--privileged` and
   * `--cap-add ALL`. Defaults to every known one; pass
   * {@link hostCapabilities}`().bounding` so a host that lacks some (a
   * container host, an old kernel) does not make capset fail.
   */
  available?: bigint;
}

/**
 * Resolve docker's capability flags into an OCI `process.capabilities`
 * (sets sorted by capability number). Throws {@link TinycError} for an
 * unknown name.
 */
export function resolveCapabilities(opts: CapabilityOptions): OciCapabilities {
  const all = opts.available ?? (1n << BigInt(CAP_LAST_KNOWN + 1)) - 1n;
  const add = (opts.add ?? []).map((c) => parseCapName(c, "--cap-add"));
  const drop = (opts.drop ?? []).map((c) => parseCapName(c, "--cap-drop"));
  let mask: bigint;
  if (opts.privileged) {
    mask = all;
  } else if (add.includes("ALL")) {
    // docker: "Add all capabilities except ones on capDrop".
    mask = all & ~capMask(drop.filter((c) => c !== "ALL"));
  } else if (drop.includes("ALL")) {
    mask = capMask(add);
  } else {
    mask = (capMask(DEFAULT_CAPABILITIES) & ~capMask(drop)) | capMask(add);
  }
  const list = capNames(mask);
  const root = (opts.uid ?? 0) === 0;
  return {
    bounding: list,
    effective: root ? [...list] : [],
    permitted: root ? [...list] : [],
    inheritable: [],
    ambient: [],
  };
}

/**
 * The host's limits: `lastCap` from /proc/sys/kernel/cap_last_cap and the
 * calling thread's bounding set from /proc/thread-self/status (`CapBnd`).
 */
export function hostCapabilities(): { lastCap: number; bounding: bigint } {
  const lastCap = Number(
    Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap").trim(),
  );
  const status = Deno.readTextFileSync("/proc/thread-self/status");
  const m = status.match(/^CapBnd:\s*([0-9a-f]+)$/m);
  const bounding = m ? BigInt("0x" + m[1]) : (1n << BigInt(lastCap + 1)) - 1n;
  return { lastCap, bounding };
}

/** The OCI sets as masks, for capset. */
export function capSetsOf(caps: OciCapabilities): CapSets {
  return {
    effective: capMask(caps.effective),
    permitted: capMask(caps.permitted),
    inheritable: capMask(caps.inheritable),
  };
}

/**
 * Drop from the calling thread's bounding set every capability in
 * 0..`lastCap` that `caps.bounding` does not list. Needs CAP_SETPCAP in the
 * effective set, so it must run before the uid changes or capset lowers
 * effective.
 */
export function dropBoundingSet(
  caps: OciCapabilities,
  lastCap: number,
  sys: SecuritySys = new LinuxSecuritySys(),
): void {
  const keep = capMask(caps.bounding);
  for (let n = 0; n <= lastCap; n++) {
    if ((keep >> BigInt(n)) & 1n) continue;
    sys.prctl(
      PR.PR_CAPBSET_DROP,
      n,
      0,
      `PR_CAPBSET_DROP ${NAMES_BY_NUMBER[n] ?? `cap ${n}`}`,
    );
  }
}

/**
 * capset the effective/permitted/inheritable sets, then reset and raise the
 * ambient set. Ambient comes last: the kernel only lets a capability into
 * ambient when it is already permitted and inheritable, and a uid change
 * clears ambient.
 */
export function setCapabilitySets(
  caps: OciCapabilities,
  sys: SecuritySys = new LinuxSecuritySys(),
): void {
  sys.capset(capSetsOf(caps));
  sys.prctl(PR.PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, "PR_CAP_AMBIENT");
  for (const name of caps.ambient) {
    sys.prctl(
      PR.PR_CAP_AMBIENT,
      PR_CAP_AMBIENT_RAISE,
      CAPABILITIES[name],
      `PR_CAP_AMBIENT_RAISE ${name}`,
    );
  }
}

/**
 * Apply `caps` to the calling thread when the uid does not change: drop the
 * bounding set, capset, raise ambient. With a `--user`, use
 * {@link dropBoundingSet} + {@link applyUser} instead (see `apply.ts`).
 */
export function applyCapabilities(
  caps: OciCapabilities,
  lastCap: number,
  sys: SecuritySys = new LinuxSecuritySys(),
): void {
  dropBoundingSet(caps, lastCap, sys);
  setCapabilitySets(caps, sys);
}

/** The identity the container process runs as (see `user.ts`). */
export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: readonly number[];
  /**
   * False when the user namespace denies `setgroups` (rootless with only
   * root mapped): the supplementary groups are left as they are.
   */
  setgroups?: boolean;
}

/**
 * Switch the calling thread to `user`, keeping the capabilities `caps`
 * grants, then set them. Order (each step needs what the previous one kept):
 * 1. `PR_SET_KEEPCAPS 1`: without it, leaving uid 0 empties permitted, and
 *    nothing could be set afterwards;
 * 2. `setgroups` (needs CAP_SETGID; also clears the host's groups for root);
 * 3. `setresgid` (needs CAP_SETGID) before
 * 4. `setresuid` (needs CAP_SETUID): after it, a non-root thread has an
 *    empty effective set and could no longer change gid or groups;
 * 5. `PR_SET_KEEPCAPS 0`, so the flag does not linger;
 * 6. capset + ambient ({@link setCapabilitySets}); capset may raise effective
 *    from the kept permitted set without any capability.
 * The bounding set must already be dropped ({@link dropBoundingSet}): that
 * needs CAP_SETPCAP in effective, which step 4 clears for non-root users.
 */
export function applyUser(
  user: ProcessUser,
  caps: OciCapabilities,
  sys: SecuritySys = new LinuxSecuritySys(),
): void {
  sys.prctl(PR.PR_SET_KEEPCAPS, 1, 0, "PR_SET_KEEPCAPS 1");
  if (user.setgroups !== false) sys.setgroups(user.additionalGids);
  sys.setresgid(user.gid);
  sys.setresuid(user.uid);
  sys.prctl(PR.PR_SET_KEEPCAPS, 0, 0, "PR_SET_KEEPCAPS 0");
  setCapabilitySets(caps, sys);
}
