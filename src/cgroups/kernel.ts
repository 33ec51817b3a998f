/**
 * The few kernel operations the cgroup code needs, behind one interface so
 * that planning, creation, teardown and stale cleanup are unit-tested against
 * a temporary directory shaped like cgroupfs (see `testing.ts`), and run for
 * real through {@link LinuxCgroupKernel}.
 *
 * @module
 */

import { errnoName } from "../libc.ts";
import { SysError } from "../errors.ts";

/** Filesystem and process operations on a cgroup hierarchy. All synchronous. */
export interface CgroupKernel {
  /** Create one directory (a cgroup); throws EEXIST if it is there. */
  mkdir(path: string): void;
  /** Remove one cgroup directory (`rmdir`); EBUSY while it has processes or children. */
  rmdir(path: string): void;
  /** Whole contents of a file; throws ENOENT when missing. */
  read(path: string): string;
  /** One `write(2)` of `value` to an existing file (never creates it). */
  write(path: string, value: string): void;
  /** Whether anything exists at `path`. */
  exists(path: string): boolean;
  /** Names of the subdirectories of `path` (child cgroups); `[]` when missing. */
  subdirs(path: string): string[];
  /** SIGKILL a process; a process that is already gone is not an error. */
  kill(pid: number): void;
  /** Whether a process with this pid exists (in the caller's pid namespace). */
  alive(pid: number): boolean;
  /** Block the calling thread for `ms` milliseconds. */
  sleep(ms: number): void;
}

/** errno name of a Deno error (`EBUSY`), or `undefined` for other throwables. */
export function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * A {@link SysError} for a failed Deno file call:
 * ``write `/sys/fs/cgroup/x/memory.max` = 1: EINVAL (invalid argument)``.
 * Non-errno throwables are returned unchanged.
 */
export function toSysError(
  call: string,
  detail: string,
  err: unknown,
): unknown {
  const code = errCode(err);
  if (!code || !(err instanceof Error)) return err;
  // Deno's messages carry the number: "... (os error 16): rmdir '/x'".
  const n = Number(err.message.match(/\(os error (\d+)\)/)?.[1] ?? 0);
  // Deno's messages read "Device or resource busy (os error 16): rmdir '/x'".
  const text = err.message.replace(/ \(os error \d+\).*$/s, "");
  return new SysError(
    call,
    detail,
    n,
    n ? errnoName(n) : code,
    text.charAt(0).toLowerCase() + text.slice(1),
  );
}

const encoder = new TextEncoder();
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** The real {@link CgroupKernel}: Deno's synchronous file APIs on cgroupfs. */
export class LinuxCgroupKernel implements CgroupKernel {
  mkdir(path: string): void {
    try {
      Deno.mkdirSync(path, { mode: 0o755 });
    } catch (e) {
      throw toSysError("mkdir", `\`${path}\``, e);
    }
  }
  rmdir(path: string): void {
    try {
      // Non-recursive remove of a directory is rmdir(2); cgroupfs allows it
      // although the directory still lists its control files.
      Deno.removeSync(path);
    } catch (e) {
      throw toSysError("rmdir", `\`${path}\``, e);
    }
  }
  read(path: string): string {
    try {
      return Deno.readTextFileSync(path);
    } catch (e) {
      throw toSysError("read", `\`${path}\``, e);
    }
  }
  write(path: string, value: string): void {
    let file: Deno.FsFile | undefined;
    try {
      // No O_CREAT/O_TRUNC: control files exist or the write is wrong, and
      // cgroupfs takes each value in a single write(2).
      file = Deno.openSync(path, { write: true });
      const bytes = encoder.encode(value);
      const n = file.writeSync(bytes);
      if (n !== bytes.length) {
        throw new Error(`short write (${n} of ${bytes.length} bytes)`);
      }
    } catch (e) {
      throw toSysError("write", `\`${path}\` = ${value}`, e);
    } finally {
      file?.close();
    }
  }
  exists(path: string): boolean {
    try {
      Deno.lstatSync(path);
      return true;
    } catch {
      return false;
    }
  }
  subdirs(path: string): string[] {
    try {
      return [...Deno.readDirSync(path)].filter((e) => e.isDirectory).map((e) =>
        e.name
      );
    } catch {
      return [];
    }
  }
  kill(pid: number): void {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch (e) {
      if (errCode(e) !== "ESRCH" && !(e instanceof Deno.errors.NotFound)) {
        throw toSysError("kill", `${pid} SIGKILL`, e);
      }
    }
  }
  alive(pid: number): boolean {
    return this.exists(`/proc/${pid}`);
  }
  sleep(ms: number): void {
    // Atomics.wait is allowed on Deno's main thread: a real synchronous sleep.
    Atomics.wait(sleeper, 0, 0, ms);
  }
}

/** Whitespace-separated words of a control file; `[]` when missing. */
export function words(k: CgroupKernel, path: string): string[] {
  try {
    return k.read(path).split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}
