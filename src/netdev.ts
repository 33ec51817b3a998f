/**
 * Interface flags through ioctl, for the one thing the init does itself:
 * a fresh network namespace has `lo` down; bring it up.
 *
 * @module
 */

import { addr, cstr, errnoError, ioctl, libc } from "./libc.ts";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SIOCGIFFLAGS = 0x8913;
const SIOCSIFFLAGS = 0x8914;
const IFF_UP = 0x1;
/** sizeof(struct ifreq) on 64-bit Linux. */
const IFREQ_SIZE = 40;

/** Set IFF_UP on interface `name` in the calling thread's network namespace. */
export function setLinkUp(name: string): void {
  const fd = libc().socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw errnoError("socket", "AF_INET");
  }
  try {
    const ifr = new Uint8Array(IFREQ_SIZE);
    ifr.set(cstr(name).subarray(0, 15));
    ioctl(fd, SIOCGIFFLAGS, addr(ifr), `${name} SIOCGIFFLAGS`);
    const view = new DataView(ifr.buffer);
    view.setInt16(16, view.getInt16(16, true) | IFF_UP, true);
    ioctl(fd, SIOCSIFFLAGS, addr(ifr), `${name} SIOCSIFFLAGS`);
  } finally {
    libc().close(fd);
  }
}

/** Bring `lo` up. */
export function bringUpLoopback(): void {
  setLinkUp("lo");
}
