/**
 * What tinyc may build over, remove, and warn about: the rules that keep
 * `tinyc rootfs` from destroying a directory it did not make, and a rootfs
 * from handing container-made setuid programs to other host users.
 *
 * A directory is a tinyc rootfs when it holds the marker file
 * {@link ROOTFS_MARKER} (written by `tinyc rootfs` and by `rootfs add` into a
 * new or empty directory), or when it is a busybox rootfs as tinyc built
 * them before the marker existed (`/bin/busybox` a regular file, and
 * `/etc/passwd`); such a one gets the marker on its next build.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { openRoot, withRoot } from "../linux/in_root.ts";

/** The file in a rootfs's `/` that says tinyc made it. */
export const ROOTFS_MARKER = ".tinyc-rootfs";

const MARKER_TEXT = "This directory is a root filesystem made by tinyc.\n";

/** `/a` for `/a/b`, `/` for `/a` (node:path costs `tinyc run` start-up time). */
function dirname(path: string): string {
  const i = path.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/** The real path of `dir`, or null when it does not exist. */
function realOrNull(dir: string): string | null {
  try {
    return Deno.realPathSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new TinycError(`rootfs ${dir}: ${(e as Error).message}`);
  }
}

/** Does directory `dir` hold a tinyc rootfs (marker, or a pre-marker busybox rootfs)? */
export function isTinycRootfs(dir: string): boolean {
  return withRoot(dir, (r) => {
    if (r.lstat(`/${ROOTFS_MARKER}`)?.type === "file") return true;
    return r.lstat("/bin/busybox")?.type === "file" &&
      r.lstat("/etc/passwd") !== null;
  });
}

function isEmptyDir(dir: string): boolean {
  for (const _ of Deno.readDirSync(dir)) return false;
  return true;
}

/** Refuse the host's `/` as a rootfs (`dir` is a real path). */
function refuseHostRoot(dir: string, given: string): void {
  if (dir === "/") {
    throw new TinycError(
      `rootfs ${given}: refusing to use the host's / as a rootfs`,
    );
  }
}

/** Write the marker into rootfs `dir` (a real path) unless it is there. */
function mark(dir: string): void {
  withRoot(dir, (r) => {
    if (r.lstat(`/${ROOTFS_MARKER}`) === null) {
      r.writeFileAtomic(
        `/${ROOTFS_MARKER}`,
        new TextEncoder().encode(MARKER_TEXT),
        0o644,
      );
    }
  });
}

/**
 * Get `dir` ready for `tinyc rootfs`: create it (mode 0755, parents as
 * needed) or accept an empty directory or a tinyc rootfs, and mark it.
 * Refuses `/`, files, and directories holding anything else (one line,
 * exit 125). Returns whether `dir` was created.
 */
export function claimForBuild(dir: string): boolean {
  let real = realOrNull(dir);
  let created = false;
  if (real === null) {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    Deno.chmodSync(dir, 0o755); // mkdir's mode is masked by the umask
    real = Deno.realPathSync(dir);
    created = true;
  }
  refuseHostRoot(real, dir);
  if (!Deno.statSync(real).isDirectory) {
    throw new TinycError(`rootfs ${dir}: not a directory`);
  }
  if (!created && !isEmptyDir(real) && !isTinycRootfs(real)) {
    throw new TinycError(
      `rootfs ${dir}: not empty and not a tinyc rootfs (no ${ROOTFS_MARKER}): refusing to build over it; use a new or empty directory`,
    );
  }
  mark(real);
  return created;
}

/**
 * Get `dir` ready for `tinyc rootfs add`: any directory but `/` (adding
 * programs to an existing rootfs is the point); a new or empty one is
 * created and marked as a tinyc rootfs. Returns whether `dir` was created.
 */
export function claimForAdd(dir: string): boolean {
  let real = realOrNull(dir);
  const created = real === null;
  if (real === null) {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
    Deno.chmodSync(dir, 0o755);
    real = Deno.realPathSync(dir);
  }
  refuseHostRoot(real, dir);
  if (!Deno.statSync(real).isDirectory) {
    throw new TinycError(`rootfs ${dir}: not a directory`);
  }
  if (created || isEmptyDir(real)) mark(real);
  return created;
}

/**
 * Check that `dir` may be removed by `tinyc rootfs rm`: an existing tinyc
 * rootfs, not `/`. Returns its real path.
 */
export function checkRemovable(dir: string): string {
  const real = realOrNull(dir);
  if (real === null) throw new TinycError(`rootfs ${dir}: no such directory`);
  refuseHostRoot(real, dir);
  if (!Deno.statSync(real).isDirectory) {
    throw new TinycError(`rootfs ${dir}: not a directory`);
  }
  // An open root also proves we can read it before deciding.
  openRoot(real).close();
  if (!isTinycRootfs(real)) {
    throw new TinycError(
      `rootfs ${dir}: not a tinyc rootfs (no ${ROOTFS_MARKER}): refusing to remove it`,
    );
  }
  return real;
}

/** What {@link reachableByOthers} needs from the filesystem (replaceable in tests). */
export type ModeOf = (path: string) => number;

/**
 * The directory to close when other users can reach `dir` (every directory
 * from `/` down to `dir` lets others search it, mode `o+x`), or null when
 * one of them stops them. The answer is `dir`'s parent: `dir` itself must
 * stay searchable, it is the container's `/`.
 */
export function reachableByOthers(
  dir: string,
  modeOf: ModeOf = (p) => Deno.statSync(p).mode ?? 0,
): string | null {
  for (let p = dir;; p = dirname(p)) {
    if ((modeOf(p) & 0o001) === 0) return null;
    if (p === "/" || p === ".") break;
  }
  return dirname(dir);
}

/**
 * The one-line warning for a rootfs `dir` (a real path) other users can
 * reach, or null when they cannot.
 */
export function reachableWarning(dir: string, modeOf?: ModeOf): string | null {
  const parent = reachableByOthers(dir, modeOf);
  if (parent === null) return null;
  return `tinyc: warning: rootfs ${dir} is reachable by other users, who could run setuid programs a container makes in it; close a directory above it (e.g. chmod o-x ${parent})`;
}
