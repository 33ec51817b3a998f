/**
 * OCI hooks the runtime runs on the host (prestart, createRuntime,
 * poststart, poststop): each gets the container's state JSON on stdin and
 * must exit 0 within its timeout. The init runs createContainer and
 * startContainer itself (src/init_oci.ts).
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { Hook } from "../spec.ts";

/** Run `hooks` in order; throws naming the first that fails. */
export async function runHostHooks(
  kind: string,
  hooks: readonly Hook[] | undefined,
  state: unknown,
): Promise<void> {
  for (const h of hooks ?? []) {
    const ctl = new AbortController();
    const timer = h.timeout
      ? setTimeout(() => ctl.abort(), h.timeout * 1000)
      : undefined;
    try {
      const child = new Deno.Command(h.path, {
        args: (h.args ?? []).slice(1),
        env: Object.fromEntries(
          (h.env ?? []).map((e) => {
            const i = e.indexOf("=");
            return i < 0 ? [e, ""] : [e.slice(0, i), e.slice(i + 1)];
          }),
        ),
        clearEnv: true,
        stdin: "piped",
        stdout: "inherit",
        stderr: "inherit",
        signal: ctl.signal,
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(JSON.stringify(state)))
        .catch(() => undefined);
      await w.close().catch(() => undefined);
      const st = await child.status;
      if (ctl.signal.aborted) {
        throw new TinycError(
          `${kind} hook ${h.path}: timed out after ${h.timeout} s`,
        );
      }
      if (!st.success) {
        throw new TinycError(
          `${kind} hook ${h.path}: ${
            st.signal ? `killed by ${st.signal}` : `exit status ${st.code}`
          }`,
        );
      }
    } catch (e) {
      if (e instanceof TinycError) throw e;
      throw new TinycError(`${kind} hook ${h.path}: ${(e as Error).message}`);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}
