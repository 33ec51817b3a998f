/**
 * `TINYC_TRACE=1`: print the time of each start-up phase to stderr, for
 * finding where the path from launch to the user's command spends its time.
 *
 * @module
 */

const enabled = Deno.env.get("TINYC_TRACE") === "1";
const encoder = new TextEncoder();

/** Note that `phase` was reached (ms since this process's time origin). */
export function trace(phase: string): void {
  if (!enabled) return;
  Deno.stderr.writeSync(
    encoder.encode(
      `tinyc trace [${Deno.pid}] ${
        ((performance.timeOrigin + performance.now()) % 100000).toFixed(1)
      } ${phase}\n`,
    ),
  );
}
