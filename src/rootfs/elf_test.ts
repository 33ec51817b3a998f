import assert from "node:assert/strict";
import { parseElf, readElf } from "./elf.ts";
import { TinycError } from "../errors.ts";

/** A minimal ELF image: header, `phnum` program headers, optional PT_INTERP string. */
function fakeElf(
  opts: { bits: 32 | 64; le: boolean; interp?: string; phnum?: number },
): Uint8Array {
  const { bits, le } = opts;
  const ehsize = bits === 64 ? 64 : 52;
  const phentsize = bits === 64 ? 56 : 32;
  const phnum = opts.phnum ?? 2;
  const interpOff = ehsize + phentsize * phnum;
  const interp = new TextEncoder().encode((opts.interp ?? "") + "\0");
  const buf = new Uint8Array(interpOff + interp.length);
  const v = new DataView(buf.buffer);
  buf.set([0x7f, 0x45, 0x4c, 0x46, bits === 64 ? 2 : 1, le ? 1 : 2, 1]);
  v.setUint16(16, 3, le); // ET_DYN
  v.setUint16(18, 62, le);
  if (bits === 64) {
    v.setBigUint64(32, BigInt(ehsize), le);
    v.setUint16(54, phentsize, le);
    v.setUint16(56, phnum, le);
  } else {
    v.setUint32(28, ehsize, le);
    v.setUint16(42, phentsize, le);
    v.setUint16(44, phnum, le);
  }
  for (let i = 0; i < phnum; i++) {
    const base = ehsize + i * phentsize;
    // The last header is PT_INTERP when an interpreter is wanted, the rest PT_LOAD.
    const isInterp = opts.interp !== undefined && i === phnum - 1;
    v.setUint32(base, isInterp ? 3 : 1, le);
    if (!isInterp) continue;
    if (bits === 64) {
      v.setBigUint64(base + 8, BigInt(interpOff), le);
      v.setBigUint64(base + 32, BigInt(interp.length), le);
    } else {
      v.setUint32(base + 4, interpOff, le);
      v.setUint32(base + 16, interp.length, le);
    }
  }
  buf.set(interp, interpOff);
  return buf;
}

function reader(bytes: Uint8Array) {
  return (offset: number, length: number) =>
    bytes.subarray(offset, offset + length);
}

Deno.test("parseElf: 64-bit little-endian with PT_INTERP", () => {
  const info = parseElf(
    reader(fakeElf({ bits: 64, le: true, interp: "/lib64/ld.so.2" })),
  );
  assert.deepEqual(info, {
    bits: 64,
    littleEndian: true,
    type: 3,
    machine: 62,
    interpreter: "/lib64/ld.so.2",
  });
});

Deno.test("parseElf: 32-bit big-endian with PT_INTERP", () => {
  const info = parseElf(
    reader(fakeElf({ bits: 32, le: false, interp: "/lib/ld.so.1" })),
  );
  assert.equal(info?.bits, 32);
  assert.equal(info?.littleEndian, false);
  assert.equal(info?.interpreter, "/lib/ld.so.1");
});

Deno.test("parseElf: no PT_INTERP means static", () => {
  const info = parseElf(reader(fakeElf({ bits: 64, le: true })));
  assert.equal(info?.interpreter, undefined);
  assert.equal(info?.bits, 64);
});

Deno.test("parseElf: not ELF gives null", () => {
  const script = new TextEncoder().encode("#!/bin/sh\necho hi\n");
  assert.equal(parseElf(reader(script)), null);
  assert.equal(parseElf(reader(new Uint8Array(0))), null);
});

Deno.test("parseElf: truncated program headers throw", () => {
  const whole = fakeElf({ bits: 64, le: true, interp: "/x", phnum: 4 });
  assert.throws(
    () => parseElf(reader(whole.subarray(0, 100))),
    (e: unknown) => e instanceof TinycError && /cut short/.test(e.message),
  );
});

const hostBusybox = "/bin/busybox";
const hostLs = "/bin/ls";
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "readElf: the host's busybox-static has no interpreter",
  ignore: !exists(hostBusybox),
  fn() {
    const info = readElf(hostBusybox);
    assert.ok(info);
    assert.equal(info.interpreter, undefined);
  },
});

Deno.test({
  name: "readElf: the host's ls names its dynamic loader",
  ignore: !exists(hostLs),
  fn() {
    const info = readElf(hostLs);
    assert.ok(info?.interpreter);
    assert.match(info.interpreter, /^\/.*ld.*\.so/);
  },
});

Deno.test("readElf: missing file throws NotFound", () => {
  assert.throws(
    () => readElf("/nonexistent/tinyc-elf-test"),
    Deno.errors.NotFound,
  );
});
