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
 * container is ever taken away.
 *
 * @module
 */

import { type InRoot, lockRootShared, withRoot } from "../linux/in_root.ts";

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
 */
export function trackMountPoints(
  rootPath: string,
  run: RunPaths,
): () => void {
  const lock = lockRootShared(rootPath);
  let missing: string[];
  try {
    const dests = run.mounts.map((m) => m.destination);
    if (run.cwd && run.cwd !== "/") dests.push(run.cwd);
    missing = withRoot(rootPath, (r) => missingPaths(r, dests));
  } catch (e) {
    lock.release();
    throw e;
  }
  return () => {
    try {
      if (missing.length > 0 && lock.tryExclusive()) {
        withRoot(rootPath, (r) => removeIfEmpty(r, missing));
      }
    } finally {
      lock.release();
    }
  };
}
