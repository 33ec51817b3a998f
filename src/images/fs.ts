/**
 * Directory-fd based file operations for writing untrusted trees (image
 * layers): every entry is created relative to an fd of its parent, and the
 * parent is reached by a walk that opens one component at a time with
 * `O_NOFOLLOW`, so a symlink planted earlier (in the same layer) is never
 * followed, and `..` is refused before any call is made.
 *
 * All calls are raw synchronous syscalls through {@link libc}.
 *
 * @module
 */

import { addr, cstr, errno, errnoError, libc, SYS } from "../libc.ts";
import { TinycError } from "../errors.ts";

/** open(2) flags (asm-generic values, shared by x86_64 and aarch64 except where noted). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  // O_DIRECTORY and O_NOFOLLOW differ on aarch64.
  DIRECTORY: Deno.build.arch === "aarch64" ? 0o40000 : 0o200000,
  NOFOLLOW: Deno.build.arch === "aarch64" ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;

/** File type bits for mknod. */
export const S_IFCHR = 0o020000;
/** Block device. */
export const S_IFBLK = 0o060000;
/** FIFO. */
export const S_IFIFO = 0o010000;

function sc(nr: number, ...args: bigint[]): bigint {
  while (args.length < 5) args.push(0n);
  return libc().syscall(
    BigInt(nr),
    args[0],
    args[1],
    args[2],
    args[3],
    args[4],
  ) as bigint;
}

/** `-errno` of the last call, for callers that branch on it. */
function check(r: bigint, call: string, detail: string): number {
  if (r < 0n) throw errnoError(call, detail);
  return Number(r);
}

/** The errno names callers branch on. */
export const E = {
  ENOENT: 2,
  EEXIST: 17,
  ENOTDIR: 20,
  EISDIR: 21,
  ENOTEMPTY: 39,
  ELOOP: 40,
  EAGAIN: 11,
  EPERM: 1,
  EOPNOTSUPP: 95,
} as const;

/** openat(2); returns the fd or `-errno`. */
export function openatRaw(
  dirfd: number,
  name: string,
  flags: number,
  mode = 0,
): number {
  const r = sc(
    SYS.openat,
    BigInt(dirfd),
    addr(cstr(name)),
    BigInt(flags | O.CLOEXEC),
    BigInt(mode),
  );
  return r < 0n ? -errno() : Number(r);
}

/** openat(2), throwing on failure. */
export function openat(
  dirfd: number,
  name: string,
  flags: number,
  mode = 0,
  what = name,
): number {
  const fd = openatRaw(dirfd, name, flags, mode);
  if (fd < 0) throw errnoError("openat", `\`${what}\``, -fd);
  return fd;
}

/** Open a host directory (trusted path) as a dirfd. */
export function openDir(path: string): number {
  return openat(AT_FDCWD, path, O.RDONLY | O.DIRECTORY, 0, path);
}

/** close(2). */
export function close(fd: number): void {
  libc().close(fd);
}

/** mkdirat(2); returns 0 or `-errno`. */
export function mkdiratRaw(dirfd: number, name: string, mode: number): number {
  const r = sc(SYS.mkdirat, BigInt(dirfd), addr(cstr(name)), BigInt(mode));
  return r < 0n ? -errno() : 0;
}

/** mknodat(2). */
export function mknodat(
  dirfd: number,
  name: string,
  mode: number,
  major: number,
  minor: number,
  what = name,
): void {
  // glibc's makedev
  const dev = (BigInt(major & 0xfff) << 8n) |
    (BigInt(major & ~0xfff) << 32n) | BigInt(minor & 0xff) |
    (BigInt(minor & ~0xff) << 12n);
  check(
    sc(SYS.mknodat, BigInt(dirfd), addr(cstr(name)), BigInt(mode), dev),
    "mknodat",
    `\`${what}\``,
  );
}

/** symlinkat(2): a link named `name` in `dirfd` holding `target`. */
export function symlinkat(
  target: string,
  dirfd: number,
  name: string,
  what = name,
): void {
  check(
    sc(SYS.symlinkat, addr(cstr(target)), BigInt(dirfd), addr(cstr(name))),
    "symlinkat",
    `\`${what}\``,
  );
}

/** linkat(2) without following a symlink at the source. */
export function linkat(
  srcDir: number,
  srcName: string,
  dstDir: number,
  dstName: string,
  what: string,
): void {
  check(
    sc(
      SYS.linkat,
      BigInt(srcDir),
      addr(cstr(srcName)),
      BigInt(dstDir),
      addr(cstr(dstName)),
      0n,
    ),
    "linkat",
    what,
  );
}

/** unlinkat(2); `dir` removes an (empty) directory. Returns 0 or `-errno`. */
export function unlinkatRaw(dirfd: number, name: string, dir = false): number {
  const r = sc(
    SYS.unlinkat,
    BigInt(dirfd),
    addr(cstr(name)),
    BigInt(dir ? AT_REMOVEDIR : 0),
  );
  return r < 0n ? -errno() : 0;
}

/** fchownat(2) on the entry itself (never a symlink's target). */
export function lchownat(
  dirfd: number,
  name: string,
  uid: number,
  gid: number,
  what = name,
): void {
  check(
    sc(
      SYS.fchownat,
      BigInt(dirfd),
      addr(cstr(name)),
      BigInt(uid),
      BigInt(gid),
      BigInt(AT_SYMLINK_NOFOLLOW),
    ),
    "fchownat",
    `\`${what}\``,
  );
}

/** fchmod(2). */
export function fchmod(fd: number, mode: number, what: string): void {
  check(sc(SYS.fchmod, BigInt(fd), BigInt(mode)), "fchmod", `\`${what}\``);
}

/**
 * Set atime and mtime (seconds) of `name` in `dirfd` without following a
 * symlink; with `name` "" and `dirfd` an open fd, of the fd itself.
 */
export function setMtime(
  dirfd: number,
  name: string,
  mtime: number,
  what = name,
): void {
  const s = BigInt(Math.floor(mtime));
  const times = new BigUint64Array([s, 0n, s, 0n]);
  check(
    sc(
      SYS.utimensat,
      BigInt(dirfd),
      name === "" ? 0n : addr(cstr(name)),
      addr(times),
      BigInt(name === "" ? 0 : AT_SYMLINK_NOFOLLOW),
    ),
    "utimensat",
    `\`${what}\``,
  );
}

/** fsetxattr(2). Returns 0 or `-errno`. */
export function fsetxattrRaw(
  fd: number,
  name: string,
  value: Uint8Array,
): number {
  const buf = new Uint8Array(value.length + 1);
  buf.set(value);
  const r = sc(
    SYS.fsetxattr,
    BigInt(fd),
    addr(cstr(name)),
    addr(buf),
    BigInt(value.length),
    0n,
  );
  return r < 0n ? -errno() : 0;
}

/** Write all of `data` to `fd`. */
export function writeAll(fd: number, data: Uint8Array, what: string): void {
  let off = 0;
  while (off < data.length) {
    const chunk = off === 0 ? data : data.subarray(off);
    const n = Number(
      libc().write(fd, chunk as Uint8Array<ArrayBuffer>, BigInt(chunk.length)),
    );
    if (n < 0) {
      const e = errno();
      if (e === 4) continue; // EINTR
      throw errnoError("write", `\`${what}\``, e);
    }
    off += n;
  }
}

/** flock(2) operations. */
export const LOCK = { SH: 1, EX: 2, NB: 4, UN: 8 } as const;

/** flock(2); returns 0 or `-errno`. */
export function flockRaw(fd: number, op: number): number {
  const r = sc(SYS.flock, BigInt(fd), BigInt(op));
  return r < 0n ? -errno() : 0;
}

/** Split a tar path into clean components; throws on `..`. */
export function components(path: string, what: string): string[] {
  const parts = path.split("/").filter((c) => c !== "" && c !== ".");
  if (parts.includes("..")) {
    throw new TinycError(`${what}: path ${path} contains '..'`);
  }
  for (const p of parts) {
    if (p.includes("\0")) throw new TinycError(`${what}: path has a NUL byte`);
  }
  return parts;
}

/**
 * Open the directory `parts` beneath `rootFd` one component at a time with
 * `O_NOFOLLOW` (a symlink anywhere on the way is an error, never followed);
 * missing directories are created (mode 0755) when `create` is set.
 * Returns an fd the caller closes (`rootFd` itself is duplicated by openat(".")).
 */
export function walkDir(
  rootFd: number,
  parts: readonly string[],
  create: boolean,
  what: string,
): number {
  let fd = openat(rootFd, ".", O.RDONLY | O.DIRECTORY, 0, what);
  for (const name of parts) {
    let next = openatRaw(fd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
    if (next === -E.ENOENT && create) {
      const m = mkdiratRaw(fd, name, 0o755);
      if (m < 0 && m !== -E.EEXIST) {
        close(fd);
        throw errnoError("mkdirat", `\`${what}\``, -m);
      }
      next = openatRaw(fd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
    }
    close(fd);
    if (next === -E.ELOOP || next === -E.ENOTDIR) {
      throw new TinycError(
        `${what}: ${name} on the way is not a directory (symlinks are never followed)`,
      );
    }
    if (next < 0) throw errnoError("openat", `\`${what}\``, -next);
    fd = next;
  }
  return fd;
}

/**
 * Remove `name` in `dirfd`, whatever it is (a directory with its contents).
 * Never follows symlinks: directories are opened with O_NOFOLLOW.
 */
export function removeAt(dirfd: number, name: string, what: string): void {
  let r = unlinkatRaw(dirfd, name);
  if (r === 0 || r === -E.ENOENT) return;
  if (r !== -E.EISDIR && r !== -E.EPERM) {
    throw errnoError("unlinkat", `\`${what}\``, -r);
  }
  const sub = openatRaw(dirfd, name, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
  if (sub < 0) throw errnoError("openat", `\`${what}\``, -sub);
  try {
    for (const e of Deno.readDirSync(`/proc/self/fd/${sub}`)) {
      removeAt(sub, e.name, `${what}/${e.name}`);
    }
  } finally {
    close(sub);
  }
  r = unlinkatRaw(dirfd, name, true);
  if (r < 0 && r !== -E.ENOENT) throw errnoError("unlinkat", `\`${what}\``, -r);
}
