/**
 * Resolving paths inside a rootfs directory the way the kernel will once the
 * directory is the container's `/`.
 *
 * A rootfs holds symlinks such as `lib64/ld-linux-x86-64.so.2 ->
 * /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`. Seen from the host, the
 * absolute target points into the host's own `/lib`: opening or writing
 * `ROOT/lib64/ld-linux-x86-64.so.2` with ordinary file APIs would touch the
 * host. So every write into a rootfs goes through {@link resolveInRoot}, which
 * follows symlinks itself with `ROOT` as `/` (and `..` stopping at it).
 *
 * @module
 */

import { join } from "node:path";
import { TinycError } from "../errors.ts";

/** Linux gives up after 40 symlinks in one lookup (ELOOP); so do we. */
const MAX_SYMLINKS = 40;

/** Options for {@link resolveInRoot}. */
export interface ResolveOptions {
  /** Create missing intermediate directories (mode 0755). */
  create?: boolean;
  /**
   * Create missing components as the host has them at the same path under
   * this directory (normally `/`): a symlink there becomes the same symlink in
   * the rootfs, anything else a directory. Implies `create`.
   */
  mirror?: string;
  /** With `mirror`: mirror the last component too (default true). */
  mirrorLast?: boolean;
  /** Do not follow a symlink in the last component (like `lstat`). */
  noFollowLast?: boolean;
}

/** Where a container path lands inside a rootfs. */
export interface Resolved {
  /** The host path to use for file operations: `ROOT/...`, free of symlinks but maybe the last component. */
  hostPath: string;
  /** The same place as the container sees it, e.g. `/usr/lib/x86_64-linux-gnu/libc.so.6`. */
  path: string;
  /** The last component's `lstat`, or null when it does not exist. */
  stat: Deno.FileInfo | null;
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Resolve container path `path` inside `root`, following symlinks with `root`
 * as `/`. The last component need not exist. Missing intermediate directories
 * are an error unless `opts.create` or `opts.mirror` is set.
 */
export function resolveInRoot(
  root: string,
  path: string,
  opts: ResolveOptions = {},
): Resolved {
  const create = opts.create || opts.mirror !== undefined;
  const queue = components(path);
  const cur: string[] = [];
  let hops = 0;
  let stat: Deno.FileInfo | null = lstatOrNull(root);
  if (stat === null) throw new TinycError(`rootfs \`${root}\` does not exist`);
  if (!stat.isDirectory) {
    throw new TinycError(`rootfs \`${root}\`: not a directory`);
  }
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (name === "..") {
      cur.pop();
      stat = lstatOrNull(join(root, ...cur));
      continue;
    }
    const last = queue.length === 0;
    const here = join(root, ...cur, name);
    stat = lstatOrNull(here);
    if (
      stat === null && opts.mirror !== undefined &&
      !(last && opts.mirrorLast === false)
    ) {
      const host = lstatOrNull(join(opts.mirror, ...cur, name));
      if (host?.isSymlink) {
        Deno.symlinkSync(
          Deno.readLinkSync(join(opts.mirror, ...cur, name)),
          here,
        );
        stat = Deno.lstatSync(here);
      }
    }
    if (stat === null && !last && create) {
      Deno.mkdirSync(here, { mode: 0o755 });
      stat = Deno.lstatSync(here);
    }
    if (stat?.isSymlink && !(last && opts.noFollowLast)) {
      if (++hops > MAX_SYMLINKS) {
        throw new TinycError(
          `\`${path}\` in \`${root}\`: too many levels of symbolic links`,
        );
      }
      const target = Deno.readLinkSync(here);
      if (target.startsWith("/")) cur.length = 0;
      queue.unshift(...components(target));
      if (queue.length === 0) stat = lstatOrNull(join(root, ...cur));
      continue;
    }
    if (stat === null && !last) {
      throw new TinycError(
        `\`${path}\` in \`${root}\`: /${join(...cur, name)} does not exist`,
      );
    }
    if (stat !== null && !last && !stat.isDirectory) {
      throw new TinycError(
        `\`${path}\` in \`${root}\`: /${join(...cur, name)} is not a directory`,
      );
    }
    cur.push(name);
  }
  return {
    hostPath: cur.length ? join(root, ...cur) : root,
    path: "/" + cur.join("/"),
    stat,
  };
}
