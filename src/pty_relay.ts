/**
 * `-t`: the launcher's relay between its own stdio and the pty master of
 * the container's terminal.
 *
 * It never blocks the event loop (signals must always be handled): the
 * master is non-blocking, one `poll` at a time waits on a pool thread for
 * the master or a wake-up pipe, and the reads and writes it allows run on
 * the main thread without blocking. Output goes to stdout through Deno's
 * async writes.
 *
 * - Input: what stdin gives is typed into the terminal; when it ends, the
 *   terminal's end of input follows (VEOF, as Ctrl-D), so `echo x | tinyc
 *   run -t -- cat` ends. Input the container does not read waits here (a
 *   bounded queue), not in a blocked write.
 * - Output: when stdout breaks (a closed pipe), the relay closes the master:
 *   the kernel hangs up the container's terminal (SIGHUP to its foreground
 *   jobs, EIO after), as when a terminal window closes.
 * - The end: the container's side closes when its last process is gone;
 *   the relay reads up to the kernel's EIO and writes everything out.
 *
 * @module
 */

import { errno, libc, SYS } from "./libc.ts";
import { copyWindowSize, endOfInput, getTermios } from "./terminal.ts";

const F_GETFL = 3, F_SETFL = 4, O_NONBLOCK = 0o4000, O_CLOEXEC = 0o2000000;
const POLLIN = 1, POLLOUT = 4, POLLERR = 8, POLLHUP = 16;
const EAGAIN = 11, EINTR = 4;
/** Input queued for the terminal before stdin is read further. */
const INPUT_LIMIT = 64 * 1024;
/** Output queued for stdout before the master is read further. */
const OUTPUT_LIMIT = 256 * 1024;

/** Queued output chunks are joined up to this size for one stdout write. */
const WRITE_BATCH = 64 * 1024;

/** `chunks` with the leading ones joined into one of at most WRITE_BATCH bytes. */
function batch(chunks: Uint8Array[]): Uint8Array[] {
  let n = 0, count = 0;
  while (count < chunks.length && n + chunks[count].length <= WRITE_BATCH) {
    n += chunks[count++].length;
  }
  if (count < 2) return chunks;
  const joined = new Uint8Array(n);
  let off = 0;
  for (const c of chunks.slice(0, count)) {
    joined.set(c, off);
    off += c.length;
  }
  return [joined, ...chunks.slice(count)];
}

/** Where the relay's stdin and stdout are (the launcher's own, or a test's). */
export interface RelayIO {
  /** What to type into the terminal; null for nothing. */
  input: ReadableStream<Uint8Array> | null;
  /** Write (part of) `p` to the output; resolves to the bytes written. */
  write(p: Uint8Array): Promise<number>;
  /** A terminal whose window size the container's follows (SIGWINCH), if any. */
  sizeFrom?: number;
}

/** A running relay; see {@link relay}. */
export interface PtyRelay {
  /**
   * Resolves when the container's side is closed and its output written,
   * or when stdout broke (and the terminal was hung up). Never rejects.
   */
  readonly done: Promise<void>;
  /** Did writing to stdout fail (a closed pipe)? */
  readonly outputBroken: boolean;
  /**
   * The container ended: wait at most `ms` for the kernel to report its side
   * closed (a process elsewhere could hold the terminal open), then stop
   * reading stdin and close the master; resolves once everything read has
   * been written to stdout (or stdout broke). Idempotent; never rejects.
   */
  finish(ms: number): Promise<void>;
}

function setNonBlocking(fd: number): void {
  const fl = libc().syscall(
    BigInt(SYS.fcntl),
    BigInt(fd),
    BigInt(F_GETFL),
    0n,
    0n,
    0n,
  );
  if (fl >= 0n) {
    libc().syscall(
      BigInt(SYS.fcntl),
      BigInt(fd),
      BigInt(F_SETFL),
      fl | BigInt(O_NONBLOCK),
      0n,
      0n,
    );
  }
}

/** The launcher's own stdio, for {@link relay}. */
export function stdio(): RelayIO {
  return {
    input: Deno.stdin.readable,
    write: (p) => Deno.stdout.write(p),
    sizeFrom: Deno.stdin.isTerminal()
      ? 0
      : Deno.stdout.isTerminal()
      ? 1
      : undefined,
  };
}

/**
 * Relay between `io` and pty master `master`, which the relay now owns (it
 * closes it). See the module comment.
 */
export function relay(master: number, io: RelayIO = stdio()): PtyRelay {
  setNonBlocking(master);
  const wakeFds = new Int32Array(2);
  if (
    libc().pipe2(new Uint8Array(wakeFds.buffer), O_CLOEXEC | O_NONBLOCK) !== 0
  ) {
    libc().close(master);
    throw new Error(`pipe2: errno ${errno()}`);
  }
  const [wakeRead, wakeWrite] = wakeFds;
  let closed = false;
  const wake = () => {
    if (!closed) libc().write(wakeWrite, new Uint8Array(1), 1n);
  };

  // stdin -> queue
  const input: Uint8Array[] = [];
  let inputBytes = 0;
  let inputEnded = io.input === null;
  let eofTyped = false;
  let lastTyped: number | undefined;
  let inputRoom: (() => void) | null = null;
  // master -> stdout
  const output: Uint8Array[] = [];
  let outputBytes = 0;
  let outputBroken = false;
  let outputIdle: (() => void) | null = null;
  let writing = false;
  // the loop
  let masterClosed = false; // read saw EIO: the container's side is gone
  let stopping = false;

  if (io.sizeFrom !== undefined) copyWindowSize(io.sizeFrom, master);
  const onWinch = () => {
    try {
      if (io.sizeFrom !== undefined) copyWindowSize(io.sizeFrom, master);
    } catch {
      // the pty is gone
    }
  };
  if (io.sizeFrom !== undefined) Deno.addSignalListener("SIGWINCH", onWinch);

  const reader = io.input?.getReader();
  (async () => {
    if (!reader) return;
    try {
      while (!stopping) {
        const { value, done } = await reader.read();
        if (done || stopping) break;
        if (value.length === 0) continue;
        input.push(value);
        inputBytes += value.length;
        wake();
        if (inputBytes >= INPUT_LIMIT) {
          await new Promise<void>((r) => inputRoom = r);
        }
      }
    } catch {
      // stdin failed or was released: treat as its end
    }
    inputEnded = true;
    wake();
  })();

  const pump = async () => {
    if (writing) return;
    writing = true;
    try {
      while (output.length > 0 && !outputBroken) {
        // One write for what has queued up (each is a trip to a thread).
        if (output.length > 1 && output[0].length < WRITE_BATCH) {
          output.splice(0, output.length, ...batch(output));
        }
        const chunk = output[0];
        let n: number;
        try {
          n = await io.write(chunk);
        } catch {
          outputBroken = true;
          break;
        }
        if (n >= chunk.length) output.shift();
        else output[0] = chunk.subarray(n);
        outputBytes -= n;
        wake(); // room again: the loop may read the master
      }
    } finally {
      writing = false;
      if (outputBroken) {
        output.length = 0;
        outputBytes = 0;
        wake();
      }
      if (output.length === 0) outputIdle?.();
    }
  };

  /** Type queued input, then the end of input once stdin ended. */
  const typeInput = (): void => {
    while (input.length > 0) {
      const chunk = input[0];
      const n = Number(libc().write(master, chunk, BigInt(chunk.length)));
      if (n < 0) {
        const e = errno();
        if (e === EAGAIN || e === EINTR) return;
        // EIO: nobody left to read it.
        input.length = 0;
        inputBytes = 0;
        break;
      }
      lastTyped = chunk[n - 1] ?? lastTyped;
      if (n >= chunk.length) input.shift();
      else input[0] = chunk.subarray(n);
      inputBytes -= n;
    }
    if (inputBytes < INPUT_LIMIT && inputRoom) {
      inputRoom();
      inputRoom = null;
    }
    if (input.length === 0 && inputEnded && !eofTyped) {
      // The settings at this moment: the program may have changed them.
      let t;
      try {
        t = getTermios(master);
      } catch {
        t = null;
      }
      const eof = t ? endOfInput(t, lastTyped) : new Uint8Array([4]);
      const n = Number(libc().write(master, eof, BigInt(eof.length)));
      if (n < 0 && errno() === EAGAIN) return; // again when there is room
      eofTyped = true;
    }
  };

  const readOutput = (buf: Uint8Array): void => {
    while (outputBytes < OUTPUT_LIMIT) {
      const n = Number(libc().read(master, buf, BigInt(buf.length)));
      if (n > 0) {
        output.push(buf.slice(0, n));
        outputBytes += n;
        continue;
      }
      const e = n < 0 ? errno() : 0;
      if (n < 0 && (e === EAGAIN || e === EINTR)) return;
      masterClosed = true; // EIO (or EOF): the last slave fd is closed
      return;
    }
  };

  const loop = async () => {
    const buf = new Uint8Array(65536);
    const pfds = new Int32Array(4);
    const drain = new Uint8Array(64);
    while (!masterClosed && !outputBroken && !stopping) {
      const wantInput = input.length > 0 || (inputEnded && !eofTyped);
      const wantOutput = outputBytes < OUTPUT_LIMIT;
      pfds[0] = wantInput || wantOutput ? master : -1;
      pfds[1] = (wantOutput ? POLLIN : 0) | (wantInput ? POLLOUT : 0);
      pfds[2] = wakeRead;
      pfds[3] = POLLIN;
      await libc().poll_async(new Uint8Array(pfds.buffer), 2n, -1);
      while (Number(libc().read(wakeRead, drain, BigInt(drain.length))) > 0) {
        // drained
      }
      const revents = pfds[1] >>> 16;
      if (pfds[0] < 0) continue;
      if (wantOutput && revents & (POLLIN | POLLHUP | POLLERR)) {
        readOutput(buf);
        pump();
      }
      if (wantInput && revents & (POLLOUT | POLLHUP | POLLERR)) typeInput();
    }
  };

  const close = () => {
    if (closed) return;
    closed = true;
    stopping = true;
    if (io.sizeFrom !== undefined) {
      Deno.removeSignalListener("SIGWINCH", onWinch);
    }
    inputRoom?.();
    try {
      reader?.releaseLock();
    } catch {
      // a read is pending: it ends with the process
    }
    // Closing the last fd of the master hangs up the container's terminal.
    libc().close(master);
    libc().close(wakeRead);
    libc().close(wakeWrite);
  };

  const looping = loop().catch(() => {
    masterClosed = true;
  });
  const done = (async () => {
    await looping;
    // The loop is over: the container's side is gone, or stdout broke
    // (closing the master hangs the terminal up, the container may still be
    // writing), or finish() gave up waiting. No poll waits on the fds now.
    close();
    if (!outputBroken && output.length > 0) {
      await new Promise<void>((r) => {
        outputIdle = r;
        pump();
      });
    }
  })();

  return {
    done,
    get outputBroken() {
      return outputBroken;
    },
    async finish(ms: number) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        looping,
        new Promise((r) => timer = setTimeout(r, ms)),
      ]);
      clearTimeout(timer);
      stopping = true;
      wake();
      await done;
    },
  };
}
