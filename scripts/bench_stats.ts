/**
 * The arithmetic and formatting of `deno task bench`, kept apart from the
 * script so it can be tested.
 *
 * @module
 */

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A difference in milliseconds with its sign: `+5.5 ms`, `-5.5 ms`, `+0.0 ms`. */
export function formatDelta(ms: number): string {
  const rounded = Math.round(ms * 10) / 10;
  // -0.04 rounds to -0: no "-0.0".
  return `${rounded < 0 ? "-" : "+"}${Math.abs(rounded).toFixed(1)} ms`;
}
