/**
 * The small system-call interface the setup logic is written against.
 *
 * {@link LinuxSys} is the real thing over {@link libc}; `sys_fake.ts` has a
 * recording fake that can be told to fail, so namespace and mount logic is
 * unit-tested without root. Every method is synchronous and throws
 * {@link SysError} naming the call, its paths and flags, and errno.
 *
 * @module
 */

import { addr, cstr, cstrArray, errnoError, libc, SYS } from "./libc.ts";

/** Mount flags (linux/mount.h), by name so errors can print them. */
export const MS = {
  MS_RDONLY: 0x1,
  MS_NOSUID: 0x2,
  MS_NODEV: 0x4,
  MS_NOEXEC: 0x8,
  MS_REMOUNT: 0x20,
  MS_NOATIME: 0x400,
  MS_BIND: 0x1000,
  MS_MOVE: 0x2000,
  MS_REC: 0x4000,
  MS_PRIVATE: 0x40000,
  MS_SLAVE: 0x80000,
  MS_STRICTATIME: 0x1000000,
} as const;

/** `MS_BIND|MS_REC` for 0x5000. */
export function mountFlagNames(flags: number): string {
  const names: string[] = [];
  let rest = flags;
  for (const [name, bit] of Object.entries(MS)) {
    if ((flags & bit) === bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.length ? names.join("|") : "0";
}

/** Namespace clone flags (linux/sched.h). */
export const CLONE = {
  CLONE_NEWNS: 0x00020000,
  CLONE_NEWCGROUP: 0x02000000,
  CLONE_NEWUTS: 0x04000000,
  CLONE_NEWIPC: 0x08000000,
  CLONE_NEWUSER: 0x10000000,
  CLONE_NEWPID: 0x20000000,
  CLONE_NEWNET: 0x40000000,
} as const;

/** `CLONE_NEWNS|CLONE_NEWPID` for a flag set. */
export function cloneFlagNames(flags: number): string {
  const names = Object.entries(CLONE).filter(([, bit]) => (flags & bit) !== 0)
    .map(([n]) => n);
  return names.length ? names.join("|") : "0";
}

/** The operations container setup needs from the kernel. */
export interface Sys {
  unshare(flags: number): void;
  /** Open a namespace file (e.g. `/proc/thread-self/ns/mnt`) and return its fd. */
  openNs(path: string): number;
  setns(fd: number, nstype: number, what: string): void;
  close(fd: number): void;
  mount(
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data?: string,
  ): void;
  umount(target: string, flags: number): void;
  pivotRoot(newRoot: string, putOld: string): void;
  chdir(path: string): void;
  sethostname(name: string): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  mkdirAll(path: string, mode?: number): void;
  /** Create an empty file if nothing is there (a bind-mount target). */
  touch(path: string): void;
  symlink(target: string, path: string): void;
  /** `dir`, `file`, `other`, or `none` when missing. Follows symlinks. */
  kind(path: string): "dir" | "file" | "other" | "none";
}

function fail(call: string, detail: string): never {
  throw errnoError(call, detail);
}

/** The real {@link Sys}, over libc on the calling thread. */
export class LinuxSys implements Sys {
  unshare(flags: number): void {
    if (libc().unshare(flags) !== 0) fail("unshare", cloneFlagNames(flags));
  }
  openNs(path: string): number {
    const O_RDONLY_CLOEXEC = 0o2000000;
    const fd = libc().open(cstr(path), O_RDONLY_CLOEXEC, 0);
    if (fd < 0) fail("open", `\`${path}\``);
    return fd;
  }
  setns(fd: number, nstype: number, what: string): void {
    if (libc().setns(fd, nstype) !== 0) fail("setns", what);
  }
  close(fd: number): void {
    libc().close(fd);
  }
  mount(
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data = "",
  ): void {
    const r = libc().mount(
      cstr(source),
      cstr(target),
      fstype ? cstr(fstype) : null,
      BigInt(flags),
      data ? cstr(data) : null,
    );
    if (r !== 0) {
      fail(
        "mount",
        `src=${source || "none"}, dst=${target}${
          fstype ? `, type=${fstype}` : ""
        }, flags=${mountFlagNames(flags)}${data ? `, data=${data}` : ""}`,
      );
    }
  }
  umount(target: string, flags: number): void {
    if (libc().umount2(cstr(target), flags) !== 0) {
      fail("umount2", `\`${target}\``);
    }
  }
  pivotRoot(newRoot: string, putOld: string): void {
    const a = cstr(newRoot), b = cstr(putOld);
    const r = libc().syscall(
      BigInt(SYS.pivot_root),
      addr(a),
      addr(b),
      0n,
      0n,
      0n,
    );
    if (r !== 0n) fail("pivot_root", `new=${newRoot}, old=${putOld}`);
  }
  chdir(path: string): void {
    if (libc().chdir(cstr(path)) !== 0) fail("chdir", `\`${path}\``);
  }
  sethostname(name: string): void {
    const b = cstr(name);
    if (libc().sethostname(b, BigInt(b.length - 1)) !== 0) {
      fail("sethostname", `\`${name}\``);
    }
  }
  mknod(path: string, mode: number, major: number, minor: number): void {
    // glibc's makedev() for small numbers.
    const dev = BigInt((major << 8) | (minor & 0xff) | ((minor & ~0xff) << 12));
    if (libc().mknod(cstr(path), mode, dev) !== 0) {
      fail("mknod", `\`${path}\` ${major}:${minor}`);
    }
  }
  mkdirAll(path: string, mode = 0o755): void {
    Deno.mkdirSync(path, { recursive: true, mode });
  }
  touch(path: string): void {
    if (this.kind(path) === "none") {
      Deno.writeFileSync(path, new Uint8Array(), { mode: 0o644 });
    }
  }
  symlink(target: string, path: string): void {
    Deno.symlinkSync(target, path);
  }
  kind(path: string): "dir" | "file" | "other" | "none" {
    try {
      const st = Deno.statSync(path);
      return st.isDirectory ? "dir" : st.isFile ? "file" : "other";
    } catch {
      return "none";
    }
  }
}

/** Keep helpers importable for modules that build raw call arguments. */
export { addr, cstr, cstrArray };
