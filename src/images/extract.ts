/**
 * Layer unpacking: an untrusted tar stream -> a layer directory overlayfs
 * can stack. This is a security boundary:
 *
 * - every entry is created relative to an fd of its parent directory, and
 *   parents are reached with `O_NOFOLLOW` one component at a time
 *   (src/images/fs.ts): a symlink planted by an earlier entry is never
 *   followed, `..` is refused, absolute names are taken relative to the
 *   layer;
 * - hardlinks may only name entries inside the layer (resolved the same
 *   way); symlink *targets* are stored as given and never followed here;
 * - device nodes only as root; owners only as root;
 * - whiteouts become what overlayfs reads: `.wh.NAME` a 0:0 character
 *   device (unprivileged users may make those since Linux 5.8), and
 *   `.wh..wh..opq` the `overlay.opaque` xattr (`trusted.` as root, `user.`
 *   rootless, where the overlay is mounted with `userxattr`).
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { readTar, type TarEntry } from "./tar.ts";
import {
  close,
  components,
  E,
  fchmod,
  fsetxattrRaw,
  lchownat,
  linkat,
  mkdiratRaw,
  mknodat,
  O,
  openat,
  openatRaw,
  openDir,
  removeAt,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  setMtime,
  symlinkat,
  walkDir,
  writeAll,
} from "./fs.ts";
import { errnoError } from "../libc.ts";

/** How to extract. */
export interface ExtractOptions {
  /** As root: owners, device nodes, security.capability, trusted.* xattrs. */
  privileged: boolean;
  /** Names the layer in errors, e.g. `layer sha256:ab12...`. */
  what: string;
}

/** What an extraction wrote. */
export interface ExtractResult {
  /** Bytes of regular-file content. */
  size: number;
  /** Entries skipped (device nodes when not root). */
  skipped: number;
}

/** The xattr overlayfs reads for an opaque directory. */
export function opaqueXattr(privileged: boolean): string {
  return privileged ? "trusted.overlay.opaque" : "user.overlay.opaque";
}

/**
 * Extract the tar archive in `stream` into the (empty, trusted) directory
 * `dir`. Throws {@link TinycError} on a malformed archive or a hostile entry;
 * the caller removes `dir` then.
 */
export async function extractLayer(
  stream: ReadableStream<Uint8Array>,
  dir: string,
  opts: ExtractOptions,
): Promise<ExtractResult> {
  const root = openDir(dir);
  // Directory modes and times are set last: creating children changes the
  // times, and a 0555 directory would refuse them (rootless).
  const dirTimes: Array<[string[], number, number]> = [];
  const result: ExtractResult = { size: 0, skipped: 0 };
  try {
    for await (const entry of readTar(stream)) {
      await extractEntry(root, entry, opts, dirTimes, result);
    }
    // Directory times last: creating their children changed them.
    for (const [parts, mode, mtime] of dirTimes.reverse()) {
      const fd = walkDir(root, parts, false, opts.what);
      try {
        fchmod(fd, mode, parts.join("/"));
        setMtime(fd, "", mtime, parts.join("/"));
      } finally {
        close(fd);
      }
    }
  } catch (e) {
    if (e instanceof TinycError) {
      throw new TinycError(`${opts.what}: ${e.message}`);
    }
    // DecompressionStream: truncated or corrupt gzip.
    throw new TinycError(
      `${opts.what}: ${(e as Error).message?.split("\n")[0] ?? e}`,
    );
  } finally {
    close(root);
  }
  return result;
}

async function extractEntry(
  root: number,
  e: TarEntry,
  opts: ExtractOptions,
  dirTimes: Array<[string[], number, number]>,
  result: ExtractResult,
): Promise<void> {
  const what = `entry ${e.name}`;
  const parts = components(e.name, what);
  if (parts.length === 0) return; // "./": the layer root itself
  const base = parts[parts.length - 1];
  const parent = walkDir(root, parts.slice(0, -1), true, what);
  try {
    if (base.startsWith(".wh.")) {
      whiteout(parent, base, opts, what);
      return;
    }
    switch (e.type) {
      case "dir":
        makeDir(parent, base, e, opts, what);
        dirTimes.push([parts, e.mode, e.mtime]);
        return;
      case "file":
        removeAt(parent, base, what);
        result.size += await writeFile(parent, base, e, opts, what);
        return;
      case "symlink":
        removeAt(parent, base, what);
        symlinkat(e.linkname, parent, base, what);
        break;
      case "hardlink": {
        const target = components(e.linkname, `${what}: hardlink`);
        if (target.length === 0) {
          throw new TinycError(`${what}: hardlink to the layer root`);
        }
        const src = walkDir(
          root,
          target.slice(0, -1),
          false,
          `${what}: hardlink target ${e.linkname}`,
        );
        try {
          removeAt(parent, base, what);
          try {
            linkat(
              src,
              target[target.length - 1],
              parent,
              base,
              `${e.name} -> ${e.linkname}`,
            );
          } catch (err) {
            throw new TinycError(
              `${what}: hardlink to ${e.linkname}: ${
                (err as Error).message
              } (only entries earlier in the same layer can be linked)`,
            );
          }
        } finally {
          close(src);
        }
        return; // a hardlink shares its target's owner, mode and times
      }
      case "char":
      case "block":
        if (!opts.privileged) {
          result.skipped++;
          return;
        }
        removeAt(parent, base, what);
        mknodat(
          parent,
          base,
          (e.type === "char" ? S_IFCHR : S_IFBLK) | e.mode,
          e.devmajor,
          e.devminor,
          what,
        );
        break;
      case "fifo":
        removeAt(parent, base, what);
        mknodat(parent, base, S_IFIFO | e.mode, 0, 0, what);
        break;
    }
    // symlinks, device nodes and fifos reach here
    if (opts.privileged) lchownat(parent, base, e.uid, e.gid, what);
    if (e.type !== "symlink") {
      // mknodat's mode went through the umask: set it exactly (the node
      // was just made by us, in a directory only we write)
      Deno.chmodSync(`/proc/self/fd/${parent}/${base}`, e.mode);
    }
    setMtime(parent, base, e.mtime, what);
  } finally {
    close(parent);
  }
}

function whiteout(
  parent: number,
  base: string,
  opts: ExtractOptions,
  what: string,
): void {
  if (base === ".wh..wh..opq") {
    const r = fsetxattrRaw(
      parent,
      opaqueXattr(opts.privileged),
      new TextEncoder().encode("y"),
    );
    if (r < 0) {
      throw errnoError(
        "fsetxattr",
        `${what}: ${opaqueXattr(opts.privileged)}`,
        -r,
      );
    }
    return;
  }
  if (base.startsWith(".wh..wh.")) return; // aufs metadata: nothing to do
  const name = base.slice(4);
  if (name === "" || name === "." || name === "..") {
    throw new TinycError(`${what}: bad whiteout name`);
  }
  removeAt(parent, name, what);
  mknodat(parent, name, S_IFCHR, 0, 0, what);
}

function makeDir(
  parent: number,
  base: string,
  e: TarEntry,
  opts: ExtractOptions,
  what: string,
): void {
  let r = mkdiratRaw(parent, base, 0o700);
  let fd = openatRaw(parent, base, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
  if (r === -E.EEXIST && fd < 0) {
    // something else (a file, a symlink) was there: replace it
    removeAt(parent, base, what);
    r = mkdiratRaw(parent, base, 0o700);
    fd = openatRaw(parent, base, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
  }
  if (r < 0 && r !== -E.EEXIST) throw errnoError("mkdirat", `\`${what}\``, -r);
  if (fd < 0) throw errnoError("openat", `\`${what}\``, -fd);
  try {
    if (opts.privileged) lchownat(parent, base, e.uid, e.gid, what);
    setXattrs(fd, e, opts);
  } finally {
    close(fd);
  }
}

async function writeFile(
  parent: number,
  base: string,
  e: TarEntry,
  opts: ExtractOptions,
  what: string,
): Promise<number> {
  const fd = openat(
    parent,
    base,
    O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW,
    0o600,
    what,
  );
  let n = 0;
  try {
    await e.read((chunk) => {
      writeAll(fd, chunk, what);
      n += chunk.length;
    });
    if (opts.privileged) lchownat(parent, base, e.uid, e.gid, what);
    // after chown, which clears set-id bits
    fchmod(fd, e.mode, what);
    setXattrs(fd, e, opts);
    setMtime(fd, "", e.mtime, what);
  } finally {
    close(fd);
  }
  return n;
}

/** File capabilities (as root; rootless they would need a namespaced rootid). */
function setXattrs(fd: number, e: TarEntry, opts: ExtractOptions): void {
  if (!opts.privileged) return;
  for (const [name, value] of e.xattrs) {
    if (name !== "security.capability") continue;
    const r = fsetxattrRaw(fd, name, value);
    if (r < 0 && r !== -E.EOPNOTSUPP) {
      throw errnoError("fsetxattr", `${e.name}: ${name}`, -r);
    }
  }
}
