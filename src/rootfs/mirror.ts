/**
 * Deciding where a container path lands in a rootfs, and mirroring the host's
 * symlinks on the way (`rootfs add`).
 *
 * A rootfs holds symlinks such as `lib64/ld-linux-x86-64.so.2 ->
 * /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`: {@link walkInRoot} follows
 * them itself with the rootfs as `/` to learn the container path a file will
 * really be written at, creating or mirroring missing components as it goes.
 * Every look and every change goes through {@link InRoot}
 * (`src/linux/in_root.ts`), which the kernel resolves inside the rootfs: this
 * walk decides *what* to do, it never touches a host path under the rootfs.
 *
 * @module
 */

import { join } from "node:path";
import { TinycError } from "../errors.ts";
import type { InRoot, InRootStat } from "../linux/in_root.ts";

/** Linux gives up after 40 symlinks in one lookup (ELOOP); so do we. */
const MAX_SYMLINKS = 40;

/** Options for {@link walkInRoot}. */
export interface WalkOptions {
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
export interface Walked {
  /** The container path, symlinks resolved (but maybe the last), e.g. `/usr/lib/x86_64-linux-gnu/libc.so.6`. */
  path: string;
  /** The last component's `lstat`, or null when it does not exist. */
  stat: InRootStat | null;
}

function hostLstat(path: string): Deno.FileInfo | null {
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
 * Resolve container path `path` in `root`, following symlinks with the
 * rootfs as `/`. The last component need not exist. Missing intermediate
 * directories are an error unless `opts.create` or `opts.mirror` is set.
 */
export function walkInRoot(
  root: InRoot,
  path: string,
  opts: WalkOptions = {},
): Walked {
  const create = opts.create || opts.mirror !== undefined;
  const queue = components(path);
  const cur: string[] = [];
  const at = (...more: string[]) => "/" + [...cur, ...more].join("/");
  const what = (p: string) => `\`${path}\` in \`${root.dir}\`: ${p}`;
  let hops = 0;
  let stat: InRootStat | null = root.lstat("/");
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (name === "..") {
      cur.pop();
      stat = root.lstat(at());
      continue;
    }
    const last = queue.length === 0;
    stat = root.lstat(at(name));
    if (
      stat === null && opts.mirror !== undefined &&
      !(last && opts.mirrorLast === false)
    ) {
      const hostPath = join(opts.mirror, ...cur, name);
      if (hostLstat(hostPath)?.isSymlink) {
        root.symlink(at(name), Deno.readLinkSync(hostPath));
        stat = root.lstat(at(name));
      }
    }
    if (stat === null && !last && create) {
      root.mkdir(at(name), 0o755);
      stat = root.lstat(at(name));
    }
    if (stat?.type === "symlink" && !(last && opts.noFollowLast)) {
      if (++hops > MAX_SYMLINKS) {
        throw new TinycError(what("too many levels of symbolic links"));
      }
      const target = root.readlink(at(name)) ?? "";
      if (target.startsWith("/")) cur.length = 0;
      queue.unshift(...components(target));
      if (queue.length === 0) stat = root.lstat(at());
      continue;
    }
    if (stat === null && !last) {
      throw new TinycError(what(`${at(name)} does not exist`));
    }
    if (stat !== null && !last && stat.type !== "dir") {
      throw new TinycError(what(`${at(name)} is not a directory`));
    }
    cur.push(name);
  }
  return { path: at(), stat };
}
