import assert from "node:assert/strict";
import { type FlagDef, flagHelp, parseFlags } from "./flags.ts";
import { TinycError } from "./errors.ts";

const DEFS: FlagDef[] = [
  { name: "root", type: "string", help: "rootfs" },
  { name: "env", short: "e", type: "string", multiple: true, help: "env" },
  { name: "read-only", type: "boolean", help: "ro" },
];

Deno.test("flags: long, inline, short and repeatable forms", () => {
  const p = parseFlags(
    DEFS,
    [
      "--root=/r",
      "-e",
      "A=1",
      "-eB=2",
      "--env",
      "C=3",
      "--read-only",
      "ls",
      "-l",
    ],
    "t",
  );
  assert.deepEqual(p.values, {
    root: "/r",
    env: ["A=1", "B=2", "C=3"],
    "read-only": true,
  });
  assert.deepEqual(p.rest, ["ls", "-l"]);
});

Deno.test("flags: parsing stops at -- and keeps later dashes for the command", () => {
  const p = parseFlags(DEFS, ["--root", "/r", "--", "--root", "x"], "t");
  assert.equal(p.values.root, "/r");
  assert.deepEqual(p.rest, ["--root", "x"]);
});

Deno.test("flags: unknown flag and missing value are exit-125 errors naming the flag", () => {
  assert.throws(
    () => parseFlags(DEFS, ["--nope"], "tinyc run"),
    (e: unknown) =>
      e instanceof TinycError && e.exitCode === 125 &&
      e.message.includes("unknown flag --nope"),
  );
  assert.throws(
    () => parseFlags(DEFS, ["--root"], "tinyc run"),
    /--root needs a value/,
  );
  assert.throws(
    () => parseFlags(DEFS, ["--read-only=maybe"], "tinyc run"),
    /expected true or false/,
  );
});

Deno.test("flags: help lists every flag", () => {
  const h = flagHelp(DEFS);
  for (const d of DEFS) assert.match(h, new RegExp(`--${d.name}`));
  assert.match(h, /-e, --env/);
  assert.match(h, /\(repeatable\)/);
});

Deno.test("flags: grouped boolean short flags (-it)", () => {
  const defs: FlagDef[] = [
    { name: "interactive", short: "i", type: "boolean", help: "" },
    { name: "tty", short: "t", type: "boolean", help: "" },
    { name: "env", short: "e", type: "string", help: "" },
  ];
  assert.deepEqual(parseFlags(defs, ["-it", "sh"], "t").values, {
    interactive: true,
    tty: true,
  });
  assert.deepEqual(parseFlags(defs, ["-eA=1"], "t").values, { env: "A=1" });
  assert.throws(
    () => parseFlags(defs, ["-ix"], "t"),
    /-i=?x?|expected true or false|unknown/,
  );
});
