/**
 * The init's steps that only OCI containers (`tinyc-oci create`) take: the
 * exec fifo that holds the command until `start`, hooks run inside the
 * container, sysctls, the domain name and the personality. Synchronous
 * calls only: the init runs on its main thread in the new namespaces.
 *
 * The exec fifo (as runc's): `create` makes `<state>/exec.fifo`; the init
 * opens it with O_PATH before `pivot_root` (the host path is still visible),
 * builds the container, says "ready" to `create` (which exits), then opens
 * the fifo for writing through `/proc/self/fd` of the host's procfs, which
 * blocks until `start` opens it for reading; it writes one byte, and execs.
 *
 * @module
 */

import { addr, cstr, errnoError, libc, SYS } from "./libc.ts";
import { spawn } from "./process.ts";
import type { Hook } from "./spec.ts";
import { TinycError } from "./errors.ts";
import { RLIMITS } from "./rlimits.ts";

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const AT_FDCWD = -100;

function openat(dirfd: number, path: string, flags: number): number {
  const fd = Number(
    libc().syscall(
      BigInt(SYS.openat),
      BigInt(dirfd),
      addr(cstr(path)),
      BigInt(flags),
      0n,
      0n,
    ),
  );
  if (fd < 0) throw errnoError("openat", `\`${path}\``);
  return fd;
}

/** Handles the init keeps across `pivot_root` to reach the exec fifo. */
export interface ExecFifo {
  /** O_PATH fd of the fifo. */
  fifo: number;
  /** O_PATH fd of the host's /proc (to reopen the fifo by fd). */
  proc: number;
}

/**
 * Before the mounts: hold the fifo (the launcher passed it as `fd`, O_PATH)
 * and the host's /proc (O_PATH), to reopen the fifo by fd after the pivot.
 */
export function holdExecFifo(fd: number): ExecFifo {
  const proc = openat(AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return { fifo: fd, proc };
}

/**
 * Block until `start` opens the fifo for reading, then tell it we go.
 * `self` is our pid as the host's procfs knows it.
 */
export function waitForStart(h: ExecFifo): void {
  const fd = openat(
    h.proc,
    `thread-self/fd/${h.fifo}`,
    O_WRONLY | O_CLOEXEC,
  );
  const one = new Uint8Array([0x30]);
  if (Number(libc().write(fd, one, 1n)) !== 1) {
    throw errnoError("write", "exec fifo");
  }
  libc().close(fd);
  libc().close(h.fifo);
  libc().close(h.proc);
}

/** Sleep `ms` milliseconds on this thread (nanosleep). */
export function sleepSync(ms: number): void {
  const ts = new BigUint64Array([
    BigInt(Math.floor(ms / 1000)),
    BigInt((ms % 1000) * 1_000_000),
  ]);
  libc().syscall(BigInt(SYS.nanosleep), addr(ts), 0n, 0n, 0n, 0n);
}

/**
 * Run `hooks` in order from the init (createContainer, startContainer):
 * each gets the container's state JSON on stdin; a non-zero exit, a signal
 * or a timeout fails the container.
 */
export function runHooksSync(
  kind: string,
  hooks: readonly Hook[],
  state: string,
): void {
  for (const h of hooks) {
    const fds = new Int32Array(2);
    if (libc().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) {
      throw errnoError("pipe2", "");
    }
    let pid: number;
    try {
      pid = spawn(h.path, h.args?.length ? h.args : [h.path], h.env ?? [], {
        fds: [[0, fds[0]]],
      });
    } catch (e) {
      libc().close(fds[0]);
      libc().close(fds[1]);
      throw new TinycError(`${kind} hook ${h.path}: ${(e as Error).message}`);
    }
    libc().close(fds[0]);
    const body = new TextEncoder().encode(state);
    libc().write(fds[1], body, BigInt(body.length)); // fits a pipe's buffer
    libc().close(fds[1]);
    const st = new Int32Array(1);
    const deadline = h.timeout ? Date.now() + h.timeout * 1000 : Infinity;
    const WNOHANG = 1;
    for (;;) {
      const r = libc().waitpid(pid, new Uint8Array(st.buffer), WNOHANG);
      if (r === pid) break;
      if (r < 0) throw errnoError("waitpid", `${kind} hook ${h.path}`);
      if (Date.now() > deadline) {
        libc().kill(pid, 9);
        libc().waitpid(pid, new Uint8Array(st.buffer), 0);
        throw new TinycError(
          `${kind} hook ${h.path}: timed out after ${h.timeout} s`,
        );
      }
      sleepSync(2);
    }
    const status = st[0];
    if ((status & 0x7f) !== 0) {
      throw new TinycError(
        `${kind} hook ${h.path}: killed by signal ${status & 0x7f}`,
      );
    }
    if ((status >> 8) & 0xff) {
      throw new TinycError(
        `${kind} hook ${h.path}: exit status ${(status >> 8) & 0xff}`,
      );
    }
  }
}

/** Write `sysctl` (name -> value) under the container's /proc/sys. */
export function applySysctls(sysctl: Record<string, string>): void {
  for (const [name, value] of Object.entries(sysctl)) {
    const path = `/proc/sys/${name.replaceAll(".", "/")}`;
    try {
      Deno.writeTextFileSync(path, value);
    } catch (e) {
      throw new TinycError(`sysctl ${name}=${value}: ${(e as Error).message}`);
    }
  }
}

/** setdomainname(2). */
export function setDomainname(name: string): void {
  const b = cstr(name);
  const r = libc().syscall(
    BigInt(SYS.setdomainname),
    addr(b),
    BigInt(b.length - 1),
    0n,
    0n,
    0n,
  );
  if (r < 0n) throw errnoError("setdomainname", name);
}

/** personality(2) for an OCI domain (`LINUX`, `LINUX32`). */
export function setPersonality(domain: string): void {
  const PER_LINUX = 0, PER_LINUX32 = 0x0008;
  const r = libc().syscall(
    BigInt(SYS.personality),
    BigInt(domain === "LINUX32" ? PER_LINUX32 : PER_LINUX),
    0n,
    0n,
    0n,
    0n,
  );
  if (r < 0n) throw errnoError("personality", domain);
}

/** Open a file read-only (O_CLOEXEC) and return the fd. */
export function openReadOnly(path: string): number {
  return openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
}

/** prlimit64(pid, resource, {soft, hard}); pid 0 is the caller. */
export function setRlimit(
  pid: number,
  rl: { type: string; soft: number; hard: number },
): void {
  const big = (n: number) =>
    n < 0 || n >= 2 ** 64 - 1 ? 0xffffffffffffffffn : BigInt(n);
  const limits = new BigUint64Array([big(rl.soft), big(rl.hard)]);
  const r = libc().syscall(
    BigInt(SYS.prlimit64),
    BigInt(pid),
    BigInt(RLIMITS[rl.type]),
    addr(limits),
    0n,
    0n,
  );
  if (r < 0n) throw errnoError("setrlimit", `${rl.type} ${rl.soft}:${rl.hard}`);
}
