/**
 * Docker-style resource flags (`--memory 64m`, `--cpus 0.5`,
 * `--pids-limit 100`) turned into the OCI runtime spec's `linux.resources`.
 *
 * Parsing is strict: anything docker would not take, or the kernel would
 * refuse later with a less helpful EINVAL, is a {@link TinycError} naming the
 * flag, e.g. `--memory abc: invalid size (use bytes or a k/m/g/t/p suffix, e.g. 64m)`.
 *
 * @module
 */

import { TinycError } from "../errors.ts";

/** The subset of OCI `linux.resources` tinyc sets (field names as in the spec). */
export interface LinuxResources {
  /** Memory limits in bytes. */
  memory?: {
    /** Limit of memory usage (RAM). */
    limit?: number;
    /** Limit of memory + swap together; `-1` is unlimited. OCI semantics, as in cgroup v1 memsw. */
    swap?: number;
    /** Soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low). */
    reservation?: number;
  };
  /** CFS bandwidth: at most `quota` µs of CPU time every `period` µs. */
  cpu?: {
    /** CPU time per period in µs; `-1` is unlimited. */
    quota?: number;
    /** Period in µs. */
    period?: number;
    /** Relative weight (v1 cpu.shares; v2 cpu.weight, converted). */
    shares?: number;
    /** cpuset: CPUs and memory nodes (`0-3`, `0`). */
    cpus?: string;
    mems?: string;
  };
  /**
   * OCI device rules, in order; written to the v1 `devices` controller
   * where the host has one (cgroup v2 uses the device program instead).
   */
  devices?: Array<{
    allow: boolean;
    type?: "a" | "c" | "b";
    major?: number | null;
    minor?: number | null;
    access?: string;
  }>;
  /** cgroup v2 files written as given (OCI `unified`). */
  unified?: Record<string, string>;
  /** Process (task: processes and threads) count limit. */
  pids?: {
    /** Maximum number of tasks; `-1` or `0` is unlimited. */
    limit?: number;
  };
}

/** CFS period used for `--cpus`, as docker does: 100 ms. */
export const CPU_PERIOD_US = 100_000;

/**
 * The kernel refuses a CFS quota below 1 ms (`cpu.cfs_quota_us`, `cpu.max`:
 * EINVAL), so with a 100 ms period `--cpus` cannot go below 0.01.
 */
const MIN_CPU_QUOTA_US = 1_000;

/**
 * Smallest `--memory` accepted. Docker's floor is 6 MiB; below that a
 * container cannot even start its first process. tinyc's init is a Deno
 * process that is already inside the cgroup while it sets up mounts, so the
 * floor also leaves it room for that (pages it touched before being moved
 * stay charged to the launcher's cgroup).
 */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;

/**
 * `pids.max` accepts at most PID_MAX_LIMIT (4194304 on 64-bit; kernel/cgroup/pids.c
 * refuses `limit >= PIDS_MAX`).
 */
export const MAX_PIDS_LIMIT = 4_194_304;

const UNIT: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * Bytes for a docker-style size: plain bytes (`1048576`, `1048576b`) or a
 * binary k/m/g/t/p suffix, case-insensitive, optionally followed by `b` or `ib`
 * (`64m`, `64M`, `64mb`, `64MiB`, `1.5g`). Fractions are taken only with a
 * suffix and rounded down to whole bytes.
 *
 * @param value the flag's value
 * @param flag the flag's name, for the error message
 * @throws {TinycError} on anything else, or below {@link MIN_MEMORY_BYTES}
 */
export function parseMemory(value: string, flag = "--memory"): number {
  const m = /^(\d+)(\.\d+)?([kmgtp](?:i?b)?|b)?$/i.exec(value.trim());
  const unit = m?.[3]?.[0].toLowerCase() ?? "";
  if (!m || (m[2] !== undefined && UNIT[unit] === 1)) {
    throw new TinycError(
      `${flag} ${value}: invalid size (use bytes or a k/m/g/t/p suffix, e.g. 64m)`,
    );
  }
  const bytes = Math.floor(Number(m[1] + (m[2] ?? "")) * UNIT[unit]);
  if (!Number.isSafeInteger(bytes)) {
    throw new TinycError(`${flag} ${value}: size too large`);
  }
  if (bytes < MIN_MEMORY_BYTES) {
    throw new TinycError(`${flag} ${value}: below the minimum of 6m`);
  }
  return bytes;
}

/**
 * CFS quota and period for a docker-style `--cpus` value: a decimal > 0
 * (`0.5`, `1`, `1.5`, `.25`), at least 0.01. The period is 100000 µs and the
 * quota `round(cpus * period)`. Values above the host's CPU count are taken
 * (docker refuses them): such a quota never throttles, which is harmless.
 *
 * @throws {TinycError} naming the flag
 */
export function parseCpus(
  value: string,
  flag = "--cpus",
): { quota: number; period: number } {
  const v = value.trim();
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(v) || !(Number(v) > 0)) {
    throw new TinycError(
      `${flag} ${value}: invalid number of CPUs (use a decimal greater than 0, e.g. 0.5)`,
    );
  }
  const quota = Math.round(Number(v) * CPU_PERIOD_US);
  if (quota < MIN_CPU_QUOTA_US) {
    throw new TinycError(`${flag} ${value}: below the minimum of 0.01`);
  }
  if (!Number.isSafeInteger(quota)) {
    throw new TinycError(`${flag} ${value}: too large`);
  }
  return { quota, period: CPU_PERIOD_US };
}

/**
 * The task limit for `--pids-limit`: a positive integer up to
 * {@link MAX_PIDS_LIMIT}. Like docker, `-1` and `0` mean unlimited; they
 * return `undefined` (no limit is written, the cgroup's default is `max`).
 * Other negative numbers are refused rather than guessed at.
 *
 * @throws {TinycError} naming the flag
 */
export function parsePidsLimit(
  value: string,
  flag = "--pids-limit",
): number | undefined {
  const v = value.trim();
  if (!/^(-1|\d+)$/.test(v)) {
    throw new TinycError(
      `${flag} ${value}: invalid limit (use a positive integer, or 0 or -1 for unlimited)`,
    );
  }
  const n = Number(v);
  if (n <= 0) return undefined;
  if (n > MAX_PIDS_LIMIT) {
    throw new TinycError(
      `${flag} ${value}: above the kernel's maximum of ${MAX_PIDS_LIMIT}`,
    );
  }
  return n;
}

/** Raw flag values as the CLI received them; absent flags are `undefined`. */
export interface ResourceFlags {
  /** `--memory` */
  memory?: string;
  /** `--cpus` */
  cpus?: string;
  /** `--pids-limit` */
  pidsLimit?: string;
}

/**
 * OCI `linux.resources` for the given flags. Sections whose flag is absent
 * (or unlimited) are left out. Memory swap (OCI: memory + swap) equals the
 * limit, so `--memory` is a ceiling on RAM and swap together. (Docker, given
 * `--memory` without `--memory-swap`, allows as much swap again; the issue
 * asks for swap included.)
 *
 * @throws {TinycError} naming the first invalid flag
 */
export function resourcesFromFlags(flags: ResourceFlags): LinuxResources {
  const resources: LinuxResources = {};
  // docker: --memory 0 is no limit
  if (flags.memory !== undefined && !/^\s*0+\s*$/.test(flags.memory)) {
    const limit = parseMemory(flags.memory);
    resources.memory = { limit, swap: limit };
  }
  if (flags.cpus !== undefined) resources.cpu = parseCpus(flags.cpus);
  if (flags.pidsLimit !== undefined) {
    const limit = parsePidsLimit(flags.pidsLimit);
    if (limit !== undefined) resources.pids = { limit };
  }
  return resources;
}

/**
 * `--cgroup-parent PATH`: a cgroup path relative to each hierarchy's root,
 * canonical (`a//b/./c` -> `a/b/c`); `/`, `.` and `..` are refused, so the
 * container never lands at a hierarchy's root or outside it.
 * @throws {TinycError} naming the flag
 */
export function parseCgroupParent(
  p: string | undefined,
  flag = "--cgroup-parent",
): string | undefined {
  if (p === undefined) return undefined;
  const comps = p.split("/").filter((c) => c !== "" && c !== ".");
  if (comps.length === 0 || comps.includes("..")) {
    throw new TinycError(
      `${flag} ${p}: must name a cgroup path (relative to each hierarchy's root), without '..'`,
    );
  }
  return comps.join("/");
}
