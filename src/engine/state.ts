/**
 * Container state on disk: one directory per container under the state
 * root (`/run/tinyc-oci/<id>/` for `tinyc-oci`), holding `state.json`
 * (written to a temporary name and renamed), `exec.fifo` while the
 * container is created but not started, and a lock file. Liveness comes
 * from the init's pid *and* its start time (field 22 of /proc/PID/stat), so
 * a reused pid is never taken for the container.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { cstr, errnoError, libc, SYS } from "../libc.ts";
import type { Spec } from "../spec.ts";
import type { CgroupPlan } from "../cgroups/plan.ts";
import type { DetachedInfo } from "../detached/record.ts";

/** OCI status values (runtime-spec "state"). */
export type Status = "creating" | "created" | "running" | "paused" | "stopped";

/** What tinyc records for a container. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  /** The init's pid (host namespace). */
  pid: number;
  /** The init's start time in clock ticks (/proc/PID/stat field 22). */
  pidStart: string;
  bundle: string;
  rootfs: string;
  /** ISO 8601. */
  created: string;
  annotations?: Record<string, string>;
  /** The converted spec (process defaults for exec, hooks for delete). */
  spec: Spec;
  /** The OCI seccomp object from config.json, compiled again by exec. */
  rawSeccomp?: Record<string, unknown>;
  /** The container's cgroups (for kill --all, pause, update, delete). */
  cgroup?: CgroupPlan;
  /** Set by `start`, for `state`/`list` output. */
  started?: string;
  /** With a user namespace: the Deno cache its mapped root uses (exec too). */
  denoDir?: string;
  /** The compiled seccomp filter, when there is no `rawSeccomp` (tinyc run -d). */
  seccompProgram?: { program: number[]; flags: number };
  /** tinyc run -d (src/detached): name, logs, exit status, restart policy. */
  detached?: DetachedInfo;
}

/** An id: no `/`, no `..`, printable, as runc allows. */
export function validateId(id: string): void {
  if (!/^[A-Za-z0-9_+\-.]+$/.test(id) || id === "." || id === "..") {
    throw new TinycError(`invalid container id ${JSON.stringify(id)}`);
  }
  if (id.length > 1024) throw new TinycError("container id too long");
}

/** Start time of `pid` (clock ticks since boot), or null when gone. */
export function processStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); field 22 is rest[19].
  if (rest[0] === "Z" || rest[0] === "X") return null;
  return rest[19] ?? null;
}

/** Is the recorded init still the same, living process? */
export function isAlive(r: Pick<ContainerRecord, "pid" | "pidStart">): boolean {
  return r.pid > 0 && processStartTime(r.pid) === r.pidStart;
}

/** The state directories under one root. */
export class StateStore {
  constructor(readonly root: string) {}

  dir(id: string): string {
    validateId(id);
    return `${this.root}/${id}`;
  }

  fifo(id: string): string {
    return `${this.dir(id)}/exec.fifo`;
  }

  /** Create the container's directory; fails if it exists. */
  create(id: string): string {
    Deno.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const dir = this.dir(id);
    try {
      Deno.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists) {
        throw new TinycError(`container ${id} already exists`);
      }
      throw e;
    }
    return dir;
  }

  /** Write the record atomically (temporary name, then rename). */
  save(r: ContainerRecord): void {
    const dir = this.dir(r.id);
    const tmp = `${dir}/.state.json.${crypto.randomUUID()}`;
    Deno.writeTextFileSync(tmp, JSON.stringify(r), { mode: 0o600 });
    Deno.renameSync(tmp, `${dir}/state.json`);
  }

  /** The record, or a "does not exist" error. */
  load(id: string): ContainerRecord {
    let text: string;
    try {
      text = Deno.readTextFileSync(`${this.dir(id)}/state.json`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new TinycError(`container ${id} does not exist`);
      }
      throw e;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  /** Ids with a state directory. */
  ids(): string[] {
    try {
      return [...Deno.readDirSync(this.root)]
        .filter((e) => e.isDirectory && !e.name.startsWith("."))
        .map((e) => e.name).sort();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  remove(id: string): void {
    try {
      Deno.removeSync(this.dir(id), { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /**
   * Hold the container's lock (flock on `<dir>/lock`) while `fn` runs, so
   * two verbs on one container never interleave.
   */
  async locked<T>(id: string, fn: () => T | Promise<T>): Promise<T> {
    const dir = this.dir(id);
    let fd: number;
    try {
      fd = openLock(`${dir}/lock`);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") {
        throw new TinycError(`container ${id} does not exist`);
      }
      throw e;
    }
    try {
      const LOCK_EX = 2;
      if (
        libc().syscall(
          BigInt(SYS.flock),
          BigInt(fd),
          BigInt(LOCK_EX),
          0n,
          0n,
          0n,
        ) < 0n
      ) {
        throw errnoError("flock", `\`${dir}/lock\``);
      }
      return await fn();
    } finally {
      libc().close(fd);
    }
  }

  /** Status of a record, from the process and the exec fifo. */
  status(r: ContainerRecord): Status {
    if (!isAlive(r)) return "stopped";
    try {
      Deno.lstatSync(this.fifo(r.id));
      return "created";
    } catch {
      // started
    }
    if (r.cgroup && isFrozen(r.cgroup)) return "paused";
    return "running";
  }
}

function openLock(path: string): number {
  const O_RDWR = 2,
    O_CREAT = 0o100,
    O_CLOEXEC = 0o2000000,
    O_NOFOLLOW = 0o400000;
  const fd = libc().open(
    cstr(path),
    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
    0o600,
  );
  if (fd < 0) throw errnoError("open", `\`${path}\``);
  return fd;
}

/** Is the container's cgroup frozen (v2 `cgroup.freeze`, v1 freezer)? */
export function isFrozen(plan: CgroupPlan): boolean {
  for (const c of plan.cgroups) {
    try {
      if (c.version === 2) {
        const ev = Deno.readTextFileSync(`${c.dir}/cgroup.events`);
        if (/^frozen 1$/m.test(ev)) return true;
      }
    } catch {
      // gone
    }
  }
  return false;
}

/** mkfifo(path, 0600) through mknod. */
export function makeFifo(path: string): void {
  const S_IFIFO = 0o010000;
  if (libc().mknod(cstr(path), S_IFIFO | 0o600, 0n) !== 0) {
    throw errnoError("mkfifo", `\`${path}\``);
  }
}
