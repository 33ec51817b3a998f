/**
 * OCI hooks the runtime runs on the host (prestart, createRuntime,
 * poststart, poststop): each gets the container's state JSON on stdin and
 * must exit 0 within its timeout. The init runs createContainer and
 * startContainer itself (src/init_oci.ts).
 *
 * Hooks are spawned with their `args` as the whole argv, argv[0] included
 * (dockerd's libnetwork-setkey hook is `/proc/PID/exe` with argv[0]
 * `libnetwork-setkey`, which selects what it does), and exactly `env`.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { Hook } from "../spec.ts";
import { signal, spawn, waitAsync } from "../process.ts";
import { pipe } from "../sync.ts";
import { libc } from "../libc.ts";

/** Run `hooks` in order; throws naming the first that fails. */
export async function runHostHooks(
  kind: string,
  hooks: readonly Hook[] | undefined,
  state: unknown,
): Promise<void> {
  for (const h of hooks ?? []) {
    const [r, w] = pipe();
    let pid: number;
    try {
      pid = spawn(h.path, h.args?.length ? h.args : [h.path], h.env ?? [], {
        fds: [[0, r]],
      });
    } catch (e) {
      libc().close(r);
      libc().close(w);
      throw new TinycError(`${kind} hook ${h.path}: ${(e as Error).message}`);
    }
    libc().close(r);
    const body = new TextEncoder().encode(JSON.stringify(state));
    // A hook that does not read its stdin must not block us: the state is
    // small (it fits a pipe's buffer), and a closed reader is fine.
    libc().write(w, body, BigInt(body.length));
    libc().close(w);
    let timedOut = false;
    const timer = h.timeout
      ? setTimeout(() => {
        timedOut = true;
        signal(pid, 9);
      }, h.timeout * 1000)
      : undefined;
    try {
      const st = await waitAsync(pid);
      if (timedOut) {
        throw new TinycError(
          `${kind} hook ${h.path}: timed out after ${h.timeout} s`,
        );
      }
      if (st.signal !== undefined) {
        throw new TinycError(
          `${kind} hook ${h.path}: killed by signal ${st.signal}`,
        );
      }
      if (st.code !== 0) {
        throw new TinycError(`${kind} hook ${h.path}: exit status ${st.code}`);
      }
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}
