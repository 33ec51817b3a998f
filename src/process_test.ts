import assert from "node:assert/strict";
import { decodeWaitStatus, statusToExitCode } from "./process.ts";

Deno.test("wait status: exit codes and signals (128+N)", () => {
  assert.deepEqual(decodeWaitStatus(0), { code: 0 });
  assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3 });
  assert.deepEqual(decodeWaitStatus(9), { signal: 9 });
  assert.equal(statusToExitCode(decodeWaitStatus(9)), 137);
  assert.equal(statusToExitCode(decodeWaitStatus(15 | 0x80)), 143); // core dumped flag
  assert.equal(statusToExitCode(decodeWaitStatus(42 << 8)), 42);
});
