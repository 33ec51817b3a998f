/**
 * Spawning, waiting for and signalling processes through libc.
 *
 * `fork()` is unusable in Deno (V8 marks its heap MADV_DONTFORK), so children
 * are made with glibc's `posix_spawn`, whose child runs no JavaScript. That
 * makes it safe right after `unshare` on the main thread: the child is born
 * into the new namespaces.
 *
 * @module
 */

import { cstr, cstrArray, errno, errnoError, libc } from "./libc.ts";

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;

/** Options for {@link spawn}. */
export interface SpawnOptions {
  /** Child fd number -> parent fd to dup2 onto it. 0, 1, 2 are inherited unless listed. */
  fds?: Array<[child: number, parent: number]>;
}

/**
 * `posix_spawn` `path` with `argv` and `env` (KEY=VALUE), all signals reset to
 * their defaults (Deno ignores SIGPIPE) and an empty signal mask.
 * Returns the child's pid.
 */
export function spawn(
  path: string,
  argv: readonly string[],
  env: readonly string[],
  opts: SpawnOptions = {},
): number {
  const c = libc();
  const actions = new Uint8Array(256);
  c.posix_spawn_file_actions_init(actions);
  try {
    for (const [child, parent] of opts.fds ?? []) {
      c.posix_spawn_file_actions_adddup2(actions, parent, child);
    }
    const pid = new Int32Array(1);
    const a = cstrArray(argv), e = cstrArray(env);
    const rc = c.posix_spawn(
      new Uint8Array(pid.buffer),
      cstr(path),
      actions,
      spawnAttr(),
      new Uint8Array(a.ptrs.buffer),
      new Uint8Array(e.ptrs.buffer),
    );
    if (rc !== 0) {
      throw errnoError("posix_spawn", `\`${path}\``, rc);
    }
    return pid[0];
  } finally {
    c.posix_spawn_file_actions_destroy(actions);
  }
}

/** glibc's sizeof(posix_spawnattr_t) (x86_64 and aarch64). */
export const SPAWNATTR_SIZE = 336;

/**
 * The `posix_spawnattr_t` that `posix_spawnattr_init`, `setsigdefault`
 * (every signal `sigfillset` puts in a set), `setsigmask` (empty) and
 * `setflags(SETSIGDEF|SETSIGMASK)` make, built here rather than through
 * those six functions: each bound symbol costs ~0.27 ms on the way to the
 * init's spawn. The layout is glibc's public one (<spawn.h>): short flags
 * at 0, pid_t pgrp at 4, sigset_t sigdefault at 8, sigset_t sigmask at 136
 * (128 bytes each), then sched_param, policy and padding; a unit test
 * compares it with what glibc's functions make.
 */
export function spawnAttr(): Uint8Array<ArrayBuffer> {
  const attr = new Uint8Array(SPAWNATTR_SIZE);
  new DataView(attr.buffer).setInt16(
    0,
    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK,
    true,
  );
  // sigfillset: signals 1-64 (the kernel's), but glibc's internal
  // SIGCANCEL (32) and SIGSETXID (33); bit N-1 is signal N.
  attr.fill(0xff, 8, 8 + 8);
  attr[8 + 3] = 0x7f; // bit 31: signal 32
  attr[8 + 4] = 0xfe; // bit 32: signal 33
  return attr;
}

/** How a child ended. */
export type ExitStatus = { code: number; signal?: undefined } | {
  code?: undefined;
  signal: number;
};

/** Decode a `wait` status word. */
export function decodeWaitStatus(status: number): ExitStatus {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff };
  return { signal: sig };
}

/** The shell convention for a status: the code, or 128+N for signal N. */
export function statusToExitCode(s: ExitStatus): number {
  return s.signal !== undefined ? 128 + s.signal : s.code;
}

/** Wait for `pid` without blocking the event loop. */
export async function waitAsync(pid: number): Promise<ExitStatus> {
  const st = new Int32Array(1);
  for (;;) {
    const r = await libc().waitpid_async(pid, new Uint8Array(st.buffer), 0);
    if (r === pid) return decodeWaitStatus(st[0]);
    // EINTR is the only retryable case; errno is unavailable on pool threads,
    // so distinguish "no such child" by probing with kill(pid, 0).
    if (libc().kill(pid, 0) !== 0) {
      throw errnoError("waitpid", `pid ${pid}`, 10 /* ECHILD */);
    }
  }
}

/** Wait for `pid`, blocking the calling thread. */
export function waitSync(pid: number): ExitStatus {
  const st = new Int32Array(1);
  for (;;) {
    const r = libc().waitpid(pid, new Uint8Array(st.buffer), 0);
    if (r === pid) return decodeWaitStatus(st[0]);
    const e = errno();
    if (e !== 4 /* EINTR */) {
      throw errnoError("waitpid", `pid ${pid}`, e);
    }
  }
}

/** `kill(pid, sig)`; returns false when the process is gone. */
export function signal(pid: number, sig: number): boolean {
  return libc().kill(pid, sig) === 0;
}
