/**
 * The launcher <-> init synchronisation protocol, over two pipes.
 *
 * ```text
 *   launcher                                   init (PID 1, new namespaces)
 *   --------                                   ----------------------------
 *   pipe2(cfg), pipe2(report)  (O_CLOEXEC)
 *   unshare(mnt|uts|ipc|net|pid)
 *   posix_spawn(deno ... __init)  ---------->  (Deno boots; fd 3 = cfg, fd 4 = report)
 *   setns back to the saved namespaces         prctl(PDEATHSIG, SIGKILL)
 *   cgroup: create, move init (async)          read(fd 3) ... blocks
 *   network: veth into init's netns
 *   write(cfg, {spec, devices, ...})  -------> mounts, pivot_root, masked paths,
 *   compile seccomp; await the cgroup move     hostname, lo up, cwd, command lookup
 *   (-t: read {pty: fd}; pidfd_getfd) <------- (-t: open /dev/ptmx; write(fd 4, {pty}))
 *   write(cfg, go {cgroupMounts, seccomp}) --> read(fd 3) ... (go)
 *   close(cfg)                                 unshare(cgroup), mount /sys/fs/cgroup,
 *   read(report) ... blocks                    user, caps, no_new_privs, seccomp
 *                                              execve(cmd)   (fd 4 is CLOEXEC)
 *   EOF: exec succeeded  <-------------------  or write(fd 4, {code, message}); exit
 *   forward signals, waitpid(init)
 *   cleanup: cgroup, network, leases
 * ```
 *
 * Rootless, util-linux `unshare` sits between the two and holds fds 3 and 4
 * too; the init first hands the launcher a report pipe of its own (see the
 * ladder in src/rootless/mod.ts), then the protocol is the same.
 *
 * Messages are a 4-byte little-endian length followed by that much JSON.
 * If the launcher dies before writing, the init reads EOF and exits; after
 * that, PDEATHSIG kills the container's PID 1 and with it the PID namespace.
 *
 * @module
 */

import { errno, errnoError, libc } from "./libc.ts";
import type { Spec } from "./spec.ts";
import type { DeviceMode, MountOp } from "./mounts.ts";

/** fd on which the init receives its config. */
export const CONFIG_FD = 3;
/** fd on which the init reports a failure; closed by a successful exec. */
export const REPORT_FD = 4;
/** `tinyc __exec`: fd of the container's mount namespace, joined by the exec init. */
export const EXEC_MNT_FD = 5;
/**
 * OCI create: the init's fd of the exec fifo (O_PATH): the container's
 * mapped root may not reach the state directory by path.
 */
export const EXEC_FIFO_FD = 5;

/**
 * What the launcher sends the init: the first message carries all but the
 * {@link InitGo} fields, the second (go) those.
 */
export interface InitConfig extends InitGo {
  spec: Spec;
  /** How to create device nodes: mknod (root) or bind from the host (rootless). */
  devices: DeviceMode;
  /**
   * False when the user namespace denies `setgroups` (rootless with only
   * root mapped): the init then leaves the supplementary groups alone.
   */
  setgroups?: boolean;
  /** The host's /proc/sys/kernel/cap_last_cap. */
  lastCap: number;
  /**
   * OCI create: the container outlives the launcher (no PDEATHSIG), and
   * waits on the exec fifo at this host path before exec, after sending
   * {@link InitReady}.
   */
  execFifo?: string;
  /** Mount ops to apply before pivot_root, after the spec's (cgroup binds). */
  extraMounts?: MountOp[];
  /** The container's state JSON, for the hooks the init runs. */
  hookState?: string;
}

/** OCI create: the init built everything and waits for `start`. */
export interface InitReady {
  ready: true;
}

/**
 * The second message, "go": sent once the init is in its cgroup. The init
 * builds the filesystem from the first message meanwhile.
 */
export interface InitGo {
  /** What to mount at /sys/fs/cgroup, after unsharing the cgroup namespace. */
  cgroupMounts?: MountOp[];
  /** The compiled seccomp filter (bytes of struct sock_filter[]), if any. */
  seccomp?: { program: number[]; flags: number };
}

/** Create a pipe with O_CLOEXEC; returns [read, write]. */
export function pipe(): [number, number] {
  const fds = new Int32Array(2);
  const O_CLOEXEC = 0o2000000;
  if (libc().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) {
    throw errnoError("pipe2", "");
  }
  return [fds[0], fds[1]];
}

function writeAll(fd: number, bytes: Uint8Array<ArrayBuffer>): void {
  let off = 0;
  while (off < bytes.length) {
    const chunk = bytes.subarray(off);
    const n = Number(libc().write(fd, chunk, BigInt(chunk.length)));
    if (n < 0) {
      const e = errno();
      if (e === 4) continue; // EINTR
      throw errnoError("write", `fd ${fd}`, e);
    }
    off += n;
  }
}

/** Read exactly `n` bytes, or null at EOF before any byte. */
function readExact(fd: number, n: number): Uint8Array<ArrayBuffer> | null {
  const buf = new Uint8Array(n);
  let off = 0;
  while (off < n) {
    const chunk = buf.subarray(off);
    const r = Number(libc().read(fd, chunk, BigInt(chunk.length)));
    if (r < 0) {
      const e = errno();
      if (e === 4) continue;
      throw errnoError("read", `fd ${fd}`, e);
    }
    if (r === 0) {
      if (off === 0) return null;
      throw new Error(`read fd ${fd}: unexpected end of message`);
    }
    off += r;
  }
  return buf;
}

/** Send one JSON message. */
export function sendMessage(fd: number, value: unknown): void {
  const body = new TextEncoder().encode(JSON.stringify(value));
  const msg = new Uint8Array(4 + body.length);
  new DataView(msg.buffer).setUint32(0, body.length, true);
  msg.set(body, 4);
  writeAll(fd, msg);
}

/** Receive one JSON message; null when the other side closed the pipe. */
export function receiveMessage<T>(fd: number): T | null {
  const head = readExact(fd, 4);
  if (head === null) return null;
  const len = new DataView(head.buffer).getUint32(0, true);
  const body = readExact(fd, len);
  if (body === null) {
    throw new Error(`read fd ${fd}: unexpected end of message`);
  }
  return JSON.parse(new TextDecoder().decode(body)) as T;
}

/** With `-t`, the init's first report: the fd number of the pty master. */
export interface InitPty {
  pty: number;
}

/** What the init reports when it cannot start the command. */
export interface InitFailure {
  /** Exit code for the CLI (125, 126 or 127). */
  code: number;
  /** One line for the user. */
  message: string;
}
