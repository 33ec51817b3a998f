/**
 * `TINYC_TRACE=1`: print the time of each start-up phase to stderr, for
 * finding where the path from launch to the user's command spends its time.
 *
 * @module
 */

const enabled = Deno.env.get("TINYC_TRACE") === "1";
const encoder = new TextEncoder();

/**
 * Note that `phase` was reached. Times are wall-clock milliseconds (modulo
 * 100 s), so the launcher's and the init's lines can be compared.
 */
export function trace(phase: string): void {
  if (!enabled) return;
  // First, when this process's Deno runtime started (its time origin).
  if (!started) {
    started = true;
    line(performance.timeOrigin, "deno runtime started");
  }
  line(performance.timeOrigin + performance.now(), phase);
}

let started = false;

function line(ms: number, phase: string): void {
  Deno.stderr.writeSync(
    encoder.encode(
      `tinyc trace [${Deno.pid}] ${(ms % 100000).toFixed(1)} ${phase}\n`,
    ),
  );
}
