import assert from "node:assert/strict";
import {
  endOfInput,
  getTermios,
  makeRaw,
  openPty,
  type Termios,
  withoutOutputProcessing,
} from "./terminal.ts";
import { libc } from "./libc.ts";

/** A termios as a fresh pty has it (stty sane: icrnl opost onlcr icanon echo isig ...). */
function sane(): Termios {
  const t = new Uint8Array(new ArrayBuffer(64));
  const f = new Uint32Array(t.buffer, 0, 4);
  f[0] = 0o2400 | 0o400; // IXON | ICRNL ...
  f[1] = 0o5; // OPOST | ONLCR
  f[2] = 0o277; // CS8 | CREAD ...
  f[3] = 0o105073; // ISIG ICANON ECHO ECHOE ECHOK ECHOCTL ECHOKE IEXTEN
  t[17 + 4] = 4; // VEOF ^D
  return t;
}

Deno.test("makeRaw: no echo, no line editing, no signal keys, no output processing", () => {
  const raw = makeRaw(sane());
  const f = new Uint32Array(raw.buffer, 0, 4);
  assert.equal(f[1] & 0o1, 0, "OPOST off: \\r\\n stays \\r\\n");
  assert.equal(f[3] & (0o1 | 0o2 | 0o10), 0, "ISIG, ICANON, ECHO off");
  assert.equal(f[0] & 0o400, 0, "ICRNL off");
  assert.equal(raw[17 + 6], 1, "VMIN 1");
  // The input is not modified.
  assert.equal(new Uint32Array(sane().buffer, 0, 4)[1] & 1, 1);
});

Deno.test("withoutOutputProcessing clears OPOST only", () => {
  const t = sane();
  const out = withoutOutputProcessing(t);
  assert.equal(new Uint32Array(out.buffer, 0, 4)[1] & 1, 0);
  assert.equal(
    new Uint32Array(out.buffer, 0, 4)[3],
    new Uint32Array(t.buffer, 0, 4)[3],
  );
});

Deno.test("endOfInput: one VEOF on an empty line, two after a partial line, one byte in raw mode", () => {
  const t = sane();
  assert.deepEqual([...endOfInput(t, undefined)], [4]);
  assert.deepEqual([...endOfInput(t, 10)], [4]);
  assert.deepEqual([...endOfInput(t, 99)], [4, 4]);
  const custom = sane();
  custom[17 + 4] = 26; // stty eof ^Z
  assert.deepEqual([...endOfInput(custom, 99)], [26, 26]);
  assert.deepEqual([...endOfInput(makeRaw(t), 99)], [4]);
  const disabled = sane();
  disabled[17 + 4] = 0;
  assert.deepEqual([...endOfInput(disabled, 99)], []);
});

Deno.test("getTermios: null for a non-terminal, the slave's settings through the master", () => {
  const fds = new Int32Array(2);
  libc().pipe2(new Uint8Array(fds.buffer), 0o2000000);
  try {
    assert.equal(getTermios(fds[0]), null);
  } finally {
    libc().close(fds[0]);
    libc().close(fds[1]);
  }
  const [master, slave] = openPty();
  try {
    const t = getTermios(master);
    assert.ok(t);
    assert.equal(t[17 + 4], 4, "a new pty's VEOF is ^D");
  } finally {
    libc().close(master);
    libc().close(slave);
  }
});
