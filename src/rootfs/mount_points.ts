/**
 * Mount points a run creates in the user's rootfs, and their removal.
 *
 * The init makes a directory or an empty file for each mount destination
 * the rootfs lacks (`-v` targets, the bridge's `/etc/hosts`, `--tmpfs`
 * paths) and the `-w` directory. Those are tinyc's, not the user's: the
 * launcher notes which were missing before the init starts, and when the
 * container has ended it removes the ones that are still empty (an empty
 * directory, a zero-length file), deepest first. Anything a container put
 * in them stays.
 *
 * Several containers may share a rootfs: each holds a shared `flock` on it
 * for its lifetime, and only the last one out (the one that can take the
 * lock exclusively) removes anything, so no mount point of a running
 * container is ever taken away. What a run could not remove (it was killed,
 * or others still held the rootfs) is noted in a record that a later run
 * acts on.
 *
 * @module
 */

import { type InRoot, lockRootShared, withRoot } from "../linux/in_root.ts";
import { processStartTime } from "../engine/state.ts";

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/** Symlinks followed on the way to one destination, as the kernel allows. */
const MAX_SYMLINKS = 40;

/**
 * The container paths among `dests` (and their parents) that `root` lacks
 * now, outermost first, as the init will create them: symlinks on the way
 * are followed inside the root (`/var/run/x` with `/var/run -> /run` is
 * `/run/x`), so what is noted is where the mount point will really be.
 * Paths with `..` are skipped (never tinyc's own).
 */
export function missingPaths(root: InRoot, dests: readonly string[]): string[] {
  const missing: string[] = [];
  const note = (p: string) => {
    if (!missing.includes(p)) missing.push(p);
  };
  for (const dest of dests) {
    if (components(dest).includes("..")) continue;
    const at: string[] = []; // resolved so far (no symlinks)
    const todo = components(dest);
    let hops = 0;
    let absent = false;
    while (todo.length > 0) {
      const c = todo.shift()!;
      if (c === ".") continue;
      if (c === "..") {
        at.pop(); // at the root, `..` is the root
        continue;
      }
      const p = "/" + [...at, c].join("/");
      if (absent) {
        note(p);
        at.push(c);
        continue;
      }
      let st;
      try {
        st = root.lstat(p);
      } catch {
        break; // not a directory on the way: the init will say
      }
      if (st === null) {
        absent = true;
        note(p);
        at.push(c);
      } else if (st.type === "symlink") {
        const target = root.readlink(p);
        if (target === null || ++hops > MAX_SYMLINKS) break;
        if (target.startsWith("/")) at.length = 0;
        todo.unshift(...target.split("/").filter((t) => t !== ""));
      } else if (st.type === "dir") at.push(c);
      else break;
    }
  }
  return missing;
}

/**
 * Remove those of `paths` that are empty now (directories without entries,
 * zero-length regular files), deepest first. Best effort: what cannot be
 * removed stays.
 */
export function removeIfEmpty(root: InRoot, paths: readonly string[]): void {
  const deepestFirst = [...paths].sort((a, b) =>
    components(b).length - components(a).length
  );
  for (const p of deepestFirst) {
    try {
      const st = root.lstat(p);
      if (st === null) continue;
      if (st.type === "dir" || (st.type === "file" && st.size === 0)) {
        root.remove(p); // ENOTEMPTY for a directory that filled up: kept
      }
    } catch {
      // kept
    }
  }
}

/** The container paths a run may create: mount destinations and the workdir. */
export interface RunPaths {
  mounts: readonly { destination: string }[];
  cwd?: string;
}

/**
 * Before the init makes mount points in rootfs `rootPath`: note what is
 * missing and lock the rootfs shared. Returns the cleanup to run after the
 * container ended.
 *
 * With `recordsDir` (giving {@link mountPointRecordsDir}'s directory, asked
 * only when something is missing), what is missing is also written down there, under this launcher's pid and start time, until
 * it is removed: a launcher that is killed, or that ends while another run
 * still holds the rootfs, leaves the record, and a later run finishes the
 * job ({@link reclaimStaleMountPoints}).
 */
export function trackMountPoints(
  rootPath: string,
  run: RunPaths,
  recordsDir?: () => string | undefined,
): () => void {
  const lock = lockRootShared(rootPath);
  let missing: string[];
  let record: string | undefined;
  try {
    const dests = run.mounts.map((m) => m.destination);
    if (run.cwd && run.cwd !== "/") dests.push(run.cwd);
    missing = withRoot(rootPath, (r) => missingPaths(r, dests));
    const dir = missing.length > 0 ? recordsDir?.() : undefined;
    if (dir !== undefined) {
      record = writeRecord(dir, {
        root: Deno.realPathSync(rootPath),
        paths: missing,
        pid: Deno.pid,
        start: processStartTime(Deno.pid) ?? "",
      });
    }
  } catch (e) {
    lock.release();
    throw e;
  }
  return () => {
    let done = missing.length === 0;
    try {
      if (!done && lock.tryExclusive()) {
        withRoot(rootPath, (r) => removeIfEmpty(r, missing));
        done = true;
      }
    } finally {
      lock.release();
      if (record !== undefined && done) removeQuietly(record);
    }
  };
}

/** A note of the mount points one run made (see {@link trackMountPoints}). */
interface MountPointRecord {
  /** The rootfs, a real path. */
  root: string;
  /** Container paths, as {@link missingPaths} gives them. */
  paths: string[];
  /** The launcher: pid and /proc start time. */
  pid: number;
  start: string;
}

/** Where runs of this user note their mount points: `STATE/mountpoints`. */
export function mountPointRecordsDir(stateBase: string): string {
  return `${stateBase}/mountpoints`;
}

function writeRecord(dir: string, rec: MountPointRecord): string {
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = `${dir}/${rec.pid}-${rec.start}.json`;
  const tmp = `${path}.tmp`;
  Deno.writeTextFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
  Deno.renameSync(tmp, path);
  return path;
}

/** Largest record read back (a long list of paths still fits). */
const MAX_RECORD_BYTES = 1 << 20;

function readRecord(dir: string, name: string): MountPointRecord | null {
  try {
    const text = withRoot(
      dir,
      (r) => r.readTextBounded(name, MAX_RECORD_BYTES),
    );
    const rec = JSON.parse(text ?? "null");
    const ok = typeof rec?.root === "string" && rec.root.startsWith("/") &&
      Array.isArray(rec.paths) &&
      rec.paths.every((p: unknown) =>
        typeof p === "string" && p.startsWith("/")
      ) &&
      Number.isInteger(rec.pid) && typeof rec.start === "string";
    return ok ? rec : null;
  } catch {
    return null; // too large, not a file, not JSON
  }
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // gone already
  }
}

/**
 * Finish what runs that ended without cleaning up left in `dir`: for each
 * record whose launcher is gone, remove its mount points that are still
 * empty, once no run holds that rootfs; then the record. A record whose
 * rootfs is gone, or that cannot be read, is dropped. Best effort.
 */
export function reclaimStaleMountPoints(dir: string): void {
  let names: string[];
  try {
    names = [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && e.name.endsWith(".json"))
      .map((e) => e.name);
  } catch {
    return; // no records yet
  }
  for (const name of names) {
    const path = `${dir}/${name}`;
    const rec = readRecord(dir, name);
    if (rec === null) {
      removeQuietly(path);
      continue;
    }
    if (processStartTime(rec.pid) === rec.start) continue; // its run goes on
    let lock;
    try {
      lock = lockRootShared(rec.root);
    } catch {
      removeQuietly(path); // the rootfs is gone
      continue;
    }
    try {
      if (!lock.tryExclusive()) continue; // in use: a later run
      withRoot(rec.root, (r) => removeIfEmpty(r, rec.paths));
      removeQuietly(path);
    } catch {
      // kept for a later run
    } finally {
      lock.release();
    }
  }
}
