import assert from "node:assert/strict";
import { relay, type RelayIO } from "./pty_relay.ts";
import { openPty } from "./terminal.ts";
import { libc } from "./libc.ts";
import { spawn, statusToExitCode, waitAsync } from "./process.ts";

/** A host program on a new pty's slave (as stdin, stdout, stderr). */
function onPty(script: string): { master: number; pid: number } {
  const [master, slave] = openPty();
  const pid = spawn("/bin/sh", ["/bin/sh", "-c", script], [
    "PATH=/usr/bin:/bin",
  ], {
    fds: [[0, slave], [1, slave], [2, slave]],
  });
  libc().close(slave);
  return { master, pid };
}

function streamOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      chunks.forEach((x) => c.enqueue(x));
      c.close();
    },
  });
}

function collector(): RelayIO & { text(): string } {
  const parts: Uint8Array[] = [];
  return {
    input: null,
    write(p) {
      parts.push(p.slice());
      return Promise.resolve(p.length);
    },
    text: () =>
      new TextDecoder().decode(new Uint8Array(parts.flatMap((p) => [...p]))),
  };
}

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("input is typed in; its end is a terminal EOF, so cat ends", async () => {
  const { master, pid } = onPty("exec cat");
  const out = collector();
  const r = relay(master, {
    ...out,
    input: streamOf(enc("one\n"), enc("two")),
  });
  assert.equal(statusToExitCode(await waitAsync(pid)), 0);
  await r.finish(5000);
  // Echoed by the line discipline, and cat's copy; the partial line too
  // (cat ended: the first VEOF handed "two" over, the second was EOF).
  assert.equal(out.text().split("one\r\n").length, 3, out.text());
  assert.equal(out.text().split("two").length, 3, out.text());
});

Deno.test("no input at all: the program sees end of input at once", async () => {
  const { master, pid } = onPty("read -r line; echo status=$?");
  const out = collector();
  const r = relay(master, out);
  await waitAsync(pid);
  await r.finish(5000);
  assert.match(out.text(), /status=1/);
});

Deno.test("input the program never reads waits in the relay, not in a blocked write", async () => {
  // More than the pty holds (~68 KiB): a blocking write would never return.
  const big = new Uint8Array(512 * 1024).fill(0x61);
  const { master, pid } = onPty("sleep 0.3; echo done");
  const out = collector();
  const r = relay(master, { ...out, input: streamOf(big) });
  let ticks = 0;
  const t = setInterval(() => ticks++, 5);
  await waitAsync(pid);
  await r.finish(5000);
  clearInterval(t);
  assert.match(out.text(), /done/);
  assert.ok(ticks > 0);
});

Deno.test("a broken output hangs the terminal up: the writer gets EIO and ends", async () => {
  const { master, pid } = onPty("while echo y; do :; done; exit 7");
  let writes = 0;
  const r = relay(master, {
    input: null,
    write() {
      if (++writes > 2) return Promise.reject(new Deno.errors.BrokenPipe());
      return Promise.resolve(1);
    },
  });
  await r.done;
  assert.equal(r.outputBroken, true);
  assert.equal(statusToExitCode(await waitAsync(pid)), 7);
  await r.finish(10); // already closed: nothing to do
});

Deno.test("finish is bounded when something else keeps the terminal open", async () => {
  const [master, slave] = openPty();
  const out = collector();
  const r = relay(master, out);
  libc().write(slave, enc("hi\n"), 3n);
  await r.finish(200);
  libc().close(slave);
  assert.match(out.text(), /hi/);
});
