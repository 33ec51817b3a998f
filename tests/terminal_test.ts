/**
 * Integration tests for `-t` and the user's terminal: input from a pipe,
 * signals while input is pending, a closed stdout, and the terminal's
 * settings after a run (through `script`, which gives tinyc a real pty).
 */

import assert from "node:assert/strict";
import { busyboxRoot, skipUnlessRoot } from "./helpers.ts";
import { cgroupsOf, leasesOf } from "./leftovers.ts";

const ignore = skipUnlessRoot("tests/terminal_test.ts");
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

function spawnTinyc(args: string[]): Deno.ChildProcess {
  return new Deno.Command(MAIN, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The child's status, or null when it has not ended within `ms` (then it is killed). */
async function statusWithin(
  child: Deno.ChildProcess,
  ms: number,
): Promise<Deno.CommandStatus | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const st = await Promise.race([
    child.status,
    new Promise<null>((r) => timer = setTimeout(() => r(null), ms)),
  ]);
  clearTimeout(timer);
  if (st === null) {
    child.kill("SIGKILL");
    await child.status;
  }
  return st;
}

async function text(s: ReadableStream<Uint8Array>): Promise<string> {
  return decoder.decode(await new Response(s).arrayBuffer());
}

Deno.test({
  name: "-t with piped input: the input's end is the terminal's EOF (cat ends)",
  ignore,
}, async () => {
  const root = await busyboxRoot();
  for (const [input, want] of [["x\n", /x\r\n/], ["abc", /abc/]] as const) {
    const child = spawnTinyc(["run", "-t", "--root", root, "--", "cat"]);
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
    const [out, err, st] = await Promise.all([
      text(child.stdout),
      text(child.stderr),
      statusWithin(child, 20000),
    ]);
    assert.ok(st, `cat never saw the end of ${JSON.stringify(input)}`);
    assert.equal(st.code, 0, err);
    assert.match(out, want);
  }
});

Deno.test({
  name: "-t: SIGTERM works while input the container never reads is pending",
  ignore,
}, async () => {
  const child = spawnTinyc([
    "run",
    "-t",
    "--root",
    await busyboxRoot(),
    "--",
    "sh",
    "-c",
    "echo ready; exec sleep 1000",
  ]);
  const err = text(child.stderr);
  // More than a pty buffers, in lines (a canonical-mode terminal drops
  // what overflows a partial line, but holds complete ones back): a
  // blocking relay would hang writing it.
  const input = new Uint8Array(256 * 1024).fill(0x61);
  for (let i = 63; i < input.length; i += 64) input[i] = 0x0a;
  const w = child.stdin.getWriter();
  const writing = w.write(input).catch(() => undefined);
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    out += decoder.decode(value);
  }
  reader.releaseLock();
  const drained = child.stdout.pipeTo(new WritableStream());
  // PID 1 ignores the first (no handler), the second kills it.
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 200));
  child.kill("SIGTERM");
  const st = await statusWithin(child, 20000);
  await w.abort().catch(() => undefined);
  await writing;
  await drained.catch(() => undefined);
  assert.ok(st, "tinyc ignored SIGTERM while its relay had input pending");
  assert.equal(st.code, 137, await err);
});

for (
  const [what, flags] of [["plain", []], ["bridge", [
    "--network",
    "bridge",
  ]]] as const
) {
  Deno.test({
    name:
      `-t, ${what}: a closed stdout prints no stack trace, and cleanup runs`,
    ignore,
  }, async () => {
    const child = spawnTinyc([
      "run",
      "-t",
      ...flags,
      "--root",
      await busyboxRoot(),
      "--",
      "sh",
      "-c",
      "sleep 0.5; yes; exit 3",
    ]);
    await child.stdin.close();
    const err = text(child.stderr);
    // Like `| head -c 10`: read a little, then close the pipe.
    const reader = child.stdout.getReader();
    let got = 0;
    while (got < 10) {
      const { value, done } = await reader.read();
      if (done) break;
      got += value.length;
    }
    await reader.cancel();
    const st = await statusWithin(child, 20000);
    assert.ok(st, "tinyc did not end after its stdout closed");
    const stderr = await err;
    assert.doesNotMatch(stderr, /Uncaught|\n\s+at /, stderr);
    assert.ok(stderr.split("\n").length <= 2, stderr);
    // yes got EIO once the relay hung its terminal up; tinyc lived on.
    assert.equal(st.code, 3, stderr);
    assert.deepEqual(await cgroupsOf(child.pid), []);
    assert.deepEqual(leasesOf(child.pid), []);
  });
}

/** Run `shell` under `script`, so tinyc's stdin and stdout are a real terminal. */
async function inTerminal(shell: string): Promise<string> {
  const out = await new Deno.Command("script", {
    args: ["-qec", shell, "/dev/null"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return decoder.decode(out.stdout);
}

const haveScript = (() => {
  try {
    return Deno.statSync("/usr/bin/script").isFile;
  } catch {
    return false;
  }
})();
if (!haveScript) {
  console.log("tests/terminal_test.ts: skipping terminal tests: no script(1)");
}

Deno.test({
  name: "-t output captured from a terminal reads \\r\\n, not \\r\\r\\n",
  ignore: ignore || !haveScript,
}, async () => {
  const out = await inTerminal(
    `${MAIN} run -t --root ${await busyboxRoot()} -- echo hi`,
  );
  assert.match(out, /hi\r\n/);
  assert.doesNotMatch(out, /\r\r\n/);
});

Deno.test({
  name: "the user's terminal is as before after a run, with and without -t",
  ignore: ignore || !haveScript,
}, async () => {
  const root = await busyboxRoot();
  const modes =
    "echo MODES; stty -a | grep -ow -- '-\\?echo\\|-\\?icanon\\|-\\?opost\\|-\\?isig'";
  // What follows the marker (a run's own output comes before it).
  const after = (out: string) =>
    out.slice(out.lastIndexOf("MODES") + 5).trim().split(/\s+/).sort();
  const before = after(await inTerminal(modes));
  assert.deepEqual(before, ["echo", "icanon", "isig", "opost"]);
  // Without -t the container has the terminal as stdin and can change it.
  const plain = await inTerminal(
    `${MAIN} run --root ${root} -- stty -echo -icanon; ${modes}`,
  );
  assert.deepEqual(after(plain), before);
  const tty = await inTerminal(
    `${MAIN} run -t --root ${root} -- true; ${modes}`,
  );
  assert.deepEqual(after(tty), before);
  // It did change it while it ran.
  const during = await inTerminal(
    `${MAIN} run --root ${root} -- sh -c 'stty -echo; stty -a'`,
  );
  assert.match(during, /(^|\s)-echo\b/);
});
