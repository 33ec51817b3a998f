/**
 * Applying a cgroup plan, and the handle the launcher keeps: move processes
 * in, read OOM kills, destroy.
 *
 * @module
 */

import * as posix from "../posix_path.ts";
import { TinycError } from "../errors.ts";
import {
  type CgroupKernel,
  errCode,
  LinuxCgroupKernel,
  words,
} from "./kernel.ts";
import type { CgroupPlan } from "./plan.ts";

/** A created container cgroup (in every hierarchy it uses). */
export interface Cgroup {
  /** The container's cgroup directories, one per hierarchy. */
  readonly paths: string[];
  /** Move a process (all its threads) into the container's cgroups. */
  addProcess(pid: number): void;
  /** Whether the kernel OOM-killed a process in the cgroup (still answers after {@link destroy}). */
  oomKilled(): boolean;
  /**
   * Remove the cgroups tinyc made (not `--cgroup-parent` directories, not
   * the launcher's own leaf). Retries briefly while the kernel finishes
   * with exiting processes, then kills what is left and retries again.
   * @throws {TinycError} naming a directory that could not be removed
   */
  destroy(): void;
}

/** How long rmdir EBUSY is retried before killing what is left (sum of sleeps, ms). */
const SETTLE_MS = 100;
/** How long it is retried after the kill (a process in D state can take a while). */
const KILL_WAIT_MS = 1000;

class CgroupHandle implements Cgroup {
  readonly paths: string[];
  #plan: CgroupPlan;
  #k: CgroupKernel;
  #oom: boolean | undefined;
  #destroyed = false;

  constructor(plan: CgroupPlan, k: CgroupKernel) {
    this.#plan = plan;
    this.#k = k;
    this.paths = plan.cgroups.map((c) => c.dir);
  }

  addProcess(pid: number): void {
    for (const dir of this.paths) {
      this.#k.write(posix.join(dir, "cgroup.procs"), String(pid));
    }
  }

  oomKilled(): boolean {
    if (this.#oom !== undefined) return this.#oom;
    const k = this.#k;
    const mem = this.#plan.cgroups.find((c) =>
      c.controllers.includes("memory")
    );
    if (!mem) return false;
    const count = (file: string, key: string) => {
      try {
        const m = new RegExp(`^${key} (\\d+)$`, "m").exec(
          k.read(posix.join(mem.dir, file)),
        );
        return m ? Number(m[1]) : undefined;
      } catch {
        return undefined;
      }
    };
    if (mem.version === 2) return (count("memory.events", "oom_kill") ?? 0) > 0;
    // memory.oom_control has oom_kill since Linux 4.13. Before that, hitting
    // the limit (failcnt) is the best hint; with memsw set it is memsw's
    // counter that moves (seen here: failcnt 0 after an OOM kill).
    const kills = count("memory.oom_control", "oom_kill");
    if (kills !== undefined) return kills > 0;
    return ["memory.failcnt", "memory.memsw.failcnt"].some((f) =>
      Number(words(k, posix.join(mem.dir, f))[0] ?? 0) > 0
    );
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#oom = this.oomKilled();
    const leaf = this.#plan.launcherLeaf;
    let pending = this.#plan.steps.flatMap((s) =>
      s.op === "mkdir" && !s.keep && s.path !== leaf ? [s.path] : []
    ).reverse();
    const errors = new Map<string, unknown>();
    const sweep = (budget: number) => {
      // Exponential back-off from 1 ms; the budget counts requested sleep
      // time so the bound holds however slow each rmdir is.
      for (let waited = 0, delay = 1;; delay = Math.min(delay * 2, 50)) {
        pending = pending.filter((d) => !removeTree(this.#k, d, errors));
        if (pending.length === 0 || waited >= budget) return;
        this.#k.sleep(delay);
        waited += delay;
      }
    };
    sweep(SETTLE_MS);
    if (pending.length) {
      killAll(this.#k, pending);
      sweep(KILL_WAIT_MS);
    }
    if (pending.length) {
      const d = pending[0];
      const e = errors.get(d);
      throw new TinycError(
        `cgroups: cannot remove \`${d}\`: ${
          e instanceof Error ? e.message : "processes remain"
        }`,
      );
    }
    this.#destroyed = true;
  }
}

/**
 * rmdir `dir` after its child cgroups (depth first). True when gone.
 * Failures are recorded in `errors` for the final message.
 */
export function removeTree(
  k: CgroupKernel,
  dir: string,
  errors: Map<string, unknown>,
): boolean {
  for (const sub of k.subdirs(dir)) {
    removeTree(k, posix.join(dir, sub), errors);
  }
  try {
    k.rmdir(dir);
    return true;
  } catch (e) {
    if (errCode(e) === "ENOENT") return true;
    errors.set(dir, e);
    return false;
  }
}

/** Pids listed in `dir/cgroup.procs` and its descendants'. */
export function procsTree(k: CgroupKernel, dir: string): number[] {
  const pids = words(k, posix.join(dir, "cgroup.procs")).map(Number);
  for (const sub of k.subdirs(dir)) {
    pids.push(...procsTree(k, posix.join(dir, sub)));
  }
  return pids;
}

/** SIGKILL everything in `dirs`: `cgroup.kill` where v2 has it (5.14+, atomic, no pid races), else by pid. */
function killAll(k: CgroupKernel, dirs: string[]): void {
  for (const dir of dirs) {
    const killFile = posix.join(dir, "cgroup.kill");
    if (k.exists(killFile)) {
      try {
        k.write(killFile, "1");
        continue;
      } catch {
        // fall back to pids
      }
    }
    for (const pid of procsTree(k, dir)) k.kill(pid);
  }
}

/**
 * Apply a plan: create the directories and write the limits, in order. On
 * any failure, removes the directories it created (and moves the launcher
 * back out of its leaf when the kernel still allows) and rethrows.
 *
 * @param kernel default: the real one
 * @throws {SysError} naming the call, path and errno
 */
export function createCgroup(
  plan: CgroupPlan,
  kernel: CgroupKernel = new LinuxCgroupKernel(),
): Cgroup {
  const made: string[] = [];
  const moved: string[] = [];
  try {
    for (const s of plan.steps) {
      if (s.op === "mkdir") {
        kernel.mkdir(s.path);
        made.push(s.path);
      } else if (!s.optional || kernel.exists(s.path)) {
        kernel.write(s.path, s.value);
        if (plan.launcherLeaf && s.path.startsWith(plan.launcherLeaf + "/")) {
          moved.push(s.value);
        }
      }
    }
  } catch (e) {
    for (const pid of moved) {
      try {
        // Possible only while the parent does not delegate yet.
        kernel.write(
          posix.join(posix.dirname(plan.launcherLeaf!), "cgroup.procs"),
          pid,
        );
      } catch {
        // The leaf stays; stale cleanup removes it once the launcher is gone.
      }
    }
    for (const dir of made.reverse()) {
      try {
        kernel.rmdir(dir);
      } catch {
        // Best effort: a shared parent may be in use, the leaf may hold us.
      }
    }
    throw e;
  }
  return new CgroupHandle(plan, kernel);
}

/** A handle for a cgroup created earlier from `plan` (e.g. by `tinyc-oci create`). */
export function openCgroup(
  plan: CgroupPlan,
  kernel: CgroupKernel = new LinuxCgroupKernel(),
): Cgroup {
  return new CgroupHandle(plan, kernel);
}
