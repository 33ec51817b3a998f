import assert from "node:assert/strict";
import { formatEntry, LogWriter, parseLog, tail } from "./logs.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function withDir(fn: (dir: string) => void) {
  const dir = Deno.makeTempDirSync();
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("log writer: one entry a line, partial lines joined, streams apart", () => {
  withDir((dir) => {
    const t = new Date("2026-01-01T00:00:00Z");
    const w = new LogWriter(`${dir}/c.log`, 1 << 20, () => t);
    w.write("stdout", enc("hel"));
    w.write("stderr", enc("oops\n"));
    w.write("stdout", enc("lo\nwor"));
    // a multi-byte character split across reads
    const euro = enc("€\n");
    w.write("stdout", euro.subarray(0, 1));
    w.write("stdout", euro.subarray(1));
    w.write("stdout", enc("tail"));
    w.close();
    const entries = parseLog(Deno.readTextFileSync(`${dir}/c.log`));
    assert.deepEqual(entries.map((e) => [e.s, e.m]), [
      ["stderr", "oops\n"],
      ["stdout", "hello\n"],
      ["stdout", "wor€\n"],
      ["stdout", "tail"],
    ]);
    assert.equal(entries[0].t, "2026-01-01T00:00:00.000Z");
    assert.equal(
      formatEntry(entries[1], true),
      "2026-01-01T00:00:00.000Z hello\n",
    );
    assert.equal(formatEntry(entries[1], false), "hello\n");
  });
});

Deno.test("log writer: rotation keeps at most two files under the cap", () => {
  withDir((dir) => {
    const path = `${dir}/c.log`;
    const w = new LogWriter(path, 400);
    for (let i = 0; i < 40; i++) w.write("stdout", enc(`line ${i}\n`));
    w.close();
    const cur = Deno.readTextFileSync(path);
    const old = Deno.readTextFileSync(`${path}.1`);
    assert.ok(cur.length <= 400 && old.length <= 400);
    const all = parseLog(old + cur).map((e) => e.m);
    // the newest lines survive, in order, the oldest are gone
    assert.equal(all.at(-1), "line 39\n");
    assert.ok(!all.includes("line 0\n"));
    for (let i = 1; i < all.length; i++) {
      assert.ok(
        Number(all[i].split(" ")[1]) === Number(all[i - 1].split(" ")[1]) + 1,
      );
    }
  });
});

Deno.test("log reading: torn lines skipped, --tail", () => {
  const text =
    '{"t":"a","s":"stdout","m":"1\\n"}\n{"t":"b","s":"stderr","m":"2\\n"}\n{"t":"c","s":"std';
  const e = parseLog(text);
  assert.equal(e.length, 2);
  assert.deepEqual(tail(e, 1).map((x) => x.m), ["2\n"]);
  assert.equal(tail(e, 0).length, 0);
  assert.equal(tail(e, -1).length, 2);
});
