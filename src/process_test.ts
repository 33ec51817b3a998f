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

Deno.test("signal policy: forward, kill on the second stop signal, keyboard signals on a tty", async () => {
  const { signalAction } = await import("./launcher.ts");
  assert.equal(signalAction("SIGTERM", 0, false), "forward");
  assert.equal(signalAction("SIGTERM", 1, false), "kill");
  assert.equal(signalAction("SIGINT", 1, false), "kill");
  assert.equal(signalAction("SIGUSR1", 5, false), "forward");
  assert.equal(signalAction("SIGWINCH", 3, true), "forward");
  // On a terminal Ctrl-C is forwarded however often: a shell survives it.
  assert.equal(signalAction("SIGINT", 0, true), "forward");
  assert.equal(signalAction("SIGINT", 5, true), "forward");
  assert.equal(signalAction("SIGTERM", 1, true), "kill");
});
