/**
 * Integration tests: the container never outlives a killed tinyc, whatever
 * credentials it runs with; a tinyc whose output is closed still cleans up
 * and prints no stack trace.
 */

import assert from "node:assert/strict";
import { cgroupsOf } from "./leftovers.ts";
import {
  busyboxRoot,
  pidsWithCmdline,
  readUntil,
  sh,
  skipUnlessRoot,
  startSh,
  tinycSpawn,
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
    const started = await waitFor(() =>
      pidsWithCmdline(`sleep ${marker}`).length === 1
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
    assert.ok(started, "the container never ran its command");
    assert.ok(!survived, `the container (${what}) survived its launcher`);
  });
}

Deno.test({
  name:
    "an error nobody awaited ends the run through its cleanup: one line, exit 125",
  ignore,
}, async () => {
  const src = (p: string) => new URL(`../src/${p}`, import.meta.url).href;
  const marker = `5${Math.floor(Math.random() * 1e6)}.5`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { catchStrayErrors } from "${src("stray.ts")}";
       import { runCli } from "${src("main_cli.ts")}";
       catchStrayErrors();
       // A rejection no one handles, once the container runs.
       setTimeout(() => { Promise.reject(new Error("boom")); }, 1500);
       Deno.exit(await runCli("run", ${
        JSON.stringify([
          "--root",
          await busyboxRoot(),
          "--",
          "sh",
          "-c",
          `exec sleep ${marker}`,
        ])
      }, ""));`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await child.output();
  assert.equal(new TextDecoder().decode(out.stderr), "tinyc: boom\n");
  assert.equal(out.code, 125);
  assert.deepEqual(pidsWithCmdline(`sleep ${marker}`), []);
  assert.deepEqual(await cgroupsOf(child.pid), []);
});

Deno.test({
  name:
    "a SIGKILLed tinyc's mount points (-w, -v) leave the rootfs at the next run",
  ignore,
}, async () => {
  const top = await Deno.makeTempDir({ prefix: "tinyc-kill-mp-" });
  try {
    const root = `${top}/root`;
    const cp = await new Deno.Command("cp", {
      args: ["-a", await busyboxRoot(), root],
    }).output();
    assert.equal(cp.code, 0);
    await Deno.mkdir(`${top}/vol`);
    const child = tinycSpawn([
      "run",
      "--root",
      root,
      "-w",
      "/kw/deep",
      "-v",
      `${top}/vol:/kv`,
      "--",
      "/bin/sh",
      "-c",
      "echo ready; exec sleep 1000",
    ]);
    await readUntil(child.stdout, /ready/);
    assert.ok(Deno.statSync(`${root}/kw/deep`).isDirectory);
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    // PDEATHSIG takes the container; then any run finishes the cleanup.
    await waitFor(() => pidsWithCmdline("sleep 1000").length === 0, 5000);
    assert.equal((await sh("true")).code, 0);
    for (const p of ["kw", "kv"]) {
      assert.throws(() => Deno.lstatSync(`${root}/${p}`), `${p} is left`);
    }
  } finally {
    await Deno.remove(top, { recursive: true });
  }
});
