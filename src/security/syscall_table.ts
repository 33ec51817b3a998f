/**
 * System call numbers by name, for the architectures tinyc's seccomp filter
 * supports, and the width of each call's arguments as the kernel reads them
 * ({@link SYSCALL_ARG_WIDTHS}). The numbers are generated from the kernel
 * UAPI headers of linux-libc-dev 6.1 (`asm/unistd_64.h` for x86_64;
 * `asm-generic/unistd.h` with arm64's `__ARCH_WANT_*` set for aarch64), plus
 * the calls added since then up to Linux 6.17 (451..469, numbered alike on
 * every architecture).
 *
 * These are kernel ABI facts; a name missing here is not a call on that
 * architecture (e.g. `open`, `iopl` on aarch64) and profile rules naming it
 * are skipped, as libseccomp and runc do.
 *
 * @module
 */

/** x86_64 (AUDIT_ARCH_X86_64) system call numbers. */
export const SYSCALLS_X86_64: Readonly<Record<string, number>> = {
  read: 0,
  write: 1,
  open: 2,
  close: 3,
  stat: 4,
  fstat: 5,
  lstat: 6,
  poll: 7,
  lseek: 8,
  mmap: 9,
  mprotect: 10,
  munmap: 11,
  brk: 12,
  rt_sigaction: 13,
  rt_sigprocmask: 14,
  rt_sigreturn: 15,
  ioctl: 16,
  pread64: 17,
  pwrite64: 18,
  readv: 19,
  writev: 20,
  access: 21,
  pipe: 22,
  select: 23,
  sched_yield: 24,
  mremap: 25,
  msync: 26,
  mincore: 27,
  madvise: 28,
  shmget: 29,
  shmat: 30,
  shmctl: 31,
  dup: 32,
  dup2: 33,
  pause: 34,
  nanosleep: 35,
  getitimer: 36,
  alarm: 37,
  setitimer: 38,
  getpid: 39,
  sendfile: 40,
  socket: 41,
  connect: 42,
  accept: 43,
  sendto: 44,
  recvfrom: 45,
  sendmsg: 46,
  recvmsg: 47,
  shutdown: 48,
  bind: 49,
  listen: 50,
  getsockname: 51,
  getpeername: 52,
  socketpair: 53,
  setsockopt: 54,
  getsockopt: 55,
  clone: 56,
  fork: 57,
  vfork: 58,
  execve: 59,
  exit: 60,
  wait4: 61,
  kill: 62,
  uname: 63,
  semget: 64,
  semop: 65,
  semctl: 66,
  shmdt: 67,
  msgget: 68,
  msgsnd: 69,
  msgrcv: 70,
  msgctl: 71,
  fcntl: 72,
  flock: 73,
  fsync: 74,
  fdatasync: 75,
  truncate: 76,
  ftruncate: 77,
  getdents: 78,
  getcwd: 79,
  chdir: 80,
  fchdir: 81,
  rename: 82,
  mkdir: 83,
  rmdir: 84,
  creat: 85,
  link: 86,
  unlink: 87,
  symlink: 88,
  readlink: 89,
  chmod: 90,
  fchmod: 91,
  chown: 92,
  fchown: 93,
  lchown: 94,
  umask: 95,
  gettimeofday: 96,
  getrlimit: 97,
  getrusage: 98,
  sysinfo: 99,
  times: 100,
  ptrace: 101,
  getuid: 102,
  syslog: 103,
  getgid: 104,
  setuid: 105,
  setgid: 106,
  geteuid: 107,
  getegid: 108,
  setpgid: 109,
  getppid: 110,
  getpgrp: 111,
  setsid: 112,
  setreuid: 113,
  setregid: 114,
  getgroups: 115,
  setgroups: 116,
  setresuid: 117,
  getresuid: 118,
  setresgid: 119,
  getresgid: 120,
  getpgid: 121,
  setfsuid: 122,
  setfsgid: 123,
  getsid: 124,
  capget: 125,
  capset: 126,
  rt_sigpending: 127,
  rt_sigtimedwait: 128,
  rt_sigqueueinfo: 129,
  rt_sigsuspend: 130,
  sigaltstack: 131,
  utime: 132,
  mknod: 133,
  uselib: 134,
  personality: 135,
  ustat: 136,
  statfs: 137,
  fstatfs: 138,
  sysfs: 139,
  getpriority: 140,
  setpriority: 141,
  sched_setparam: 142,
  sched_getparam: 143,
  sched_setscheduler: 144,
  sched_getscheduler: 145,
  sched_get_priority_max: 146,
  sched_get_priority_min: 147,
  sched_rr_get_interval: 148,
  mlock: 149,
  munlock: 150,
  mlockall: 151,
  munlockall: 152,
  vhangup: 153,
  modify_ldt: 154,
  pivot_root: 155,
  _sysctl: 156,
  prctl: 157,
  arch_prctl: 158,
  adjtimex: 159,
  setrlimit: 160,
  chroot: 161,
  sync: 162,
  acct: 163,
  settimeofday: 164,
  mount: 165,
  umount2: 166,
  swapon: 167,
  swapoff: 168,
  reboot: 169,
  sethostname: 170,
  setdomainname: 171,
  iopl: 172,
  ioperm: 173,
  create_module: 174,
  init_module: 175,
  delete_module: 176,
  get_kernel_syms: 177,
  query_module: 178,
  quotactl: 179,
  nfsservctl: 180,
  getpmsg: 181,
  putpmsg: 182,
  afs_syscall: 183,
  tuxcall: 184,
  security: 185,
  gettid: 186,
  readahead: 187,
  setxattr: 188,
  lsetxattr: 189,
  fsetxattr: 190,
  getxattr: 191,
  lgetxattr: 192,
  fgetxattr: 193,
  listxattr: 194,
  llistxattr: 195,
  flistxattr: 196,
  removexattr: 197,
  lremovexattr: 198,
  fremovexattr: 199,
  tkill: 200,
  time: 201,
  futex: 202,
  sched_setaffinity: 203,
  sched_getaffinity: 204,
  set_thread_area: 205,
  io_setup: 206,
  io_destroy: 207,
  io_getevents: 208,
  io_submit: 209,
  io_cancel: 210,
  get_thread_area: 211,
  lookup_dcookie: 212,
  epoll_create: 213,
  epoll_ctl_old: 214,
  epoll_wait_old: 215,
  remap_file_pages: 216,
  getdents64: 217,
  set_tid_address: 218,
  restart_syscall: 219,
  semtimedop: 220,
  fadvise64: 221,
  timer_create: 222,
  timer_settime: 223,
  timer_gettime: 224,
  timer_getoverrun: 225,
  timer_delete: 226,
  clock_settime: 227,
  clock_gettime: 228,
  clock_getres: 229,
  clock_nanosleep: 230,
  exit_group: 231,
  epoll_wait: 232,
  epoll_ctl: 233,
  tgkill: 234,
  utimes: 235,
  vserver: 236,
  mbind: 237,
  set_mempolicy: 238,
  get_mempolicy: 239,
  mq_open: 240,
  mq_unlink: 241,
  mq_timedsend: 242,
  mq_timedreceive: 243,
  mq_notify: 244,
  mq_getsetattr: 245,
  kexec_load: 246,
  waitid: 247,
  add_key: 248,
  request_key: 249,
  keyctl: 250,
  ioprio_set: 251,
  ioprio_get: 252,
  inotify_init: 253,
  inotify_add_watch: 254,
  inotify_rm_watch: 255,
  migrate_pages: 256,
  openat: 257,
  mkdirat: 258,
  mknodat: 259,
  fchownat: 260,
  futimesat: 261,
  newfstatat: 262,
  unlinkat: 263,
  renameat: 264,
  linkat: 265,
  symlinkat: 266,
  readlinkat: 267,
  fchmodat: 268,
  faccessat: 269,
  pselect6: 270,
  ppoll: 271,
  unshare: 272,
  set_robust_list: 273,
  get_robust_list: 274,
  splice: 275,
  tee: 276,
  sync_file_range: 277,
  vmsplice: 278,
  move_pages: 279,
  utimensat: 280,
  epoll_pwait: 281,
  signalfd: 282,
  timerfd_create: 283,
  eventfd: 284,
  fallocate: 285,
  timerfd_settime: 286,
  timerfd_gettime: 287,
  accept4: 288,
  signalfd4: 289,
  eventfd2: 290,
  epoll_create1: 291,
  dup3: 292,
  pipe2: 293,
  inotify_init1: 294,
  preadv: 295,
  pwritev: 296,
  rt_tgsigqueueinfo: 297,
  perf_event_open: 298,
  recvmmsg: 299,
  fanotify_init: 300,
  fanotify_mark: 301,
  prlimit64: 302,
  name_to_handle_at: 303,
  open_by_handle_at: 304,
  clock_adjtime: 305,
  syncfs: 306,
  sendmmsg: 307,
  setns: 308,
  getcpu: 309,
  process_vm_readv: 310,
  process_vm_writev: 311,
  kcmp: 312,
  finit_module: 313,
  sched_setattr: 314,
  sched_getattr: 315,
  renameat2: 316,
  seccomp: 317,
  getrandom: 318,
  memfd_create: 319,
  kexec_file_load: 320,
  bpf: 321,
  execveat: 322,
  userfaultfd: 323,
  membarrier: 324,
  mlock2: 325,
  copy_file_range: 326,
  preadv2: 327,
  pwritev2: 328,
  pkey_mprotect: 329,
  pkey_alloc: 330,
  pkey_free: 331,
  statx: 332,
  io_pgetevents: 333,
  rseq: 334,
  pidfd_send_signal: 424,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  pidfd_open: 434,
  clone3: 435,
  close_range: 436,
  openat2: 437,
  pidfd_getfd: 438,
  faccessat2: 439,
  process_madvise: 440,
  epoll_pwait2: 441,
  mount_setattr: 442,
  quotactl_fd: 443,
  landlock_create_ruleset: 444,
  landlock_add_rule: 445,
  landlock_restrict_self: 446,
  memfd_secret: 447,
  process_mrelease: 448,
  futex_waitv: 449,
  set_mempolicy_home_node: 450,
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457,
  listmount: 458,
  lsm_get_self_attr: 459,
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
  open_tree_attr: 467,
  file_getattr: 468,
  file_setattr: 469,
};

/** aarch64 (AUDIT_ARCH_AARCH64) system call numbers. */
export const SYSCALLS_AARCH64: Readonly<Record<string, number>> = {
  io_setup: 0,
  io_destroy: 1,
  io_submit: 2,
  io_cancel: 3,
  io_getevents: 4,
  setxattr: 5,
  lsetxattr: 6,
  fsetxattr: 7,
  getxattr: 8,
  lgetxattr: 9,
  fgetxattr: 10,
  listxattr: 11,
  llistxattr: 12,
  flistxattr: 13,
  removexattr: 14,
  lremovexattr: 15,
  fremovexattr: 16,
  getcwd: 17,
  lookup_dcookie: 18,
  eventfd2: 19,
  epoll_create1: 20,
  epoll_ctl: 21,
  epoll_pwait: 22,
  dup: 23,
  dup3: 24,
  fcntl: 25,
  inotify_init1: 26,
  inotify_add_watch: 27,
  inotify_rm_watch: 28,
  ioctl: 29,
  ioprio_set: 30,
  ioprio_get: 31,
  flock: 32,
  mknodat: 33,
  mkdirat: 34,
  unlinkat: 35,
  symlinkat: 36,
  linkat: 37,
  renameat: 38,
  umount2: 39,
  mount: 40,
  pivot_root: 41,
  nfsservctl: 42,
  statfs: 43,
  fstatfs: 44,
  truncate: 45,
  ftruncate: 46,
  fallocate: 47,
  faccessat: 48,
  chdir: 49,
  fchdir: 50,
  chroot: 51,
  fchmod: 52,
  fchmodat: 53,
  fchownat: 54,
  fchown: 55,
  openat: 56,
  close: 57,
  vhangup: 58,
  pipe2: 59,
  quotactl: 60,
  getdents64: 61,
  lseek: 62,
  read: 63,
  write: 64,
  readv: 65,
  writev: 66,
  pread64: 67,
  pwrite64: 68,
  preadv: 69,
  pwritev: 70,
  sendfile: 71,
  pselect6: 72,
  ppoll: 73,
  signalfd4: 74,
  vmsplice: 75,
  splice: 76,
  tee: 77,
  readlinkat: 78,
  newfstatat: 79,
  fstat: 80,
  sync: 81,
  fsync: 82,
  fdatasync: 83,
  sync_file_range: 84,
  timerfd_create: 85,
  timerfd_settime: 86,
  timerfd_gettime: 87,
  utimensat: 88,
  acct: 89,
  capget: 90,
  capset: 91,
  personality: 92,
  exit: 93,
  exit_group: 94,
  waitid: 95,
  set_tid_address: 96,
  unshare: 97,
  futex: 98,
  set_robust_list: 99,
  get_robust_list: 100,
  nanosleep: 101,
  getitimer: 102,
  setitimer: 103,
  kexec_load: 104,
  init_module: 105,
  delete_module: 106,
  timer_create: 107,
  timer_gettime: 108,
  timer_getoverrun: 109,
  timer_settime: 110,
  timer_delete: 111,
  clock_settime: 112,
  clock_gettime: 113,
  clock_getres: 114,
  clock_nanosleep: 115,
  syslog: 116,
  ptrace: 117,
  sched_setparam: 118,
  sched_setscheduler: 119,
  sched_getscheduler: 120,
  sched_getparam: 121,
  sched_setaffinity: 122,
  sched_getaffinity: 123,
  sched_yield: 124,
  sched_get_priority_max: 125,
  sched_get_priority_min: 126,
  sched_rr_get_interval: 127,
  restart_syscall: 128,
  kill: 129,
  tkill: 130,
  tgkill: 131,
  sigaltstack: 132,
  rt_sigsuspend: 133,
  rt_sigaction: 134,
  rt_sigprocmask: 135,
  rt_sigpending: 136,
  rt_sigtimedwait: 137,
  rt_sigqueueinfo: 138,
  rt_sigreturn: 139,
  setpriority: 140,
  getpriority: 141,
  reboot: 142,
  setregid: 143,
  setgid: 144,
  setreuid: 145,
  setuid: 146,
  setresuid: 147,
  getresuid: 148,
  setresgid: 149,
  getresgid: 150,
  setfsuid: 151,
  setfsgid: 152,
  times: 153,
  setpgid: 154,
  getpgid: 155,
  getsid: 156,
  setsid: 157,
  getgroups: 158,
  setgroups: 159,
  uname: 160,
  sethostname: 161,
  setdomainname: 162,
  getrlimit: 163,
  setrlimit: 164,
  getrusage: 165,
  umask: 166,
  prctl: 167,
  getcpu: 168,
  gettimeofday: 169,
  settimeofday: 170,
  adjtimex: 171,
  getpid: 172,
  getppid: 173,
  getuid: 174,
  geteuid: 175,
  getgid: 176,
  getegid: 177,
  gettid: 178,
  sysinfo: 179,
  mq_open: 180,
  mq_unlink: 181,
  mq_timedsend: 182,
  mq_timedreceive: 183,
  mq_notify: 184,
  mq_getsetattr: 185,
  msgget: 186,
  msgctl: 187,
  msgrcv: 188,
  msgsnd: 189,
  semget: 190,
  semctl: 191,
  semtimedop: 192,
  semop: 193,
  shmget: 194,
  shmctl: 195,
  shmat: 196,
  shmdt: 197,
  socket: 198,
  socketpair: 199,
  bind: 200,
  listen: 201,
  accept: 202,
  connect: 203,
  getsockname: 204,
  getpeername: 205,
  sendto: 206,
  recvfrom: 207,
  setsockopt: 208,
  getsockopt: 209,
  shutdown: 210,
  sendmsg: 211,
  recvmsg: 212,
  readahead: 213,
  brk: 214,
  munmap: 215,
  mremap: 216,
  add_key: 217,
  request_key: 218,
  keyctl: 219,
  clone: 220,
  execve: 221,
  mmap: 222,
  fadvise64: 223,
  swapon: 224,
  swapoff: 225,
  mprotect: 226,
  msync: 227,
  mlock: 228,
  munlock: 229,
  mlockall: 230,
  munlockall: 231,
  mincore: 232,
  madvise: 233,
  remap_file_pages: 234,
  mbind: 235,
  get_mempolicy: 236,
  set_mempolicy: 237,
  migrate_pages: 238,
  move_pages: 239,
  rt_tgsigqueueinfo: 240,
  perf_event_open: 241,
  accept4: 242,
  recvmmsg: 243,
  wait4: 260,
  prlimit64: 261,
  fanotify_init: 262,
  fanotify_mark: 263,
  name_to_handle_at: 264,
  open_by_handle_at: 265,
  clock_adjtime: 266,
  syncfs: 267,
  setns: 268,
  sendmmsg: 269,
  process_vm_readv: 270,
  process_vm_writev: 271,
  kcmp: 272,
  finit_module: 273,
  sched_setattr: 274,
  sched_getattr: 275,
  renameat2: 276,
  seccomp: 277,
  getrandom: 278,
  memfd_create: 279,
  bpf: 280,
  execveat: 281,
  userfaultfd: 282,
  membarrier: 283,
  mlock2: 284,
  copy_file_range: 285,
  preadv2: 286,
  pwritev2: 287,
  pkey_mprotect: 288,
  pkey_alloc: 289,
  pkey_free: 290,
  statx: 291,
  io_pgetevents: 292,
  rseq: 293,
  kexec_file_load: 294,
  pidfd_send_signal: 424,
  io_uring_setup: 425,
  io_uring_enter: 426,
  io_uring_register: 427,
  open_tree: 428,
  move_mount: 429,
  fsopen: 430,
  fsconfig: 431,
  fsmount: 432,
  fspick: 433,
  pidfd_open: 434,
  clone3: 435,
  close_range: 436,
  openat2: 437,
  pidfd_getfd: 438,
  faccessat2: 439,
  process_madvise: 440,
  epoll_pwait2: 441,
  mount_setattr: 442,
  quotactl_fd: 443,
  landlock_create_ruleset: 444,
  landlock_add_rule: 445,
  landlock_restrict_self: 446,
  memfd_secret: 447,
  process_mrelease: 448,
  futex_waitv: 449,
  set_mempolicy_home_node: 450,
  cachestat: 451,
  fchmodat2: 452,
  map_shadow_stack: 453,
  futex_wake: 454,
  futex_wait: 455,
  futex_requeue: 456,
  statmount: 457,
  listmount: 458,
  lsm_get_self_attr: 459,
  lsm_set_self_attr: 460,
  lsm_list_modules: 461,
  mseal: 462,
  setxattrat: 463,
  getxattrat: 464,
  listxattrat: 465,
  removexattrat: 466,
  open_tree_attr: 467,
  file_getattr: 468,
  file_setattr: 469,
};

/**
 * How many low bits of a system call argument the kernel reads: the 64-bit
 * register holds more, but an `int` or `unsigned int` parameter is truncated
 * to 32 bits on entry (`SYSCALL_DEFINE` casts each `long` to the declared
 * type) and a `umode_t` to 16. A seccomp rule sees the whole register, so it
 * must compare only these bits, or a caller sets high bits to slip past it:
 * `socket((1L << 32) | AF_VSOCK, ...)` still makes a vsock socket.
 */
export type ArgWidth = 16 | 32 | 64;

/**
 * The width of each argument of each system call in {@link SYSCALLS_X86_64}
 * and {@link SYSCALLS_AARCH64}, from the kernel's own `SYSCALL_DEFINE`
 * signatures (Linux 6.17, as extracted by mebeim/linux-syscalls' systrack;
 * calls removed before that filled in by hand). The comment is the signature
 * with `__user` dropped: `int`, `unsigned int`, `pid_t`, `uid_t`, `gid_t`,
 * `clockid_t`, `key_serial_t`, `mqd_t`, `qid_t`, `rwf_t`, `timer_t`, `u32`
 * are 32 bits; `umode_t` is 16; `long`, `unsigned long`, `size_t`, `off_t`,
 * `loff_t`, `u64` and pointers are 64.
 *
 * Both architectures declare every call alike (the argument order of clone
 * differs: aarch64 passes `tls` before `child_tidptr`, both 64-bit). One
 * deliberate exception to the declared type: clone's flags are `unsigned
 * long`, but the kernel reads only `lower_32_bits(clone_flags)`
 * (kernel/fork.c), so they are 32 bits here. An argument past a call's
 * declared count is not read at all and is compared in full.
 */
export const SYSCALL_ARG_WIDTHS: Readonly<Record<string, readonly ArgWidth[]>> =
  {
    read: [32, 64, 64], // unsigned int fd, char *buf, size_t count
    write: [32, 64, 64], // unsigned int fd, const char *buf, size_t count
    open: [64, 32, 16], // const char *filename, int flags, umode_t mode
    close: [32], // unsigned int fd
    stat: [64, 64], // const char *filename, struct stat *statbuf
    fstat: [32, 64], // unsigned int fd, struct stat *statbuf
    lstat: [64, 64], // const char *filename, struct stat *statbuf
    poll: [64, 32, 32], // struct pollfd *ufds, unsigned int nfds, int timeout_msecs
    lseek: [32, 64, 32], // unsigned int fd, off_t offset, unsigned int whence
    mmap: [64, 64, 64, 64, 64, 64], // unsigned long addr, unsigned long len, unsigned long prot, unsigned long flags, unsigned long fd, unsigned long off
    mprotect: [64, 64, 64], // unsigned long start, size_t len, unsigned long prot
    munmap: [64, 64], // unsigned long addr, size_t len
    brk: [64], // unsigned long brk
    rt_sigaction: [32, 64, 64, 64], // int sig, const struct sigaction *act, struct sigaction *oact, size_t sigsetsize
    rt_sigprocmask: [32, 64, 64, 64], // int how, sigset_t *nset, sigset_t *oset, size_t sigsetsize
    rt_sigreturn: [],
    ioctl: [32, 32, 64], // unsigned int fd, unsigned int cmd, unsigned long arg
    pread64: [32, 64, 64, 64], // unsigned int fd, char *buf, size_t count, loff_t pos
    pwrite64: [32, 64, 64, 64], // unsigned int fd, const char *buf, size_t count, loff_t pos
    readv: [64, 64, 64], // unsigned long fd, const struct iovec *vec, unsigned long vlen
    writev: [64, 64, 64], // unsigned long fd, const struct iovec *vec, unsigned long vlen
    access: [64, 32], // const char *filename, int mode
    pipe: [64], // int *fildes
    select: [32, 64, 64, 64, 64], // int n, fd_set *inp, fd_set *outp, fd_set *exp, struct __kernel_old_timeval *tvp
    sched_yield: [],
    mremap: [64, 64, 64, 64, 64], // unsigned long addr, unsigned long old_len, unsigned long new_len, unsigned long flags, unsigned long new_addr
    msync: [64, 64, 32], // unsigned long start, size_t len, int flags
    mincore: [64, 64, 64], // unsigned long start, size_t len, unsigned char *vec
    madvise: [64, 64, 32], // unsigned long start, size_t len_in, int behavior
    shmget: [32, 64, 32], // key_t key, size_t size, int shmflg
    shmat: [32, 64, 32], // int shmid, char *shmaddr, int shmflg
    shmctl: [32, 32, 64], // int shmid, int cmd, struct shmid_ds *buf
    dup: [32], // unsigned int fildes
    dup2: [32, 32], // unsigned int oldfd, unsigned int newfd
    pause: [],
    nanosleep: [64, 64], // struct __kernel_timespec *rqtp, struct __kernel_timespec *rmtp
    getitimer: [32, 64], // int which, struct __kernel_old_itimerval *value
    alarm: [32], // unsigned int seconds
    setitimer: [32, 64, 64], // int which, struct __kernel_old_itimerval *value, struct __kernel_old_itimerval *ovalue
    getpid: [],
    sendfile: [32, 32, 64, 64], // int out_fd, int in_fd, loff_t *offset, size_t count
    socket: [32, 32, 32], // int family, int type, int protocol
    connect: [32, 64, 32], // int fd, struct sockaddr *uservaddr, int addrlen
    accept: [32, 64, 64], // int fd, struct sockaddr *upeer_sockaddr, int *upeer_addrlen
    sendto: [32, 64, 64, 32, 64, 32], // int fd, void *buff, size_t len, unsigned int flags, struct sockaddr *addr, int addr_len
    recvfrom: [32, 64, 64, 32, 64, 64], // int fd, void *ubuf, size_t size, unsigned int flags, struct sockaddr *addr, int *addr_len
    sendmsg: [32, 64, 32], // int fd, struct user_msghdr *msg, unsigned int flags
    recvmsg: [32, 64, 32], // int fd, struct user_msghdr *msg, unsigned int flags
    shutdown: [32, 32], // int fd, int how
    bind: [32, 64, 32], // int fd, struct sockaddr *umyaddr, int addrlen
    listen: [32, 32], // int fd, int backlog
    getsockname: [32, 64, 64], // int fd, struct sockaddr *usockaddr, int *usockaddr_len
    getpeername: [32, 64, 64], // int fd, struct sockaddr *usockaddr, int *usockaddr_len
    socketpair: [32, 32, 32, 64], // int family, int type, int protocol, int *usockvec
    setsockopt: [32, 32, 32, 64, 32], // int fd, int level, int optname, char *optval, int optlen
    getsockopt: [32, 32, 32, 64, 64], // int fd, int level, int optname, char *optval, int *optlen
    clone: [32, 64, 64, 64, 64], // unsigned long clone_flags (read as lower_32_bits), unsigned long newsp, int *parent_tidptr, int *child_tidptr, unsigned long tls
    fork: [],
    vfork: [],
    execve: [64, 64, 64], // const char *filename, const char *const *argv, const char *const *envp
    exit: [32], // int error_code
    wait4: [32, 64, 32, 64], // pid_t upid, int *stat_addr, int options, struct rusage *ru
    kill: [32, 32], // pid_t pid, int sig
    uname: [64], // struct new_utsname *name
    semget: [32, 32, 32], // key_t key, int nsems, int semflg
    semop: [32, 64, 32], // int semid, struct sembuf *tsops, unsigned nsops
    semctl: [32, 32, 32, 64], // int semid, int semnum, int cmd, unsigned long arg
    shmdt: [64], // char *shmaddr
    msgget: [32, 32], // key_t key, int msgflg
    msgsnd: [32, 64, 64, 32], // int msqid, struct msgbuf *msgp, size_t msgsz, int msgflg
    msgrcv: [32, 64, 64, 64, 32], // int msqid, struct msgbuf *msgp, size_t msgsz, long msgtyp, int msgflg
    msgctl: [32, 32, 64], // int msqid, int cmd, struct msqid_ds *buf
    fcntl: [32, 32, 64], // unsigned int fd, unsigned int cmd, unsigned long arg
    flock: [32, 32], // unsigned int fd, unsigned int cmd
    fsync: [32], // unsigned int fd
    fdatasync: [32], // unsigned int fd
    truncate: [64, 64], // const char *path, long length
    ftruncate: [32, 64], // unsigned int fd, off_t length
    getdents: [32, 64, 32], // unsigned int fd, struct linux_dirent *dirent, unsigned int count
    getcwd: [64, 64], // char *buf, unsigned long size
    chdir: [64], // const char *filename
    fchdir: [32], // unsigned int fd
    rename: [64, 64], // const char *oldname, const char *newname
    mkdir: [64, 16], // const char *pathname, umode_t mode
    rmdir: [64], // const char *pathname
    creat: [64, 16], // const char *pathname, umode_t mode
    link: [64, 64], // const char *oldname, const char *newname
    unlink: [64], // const char *pathname
    symlink: [64, 64], // const char *oldname, const char *newname
    readlink: [64, 64, 32], // const char *path, char *buf, int bufsiz
    chmod: [64, 16], // const char *filename, umode_t mode
    fchmod: [32, 16], // unsigned int fd, umode_t mode
    chown: [64, 32, 32], // const char *filename, uid_t user, gid_t group
    fchown: [32, 32, 32], // unsigned int fd, uid_t user, gid_t group
    lchown: [64, 32, 32], // const char *filename, uid_t user, gid_t group
    umask: [32], // int mask
    gettimeofday: [64, 64], // struct __kernel_old_timeval *tv, struct timezone *tz
    getrlimit: [32, 64], // unsigned int resource, struct rlimit *rlim
    getrusage: [32, 64], // int who, struct rusage *ru
    sysinfo: [64], // struct sysinfo *info
    times: [64], // struct tms *tbuf
    ptrace: [64, 64, 64, 64], // long request, long pid, unsigned long addr, unsigned long data
    getuid: [],
    syslog: [32, 64, 32], // int type, char *buf, int len
    getgid: [],
    setuid: [32], // uid_t uid
    setgid: [32], // gid_t gid
    geteuid: [],
    getegid: [],
    setpgid: [32, 32], // pid_t pid, pid_t pgid
    getppid: [],
    getpgrp: [],
    setsid: [],
    setreuid: [32, 32], // uid_t ruid, uid_t euid
    setregid: [32, 32], // gid_t rgid, gid_t egid
    getgroups: [32, 64], // int gidsetsize, gid_t *grouplist
    setgroups: [32, 64], // int gidsetsize, gid_t *grouplist
    setresuid: [32, 32, 32], // uid_t ruid, uid_t euid, uid_t suid
    getresuid: [64, 64, 64], // uid_t *ruidp, uid_t *euidp, uid_t *suidp
    setresgid: [32, 32, 32], // gid_t rgid, gid_t egid, gid_t sgid
    getresgid: [64, 64, 64], // gid_t *rgidp, gid_t *egidp, gid_t *sgidp
    getpgid: [32], // pid_t pid
    setfsuid: [32], // uid_t uid
    setfsgid: [32], // gid_t gid
    getsid: [32], // pid_t pid
    capget: [64, 64], // cap_user_header_t header, cap_user_data_t dataptr
    capset: [64, 64], // cap_user_header_t header, const cap_user_data_t data
    rt_sigpending: [64, 64], // sigset_t *uset, size_t sigsetsize
    rt_sigtimedwait: [64, 64, 64, 64], // const sigset_t *uthese, siginfo_t *uinfo, const struct __kernel_timespec *uts, size_t sigsetsize
    rt_sigqueueinfo: [32, 32, 64], // pid_t pid, int sig, siginfo_t *uinfo
    rt_sigsuspend: [64, 64], // sigset_t *unewset, size_t sigsetsize
    sigaltstack: [64, 64], // const stack_t *uss, stack_t *uoss
    utime: [64, 64], // char *filename, struct utimbuf *times
    mknod: [64, 16, 32], // const char *filename, umode_t mode, unsigned dev
    uselib: [64], // const char *library
    personality: [32], // unsigned int personality
    ustat: [32, 64], // unsigned dev, struct ustat *ubuf
    statfs: [64, 64], // const char *pathname, struct statfs *buf
    fstatfs: [32, 64], // unsigned int fd, struct statfs *buf
    sysfs: [32, 64, 64], // int option, unsigned long arg1, unsigned long arg2
    getpriority: [32, 32], // int which, int who
    setpriority: [32, 32, 32], // int which, int who, int niceval
    sched_setparam: [32, 64], // pid_t pid, struct sched_param *param
    sched_getparam: [32, 64], // pid_t pid, struct sched_param *param
    sched_setscheduler: [32, 32, 64], // pid_t pid, int policy, struct sched_param *param
    sched_getscheduler: [32], // pid_t pid
    sched_get_priority_max: [32], // int policy
    sched_get_priority_min: [32], // int policy
    sched_rr_get_interval: [32, 64], // pid_t pid, struct __kernel_timespec *interval
    mlock: [64, 64], // unsigned long start, size_t len
    munlock: [64, 64], // unsigned long start, size_t len
    mlockall: [32], // int flags
    munlockall: [],
    vhangup: [],
    modify_ldt: [32, 64, 64], // int func, void *ptr, unsigned long bytecount
    pivot_root: [64, 64], // const char *new_root, const char *put_old
    _sysctl: [64], // struct __sysctl_args *args (gone since 5.5)
    prctl: [32, 64, 64, 64, 64], // int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5
    arch_prctl: [32, 64], // int option, unsigned long arg2
    adjtimex: [64], // struct __kernel_timex *txc_p
    setrlimit: [32, 64], // unsigned int resource, struct rlimit *rlim
    chroot: [64], // const char *filename
    sync: [],
    acct: [64], // const char *name
    settimeofday: [64, 64], // struct __kernel_old_timeval *tv, struct timezone *tz
    mount: [64, 64, 64, 64, 64], // char *dev_name, char *dir_name, char *type, unsigned long flags, void *data
    umount2: [64, 32], // char *name, int flags
    swapon: [64, 32], // const char *specialfile, int swap_flags
    swapoff: [64], // const char *specialfile
    reboot: [32, 32, 32, 64], // int magic1, int magic2, unsigned int cmd, void *arg
    sethostname: [64, 32], // char *name, int len
    setdomainname: [64, 32], // char *name, int len
    iopl: [32], // unsigned int level
    ioperm: [64, 64, 32], // unsigned long from, unsigned long num, int turn_on
    create_module: [], // not implemented
    init_module: [64, 64, 64], // void *umod, unsigned long len, const char *uargs
    delete_module: [64, 32], // const char *name_user, unsigned int flags
    get_kernel_syms: [], // not implemented
    query_module: [], // not implemented
    quotactl: [32, 64, 32, 64], // unsigned int cmd, const char *special, qid_t id, void *addr
    nfsservctl: [], // not implemented
    getpmsg: [], // not implemented
    putpmsg: [], // not implemented
    afs_syscall: [], // not implemented
    tuxcall: [], // not implemented
    security: [], // not implemented
    gettid: [],
    readahead: [32, 64, 64], // int fd, loff_t offset, size_t count
    setxattr: [64, 64, 64, 64, 32], // const char *pathname, const char *name, const void *value, size_t size, int flags
    lsetxattr: [64, 64, 64, 64, 32], // const char *pathname, const char *name, const void *value, size_t size, int flags
    fsetxattr: [32, 64, 64, 64, 32], // int fd, const char *name, const void *value, size_t size, int flags
    getxattr: [64, 64, 64, 64], // const char *pathname, const char *name, void *value, size_t size
    lgetxattr: [64, 64, 64, 64], // const char *pathname, const char *name, void *value, size_t size
    fgetxattr: [32, 64, 64, 64], // int fd, const char *name, void *value, size_t size
    listxattr: [64, 64, 64], // const char *pathname, char *list, size_t size
    llistxattr: [64, 64, 64], // const char *pathname, char *list, size_t size
    flistxattr: [32, 64, 64], // int fd, char *list, size_t size
    removexattr: [64, 64], // const char *pathname, const char *name
    lremovexattr: [64, 64], // const char *pathname, const char *name
    fremovexattr: [32, 64], // int fd, const char *name
    tkill: [32, 32], // pid_t pid, int sig
    time: [64], // __kernel_old_time_t *tloc
    futex: [64, 32, 32, 64, 64, 32], // u32 *uaddr, int op, u32 val, const struct __kernel_timespec *utime, u32 *uaddr2, u32 val3
    sched_setaffinity: [32, 32, 64], // pid_t pid, unsigned int len, unsigned long *user_mask_ptr
    sched_getaffinity: [32, 32, 64], // pid_t pid, unsigned int len, unsigned long *user_mask_ptr
    set_thread_area: [64], // struct user_desc *u_info
    io_setup: [32, 64], // unsigned nr_events, aio_context_t *ctxp
    io_destroy: [64], // aio_context_t ctx
    io_getevents: [64, 64, 64, 64, 64], // aio_context_t ctx_id, long min_nr, long nr, struct io_event *events, struct __kernel_timespec *timeout
    io_submit: [64, 64, 64], // aio_context_t ctx_id, long nr, struct iocb **iocbpp
    io_cancel: [64, 64, 64], // aio_context_t ctx_id, struct iocb *iocb, struct io_event *result
    get_thread_area: [64], // struct user_desc *u_info
    lookup_dcookie: [64, 64, 64], // u64 cookie64, char *buf, size_t len (gone since 6.10)
    epoll_create: [32], // int size
    epoll_ctl_old: [], // not implemented
    epoll_wait_old: [], // not implemented
    remap_file_pages: [64, 64, 64, 64, 64], // unsigned long start, unsigned long size, unsigned long prot, unsigned long pgoff, unsigned long flags
    getdents64: [32, 64, 32], // unsigned int fd, struct linux_dirent64 *dirent, unsigned int count
    set_tid_address: [64], // int *tidptr
    restart_syscall: [],
    semtimedop: [32, 64, 32, 64], // int semid, struct sembuf *tsops, unsigned int nsops, const struct __kernel_timespec *timeout
    fadvise64: [32, 64, 64, 32], // int fd, loff_t offset, size_t len, int advice
    timer_create: [32, 64, 64], // const clockid_t which_clock, struct sigevent *timer_event_spec, timer_t *created_timer_id
    timer_settime: [32, 32, 64, 64], // timer_t timer_id, int flags, const struct __kernel_itimerspec *new_setting, struct __kernel_itimerspec *old_setting
    timer_gettime: [32, 64], // timer_t timer_id, struct __kernel_itimerspec *setting
    timer_getoverrun: [32], // timer_t timer_id
    timer_delete: [32], // timer_t timer_id
    clock_settime: [32, 64], // const clockid_t which_clock, const struct __kernel_timespec *tp
    clock_gettime: [32, 64], // const clockid_t which_clock, struct __kernel_timespec *tp
    clock_getres: [32, 64], // const clockid_t which_clock, struct __kernel_timespec *tp
    clock_nanosleep: [32, 32, 64, 64], // const clockid_t which_clock, int flags, const struct __kernel_timespec *rqtp, struct __kernel_timespec *rmtp
    exit_group: [32], // int error_code
    epoll_wait: [32, 64, 32, 32], // int epfd, struct epoll_event *events, int maxevents, int timeout
    epoll_ctl: [32, 32, 32, 64], // int epfd, int op, int fd, struct epoll_event *event
    tgkill: [32, 32, 32], // pid_t tgid, pid_t pid, int sig
    utimes: [64, 64], // char *filename, struct __kernel_old_timeval *utimes
    vserver: [], // not implemented
    mbind: [64, 64, 64, 64, 64, 32], // unsigned long start, unsigned long len, unsigned long mode, const unsigned long *nmask, unsigned long maxnode, unsigned int flags
    set_mempolicy: [32, 64, 64], // int mode, const unsigned long *nmask, unsigned long maxnode
    get_mempolicy: [64, 64, 64, 64, 64], // int *policy, unsigned long *nmask, unsigned long maxnode, unsigned long addr, unsigned long flags
    mq_open: [64, 32, 16, 64], // const char *u_name, int oflag, umode_t mode, struct mq_attr *u_attr
    mq_unlink: [64], // const char *u_name
    mq_timedsend: [32, 64, 64, 32, 64], // mqd_t mqdes, const char *u_msg_ptr, size_t msg_len, unsigned int msg_prio, const struct __kernel_timespec *u_abs_timeout
    mq_timedreceive: [32, 64, 64, 64, 64], // mqd_t mqdes, char *u_msg_ptr, size_t msg_len, unsigned int *u_msg_prio, const struct __kernel_timespec *u_abs_timeout
    mq_notify: [32, 64], // mqd_t mqdes, const struct sigevent *u_notification
    mq_getsetattr: [32, 64, 64], // mqd_t mqdes, const struct mq_attr *u_mqstat, struct mq_attr *u_omqstat
    kexec_load: [64, 64, 64, 64], // unsigned long entry, unsigned long nr_segments, struct kexec_segment *segments, unsigned long flags
    waitid: [32, 32, 64, 32, 64], // int which, pid_t upid, struct siginfo *infop, int options, struct rusage *ru
    add_key: [64, 64, 64, 64, 32], // const char *_type, const char *_description, const void *_payload, size_t plen, key_serial_t ringid
    request_key: [64, 64, 64, 32], // const char *_type, const char *_description, const char *_callout_info, key_serial_t destringid
    keyctl: [32, 64, 64, 64, 64], // int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5
    ioprio_set: [32, 32, 32], // int which, int who, int ioprio
    ioprio_get: [32, 32], // int which, int who
    inotify_init: [],
    inotify_add_watch: [32, 64, 32], // int fd, const char *pathname, u32 mask
    inotify_rm_watch: [32, 32], // int fd, __s32 wd
    migrate_pages: [32, 64, 64, 64], // pid_t pid, unsigned long maxnode, const unsigned long *old_nodes, const unsigned long *new_nodes
    openat: [32, 64, 32, 16], // int dfd, const char *filename, int flags, umode_t mode
    mkdirat: [32, 64, 16], // int dfd, const char *pathname, umode_t mode
    mknodat: [32, 64, 16, 32], // int dfd, const char *filename, umode_t mode, unsigned int dev
    fchownat: [32, 64, 32, 32, 32], // int dfd, const char *filename, uid_t user, gid_t group, int flag
    futimesat: [32, 64, 64], // int dfd, const char *filename, struct __kernel_old_timeval *utimes
    newfstatat: [32, 64, 64, 32], // int dfd, const char *filename, struct stat *statbuf, int flag
    unlinkat: [32, 64, 32], // int dfd, const char *pathname, int flag
    renameat: [32, 64, 32, 64], // int olddfd, const char *oldname, int newdfd, const char *newname
    linkat: [32, 64, 32, 64, 32], // int olddfd, const char *oldname, int newdfd, const char *newname, int flags
    symlinkat: [64, 32, 64], // const char *oldname, int newdfd, const char *newname
    readlinkat: [32, 64, 64, 32], // int dfd, const char *pathname, char *buf, int bufsiz
    fchmodat: [32, 64, 16], // int dfd, const char *filename, umode_t mode
    faccessat: [32, 64, 32], // int dfd, const char *filename, int mode
    pselect6: [32, 64, 64, 64, 64, 64], // int n, fd_set *inp, fd_set *outp, fd_set *exp, struct __kernel_timespec *tsp, void *sig
    ppoll: [64, 32, 64, 64, 64], // struct pollfd *ufds, unsigned int nfds, struct __kernel_timespec *tsp, const sigset_t *sigmask, size_t sigsetsize
    unshare: [64], // unsigned long unshare_flags
    set_robust_list: [64, 64], // struct robust_list_head *head, size_t len
    get_robust_list: [32, 64, 64], // int pid, struct robust_list_head **head_ptr, size_t *len_ptr
    splice: [32, 64, 32, 64, 64, 32], // int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags
    tee: [32, 32, 64, 32], // int fdin, int fdout, size_t len, unsigned int flags
    sync_file_range: [32, 64, 64, 32], // int fd, loff_t offset, loff_t nbytes, unsigned int flags
    vmsplice: [32, 64, 64, 32], // int fd, const struct iovec *uiov, unsigned long nr_segs, unsigned int flags
    move_pages: [32, 64, 64, 64, 64, 32], // pid_t pid, unsigned long nr_pages, const void **pages, const int *nodes, int *status, int flags
    utimensat: [32, 64, 64, 32], // int dfd, const char *filename, struct __kernel_timespec *utimes, int flags
    epoll_pwait: [32, 64, 32, 32, 64, 64], // int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *sigmask, size_t sigsetsize
    signalfd: [32, 64, 64], // int ufd, sigset_t *user_mask, size_t sizemask
    timerfd_create: [32, 32], // int clockid, int flags
    eventfd: [32], // unsigned int count
    fallocate: [32, 32, 64, 64], // int fd, int mode, loff_t offset, loff_t len
    timerfd_settime: [32, 32, 64, 64], // int ufd, int flags, const struct __kernel_itimerspec *utmr, struct __kernel_itimerspec *otmr
    timerfd_gettime: [32, 64], // int ufd, struct __kernel_itimerspec *otmr
    accept4: [32, 64, 64, 32], // int fd, struct sockaddr *upeer_sockaddr, int *upeer_addrlen, int flags
    signalfd4: [32, 64, 64, 32], // int ufd, sigset_t *user_mask, size_t sizemask, int flags
    eventfd2: [32, 32], // unsigned int count, int flags
    epoll_create1: [32], // int flags
    dup3: [32, 32, 32], // unsigned int oldfd, unsigned int newfd, int flags
    pipe2: [64, 32], // int *fildes, int flags
    inotify_init1: [32], // int flags
    preadv: [64, 64, 64, 64, 64], // unsigned long fd, const struct iovec *vec, unsigned long vlen, unsigned long pos_l, unsigned long pos_h
    pwritev: [64, 64, 64, 64, 64], // unsigned long fd, const struct iovec *vec, unsigned long vlen, unsigned long pos_l, unsigned long pos_h
    rt_tgsigqueueinfo: [32, 32, 32, 64], // pid_t tgid, pid_t pid, int sig, siginfo_t *uinfo
    perf_event_open: [64, 32, 32, 32, 64], // struct perf_event_attr *attr_uptr, pid_t pid, int cpu, int group_fd, unsigned long flags
    recvmmsg: [32, 64, 32, 32, 64], // int fd, struct mmsghdr *mmsg, unsigned int vlen, unsigned int flags, struct __kernel_timespec *timeout
    fanotify_init: [32, 32], // unsigned int flags, unsigned int event_f_flags
    fanotify_mark: [32, 32, 64, 32, 64], // int fanotify_fd, unsigned int flags, __u64 mask, int dfd, const char *pathname
    prlimit64: [32, 32, 64, 64], // pid_t pid, unsigned int resource, const struct rlimit64 *new_rlim, struct rlimit64 *old_rlim
    name_to_handle_at: [32, 64, 64, 64, 32], // int dfd, const char *name, struct file_handle *handle, void *mnt_id, int flag
    open_by_handle_at: [32, 64, 32], // int mountdirfd, struct file_handle *handle, int flags
    clock_adjtime: [32, 64], // const clockid_t which_clock, struct __kernel_timex *utx
    syncfs: [32], // int fd
    sendmmsg: [32, 64, 32, 32], // int fd, struct mmsghdr *mmsg, unsigned int vlen, unsigned int flags
    setns: [32, 32], // int fd, int flags
    getcpu: [64, 64, 64], // unsigned *cpup, unsigned *nodep, struct getcpu_cache *unused
    process_vm_readv: [32, 64, 64, 64, 64, 64], // pid_t pid, const struct iovec *lvec, unsigned long liovcnt, const struct iovec *rvec, unsigned long riovcnt, unsigned long flags
    process_vm_writev: [32, 64, 64, 64, 64, 64], // pid_t pid, const struct iovec *lvec, unsigned long liovcnt, const struct iovec *rvec, unsigned long riovcnt, unsigned long flags
    kcmp: [32, 32, 32, 64, 64], // pid_t pid1, pid_t pid2, int type, unsigned long idx1, unsigned long idx2
    finit_module: [32, 64, 32], // int fd, const char *uargs, int flags
    sched_setattr: [32, 64, 32], // pid_t pid, struct sched_attr *uattr, unsigned int flags
    sched_getattr: [32, 64, 32, 32], // pid_t pid, struct sched_attr *uattr, unsigned int usize, unsigned int flags
    renameat2: [32, 64, 32, 64, 32], // int olddfd, const char *oldname, int newdfd, const char *newname, unsigned int flags
    seccomp: [32, 32, 64], // unsigned int op, unsigned int flags, void *uargs
    getrandom: [64, 64, 32], // char *ubuf, size_t len, unsigned int flags
    memfd_create: [64, 32], // const char *uname, unsigned int flags
    kexec_file_load: [32, 32, 64, 64, 64], // int kernel_fd, int initrd_fd, unsigned long cmdline_len, const char *cmdline_ptr, unsigned long flags
    bpf: [32, 64, 32], // int cmd, union bpf_attr *uattr, unsigned int size
    execveat: [32, 64, 64, 64, 32], // int fd, const char *filename, const char *const *argv, const char *const *envp, int flags
    userfaultfd: [32], // int flags
    membarrier: [32, 32, 32], // int cmd, unsigned int flags, int cpu_id
    mlock2: [64, 64, 32], // unsigned long start, size_t len, int flags
    copy_file_range: [32, 64, 32, 64, 64, 32], // int fd_in, loff_t *off_in, int fd_out, loff_t *off_out, size_t len, unsigned int flags
    preadv2: [64, 64, 64, 64, 64, 32], // unsigned long fd, const struct iovec *vec, unsigned long vlen, unsigned long pos_l, unsigned long pos_h, rwf_t flags
    pwritev2: [64, 64, 64, 64, 64, 32], // unsigned long fd, const struct iovec *vec, unsigned long vlen, unsigned long pos_l, unsigned long pos_h, rwf_t flags
    pkey_mprotect: [64, 64, 64, 32], // unsigned long start, size_t len, unsigned long prot, int pkey
    pkey_alloc: [64, 64], // unsigned long flags, unsigned long init_val
    pkey_free: [32], // int pkey
    statx: [32, 64, 32, 32, 64], // int dfd, const char *filename, unsigned flags, unsigned int mask, struct statx *buffer
    io_pgetevents: [64, 64, 64, 64, 64, 64], // aio_context_t ctx_id, long min_nr, long nr, struct io_event *events, struct __kernel_timespec *timeout, const struct __aio_sigset *usig
    rseq: [64, 32, 32, 32], // struct rseq *rseq, u32 rseq_len, int flags, u32 sig
    pidfd_send_signal: [32, 32, 64, 32], // int pidfd, int sig, siginfo_t *info, unsigned int flags
    io_uring_setup: [32, 64], // u32 entries, struct io_uring_params *params
    io_uring_enter: [32, 32, 32, 32, 64, 64], // unsigned int fd, u32 to_submit, u32 min_complete, u32 flags, const void *argp, size_t argsz
    io_uring_register: [32, 32, 64, 32], // unsigned int fd, unsigned int opcode, void *arg, unsigned int nr_args
    open_tree: [32, 64, 32], // int dfd, const char *filename, unsigned flags
    move_mount: [32, 64, 32, 64, 32], // int from_dfd, const char *from_pathname, int to_dfd, const char *to_pathname, unsigned int flags
    fsopen: [64, 32], // const char *_fs_name, unsigned int flags
    fsconfig: [32, 32, 64, 64, 32], // int fd, unsigned int cmd, const char *_key, const void *_value, int aux
    fsmount: [32, 32, 32], // int fs_fd, unsigned int flags, unsigned int attr_flags
    fspick: [32, 64, 32], // int dfd, const char *path, unsigned int flags
    pidfd_open: [32, 32], // pid_t pid, unsigned int flags
    clone3: [64, 64], // struct clone_args *uargs, size_t size
    close_range: [32, 32, 32], // unsigned int fd, unsigned int max_fd, unsigned int flags
    openat2: [32, 64, 64, 64], // int dfd, const char *filename, struct open_how *how, size_t usize
    pidfd_getfd: [32, 32, 32], // int pidfd, int fd, unsigned int flags
    faccessat2: [32, 64, 32, 32], // int dfd, const char *filename, int mode, int flags
    process_madvise: [32, 64, 64, 32, 32], // int pidfd, const struct iovec *vec, size_t vlen, int behavior, unsigned int flags
    epoll_pwait2: [32, 64, 32, 64, 64, 64], // int epfd, struct epoll_event *events, int maxevents, const struct __kernel_timespec *timeout, const sigset_t *sigmask, size_t sigsetsize
    mount_setattr: [32, 64, 32, 64, 64], // int dfd, const char *path, unsigned int flags, struct mount_attr *uattr, size_t usize
    quotactl_fd: [32, 32, 32, 64], // unsigned int fd, unsigned int cmd, qid_t id, void *addr
    landlock_create_ruleset: [64, 64, 32], // const struct landlock_ruleset_attr *const attr, const size_t size, const __u32 flags
    landlock_add_rule: [32, 32, 64, 32], // const int ruleset_fd, const enum landlock_rule_type rule_type, const void *const rule_attr, const __u32 flags
    landlock_restrict_self: [32, 32], // const int ruleset_fd, const __u32 flags
    memfd_secret: [32], // unsigned int flags
    process_mrelease: [32, 32], // int pidfd, unsigned int flags
    futex_waitv: [64, 32, 32, 64, 32], // struct futex_waitv *waiters, unsigned int nr_futexes, unsigned int flags, struct __kernel_timespec *timeout, clockid_t clockid
    set_mempolicy_home_node: [64, 64, 64, 64], // unsigned long start, unsigned long len, unsigned long home_node, unsigned long flags
    cachestat: [32, 64, 64, 32], // unsigned int fd, struct cachestat_range *cstat_range, struct cachestat *cstat, unsigned int flags
    fchmodat2: [32, 64, 16, 32], // int dfd, const char *filename, umode_t mode, unsigned int flags
    map_shadow_stack: [64, 64, 32], // unsigned long addr, unsigned long size, unsigned int flags
    futex_wake: [64, 64, 32, 32], // void *uaddr, unsigned long mask, int nr, unsigned int flags
    futex_wait: [64, 64, 64, 32, 64, 32], // void *uaddr, unsigned long val, unsigned long mask, unsigned int flags, struct __kernel_timespec *timeout, clockid_t clockid
    futex_requeue: [64, 32, 32, 32], // struct futex_waitv *waiters, unsigned int flags, int nr_wake, int nr_requeue
    statmount: [64, 64, 64, 32], // const struct mnt_id_req *req, struct statmount *buf, size_t bufsize, unsigned int flags
    listmount: [64, 64, 64, 32], // const struct mnt_id_req *req, u64 *mnt_ids, size_t nr_mnt_ids, unsigned int flags
    lsm_get_self_attr: [32, 64, 64, 32], // unsigned int attr, struct lsm_ctx *ctx, u32 *size, u32 flags
    lsm_set_self_attr: [32, 64, 32, 32], // unsigned int attr, struct lsm_ctx *ctx, u32 size, u32 flags
    lsm_list_modules: [64, 64, 32], // u64 *ids, u32 *size, u32 flags
    mseal: [64, 64, 64], // unsigned long start, size_t len, unsigned long flags
    setxattrat: [32, 64, 32, 64, 64, 64], // int dfd, const char *pathname, unsigned int at_flags, const char *name, const struct xattr_args *uargs, size_t usize
    getxattrat: [32, 64, 32, 64, 64, 64], // int dfd, const char *pathname, unsigned int at_flags, const char *name, struct xattr_args *uargs, size_t usize
    listxattrat: [32, 64, 32, 64, 64], // int dfd, const char *pathname, unsigned int at_flags, char *list, size_t size
    removexattrat: [32, 64, 32, 64], // int dfd, const char *pathname, unsigned int at_flags, const char *name
    open_tree_attr: [32, 64, 32, 64, 64], // int dfd, const char *filename, unsigned flags, struct mount_attr *uattr, size_t usize
    file_getattr: [32, 64, 64, 64, 32], // int dfd, const char *filename, struct file_attr *ufattr, size_t usize, unsigned int at_flags
    file_setattr: [32, 64, 64, 64, 32], // int dfd, const char *filename, struct file_attr *ufattr, size_t usize, unsigned int at_flags
  };
