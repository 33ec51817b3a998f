/**
 * The report-pipe handover of rootless mode: both halves.
 *
 * In root mode the launcher learns that the init's `execve` succeeded from
 * EOF on the report pipe, whose write end only the init holds (fd 4, close
 * on exec). Rootless, the init's parent is util-linux `unshare`, which got
 * fd 4 too and keeps it open until the container ends, so that EOF would
 * never come in time. So the init makes a new pipe of its own, tells the
 * launcher its host pid and the read end's fd number over the inherited
 * pipe (the hello), and moves the new write end onto fd 4. The launcher
 * opens the read end through `/proc/PID/fd/N`, which it may, because it owns
 * the init's user namespace; from then on the protocol is root mode's.
 *
 * The init half imports only libc and sync: it runs on the path to exec.
 *
 * @module
 */

import { cstr, errnoError, libc } from "../libc.ts";
import { TinycError } from "../errors.ts";
import { receiveMessage, REPORT_FD, sendMessage } from "../sync.ts";

/** The extra init argument that selects rootless mode (before the config is read). */
export const ROOTLESS_INIT_ARG = "--rootless";

/** What a rootless init sends first, on the inherited report pipe. */
export interface RootlessHello {
  /** The init's pid in the launcher's PID namespace. */
  pid: number;
  /** The init's fd of the read end of its own report pipe. */
  fd: number;
}

function fail(call: string, detail: string): never {
  throw errnoError(call, detail);
}

/**
 * Init half, first thing, before reading the config: make the init's own
 * report pipe, send the hello, and put the new write end on fd 4. Returns
 * the read end's fd, to close once the config has arrived (by then the
 * launcher has its own copy).
 *
 * The pid comes from `/proc/self`: until the init mounts its own /proc, the
 * mounted one is the launcher's, whose PID namespace names it.
 */
export function initHandover(): number {
  const pid = Number(Deno.readLinkSync("/proc/self"));
  const fds = new Int32Array(2);
  const O_CLOEXEC = 0o2000000;
  if (libc().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) {
    fail("pipe2", "report");
  }
  const [r, w] = fds;
  const hello: RootlessHello = { pid, fd: r };
  sendMessage(REPORT_FD, hello);
  // dup2 closes our copy of the shared pipe; the new fd 4 is not
  // close-on-exec, like the inherited one: the init's close_range marks it.
  if (libc().dup2(w, REPORT_FD) < 0) fail("dup2", `${w} -> ${REPORT_FD}`);
  libc().close(w);
  return r;
}

/** Init half, after the config arrived: drop the read end. */
export function initHandoverDone(readFd: number): void {
  libc().close(readFd);
}

/**
 * Launcher half: read the hello from `reportFd` (the pipe shared with
 * `unshare`) and open the init's own report pipe. Returns the init's pid and
 * the new read end (close-on-exec). When the pipe ends before the hello,
 * `unshare` or the init died first: `reap` waits for our child and returns
 * its exit code, for the message (unshare printed the cause already).
 */
export function launcherHandover(
  reportFd: number,
  reap: () => number,
): { pid: number; reportFd: number } {
  const hello = receiveMessage<RootlessHello>(reportFd);
  if (hello === null) {
    throw new TinycError(
      `rootless: unshare exited with status ${reap()} before the init was ready (see the message above)`,
    );
  }
  const path = `/proc/${hello.pid}/fd/${hello.fd}`;
  const O_RDONLY_CLOEXEC = 0o2000000;
  const fd = libc().open(cstr(path), O_RDONLY_CLOEXEC, 0);
  if (fd < 0) fail("open", `\`${path}\` (the init's report pipe)`);
  return { pid: hello.pid, reportFd: fd };
}
