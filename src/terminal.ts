/**
 * `-t/--tty`: the container's stdio is a pseudo-terminal of its own.
 *
 * The init opens the pty inside the container's devpts (so `tty` names a
 * path that exists there), makes the slave its stdin/stdout/stderr and
 * controlling terminal, and tells the launcher the master's fd number; the
 * launcher takes a copy of that fd with `pidfd_getfd` and relays between it
 * and its own stdio, with its terminal in raw mode and the window size kept
 * in step.
 *
 * @module
 */

import { addr, cstr, errnoError, ioctl, libc, SYS } from "./libc.ts";

const O_RDWR = 2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;
const TIOCSPTLCK = 0x40045431;
const TIOCGPTN = 0x80045430;
const TIOCSCTTY = 0x540e;
const TIOCGWINSZ = 0x5413;
const TIOCSWINSZ = 0x5414;

/** In the init: a new pty from the container's /dev/ptmx; returns [master, slave]. */
export function openPty(): [number, number] {
  const master = libc().open(
    cstr("/dev/ptmx"),
    O_RDWR | O_NOCTTY | O_CLOEXEC,
    0,
  );
  if (master < 0) throw errnoError("open", "`/dev/ptmx`");
  const n = new Int32Array(1);
  ioctl(
    master,
    TIOCSPTLCK,
    addr(new BigUint64Array(1)),
    "TIOCSPTLCK /dev/ptmx",
  );
  ioctl(master, TIOCGPTN, addr(new Uint8Array(n.buffer)), "TIOCGPTN /dev/ptmx");
  const path = `/dev/pts/${n[0]}`;
  const slave = libc().open(cstr(path), O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
  if (slave < 0) throw errnoError("open", `\`${path}\``);
  return [master, slave];
}

/**
 * In the init, after `setsid`: the slave, owned by `uid`, becomes stdin,
 * stdout, stderr and the controlling terminal.
 */
export function adoptPty(slave: number, uid: number): void {
  // The user's own terminal, as docker makes it (else `-u` users could not
  // open /dev/tty).
  libc().syscall(
    BigInt(SYS.fchown),
    BigInt(slave),
    BigInt(uid),
    0xffffffffn,
    0n,
    0n,
  );
  for (const fd of [0, 1, 2]) {
    if (libc().dup2(slave, fd) < 0) throw errnoError("dup2", `pty -> ${fd}`);
  }
  ioctl(0, TIOCSCTTY, 0n, "TIOCSCTTY");
  if (slave > 2) libc().close(slave);
}

/** In the launcher: a copy of fd `fd` of process `pid` (pidfd_getfd). */
export function takeFd(pid: number, fd: number): number {
  const pidfd = Number(
    libc().syscall(BigInt(SYS.pidfd_open), BigInt(pid), 0n, 0n, 0n, 0n),
  );
  if (pidfd < 0) throw errnoError("pidfd_open", `pid ${pid}`);
  try {
    const copy = Number(
      libc().syscall(
        BigInt(SYS.pidfd_getfd),
        BigInt(pidfd),
        BigInt(fd),
        0n,
        0n,
        0n,
      ),
    );
    if (copy < 0) throw errnoError("pidfd_getfd", `pid ${pid} fd ${fd}`);
    return copy;
  } finally {
    libc().close(pidfd);
  }
}

/** Copy the window size of terminal `from` to `to` (ignored when `from` is no terminal). */
export function copyWindowSize(from: number, to: number): void {
  const ws = new BigUint64Array(1); // struct winsize: 4 x u16
  const r = libc().syscall(
    BigInt(SYS.ioctl),
    BigInt(from),
    BigInt(TIOCGWINSZ),
    addr(ws),
    0n,
    0n,
  );
  if (r === 0n) ioctl(to, TIOCSWINSZ, addr(ws), "TIOCSWINSZ");
}

/**
 * In the launcher: relay between our stdio and the pty master until the
 * container's side closes (read returns EIO or EOF). Resolves when all its
 * output has been written. `stop()` ends the stdin side.
 */
export function relay(master: number): { done: Promise<void>; stop(): void } {
  const interactive = Deno.stdin.isTerminal();
  if (interactive) Deno.stdin.setRaw(true);
  copyWindowSize(0, master);
  const onWinch = () => {
    try {
      copyWindowSize(0, master);
    } catch {
      // the pty is gone
    }
  };
  Deno.addSignalListener("SIGWINCH", onWinch);
  let stopped = false;
  const reader = Deno.stdin.readable.getReader();
  // stdin -> master; ends with stdin or stop().
  (async () => {
    while (!stopped) {
      const { value, done } = await reader.read().catch(() => ({
        value: undefined,
        done: true,
      }));
      if (done || !value || stopped) break;
      let off = 0;
      while (off < value.length) {
        const chunk = value.subarray(off);
        const n = Number(libc().write(master, chunk, BigInt(chunk.length)));
        if (n <= 0) return;
        off += n;
      }
    }
  })();
  // master -> stdout, on a pool thread so the event loop keeps running.
  const done = (async () => {
    const buf = new Uint8Array(16384);
    for (;;) {
      const n = Number(
        await libc().read_async(master, buf, BigInt(buf.length)),
      );
      if (n <= 0) break; // EIO once the last slave fd is closed
      let off = 0;
      while (off < n) off += Deno.stdout.writeSync(buf.subarray(off, n));
    }
  })();
  return {
    done,
    stop() {
      stopped = true;
      Deno.removeSignalListener("SIGWINCH", onWinch);
      reader.releaseLock();
      if (interactive) {
        try {
          Deno.stdin.setRaw(false);
        } catch {
          // not a terminal any more
        }
      }
    },
  };
}
