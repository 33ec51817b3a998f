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

Deno.test("spawnAttr: the bytes glibc's posix_spawnattr functions make", async () => {
  const { spawnAttr, SPAWNATTR_SIZE } = await import("./process.ts");
  // glibc's own functions, from libc.ts's table (bound only when called;
  // tinyc itself builds the attributes in JavaScript).
  const { libc } = await import("./libc.ts");
  const c = libc();
  // Room beyond glibc's size, to see that it writes nothing past it.
  const attr = new Uint8Array(SPAWNATTR_SIZE + 64).fill(0x5a);
  const sigs = new Uint8Array(128);
  assert.equal(c.posix_spawnattr_init(attr), 0);
  c.sigfillset(sigs);
  assert.equal(c.posix_spawnattr_setsigdefault(attr, sigs), 0);
  c.sigemptyset(sigs);
  assert.equal(c.posix_spawnattr_setsigmask(attr, sigs), 0);
  assert.equal(c.posix_spawnattr_setflags(attr, 0x04 | 0x08), 0);
  assert.deepEqual(
    attr.subarray(SPAWNATTR_SIZE),
    new Uint8Array(64).fill(0x5a),
  );
  assert.deepEqual(spawnAttr(), attr.subarray(0, SPAWNATTR_SIZE));
});

Deno.test("spawn: the child gets default signals, an empty mask and the fds asked for", async () => {
  const { spawn, waitSync } = await import("./process.ts");
  const { pipe } = await import("./sync.ts");
  const { libc } = await import("./libc.ts");
  const [r, w] = pipe();
  // Deno ignores SIGPIPE; the child must not. It prints its masks on fd 5.
  const pid = spawn(
    "/bin/sh",
    ["sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status >&5"],
    [],
    { fds: [[5, w]] },
  );
  libc().close(w);
  const buf = new Uint8Array(4096);
  let out = "";
  for (;;) {
    const n = Number(libc().read(r, buf, BigInt(buf.length)));
    if (n <= 0) break;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
  libc().close(r);
  assert.deepEqual(waitSync(pid), { code: 0 });
  assert.match(out, /SigBlk:\s+0+\n/);
  // sh itself may ignore nothing here; SIGPIPE (bit 12) must not be.
  const ign = BigInt("0x" + out.match(/SigIgn:\s+([0-9a-f]+)/)![1]);
  assert.equal((ign >> 12n) & 1n, 0n);
});
