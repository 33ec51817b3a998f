/**
 * `--console-socket`: send a pty master to the engine over a unix socket
 * with SCM_RIGHTS, as runc does (conmon and containerd's shim receive it).
 * Deno has no fd passing, so this is socket/connect/sendmsg through libc.
 *
 * @module
 */

import { addr, cstr, errnoError, libc, SYS } from "../libc.ts";
import { TinycError } from "../errors.ts";

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;

/** Connect to the unix socket at `path` and send `fd` (with `name` as data). */
export function sendFdToSocket(path: string, fd: number, name: string): void {
  const sun = new Uint8Array(110);
  const p = new TextEncoder().encode(path);
  if (p.length >= 108) {
    throw new TinycError(`--console-socket ${path}: path too long`);
  }
  new DataView(sun.buffer).setUint16(0, AF_UNIX, true);
  sun.set(p, 2);
  const sock = libc().socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) throw errnoError("socket", "AF_UNIX");
  try {
    const r = libc().syscall(
      BigInt(SYS.connect),
      BigInt(sock),
      addr(sun),
      BigInt(2 + p.length + 1),
      0n,
      0n,
    );
    if (r < 0n) throw errnoError("connect", `\`${path}\``);
    const data = cstr(name);
    const iov = new BigUint64Array([addr(data), BigInt(data.length)]);
    // struct cmsghdr {size_t len; int level; int type;} + one int, padded.
    const control = new Uint8Array(24);
    const cv = new DataView(control.buffer);
    cv.setBigUint64(0, 20n, true);
    cv.setInt32(8, SOL_SOCKET, true);
    cv.setInt32(12, SCM_RIGHTS, true);
    cv.setInt32(16, fd, true);
    // struct msghdr: name, namelen(+pad), iov, iovlen, control, controllen, flags.
    const msg = new BigUint64Array(7);
    msg[2] = addr(new Uint8Array(iov.buffer));
    msg[3] = 1n;
    msg[4] = addr(control);
    msg[5] = 24n;
    const sent = libc().syscall(
      BigInt(SYS.sendmsg),
      BigInt(sock),
      addr(msg),
      0n,
      0n,
      0n,
    );
    if (sent < 0n) throw errnoError("sendmsg", `\`${path}\``);
  } finally {
    libc().close(sock);
  }
}
