/**
 * A rootfs layout as plain data ({@link LayoutOp}) and the one loop that
 * applies it ({@link applyLayout}). Applying is idempotent: directories that
 * exist are kept, symlinks are re-pointed, files marked `keep` are left as the
 * user edited them, copies replace their target atomically (write a temporary
 * file, then rename, so a binary a running container executes is never
 * rewritten in place, which would fail with ETXTBSY).
 *
 * All paths are container paths resolved with {@link resolveInRoot}, so an
 * absolute symlink inside the rootfs can never redirect a write to the host.
 *
 * @module
 */

import { join, posix } from "node:path";
import { TinycError } from "../errors.ts";
import { resolveInRoot } from "./in_root.ts";

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

/** Write `data` (or a copy of host file `source`) to `hostPath` through a temporary name and rename. */
function replaceFile(
  hostPath: string,
  from: { data: Uint8Array; mode: number } | { source: string },
): void {
  const tmp = `${hostPath}.tinyc-tmp-${Deno.pid}`;
  try {
    if ("source" in from) {
      // copyFile carries the permission bits over.
      Deno.copyFileSync(from.source, tmp);
    } else {
      Deno.writeFileSync(tmp, from.data, { mode: from.mode });
      Deno.chmodSync(tmp, from.mode); // writeFile's mode is masked by umask
    }
    Deno.renameSync(tmp, hostPath);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* it was never created */ }
    throw err;
  }
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
  root: string,
  source: string,
  path: string,
  opts: CopyOptions = {},
): string {
  const { mirror, mirrorLast = true } = opts;
  let r = resolveInRoot(root, path, {
    create: true,
    mirror,
    mirrorLast,
    noFollowLast: true,
  });
  for (let hops = 0; r.stat?.isSymlink; hops++) {
    const target = Deno.readLinkSync(r.hostPath);
    const hostTarget = mirror === undefined || !mirrorLast
      ? null
      : readLinkOrNull(join(mirror, r.path));
    if (hostTarget !== target) break; // replace the link itself (rename does)
    if (hops >= MAX_LAST_HOPS) {
      throw new TinycError(
        `\`${path}\` in \`${root}\`: too many levels of symbolic links`,
      );
    }
    const next = target.startsWith("/")
      ? target
      : posix.join(posix.dirname(r.path), target);
    r = resolveInRoot(root, next, { create: true, mirror, noFollowLast: true });
  }
  if (r.stat?.isDirectory) {
    throw new TinycError(
      `copy \`${source}\` to \`${path}\` in \`${root}\`: ${r.path} is a directory`,
    );
  }
  if (r.stat?.isFile) {
    // Copying a file onto itself (root is `/`, or a hard link) would truncate it.
    const src = Deno.statSync(source);
    if (src.dev === r.stat.dev && src.ino === r.stat.ino) return r.path;
  }
  replaceFile(r.hostPath, { source });
  return r.path;
}

function applyOne(root: string, op: LayoutOp): void {
  switch (op.kind) {
    case "dir": {
      const r = resolveInRoot(root, op.path, { create: true });
      if (r.stat === null) Deno.mkdirSync(r.hostPath);
      else if (!r.stat.isDirectory) {
        throw new TinycError(
          `\`${op.path}\` in \`${root}\`: exists and is not a directory`,
        );
      }
      // mkdir's mode is masked by umask, and 1777 needs an explicit chmod anyway.
      const mode = (r.stat?.mode ?? 0) & 0o7777;
      if (r.stat === null || mode !== op.mode) {
        Deno.chmodSync(r.hostPath, op.mode);
      }
      return;
    }
    case "symlink": {
      const r = resolveInRoot(root, op.path, {
        create: true,
        noFollowLast: true,
      });
      if (r.stat?.isSymlink && Deno.readLinkSync(r.hostPath) === op.target) {
        return;
      }
      if (r.stat?.isDirectory) {
        throw new TinycError(
          `symlink \`${op.path}\` in \`${root}\`: a directory is in the way`,
        );
      }
      if (r.stat) Deno.removeSync(r.hostPath);
      Deno.symlinkSync(op.target, r.hostPath);
      return;
    }
    case "file": {
      const r = resolveInRoot(root, op.path, { create: true });
      if (r.stat && op.keep) return;
      if (r.stat?.isDirectory) {
        throw new TinycError(
          `\`${op.path}\` in \`${root}\`: a directory is in the way`,
        );
      }
      replaceFile(r.hostPath, {
        data: new TextEncoder().encode(op.content),
        mode: op.mode,
      });
      return;
    }
    case "copy":
      copyIntoRoot(root, op.source, op.path);
      return;
  }
}

/**
 * Apply `ops` in order to rootfs directory `root`, creating `root` itself if
 * needed. Safe to run again on a finished rootfs.
 */
export function applyLayout(root: string, ops: readonly LayoutOp[]): void {
  Deno.mkdirSync(root, { recursive: true });
  for (const op of ops) applyOne(root, op);
}
