/**
 * `-t/--tty`: the container's stdio is a pseudo-terminal of its own.
 *
 * The init opens the pty inside the container's devpts (so `tty` names a
 * path that exists there), makes the slave its stdin/stdout/stderr and
 * controlling terminal, and tells the launcher the master's fd number; the
 * launcher takes a copy of that fd with `pidfd_getfd` and relays between it
 * and its own stdio, with its terminal in raw mode and the window size kept
 * in step (the relay itself is `pty_relay.ts`).
 *
 * The user's own terminal is saved when tinyc starts and restored when it
 * ends, with or without `-t`: a container that gets it as stdin (no `-t`)
 * can change its modes (`stty -echo`), and `-t` puts it in raw mode.
 *
 * @module
 */

import { addr, cstr, errno, errnoError, ioctl, libc, SYS } from "./libc.ts";

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

// struct termios as TCGETS/TCSETS see it (asm-generic and x86_64 alike):
// c_iflag, c_oflag, c_cflag, c_lflag (u32 each), c_line, c_cc[19].
const TCGETS = 0x5401;
const TCSETS = 0x5402;
const TERMIOS_SIZE = 36;
const CC = 17; // offset of c_cc
const VEOF = 4, VTIME = 5, VMIN = 6, VEOL = 11, VEOL2 = 16;
// c_iflag
const IGNBRK = 0o1, BRKINT = 0o2, PARMRK = 0o10, ISTRIP = 0o40;
const INLCR = 0o100, IGNCR = 0o200, ICRNL = 0o400, IXON = 0o2000;
// c_oflag, c_cflag, c_lflag
const OPOST = 0o1;
const CSIZE = 0o60, CS8 = 0o60, PARENB = 0o400;
const ISIG = 0o1, ICANON = 0o2, ECHO = 0o10, ECHONL = 0o100, IEXTEN = 0o100000;
const ENOTTY = 25;

/** The raw `struct termios` of a terminal, as bytes. */
export type Termios = Uint8Array<ArrayBuffer>;

function flags(t: Termios): Uint32Array {
  return new Uint32Array(t.buffer, t.byteOffset, 4);
}

/** The termios of terminal `fd`; null when `fd` is no terminal (ENOTTY, EBADF). */
export function getTermios(fd: number): Termios | null {
  const t = new Uint8Array(new ArrayBuffer(64));
  const r = libc().syscall(
    BigInt(SYS.ioctl),
    BigInt(fd),
    BigInt(TCGETS),
    addr(t),
    0n,
    0n,
  );
  if (r < 0n) {
    const e = errno();
    if (e === ENOTTY || e === 9 /* EBADF */) return null;
    throw errnoError("ioctl", `TCGETS fd ${fd}`, e);
  }
  return t;
}

/** TCSETS: set terminal `fd` to `t` now. */
export function setTermios(fd: number, t: Termios): void {
  ioctl(fd, TCSETS, addr(t), `TCSETS fd ${fd}`);
}

/**
 * `t` in raw mode, as cfmakeraw(3) (and docker) make it: no echo, no line
 * editing, no signal keys (Ctrl-C is a byte for the container's terminal
 * to interpret), and no output processing, so the container's `\r\n`
 * reaches the screen (or a capture) as it is, not as `\r\r\n`.
 */
export function makeRaw(t: Termios): Termios {
  const raw = new Uint8Array(t);
  const f = flags(raw);
  f[0] &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  f[1] &= ~OPOST;
  f[3] &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  f[2] = (f[2] & ~(CSIZE | PARENB)) | CS8;
  raw[CC + VMIN] = 1;
  raw[CC + VTIME] = 0;
  return raw;
}

/** `t` without output processing (OPOST): for a stdout that is a terminal. */
export function withoutOutputProcessing(t: Termios): Termios {
  const out = new Uint8Array(t);
  flags(out)[1] &= ~OPOST;
  return out;
}

/**
 * What to type into a terminal whose settings are `t` so that the reader
 * sees end of input, the way a user's Ctrl-D does: VEOF ends input on an
 * empty line; after a partial line (`last` is not a line end) the first
 * VEOF only hands over that line, so a second one follows. Without
 * canonical mode (a program that reads keys), one VEOF byte. Empty when the
 * terminal has no VEOF character.
 */
export function endOfInput(t: Termios, last: number | undefined): Uint8Array {
  const eof = t[CC + VEOF];
  if (eof === 0) return new Uint8Array(0); // _POSIX_VDISABLE
  const canonical = (flags(t)[3] & ICANON) !== 0;
  const lineEnds = [10, eof, t[CC + VEOL], t[CC + VEOL2]].filter((c) =>
    c !== 0
  );
  const partial = canonical && last !== undefined && !lineEnds.includes(last);
  return new Uint8Array(partial ? [eof, eof] : [eof]);
}

/** Same bytes? (Only the part TCSETS sets.) */
function sameTermios(a: Termios, b: Termios): boolean {
  for (let i = 0; i < TERMIOS_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * TCSETS with SIGTTOU blocked on this thread: a tinyc in a background job
 * may still put the terminal back (the kernel lets a thread that blocks
 * SIGTTOU change it) instead of being stopped.
 */
function setTermiosFromAnyJob(fd: number, t: Termios): void {
  const SIG_BLOCK = 0, SIG_SETMASK = 2, SIGTTOU = 22;
  const block = new BigUint64Array([1n << BigInt(SIGTTOU - 1)]);
  const old = new BigUint64Array(1);
  const mask = (how: number, set: BigUint64Array, prev: bigint) =>
    libc().syscall(
      BigInt(SYS.rt_sigprocmask),
      BigInt(how),
      addr(set),
      prev,
      8n,
      0n,
    );
  mask(SIG_BLOCK, block, addr(old));
  try {
    setTermios(fd, t);
  } finally {
    mask(SIG_SETMASK, old, 0n);
  }
}

/** The user's terminal(s) as tinyc found them; see {@link saveTerminal}. */
export interface SavedTerminal {
  /** Is stdin a terminal? */
  readonly stdin: boolean;
  /**
   * `-t`: stdin raw, stdout without output processing (each only when it is
   * a terminal).
   */
  makeRaw(): void;
  /** Put back what was saved where it changed; never throws. */
  restore(): void;
}

/**
 * Save the settings of stdin and stdout when they are terminals, so that
 * whatever a run does to them (raw mode for `-t`, a container's `stty`
 * without `-t`) is undone at the end.
 */
export function saveTerminal(): SavedTerminal {
  const saved = new Map<number, Termios>();
  for (const fd of [0, 1]) {
    try {
      const t = getTermios(fd);
      if (t) saved.set(fd, t);
    } catch {
      // not a terminal we can use
    }
  }
  return {
    stdin: saved.has(0),
    makeRaw() {
      const input = saved.get(0);
      if (input) setTermios(0, makeRaw(input));
      // Often the same terminal as stdin: read it again.
      const output = saved.has(1) ? getTermios(1) : null;
      if (output) setTermios(1, withoutOutputProcessing(output));
    },
    restore() {
      // stdin last: when both are one terminal, its settings are the ones.
      for (const fd of [1, 0]) {
        const want = saved.get(fd);
        if (!want) continue;
        try {
          const now = getTermios(fd);
          if (now && !sameTermios(now, want)) setTermiosFromAnyJob(fd, want);
        } catch {
          // the terminal is gone
        }
      }
    },
  };
}
