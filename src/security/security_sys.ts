/**
 * The few kernel calls that lock a process down before `execve`: prctl,
 * capset, the set*id family and seccomp.
 *
 * {@link LinuxSecuritySys} is the real thing over {@link libc}; the ordering
 * logic in `capabilities.ts`, `seccomp.ts` and `apply.ts` is written against
 * {@link SecuritySys} so a recording fake can check the order without root.
 *
 * Every call acts on the calling thread only (capabilities, no_new_privs,
 * keep-caps and seccomp are per-thread), so the init must make them on the
 * main thread, the one that then calls `execve`.
 *
 * @module
 */

import { addr, errnoError, libc, SYS } from "../libc.ts";
import { SysError } from "../errors.ts";

/** prctl(2) options used here (linux/prctl.h). */
export const PR = {
  PR_SET_PDEATHSIG: 1,
  PR_SET_KEEPCAPS: 8,
  PR_SET_SECCOMP: 22,
  PR_CAPBSET_READ: 23,
  PR_CAPBSET_DROP: 24,
  PR_SET_NO_NEW_PRIVS: 38,
  PR_GET_NO_NEW_PRIVS: 39,
  PR_CAP_AMBIENT: 47,
} as const;

/** Second argument of `prctl(PR_CAP_AMBIENT, ...)`. */
export const PR_CAP_AMBIENT_RAISE = 2;
/** Second argument of `prctl(PR_CAP_AMBIENT, ...)`. */
export const PR_CAP_AMBIENT_CLEAR_ALL = 4;

/** The capability sets capset(2) writes, as 64-bit masks (bit n = cap n). */
export interface CapSets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** The calls the security setup needs; each throws {@link SysError}. */
export interface SecuritySys {
  /** `prctl(option, arg2, arg3)`; `what` names the option for errors. */
  prctl(option: number, arg2: number, arg3: number, what: string): void;
  /** capset(2), version 3, for the calling thread. */
  capset(sets: CapSets): void;
  setgroups(gids: readonly number[]): void;
  /** setresgid(gid, gid, gid). */
  setresgid(gid: number): void;
  /** setresuid(uid, uid, uid). */
  setresuid(uid: number): void;
  /** seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog) for a packed program. */
  seccompFilter(program: Uint8Array, flags: number): void;
  /** getppid(2). */
  getppid(): number;
  /** Has the reader of pipe write end `fd` closed it (poll says POLLERR/POLLHUP)? */
  readerGone(fd: number): boolean;
}

function fail(call: string, detail: string): never {
  throw errnoError(call, detail);
}

/** `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set. */
const CAP_V3 = 0x20080522;
const SECCOMP_SET_MODE_FILTER = 1;

/** The real {@link SecuritySys}, over libc, on the calling thread. */
export class LinuxSecuritySys implements SecuritySys {
  prctl(option: number, arg2: number, arg3: number, what: string): void {
    const r = libc().syscall(
      BigInt(SYS.prctl),
      BigInt(option),
      BigInt(arg2),
      BigInt(arg3),
      0n,
      0n,
    );
    if (r < 0n) fail("prctl", what);
  }

  capset(sets: CapSets): void {
    // struct __user_cap_header_struct { u32 version; int pid; }, pid 0 = this thread.
    const header = new Uint32Array([CAP_V3, 0]);
    // struct __user_cap_data_struct { u32 effective, permitted, inheritable; } [2]:
    // [0] holds caps 0..31, [1] caps 32..63.
    const data = new Uint32Array(6);
    const words = [sets.effective, sets.permitted, sets.inheritable];
    for (let i = 0; i < 3; i++) {
      data[i] = Number(words[i] & 0xffffffffn);
      data[3 + i] = Number((words[i] >> 32n) & 0xffffffffn);
    }
    const r = libc().syscall(
      BigInt(SYS.capset),
      addr(new Uint8Array(header.buffer)),
      addr(new Uint8Array(data.buffer)),
      0n,
      0n,
      0n,
    );
    if (r < 0n) {
      fail(
        "capset",
        `effective=${hex(sets.effective)}, permitted=${
          hex(sets.permitted)
        }, inheritable=${hex(sets.inheritable)}`,
      );
    }
  }

  setgroups(gids: readonly number[]): void {
    const list = new Uint32Array(gids);
    const r = libc().setgroups(
      BigInt(gids.length),
      new Uint8Array(list.buffer),
    );
    if (r !== 0) fail("setgroups", `[${gids.join(",")}]`);
  }

  setresgid(gid: number): void {
    if (libc().setresgid(gid, gid, gid) !== 0) fail("setresgid", `${gid}`);
  }

  setresuid(uid: number): void {
    if (libc().setresuid(uid, uid, uid) !== 0) fail("setresuid", `${uid}`);
  }

  seccompFilter(program: Uint8Array, flags: number): void {
    if (program.length % 8 !== 0 || program.length === 0) {
      throw new SysError(
        "seccomp",
        `program of ${program.length} bytes is not a list of 8-byte sock_filter`,
        22,
        "EINVAL",
        "invalid argument",
      );
    }
    // The kernel reads the program while the call runs; keep our own copy
    // alive in this scope so a caller's subarray view is fine too.
    const filter = new Uint8Array(program);
    // struct sock_fprog { unsigned short len; /* 6 bytes padding */ struct sock_filter *filter; }
    const fprog = new BigUint64Array(2);
    fprog[0] = BigInt(filter.length / 8);
    fprog[1] = addr(filter);
    const r = libc().syscall(
      BigInt(SYS.seccomp),
      BigInt(SECCOMP_SET_MODE_FILTER),
      BigInt(flags),
      addr(new Uint8Array(fprog.buffer)),
      0n,
      0n,
    );
    if (r < 0n) {
      fail(
        "seccomp",
        `SECCOMP_SET_MODE_FILTER, ${filter.length / 8} instructions`,
      );
    }
  }

  getppid(): number {
    return libc().getppid();
  }

  readerGone(fd: number): boolean {
    // struct pollfd { int fd; short events; short revents; }: POLLOUT
    // only; the kernel adds POLLERR (no reader) or POLLHUP on its own.
    const POLLOUT = 4, POLLERR = 8, POLLHUP = 16, POLLNVAL = 32;
    const pfd = new Int32Array([fd, POLLOUT]);
    const r = libc().poll(new Uint8Array(pfd.buffer), 1n, 0);
    if (r < 0) fail("poll", `fd ${fd}`);
    return ((pfd[1] >>> 16) & (POLLERR | POLLHUP | POLLNVAL)) !== 0;
  }
}

/** `0x00000000a80425fb`, the form /proc/self/status prints. */
export function hex(mask: bigint): string {
  return "0x" + mask.toString(16).padStart(16, "0");
}
