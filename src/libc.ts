/**
 * The one place tinyc binds libc through `Deno.dlopen`.
 *
 * Every entry carries its C signature. Calls are synchronous on the calling
 * thread (never `nonblocking`, except `waitpid_async` and `poll_async`):
 * unshare, setns, capset, prctl and seccomp act on the calling thread only,
 * and errno is thread-local, so it must be read right after the call on the
 * same thread.
 *
 * Variadic functions (`syscall`, `prctl`, `fcntl`) are reached through the
 * raw `syscall(2)` entry with integer/pointer arguments only, which is sound
 * on x86_64 and aarch64 (glibc's `syscall` is written in assembly).
 *
 * @module
 */

import { SysError } from "./errors.ts";

const SYMBOLS = {
  // int *__errno_location(void);
  __errno_location: { parameters: [], result: "pointer" },
  // char *strerror(int errnum);
  strerror: { parameters: ["i32"], result: "pointer" },
  // int unshare(int flags);
  unshare: { parameters: ["i32"], result: "i32" },
  // int setns(int fd, int nstype);
  setns: { parameters: ["i32", "i32"], result: "i32" },
  // int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data);
  mount: {
    parameters: ["buffer", "buffer", "buffer", "u64", "buffer"],
    result: "i32",
  },
  // int umount2(const char *target, int flags);
  umount2: { parameters: ["buffer", "i32"], result: "i32" },
  // int chdir(const char *path);
  chdir: { parameters: ["buffer"], result: "i32" },
  // int fchdir(int fd);
  fchdir: { parameters: ["i32"], result: "i32" },
  // int chroot(const char *path);
  chroot: { parameters: ["buffer"], result: "i32" },
  // int sethostname(const char *name, size_t len);
  sethostname: { parameters: ["buffer", "usize"], result: "i32" },
  // int mknod(const char *path, mode_t mode, dev_t dev);
  mknod: { parameters: ["buffer", "u32", "u64"], result: "i32" },
  // int open(const char *path, int flags, mode_t mode);
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  // int close(int fd);
  close: { parameters: ["i32"], result: "i32" },
  // ssize_t read(int fd, void *buf, size_t count);
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // int poll(struct pollfd *fds, nfds_t nfds, int timeout);
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  // Same, on a pool thread (the pty relay waits in it; errno is lost).
  poll_async: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // ssize_t write(int fd, const void *buf, size_t count);
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // int pipe2(int fds[2], int flags);
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  // int dup2(int old, int new);
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  // int execve(const char *path, char *const argv[], char *const envp[]);
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  // int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
  //                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  // int posix_spawnattr_init(posix_spawnattr_t *attr);
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  // int posix_spawnattr_destroy(posix_spawnattr_t *attr);
  posix_spawnattr_destroy: { parameters: ["buffer"], result: "i32" },
  // int posix_spawnattr_setflags(posix_spawnattr_t *attr, short flags);
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  // int posix_spawnattr_setsigdefault(posix_spawnattr_t *attr, const sigset_t *set);
  posix_spawnattr_setsigdefault: {
    parameters: ["buffer", "buffer"],
    result: "i32",
  },
  // int posix_spawnattr_setsigmask(posix_spawnattr_t *attr, const sigset_t *set);
  posix_spawnattr_setsigmask: {
    parameters: ["buffer", "buffer"],
    result: "i32",
  },
  // int posix_spawn_file_actions_init(posix_spawn_file_actions_t *fa);
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  // int posix_spawn_file_actions_destroy(posix_spawn_file_actions_t *fa);
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  // int posix_spawn_file_actions_adddup2(posix_spawn_file_actions_t *fa, int fd, int newfd);
  posix_spawn_file_actions_adddup2: {
    parameters: ["buffer", "i32", "i32"],
    result: "i32",
  },
  // int sigemptyset(sigset_t *set);
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  // int sigfillset(sigset_t *set);
  sigfillset: { parameters: ["buffer"], result: "i32" },
  // pid_t waitpid(pid_t pid, int *wstatus, int options);
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // Same, on a pool thread, so the event loop keeps running (errno is lost).
  waitpid_async: {
    name: "waitpid",
    parameters: ["i32", "buffer", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // int kill(pid_t pid, int sig);
  kill: { parameters: ["i32", "i32"], result: "i32" },
  // pid_t getpid(void);
  getpid: { parameters: [], result: "i32" },
  // pid_t getppid(void);
  getppid: { parameters: [], result: "i32" },
  // uid_t getuid(void); uid_t geteuid(void); gid_t getgid(void); gid_t getegid(void);
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  getegid: { parameters: [], result: "u32" },
  // pid_t setsid(void);
  setsid: { parameters: [], result: "i32" },
  // int setgroups(size_t size, const gid_t *list);
  setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  // int setresuid(uid_t r, uid_t e, uid_t s); int setresgid(gid_t r, gid_t e, gid_t s);
  setresuid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  setresgid: { parameters: ["u32", "u32", "u32"], result: "i32" },
  // mode_t umask(mode_t mask);
  umask: { parameters: ["u32"], result: "u32" },
  // int socket(int domain, int type, int protocol);
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  // int bind(int fd, const struct sockaddr *addr, socklen_t len);
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  // ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen);
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  // ssize_t recv(int fd, void *buf, size_t len, int flags);
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  // int setsockopt(int fd, int level, int name, const void *val, socklen_t len);
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  // int if_nametoindex(const char *name) (returns unsigned; 0 on failure)
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  // long syscall(long nr, ...): pivot_root, capget/capset, prctl, seccomp, fcntl,
  // ioctl, close_range and pidfd_open, with up to five integer/pointer arguments.
  syscall: {
    parameters: ["i64", "u64", "u64", "u64", "u64", "u64"],
    result: "i64",
  },
} as const;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/**
 * Symbols are bound on first use: each bound symbol costs ~0.27 ms of
 * start-up here (a compiled trampoline), and the launcher's and the init's
 * paths to the user's command run through most of them. So the entries that
 * are plain system calls are not bound at all: they are small functions over
 * the one raw `syscall` symbol ({@link VIA_SYSCALL}), with the same
 * arguments, results and errno (glibc's `syscall` returns -1 and sets errno
 * as the wrappers do). What remains bound is what has no system call of its
 * own (posix_spawn and its helpers, strerror, __errno_location,
 * if_nametoindex), the credential calls, whose glibc wrappers apply the
 * change to every thread of the process (the raw calls change only the
 * calling thread's), the nonblocking variants, and sendto (six arguments).
 */
const bound: Partial<Record<keyof typeof SYMBOLS, unknown>> = {};
const symbols = new Proxy({} as Symbols, {
  get(_target, prop: string) {
    const name = prop as keyof typeof SYMBOLS;
    if (!(name in bound)) {
      const def = SYMBOLS[name];
      if (def === undefined) throw new Error(`libc: no symbol ${prop} bound`);
      const nr = name === "syscall" ? undefined : VIA_SYSCALL[name];
      bound[name] = nr === undefined
        ? Deno.dlopen("libc.so.6", { [name]: def }).symbols[name]
        : viaSyscall(nr, def.result);
    }
    return bound[name];
  },
});

const ARM = Deno.build.arch === "aarch64";
/** `AT_FDCWD` as the 64-bit two's complement a `syscall` argument takes. */
const AT_FDCWD = -100;

type Arg = number | bigint | ArrayBufferView | ArrayBuffer | null;
type Raw = (...args: Arg[]) => Arg[];

/**
 * The entries of {@link SYMBOLS} that are one system call: the number on
 * x86_64 and aarch64 and, where the arguments differ from the C wrapper's,
 * how to map them (e.g. `open` is `openat(AT_FDCWD, ...)`).
 */
export const SYSCALLS: Partial<
  Record<keyof typeof SYMBOLS, [x86: number, arm: number, map?: Raw]>
> = {
  unshare: [272, 97],
  setns: [308, 268],
  mount: [165, 40],
  umount2: [166, 39],
  chdir: [80, 49],
  fchdir: [81, 50],
  chroot: [161, 51],
  sethostname: [170, 161],
  // The kernel's dev number is 32 bits; sys.ts encodes small numbers.
  mknod: [259, 33, (path, mode, dev) => [AT_FDCWD, path, mode, dev]],
  open: [257, 56, (path, flags, mode) => [AT_FDCWD, path, flags, mode]],
  close: [3, 57],
  read: [0, 63],
  write: [1, 64],
  // ppoll with the timeout as a timespec (aarch64 has no poll).
  poll: [271, 73, (fds, n, ms) => [fds, n, timespec(Number(ms)), null, 8]],
  pipe2: [293, 59],
  execve: [59, 221],
  waitpid: [61, 260, (pid, st, options) => [pid, st, options, null]],
  kill: [62, 129],
  getpid: [39, 172],
  getppid: [110, 173],
  getuid: [102, 174],
  geteuid: [107, 175],
  getgid: [104, 176],
  getegid: [108, 177],
  setsid: [112, 157],
  umask: [95, 166],
  socket: [41, 198],
  bind: [49, 200],
  // recvfrom without a source address.
  recv: [45, 207, (fd, buf, len, flags) => [fd, buf, len, flags, null]],
  setsockopt: [54, 208],
  // aarch64 has only dup3, which refuses old == new (dup2 returns new).
  ...(ARM ? {} : { dup2: [33, 0] as [number, number] }),
};

/** Syscall number and argument mapping by entry name, for this machine. */
const VIA_SYSCALL: Partial<
  Record<keyof typeof SYMBOLS, { nr: number; map?: Raw }>
> = Object.fromEntries(
  Object.entries(SYSCALLS).map(([name, [x86, arm, map]]) => [
    name,
    { nr: ARM ? arm : x86, map },
  ]),
);

/** A `struct timespec *` for a poll timeout in ms (null: wait forever). */
function timespec(ms: number): BigInt64Array | null {
  if (ms < 0) return null;
  return new BigInt64Array([
    BigInt(Math.floor(ms / 1000)),
    BigInt((ms % 1000) * 1_000_000),
  ]);
}

/** An argument as the raw `syscall` takes it: 64 bits, pointers by address. */
function arg(a: Arg | undefined): bigint {
  if (a === null || a === undefined) return 0n;
  if (typeof a === "bigint") return BigInt.asUintN(64, a);
  if (typeof a === "number") return BigInt.asUintN(64, BigInt(a));
  return BigInt(
    Deno.UnsafePointer.value(Deno.UnsafePointer.of(a as BufferSource)),
  );
}

/** The function standing in for a bound entry whose C result is `result`. */
function viaSyscall(
  { nr, map }: { nr: number; map?: Raw },
  result: string,
): (...args: Arg[]) => number | bigint {
  const narrow = result === "i32" || result === "u32";
  const big = BigInt(nr);
  return (...given: Arg[]) => {
    const a = map ? map(...given) : given;
    const r = symbols.syscall(
      big,
      arg(a[0]),
      arg(a[1]),
      arg(a[2]),
      arg(a[3]),
      arg(a[4]),
    );
    return narrow ? Number(r) : r;
  };
}

/** The bound libc symbols (each opened on first use). */
export function libc(): Symbols {
  return symbols;
}

/** System call numbers for the calls glibc has no (non-variadic) wrapper for. */
export const SYS: Readonly<Record<string, number>> = Deno.build.arch ===
    "aarch64"
  ? {
    ioctl: 29,
    fcntl: 25,
    rt_sigprocmask: 135,
    rt_sigaction: 134,
    memfd_create: 279,
    bpf: 280,
    pidfd_getfd: 438,
    fchown: 55,
    pivot_root: 41,
    capget: 90,
    capset: 91,
    prctl: 167,
    seccomp: 277,
    pidfd_open: 434,
    close_range: 436,
    // Host-side access to a rootfs (src/linux/in_root.ts).
    openat: 56,
    openat2: 437,
    mkdirat: 34,
    mknodat: 33,
    unlinkat: 35,
    symlinkat: 36,
    readlinkat: 78,
    renameat2: 276,
    fchmod: 52,
    statx: 291,
    // OCI runtime (src/oci, src/init_oci.ts)
    setdomainname: 162,
    personality: 92,
    prlimit64: 261,
    connect: 203,
    sendmsg: 211,
    nanosleep: 101,
    setns: 268,
    // *at calls for safe layer extraction (src/images/fs.ts)
    fchownat: 54,
    linkat: 37,
    utimensat: 88,
    fsetxattr: 7,
    flock: 32,
  }
  : {
    ioctl: 16,
    fcntl: 72,
    rt_sigprocmask: 14,
    rt_sigaction: 13,
    memfd_create: 319,
    bpf: 321,
    pidfd_getfd: 438,
    fchown: 93,
    pivot_root: 155,
    capget: 125,
    capset: 126,
    prctl: 157,
    seccomp: 317,
    pidfd_open: 434,
    close_range: 436,
    openat: 257,
    openat2: 437,
    mkdirat: 258,
    mknodat: 259,
    unlinkat: 263,
    symlinkat: 266,
    readlinkat: 267,
    renameat2: 316,
    fchmod: 91,
    statx: 332,
    // OCI runtime (src/oci, src/init_oci.ts)
    setdomainname: 171,
    personality: 135,
    prlimit64: 302,
    connect: 42,
    sendmsg: 46,
    nanosleep: 35,
    setns: 308,
    // *at calls for safe layer extraction (src/images/fs.ts)
    fchownat: 260,
    linkat: 265,
    utimensat: 280,
    fsetxattr: 190,
    flock: 73,
  };

/** The calling thread's errno, to be read right after the failing call. */
export function errno(): number {
  const p = libc().__errno_location();
  return p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
}

// Linux errno numbers (asm-generic, shared by x86_64 and aarch64). Kept
// here rather than read from node:os, whose import costs ~6 ms at start-up.
const ERRNO_NAMES = new Map<number, string>(
  [
    "EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN",
    "ENOMEM EACCES EFAULT ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR",
    "EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC ESPIPE EROFS EMLINK",
    "EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP",
  ].join(" ").split(" ").map((name, i) => [i + 1, name]),
);
for (
  const [n, name] of [
    [61, "ENODATA"],
    [75, "EOVERFLOW"],
    [95, "EOPNOTSUPP"],
    [97, "EAFNOSUPPORT"],
    [98, "EADDRINUSE"],
    [99, "EADDRNOTAVAIL"],
    [100, "ENETDOWN"],
    [103, "ECONNABORTED"],
    [106, "EISCONN"],
    [107, "ENOTCONN"],
    [101, "ENETUNREACH"],
    [104, "ECONNRESET"],
    [105, "ENOBUFS"],
    [110, "ETIMEDOUT"],
    [111, "ECONNREFUSED"],
    [113, "EHOSTUNREACH"],
    [122, "EDQUOT"],
  ] as const
) ERRNO_NAMES.set(n, name);

/** `ENOENT` for 2, or `errno 999` when unknown. */
export function errnoName(code: number): string {
  return ERRNO_NAMES.get(code) ?? `errno ${code}`;
}

/**
 * glibc's texts for the errors that path lookups on the way to a
 * container's command meet and handle (a mount point not there yet), so
 * that those need not bind strerror; the rest come from the C library.
 */
const COMMON_TEXTS = new Map<number, string>([
  [2, "no such file or directory"],
  [17, "file exists"],
  [20, "not a directory"],
  [40, "too many levels of symbolic links"],
]);

/** The C library's text for an errno value, lower-cased like runc/crun print it. */
export function errnoText(code: number): string {
  const known = COMMON_TEXTS.get(code);
  if (known !== undefined) return known;
  const p = libc().strerror(code);
  const text = p === null
    ? `errno ${code}`
    : new Deno.UnsafePointerView(p).getCString();
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * A {@link SysError} for `call` from an errno value (default: the calling
 * thread's, so call it right after the failing call).
 */
export function errnoError(
  call: string,
  detail: string,
  code: number = errno(),
): SysError {
  return new SysError(call, detail, code, errnoName(code), errnoText(code));
}

/** `ioctl(fd, req, arg)` through the raw syscall; throws naming `what`. */
export function ioctl(
  fd: number,
  req: number,
  arg: bigint,
  what: string,
): void {
  const r = libc().syscall(
    BigInt(SYS.ioctl),
    BigInt(fd),
    BigInt(req),
    arg,
    0n,
    0n,
  );
  if (r < 0n) throw errnoError("ioctl", what);
}

const encoder = new TextEncoder();

/** A NUL-terminated copy of `s` to pass as `const char *`. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = encoder.encode(s);
  const buf = new Uint8Array(bytes.length + 1);
  buf.set(bytes);
  return buf;
}

/** Address of a buffer as a number for `syscall` arguments (0n for null). */
export function addr(buf: Uint8Array | BigUint64Array | null): bigint {
  if (buf === null) return 0n;
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/**
 * A NULL-terminated `char *const[]` built from strings. The returned object
 * keeps every string buffer alive for as long as the array is used.
 */
export function cstrArray(
  items: readonly string[],
): { ptrs: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep = items.map(cstr);
  const ptrs = new BigUint64Array(items.length + 1);
  keep.forEach((b, i) => ptrs[i] = addr(b));
  return { ptrs, keep };
}

/** fcntl(F_DUPFD_CLOEXEC): a copy of `fd` (>= 3) that outlives the original; -1 on failure. */
export function dupCloexec(fd: number): number {
  const F_DUPFD_CLOEXEC = 1030;
  return Number(
    libc().syscall(
      BigInt(SYS.fcntl),
      BigInt(fd),
      BigInt(F_DUPFD_CLOEXEC),
      3n,
      0n,
      0n,
    ),
  );
}
