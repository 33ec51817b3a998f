/**
 * A rootfs layout as plain data ({@link LayoutOp}) and the one loop that
 * applies it ({@link applyLayout}). Applying is idempotent: directories that
 * exist are kept, symlinks are re-pointed, files marked `keep` are left as the
 * user edited them, copies replace their target atomically (write a temporary
 * file, then rename, so a binary a running container executes is never
 * rewritten in place, which would fail with ETXTBSY).
 *
 * All paths are container paths; every access goes through {@link InRoot},
 * which resolves them inside the rootfs, so an absolute symlink a container
 * planted can never redirect a write to the host. Files are written under a
 * random name (`O_EXCL|O_NOFOLLOW`) and renamed into place. Symlink steps
 * replace only symlinks: a file or directory the user put there stays.
 *
 * @module
 */

import { join, posix } from "node:path";
import { TinycError } from "../errors.ts";
import { hostStat, type InRoot, withRoot } from "../linux/in_root.ts";
import { walkInRoot } from "./mirror.ts";

/** One step of building a rootfs. `path` is a container path (`/etc/passwd`). */
export type LayoutOp =
  | { kind: "dir"; path: string; mode: number }
  | { kind: "symlink"; path: string; target: string }
  | {
    kind: "file";
    path: string;
    content: string;
    mode: number;
    /** Leave an existing file alone (it may hold the user's edits). */
    keep?: boolean;
  }
  | { kind: "copy"; path: string; source: string };

/** Options for {@link planBaseLayout}. */
export interface BaseLayoutOptions {
  /** Login shell written into `/etc/passwd` for root. */
  shell?: string;
}

/**
 * The directories and `/etc` files every tinyc rootfs gets: mount points for
 * `/proc`, `/sys`, `/dev`, a sticky world-writable `/tmp`, root's home, and
 * the `passwd`/`group`/`hosts` files programs look names up in. Deno itself
 * needs the passwd entry: without `DENO_DIR`, `XDG_CACHE_HOME` or `HOME` it
 * finds its cache directory through the user's home there.
 */
export function planBaseLayout(opts: BaseLayoutOptions = {}): LayoutOp[] {
  const shell = opts.shell ?? "/bin/sh";
  return [
    { kind: "dir", path: "/proc", mode: 0o755 },
    { kind: "dir", path: "/sys", mode: 0o755 },
    { kind: "dir", path: "/dev", mode: 0o755 },
    { kind: "dir", path: "/etc", mode: 0o755 },
    { kind: "dir", path: "/root", mode: 0o700 },
    { kind: "dir", path: "/tmp", mode: 0o1777 },
    {
      kind: "file",
      path: "/etc/passwd",
      mode: 0o644,
      keep: true,
      content: `root:x:0:0:root:/root:${shell}\n` +
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    },
    {
      kind: "file",
      path: "/etc/group",
      mode: 0o644,
      keep: true,
      content: "root:x:0:\nnogroup:x:65534:\n",
    },
    {
      kind: "file",
      path: "/etc/hosts",
      mode: 0o644,
      keep: true,
      content:
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    },
  ];
}

/** How many symlinks a copy follows at its destination's last component (as ELOOP). */
const MAX_LAST_HOPS = 40;

function readLinkOrNull(path: string): string | null {
  try {
    return Deno.readLinkSync(path);
  } catch {
    return null;
  }
}

/** Run `fn` on `root` (an open rootfs, or a directory to open for the call). */
function onRoot<T>(root: string | InRoot, fn: (r: InRoot) => T): T {
  return typeof root === "string" ? withRoot(root, fn) : fn(root);
}

/** Options for {@link copyIntoRoot}. */
export interface CopyOptions {
  /** Mirror missing path components from this host directory (normally `/`). */
  mirror?: string;
  /**
   * Mirror the last component too (default true): right when `source` is the
   * host's file at `path`, wrong when installing under another name (the
   * host's `/bin/deno` symlink says nothing about the rootfs's `/bin/deno`).
   */
  mirrorLast?: boolean;
}

/**
 * Copy host file `source` to container path `path` in `root`. Symlinks in the
 * directories leading there are followed inside the root; missing directories
 * are created, or mirrored from the host directory `opts.mirror` when given,
 * so `/lib64/ld-linux-x86-64.so.2` gets the host's symlinks too.
 *
 * A symlink already at `path` itself is followed only when the host has the
 * same symlink there (one we mirrored earlier); any other is replaced by the
 * file: busybox's `/usr/bin/env -> ../../bin/busybox` must not make a copy of
 * the host's `env` overwrite busybox.
 *
 * Returns the container path the file was written at, after symlinks.
 */
export function copyIntoRoot(
  root: string | InRoot,
  source: string,
  path: string,
  opts: CopyOptions = {},
): string {
  return onRoot(root, (r) => copyInto(r, source, path, opts));
}

function copyInto(
  root: InRoot,
  source: string,
  path: string,
  opts: CopyOptions,
): string {
  const { mirror, mirrorLast = true } = opts;
  let r = walkInRoot(root, path, {
    create: true,
    mirror,
    mirrorLast,
    noFollowLast: true,
  });
  for (let hops = 0; r.stat?.type === "symlink"; hops++) {
    const target = root.readlink(r.path);
    const hostTarget = mirror === undefined || !mirrorLast
      ? null
      : readLinkOrNull(join(mirror, r.path));
    if (hostTarget !== target) break; // replace the link itself (rename does)
    if (hops >= MAX_LAST_HOPS) {
      throw new TinycError(
        `\`${path}\` in \`${root.dir}\`: too many levels of symbolic links`,
      );
    }
    const next = target!.startsWith("/")
      ? target!
      : posix.join(posix.dirname(r.path), target!);
    r = walkInRoot(root, next, { create: true, mirror, noFollowLast: true });
  }
  if (r.stat?.type === "dir") {
    throw new TinycError(
      `copy \`${source}\` to \`${path}\` in \`${root.dir}\`: ${r.path} is a directory`,
    );
  }
  const src = hostStat(source);
  if (r.stat?.type === "file") {
    // Copying a file onto itself (a hard link) would truncate it.
    if (src.dev === r.stat.dev && src.ino === r.stat.ino) return r.path;
  }
  // The permission bits, without setuid/setgid: a copy must not become a
  // setuid program other host users could reach (and no_new_privs makes
  // them useless inside anyway).
  root.writeFileAtomic(r.path, { source }, src.mode & 0o1777);
  return r.path;
}

function applyOne(root: InRoot, op: LayoutOp): void {
  const what = `\`${op.path}\` in \`${root.dir}\``;
  switch (op.kind) {
    case "dir": {
      const r = walkInRoot(root, op.path, { create: true });
      if (r.stat === null) root.mkdir(r.path, op.mode);
      else if (r.stat.type !== "dir") {
        throw new TinycError(`${what}: exists and is not a directory`);
      }
      // mkdir's mode is masked by umask, and 1777 needs an explicit chmod anyway.
      if (r.stat === null || r.stat.mode !== op.mode) {
        root.chmodDir(r.path, op.mode);
      }
      return;
    }
    case "symlink": {
      const r = walkInRoot(root, op.path, { create: true, noFollowLast: true });
      if (r.stat === null) root.symlink(r.path, op.target);
      else if (r.stat.type === "symlink") {
        if (root.readlink(r.path) !== op.target) {
          root.replaceWithSymlink(r.path, op.target);
        }
      }
      // A file or directory there is the user's (their own `ls`): kept.
      return;
    }
    case "file": {
      const r = walkInRoot(root, op.path, { create: true });
      if (r.stat && op.keep) return;
      if (r.stat?.type === "dir") {
        throw new TinycError(`${what}: a directory is in the way`);
      }
      root.writeFileAtomic(
        r.path,
        new TextEncoder().encode(op.content),
        op.mode,
      );
      return;
    }
    case "copy":
      copyInto(root, op.source, op.path, {});
      return;
  }
}

/**
 * Apply `ops` in order to rootfs directory `root`, creating `root` itself
 * (mode 0755: a container's non-root users need to traverse its `/`) if
 * needed. Safe to run again on a finished rootfs.
 */
export function applyLayout(root: string, ops: readonly LayoutOp[]): void {
  Deno.mkdirSync(root, { recursive: true, mode: 0o755 });
  withRoot(root, (r) => {
    for (const op of ops) applyOne(r, op);
  });
}
