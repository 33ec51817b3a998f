/**
 * The one way tinyc touches a container's rootfs from the host side.
 *
 * A rootfs is hostile: a container can plant `etc -> /etc`, `bin/bash.tmp ->
 * /etc/shadow` or a FIFO at `/etc/passwd`. Every path is therefore resolved
 * by the kernel *inside* the rootfs, on a directory fd of its root, never as
 * a string through the host's `/`:
 *
 * - `openat2(2)` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`: symlinks are
 *   followed as if the rootfs were `/`, `..` stops at it, `/proc/self/...`
 *   style magic links are refused (Linux 5.6+);
 * - where `openat2` is missing (ENOSYS), an equivalent walk: one component at
 *   a time with `O_PATH|O_NOFOLLOW` on directory fds, symlinks read with
 *   `readlinkat` and re-walked from the root, `..` popped from our own stack
 *   of fds (never the kernel's `..`).
 *
 * The last component of a path is handled by `*at()` calls on the resolved
 * parent's fd (`mkdirat`, `symlinkat`, `unlinkat`, `renameat2`, `openat` with
 * `O_NOFOLLOW`), so a symlink planted there is never followed. Files are
 * written under an unpredictable name with `O_CREAT|O_EXCL|O_NOFOLLOW`, then
 * renamed into place; reads refuse anything but a regular file and stop at a
 * size limit.
 *
 * @module
 */

import { addr, cstr, errnoError, libc, SYS } from "../libc.ts";
import { SysError, TinycError } from "../errors.ts";

const ARM = Deno.build.arch === "aarch64";

/** open(2) flags; O_DIRECTORY and O_NOFOLLOW differ on arm64. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  TRUNC: 0o1000,
  NONBLOCK: 0o4000,
  DIRECTORY: ARM ? 0o40000 : 0o200000,
  NOFOLLOW: ARM ? 0o100000 : 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

const AT_FDCWD = -100n;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_EMPTY_PATH = 0x1000;
const RESOLVE_NO_MAGICLINKS = 0x02;
const RESOLVE_IN_ROOT = 0x10;
const STATX_BASIC_STATS = 0x7ff;
const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;

const ENOENT = 2;
const EAGAIN = 11;
const EEXIST = 17;
const ENOTDIR = 20;
const EISDIR = 21;
const ENOSYS = 38;
const ELOOP = 40;

/** Linux gives up after 40 symlinks in one lookup (ELOOP); so does the walk. */
const MAX_SYMLINKS = 40;

/** What {@link InRoot.lstat} reports. */
export interface InRootStat {
  type: "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "socket";
  /** Permission bits (and setuid/setgid/sticky). */
  mode: number;
  size: number;
  uid: number;
  gid: number;
  /** Device and inode, to recognise the same file. */
  dev: string;
  ino: bigint;
  /** A device node's `major:minor` (`0:0` otherwise; an overlay whiteout is a char device 0:0). */
  rdev: string;
}

function sys(nr: number, ...args: bigint[]): bigint {
  while (args.length < 5) args.push(0n);
  return libc().syscall(
    BigInt(nr),
    args[0],
    args[1],
    args[2],
    args[3],
    args[4],
  );
}

function closeFd(fd: number): void {
  libc().close(fd);
}

const TYPES: Record<number, InRootStat["type"]> = {
  0o100000: "file",
  0o040000: "dir",
  0o120000: "symlink",
  0o020000: "char",
  0o060000: "block",
  0o010000: "fifo",
  0o140000: "socket",
};

/** statx(fd, name) into an {@link InRootStat}; `name` "" means the fd itself. */
function statxAt(
  fd: number | bigint,
  name: string,
  what: string,
  flags = AT_SYMLINK_NOFOLLOW,
): InRootStat {
  const buf = new Uint8Array(256);
  const r = sys(
    SYS.statx,
    BigInt(fd),
    addr(cstr(name)),
    BigInt(flags | (name === "" ? AT_EMPTY_PATH : 0)),
    BigInt(STATX_BASIC_STATS),
    addr(buf),
  );
  if (r < 0n) throw errnoError("statx", what);
  const v = new DataView(buf.buffer);
  const mode = v.getUint16(28, true);
  return {
    type: TYPES[mode & 0o170000] ?? "file",
    mode: mode & 0o7777,
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    ino: v.getBigUint64(32, true),
    size: Number(v.getBigUint64(40, true)),
    dev: `${v.getUint32(136, true)}:${v.getUint32(140, true)}`,
    rdev: `${v.getUint32(128, true)}:${v.getUint32(132, true)}`,
  };
}

/** `stat` of a host path (symlinks followed), in the same shape as {@link InRoot.stat}. */
export function hostStat(path: string): InRootStat {
  return statxAt(AT_FDCWD, path, `\`${path}\``, 0);
}

function readlinkAt(fd: number, name: string, what: string): string {
  const buf = new Uint8Array(4096);
  const n = sys(
    SYS.readlinkat,
    BigInt(fd),
    addr(cstr(name)),
    addr(buf),
    BigInt(buf.length),
  );
  if (n < 0n) throw errnoError("readlinkat", what);
  return new TextDecoder().decode(buf.subarray(0, Number(n)));
}

function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}

/** `/etc/passwd` for `etc//passwd`. */
function clean(path: string): string {
  return "/" + components(path).join("/");
}

/** A random name for a temporary file beside `name` (never guessable). */
function tempName(name: string): string {
  const rnd = Array.from(
    crypto.getRandomValues(new Uint8Array(12)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  return `.${name.slice(0, 180)}.tinyc-${rnd}`;
}

/** Options for {@link openRoot}. */
export interface OpenRootOptions {
  /** Use the dirfd walk even where openat2 exists (tests). */
  forceWalk?: boolean;
}

let haveOpenat2: boolean | undefined;

/**
 * Open host directory `dir` as a rootfs. `dir` itself is a trusted host path
 * (the user named it); everything beneath it is resolved inside it.
 */
export function openRoot(dir: string, opts: OpenRootOptions = {}): InRoot {
  const fd = Number(
    sys(
      SYS.openat,
      AT_FDCWD,
      addr(cstr(dir)),
      BigInt(O.PATH | O.DIRECTORY | O.CLOEXEC),
    ),
  );
  if (fd < 0) {
    const e = errnoError("open", `rootfs \`${dir}\``);
    if (e.code === "ENOENT") {
      throw new TinycError(`rootfs ${dir}: no such directory`);
    }
    if (e.code === "ENOTDIR") {
      throw new TinycError(`rootfs ${dir}: not a directory`);
    }
    throw e;
  }
  return new InRoot(dir, fd, opts.forceWalk ?? false);
}

/**
 * Run `fn` with the rootfs at `dir` open, closing it afterwards.
 */
export function withRoot<T>(dir: string, fn: (root: InRoot) => T): T {
  const root = openRoot(dir);
  try {
    return fn(root);
  } finally {
    root.close();
  }
}

/** A rootfs directory, opened; every method takes container paths (`/etc/passwd`). */
export class InRoot {
  /** The host path of the root, for messages. */
  readonly dir: string;
  /** An `O_PATH` fd of the root directory. */
  readonly fd: number;
  readonly #walk: boolean;

  /** Use {@link openRoot}. */
  constructor(dir: string, fd: number, walk: boolean) {
    this.dir = dir;
    this.fd = fd;
    this.#walk = walk;
  }

  /** Close the root's fd. */
  close(): void {
    closeFd(this.fd);
  }

  #what(path: string): string {
    return `\`${clean(path)}\` in \`${this.dir}\``;
  }

  /**
   * Open container path `path` with `flags` (`O.*`), resolved inside the
   * root; the last component is followed unless `flags` has `O.NOFOLLOW`
   * (then a symlink there is refused with ELOOP, or opened itself with
   * `O.PATH`). Always close-on-exec. Throws {@link SysError}.
   */
  open(path: string, flags: number, mode = 0): number {
    flags |= O.CLOEXEC;
    if (!this.#walk && haveOpenat2 !== false) {
      const how = new BigUint64Array([
        BigInt(flags),
        BigInt(flags & O.CREAT ? mode : 0),
        BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS),
      ]);
      const rel = components(path).join("/") || ".";
      for (let tries = 0;; tries++) {
        const fd = Number(
          sys(SYS.openat2, BigInt(this.fd), addr(cstr(rel)), addr(how), 24n),
        );
        if (fd >= 0) {
          haveOpenat2 = true;
          return fd;
        }
        const e = errnoError("openat2", this.#what(path));
        // EAGAIN: a concurrent rename raced with `..`; the kernel asks to retry.
        if (e.errno === EAGAIN && tries < 16) continue;
        if (e.errno === ENOSYS) {
          haveOpenat2 = false;
          break;
        }
        throw e;
      }
    }
    const [dirfd, name] = this.#walkTo(path, (flags & O.NOFOLLOW) === 0);
    try {
      const fd = Number(
        sys(
          SYS.openat,
          BigInt(dirfd),
          addr(cstr(name)),
          BigInt(flags | O.NOFOLLOW),
          BigInt(mode),
        ),
      );
      if (fd < 0) throw errnoError("openat", this.#what(path));
      return fd;
    } finally {
      closeFd(dirfd);
    }
  }

  /**
   * The fallback resolver: walk `path` from the root one component at a
   * time. Returns an fd of the directory holding the last component and its
   * name (`.` for the root itself); that name is not a symlink unless
   * `followLast` is false, and may be missing.
   */
  #walkTo(path: string, followLast: boolean): [number, string] {
    const dup = (fd: number) =>
      Number(
        sys(
          SYS.openat,
          BigInt(fd),
          addr(cstr(".")),
          BigInt(O.PATH | O.CLOEXEC),
        ),
      );
    const stack: number[] = [dup(this.fd)];
    const closeAll = () => stack.forEach(closeFd);
    const queue = components(path);
    let links = 0;
    try {
      while (queue.length > 0) {
        const name = queue.shift()!;
        if (name === "..") {
          if (stack.length > 1) closeFd(stack.pop()!);
          continue;
        }
        const top = stack[stack.length - 1];
        const fd = Number(
          sys(
            SYS.openat,
            BigInt(top),
            addr(cstr(name)),
            BigInt(O.PATH | O.NOFOLLOW | O.CLOEXEC),
          ),
        );
        if (fd < 0) {
          const e = errnoError("openat", this.#what(path));
          if (e.errno === ENOENT && queue.length === 0) {
            stack.pop();
            closeAll();
            return [top, name];
          }
          throw e;
        }
        const st = statxAt(fd, "", this.#what(path));
        const last = queue.length === 0;
        if (st.type === "symlink" && (!last || followLast)) {
          const target = readlinkAt(fd, "", this.#what(path));
          closeFd(fd);
          if (++links > MAX_SYMLINKS) {
            throw errnoError("openat", this.#what(path), ELOOP);
          }
          if (target.startsWith("/")) {
            while (stack.length > 1) closeFd(stack.pop()!);
          }
          queue.unshift(...components(target));
          continue;
        }
        if (last) {
          closeFd(fd);
          stack.pop();
          closeAll();
          return [top, name];
        }
        if (st.type !== "dir") {
          closeFd(fd);
          throw errnoError("openat", this.#what(path), ENOTDIR);
        }
        stack.push(fd);
      }
      const top = stack.pop()!;
      closeAll();
      return [top, "."];
    } catch (e) {
      closeAll();
      throw e;
    }
  }

  /** An fd of directory `path` (symlinks followed inside the root), or throws. */
  openDir(path: string): number {
    return this.open(path, O.PATH | O.DIRECTORY);
  }

  /**
   * Resolve `path`'s parent inside the root: its fd and the last name. The
   * name is never `.`/`..`/empty (those are refused: nothing to create).
   */
  #parent(path: string): [number, string] {
    const comps = components(path);
    const name = comps.pop();
    if (name === undefined || name === "..") {
      throw new TinycError(`${this.#what(path)}: not a name to create`);
    }
    return [this.openDir(comps.join("/")), name];
  }

  #atParent<T>(path: string, fn: (dirfd: number, name: string) => T): T {
    const [dirfd, name] = this.#parent(path);
    try {
      return fn(dirfd, name);
    } finally {
      closeFd(dirfd);
    }
  }

  /** `lstat` of `path` inside the root (the last symlink itself), or null when missing. */
  lstat(path: string): InRootStat | null {
    return this.#statWith(path, O.PATH | O.NOFOLLOW);
  }

  /** `stat` of `path` inside the root (symlinks followed inside), or null when missing. */
  stat(path: string): InRootStat | null {
    return this.#statWith(path, O.PATH);
  }

  #statWith(path: string, flags: number): InRootStat | null {
    let fd: number;
    try {
      fd = this.open(path, flags);
    } catch (e) {
      if (e instanceof SysError && (e.errno === ENOENT)) return null;
      throw e;
    }
    try {
      return statxAt(fd, "", this.#what(path));
    } finally {
      closeFd(fd);
    }
  }

  /** The target of symlink `path`, or null when `path` is missing or no symlink. */
  readlink(path: string): string | null {
    let fd: number;
    try {
      fd = this.open(path, O.PATH | O.NOFOLLOW);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) return null;
      throw e;
    }
    try {
      if (statxAt(fd, "", this.#what(path)).type !== "symlink") return null;
      return readlinkAt(fd, "", this.#what(path));
    } finally {
      closeFd(fd);
    }
  }

  /** `mkdir` of `path` (parents must exist); false when something is already there. */
  mkdir(path: string, mode = 0o755): boolean {
    return this.#atParent(path, (dirfd, name) => {
      const r = sys(SYS.mkdirat, BigInt(dirfd), addr(cstr(name)), BigInt(mode));
      if (r === 0n) return true;
      const e = errnoError("mkdirat", this.#what(path));
      if (e.errno === EEXIST) return false;
      throw e;
    });
  }

  /**
   * Make directory `path` and any missing parents (mode `mode`, before the
   * umask). Symlinks on the way are followed inside the root, a dangling one
   * by making its target there; something that is not a directory in the way
   * is an error. Returns the container paths it created, outermost first.
   */
  mkdirAll(path: string, mode = 0o755, hops = 0): string[] {
    const comps = components(path);
    const made: string[] = [];
    for (let i = 1; i <= comps.length; i++) {
      const sub = comps.slice(0, i).join("/");
      if (comps[i - 1] === "..") continue;
      let fd: number;
      try {
        fd = this.openDir(sub);
      } catch (e) {
        if (!(e instanceof SysError) || e.errno !== ENOENT) throw e;
        if (this.mkdir(sub, mode)) made.push("/" + sub);
        else {
          // A dangling symlink: make its target (inside the root), as the
          // kernel would resolve it.
          const target = this.readlink(sub);
          if (target !== null) {
            if (hops >= MAX_SYMLINKS) {
              throw errnoError("mkdirat", this.#what(path), ELOOP);
            }
            const at = target.startsWith("/")
              ? target
              : `${comps.slice(0, i - 1).join("/")}/${target}`;
            made.push(...this.mkdirAll(at, mode, hops + 1));
          }
        }
        fd = this.openDir(sub);
      }
      closeFd(fd);
    }
    return made;
  }

  /** `chmod` of directory `path` (never follows a symlink in the last component). */
  chmodDir(path: string, mode: number): void {
    const fd = this.open(path, O.RDONLY | O.DIRECTORY | O.NOFOLLOW);
    try {
      if (sys(SYS.fchmod, BigInt(fd), BigInt(mode)) < 0n) {
        throw errnoError("fchmod", this.#what(path));
      }
    } finally {
      closeFd(fd);
    }
  }

  /**
   * Write `data` (or the host file `source`, streamed) to `path` with
   * permission bits `mode`: a new file under a random name in `path`'s
   * directory (`O_CREAT|O_EXCL|O_NOFOLLOW`), then `renameat2` over `path`.
   * A symlink at `path` is replaced, never followed; a directory there is
   * an error.
   */
  writeFileAtomic(
    path: string,
    data: Uint8Array | { source: string },
    mode: number,
  ): void {
    this.#atParent(path, (dirfd, name) => {
      const tmp = tempName(name);
      const fd = Number(
        sys(
          SYS.openat,
          BigInt(dirfd),
          addr(cstr(tmp)),
          BigInt(O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC),
          0o600n,
        ),
      );
      if (fd < 0) throw errnoError("openat", this.#what(path) + " (temporary)");
      try {
        try {
          if (data instanceof Uint8Array) writeAll(fd, data, this.#what(path));
          else copyFromHost(data.source, fd, this.#what(path));
          if (sys(SYS.fchmod, BigInt(fd), BigInt(mode)) < 0n) {
            throw errnoError("fchmod", this.#what(path));
          }
        } finally {
          closeFd(fd);
        }
        const r = sys(
          SYS.renameat2,
          BigInt(dirfd),
          addr(cstr(tmp)),
          BigInt(dirfd),
          addr(cstr(name)),
          0n,
        );
        if (r < 0n) {
          const e = errnoError("renameat2", this.#what(path));
          if (e.errno === EISDIR || e.errno === ENOTDIR) {
            throw new TinycError(
              `${this.#what(path)}: a directory is in the way`,
            );
          }
          throw e;
        }
      } catch (e) {
        sys(SYS.unlinkat, BigInt(dirfd), addr(cstr(tmp)), 0n);
        throw e;
      }
    });
  }

  /** Create symlink `path` -> `target`; throws (EEXIST) when something is there. */
  symlink(path: string, target: string): void {
    this.#atParent(path, (dirfd, name) => {
      const r = sys(
        SYS.symlinkat,
        addr(cstr(target)),
        BigInt(dirfd),
        addr(cstr(name)),
      );
      if (r < 0n) throw errnoError("symlinkat", this.#what(path));
    });
  }

  /**
   * Make `path` a symlink to `target`, atomically replacing a symlink or
   * file there (a new link under a random name, renamed over it).
   */
  replaceWithSymlink(path: string, target: string): void {
    this.#atParent(path, (dirfd, name) => {
      const tmp = tempName(name);
      const r = sys(
        SYS.symlinkat,
        addr(cstr(target)),
        BigInt(dirfd),
        addr(cstr(tmp)),
      );
      if (r < 0n) throw errnoError("symlinkat", this.#what(path));
      const m = sys(
        SYS.renameat2,
        BigInt(dirfd),
        addr(cstr(tmp)),
        BigInt(dirfd),
        addr(cstr(name)),
        0n,
      );
      if (m < 0n) {
        const e = errnoError("renameat2", this.#what(path));
        sys(SYS.unlinkat, BigInt(dirfd), addr(cstr(tmp)), 0n);
        throw e;
      }
    });
  }

  /**
   * Create an empty regular file at `path` unless something is there
   * (a mount point for a file bind). True when it was created.
   */
  createFile(path: string, mode = 0o644): boolean {
    return this.#atParent(path, (dirfd, name) => {
      const fd = Number(
        sys(
          SYS.openat,
          BigInt(dirfd),
          addr(cstr(name)),
          BigInt(O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW | O.CLOEXEC),
          BigInt(mode),
        ),
      );
      if (fd >= 0) {
        closeFd(fd);
        return true;
      }
      const e = errnoError("openat", this.#what(path));
      if (e.errno === EEXIST) return false;
      throw e;
    });
  }

  /** `mknod` at `path` (`mode` includes the file type). */
  mknod(path: string, mode: number, major: number, minor: number): void {
    // glibc's makedev() for small numbers.
    const dev = BigInt((major << 8) | (minor & 0xff) | ((minor & ~0xff) << 12));
    this.#atParent(path, (dirfd, name) => {
      const r = sys(
        SYS.mknodat,
        BigInt(dirfd),
        addr(cstr(name)),
        BigInt(mode),
        dev,
      );
      if (r < 0n) {
        throw errnoError("mknodat", `${this.#what(path)} ${major}:${minor}`);
      }
    });
  }

  /** Change the owner of `path` itself (a symlink there is not followed). */
  chown(path: string, uid: number, gid: number): void {
    this.#atParent(path, (dirfd, name) => {
      const AT_SYMLINK_NOFOLLOW = 0x100;
      const r = sys(
        SYS.fchownat,
        BigInt(dirfd),
        addr(cstr(name)),
        BigInt(uid),
        BigInt(gid),
        BigInt(AT_SYMLINK_NOFOLLOW),
      );
      if (r < 0n) throw errnoError("fchownat", this.#what(path));
    });
  }

  /**
   * Remove `path` (a file, symlink or empty directory; never recursive, and
   * a symlink is removed itself). False when it was missing.
   */
  remove(path: string): boolean {
    return this.#atParent(path, (dirfd, name) => {
      for (const flags of [0, AT_REMOVEDIR]) {
        const r = sys(
          SYS.unlinkat,
          BigInt(dirfd),
          addr(cstr(name)),
          BigInt(flags),
        );
        if (r === 0n) return true;
        const e = errnoError("unlinkat", this.#what(path));
        if (e.errno === ENOENT) return false;
        if (e.errno !== EISDIR || flags !== 0) throw e;
      }
      return false;
    });
  }

  /**
   * Read regular file `path` (symlinks followed inside the root), at most
   * `maxBytes`. A FIFO, device, socket or directory is refused without
   * blocking (`O_NONBLOCK`, then a type check on the open fd); a larger file
   * is an error. Null when it is missing.
   */
  readFileBounded(path: string, maxBytes: number): Uint8Array | null {
    // Look first (O_PATH opens nothing), then open that very inode through
    // its /proc/self/fd link: a device node is never opened.
    let pathFd: number;
    try {
      pathFd = this.open(path, O.PATH);
    } catch (e) {
      if (e instanceof SysError && e.errno === ENOENT) return null;
      throw e;
    }
    let fd: number;
    try {
      if (statxAt(pathFd, "", this.#what(path)).type !== "file") {
        throw new TinycError(`rootfs ${clean(path)}: not a regular file`);
      }
      fd = libc().open(
        cstr(`/proc/self/fd/${pathFd}`),
        O.RDONLY | O.NONBLOCK | O.NOCTTY | O.CLOEXEC,
        0,
      );
      if (fd < 0) fd = this.open(path, O.RDONLY | O.NONBLOCK | O.NOCTTY);
    } finally {
      closeFd(pathFd);
    }
    try {
      const st = statxAt(fd, "", this.#what(path));
      if (st.type !== "file") {
        throw new TinycError(`rootfs ${clean(path)}: not a regular file`);
      }
      const tooBig = () =>
        new TinycError(
          `rootfs ${
            clean(path)
          }: larger than ${maxBytes} bytes, refusing to read it`,
        );
      if (st.size > maxBytes) throw tooBig();
      // The size can change under us: read at most one byte more than allowed.
      const buf = new Uint8Array(Math.min(st.size, maxBytes) + 1);
      let n = 0;
      for (;;) {
        if (n === buf.length) throw tooBig();
        const r = Number(
          libc().read(fd, buf.subarray(n), BigInt(buf.length - n)),
        );
        if (r < 0) throw errnoError("read", this.#what(path));
        if (r === 0) break;
        n += r;
      }
      return buf.slice(0, n);
    } finally {
      closeFd(fd);
    }
  }

  /** {@link readFileBounded} as UTF-8 text. */
  readTextBounded(path: string, maxBytes: number): string | null {
    const b = this.readFileBounded(path, maxBytes);
    return b === null ? null : new TextDecoder().decode(b);
  }
}

function writeAll(fd: number, data: Uint8Array, what: string): void {
  let off = 0;
  while (off < data.length) {
    const n = Number(
      libc().write(fd, data.subarray(off), BigInt(data.length - off)),
    );
    if (n < 0) throw errnoError("write", what);
    off += n;
  }
}

/** Stream host file `source` (a trusted host path) into `fd`. */
function copyFromHost(source: string, fd: number, what: string): void {
  const file = Deno.openSync(source, { read: true });
  try {
    const buf = new Uint8Array(1 << 20);
    for (;;) {
      const n = file.readSync(buf);
      if (n === null || n === 0) break;
      writeAll(fd, buf.subarray(0, n), what);
    }
  } finally {
    file.close();
  }
}

/**
 * A shared lock on the rootfs directory `dir` held while a container uses it
 * (`flock(LOCK_SH)` on an fd of it). {@link RootLock.tryExclusive} tells the
 * last user: only it may remove what the runs created.
 */
export interface RootLock {
  /** Try to turn the lock exclusive, without waiting: true when no other holder. */
  tryExclusive(): boolean;
  /** Drop the lock. */
  release(): void;
}

/** Take a {@link RootLock} on `dir`. */
export function lockRootShared(dir: string): RootLock {
  const fd = Number(
    sys(
      SYS.openat,
      AT_FDCWD,
      addr(cstr(dir)),
      BigInt(O.RDONLY | O.DIRECTORY | O.CLOEXEC),
    ),
  );
  if (fd < 0) throw errnoError("open", `rootfs \`${dir}\``);
  if (sys(SYS.flock, BigInt(fd), BigInt(LOCK_SH)) < 0n) {
    const e = errnoError("flock", `rootfs \`${dir}\``);
    closeFd(fd);
    throw e;
  }
  let open = true;
  return {
    tryExclusive: () =>
      sys(SYS.flock, BigInt(fd), BigInt(LOCK_EX | LOCK_NB)) === 0n,
    release: () => {
      if (open) closeFd(fd);
      open = false;
    },
  };
}
