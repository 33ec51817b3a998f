/**
 * Integration tests: the container never outlives a killed tinyc, whatever
 * credentials it runs with; a tinyc whose output is closed still cleans up
 * and prints no stack trace.
 */

import assert from "node:assert/strict";
import {
  pidsWithCmdline,
  sh,
  skipUnlessRoot,
  startSh,
  waitFor,
} from "./helpers.ts";

const ignore = skipUnlessRoot("tests/signals_test.ts");

for (
  const [what, flags] of [
    ["-u 65534", ["-u", "65534"]],
    ["-u 65534:65534", ["-u", "65534:65534"]],
    ["a group change only (-u 0:100)", ["-u", "0:100"]],
    ["a non-root user keeping a capability", [
      "-u",
      "65534",
      "--cap-add",
      "NET_BIND_SERVICE",
    ]],
  ] as const
) {
  Deno.test({
    name: `${what}: a SIGKILLed tinyc takes the container with it`,
    ignore,
  }, async () => {
    const marker = `3${Math.floor(Math.random() * 1e6)}.5`;
    const child = await startSh(`echo ready; exec sleep ${marker}`, [
      ...flags,
    ]);
    assert.ok(
      await waitFor(() => pidsWithCmdline(`sleep ${marker}`).length === 1),
    );
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    const survived = !(await waitFor(() =>
      pidsWithCmdline(`sleep ${marker}`).length === 0, 5000));
    // Whatever happened, leave nothing behind (the next run reclaims the cgroup).
    for (const pid of pidsWithCmdline(`sleep ${marker}`)) {
      Deno.kill(pid, "SIGKILL");
    }
    await sh("true");
    assert.ok(!survived, `the container (${what}) survived its launcher`);
  });
}
