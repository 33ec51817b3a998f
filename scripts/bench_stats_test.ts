import assert from "node:assert/strict";
import { formatDelta, median } from "./bench_stats.ts";

Deno.test("formatDelta gives one sign: +5.5 ms, -5.5 ms, +0.0 ms", () => {
  assert.equal(formatDelta(5.5), "+5.5 ms");
  assert.equal(formatDelta(-5.5), "-5.5 ms");
  assert.equal(formatDelta(-0.04), "+0.0 ms");
  assert.equal(formatDelta(0), "+0.0 ms");
  assert.equal(formatDelta(-12.96), "-13.0 ms");
});

Deno.test("median of odd and even counts", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});
