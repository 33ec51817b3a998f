import assert from "node:assert/strict";
import { TinycError } from "../errors.ts";
import {
  parseCpus,
  parseMemory,
  parsePidsLimit,
  resourcesFromFlags,
} from "./resources.ts";

const MiB = 1024 * 1024;

Deno.test("parseMemory takes bytes and k/m/g suffixes, any case, with b/ib", () => {
  const cases: Array<[string, number]> = [
    ["6291456", 6 * MiB],
    ["6291456b", 6 * MiB],
    ["6291456B", 6 * MiB],
    ["6144k", 6 * MiB],
    ["6144K", 6 * MiB],
    ["6144kb", 6 * MiB],
    ["64m", 64 * MiB],
    ["64M", 64 * MiB],
    ["64mb", 64 * MiB],
    ["64MiB", 64 * MiB],
    ["1g", 1024 * MiB],
    ["1.5g", 1536 * MiB],
    ["2G", 2048 * MiB],
    [" 64m ", 64 * MiB],
  ];
  for (const [input, bytes] of cases) {
    assert.equal(parseMemory(input), bytes, input);
  }
  // Fractions round down to whole bytes.
  assert.equal(parseMemory("6.0000001m"), 6 * MiB);
  assert.equal(parseMemory("1t"), 1024 ** 4);
  assert.equal(parseMemory("2PB"), 2 * 1024 ** 5);
});

Deno.test("parseMemory rejects junk, negative, fractional bytes and tiny sizes, naming the flag", () => {
  for (
    const bad of [
      "abc",
      "",
      "-64m",
      "64x",
      "m",
      "64 m",
      "1.5",
      "1.5b",
      "64mm",
      "0x40m",
      "1e9",
    ]
  ) {
    assert.throws(
      () => parseMemory(bad),
      (e: unknown) =>
        e instanceof TinycError && e.exitCode === 125 &&
        e.message ===
          `--memory ${bad}: invalid size (use bytes or a k/m/g/t/p suffix, e.g. 64m)`,
      bad,
    );
  }
  assert.throws(
    () => parseMemory("1k"),
    { message: "--memory 1k: below the minimum of 6m" },
  );
  assert.throws(() => parseMemory("0"), /below the minimum/);
  assert.throws(() => parseMemory("99999999999g"), /too large/);
  assert.throws(
    () => parseMemory("x", "--memory-x"),
    /--memory-x x: invalid size/,
  );
});

Deno.test("parseCpus gives quota over a 100 ms period", () => {
  assert.deepEqual(parseCpus("0.5"), { quota: 50000, period: 100000 });
  assert.deepEqual(parseCpus("1"), { quota: 100000, period: 100000 });
  assert.deepEqual(parseCpus("1.5"), { quota: 150000, period: 100000 });
  assert.deepEqual(parseCpus(".25"), { quota: 25000, period: 100000 });
  assert.deepEqual(parseCpus("2."), { quota: 200000, period: 100000 });
  assert.deepEqual(parseCpus("0.01"), { quota: 1000, period: 100000 });
  assert.deepEqual(parseCpus("0.333333"), { quota: 33333, period: 100000 });
});

Deno.test("parseCpus rejects zero, negative, junk and below 0.01", () => {
  for (
    const bad of [
      "0",
      "-1",
      "abc",
      "",
      "0.0",
      "1e1",
      "Infinity",
      "NaN",
      "1,5",
      "+1",
    ]
  ) {
    assert.throws(
      () => parseCpus(bad),
      (e: unknown) =>
        e instanceof TinycError &&
        e.message ===
          `--cpus ${bad}: invalid number of CPUs (use a decimal greater than 0, e.g. 0.5)`,
      bad,
    );
  }
  assert.throws(() => parseCpus("0.001"), {
    message: "--cpus 0.001: below the minimum of 0.01",
  });
});

Deno.test("parsePidsLimit: positive integers; -1 and 0 are unlimited", () => {
  assert.equal(parsePidsLimit("100"), 100);
  assert.equal(parsePidsLimit("1"), 1);
  assert.equal(parsePidsLimit("4194304"), 4194304);
  assert.equal(parsePidsLimit("-1"), undefined);
  assert.equal(parsePidsLimit("0"), undefined);
  for (const bad of ["zero", "", "-2", "1.5", "10k", "abc"]) {
    assert.throws(
      () => parsePidsLimit(bad),
      {
        message:
          `--pids-limit ${bad}: invalid limit (use a positive integer, or 0 or -1 for unlimited)`,
      },
      bad,
    );
  }
  assert.throws(() => parsePidsLimit("4194305"), {
    message: "--pids-limit 4194305: above the kernel's maximum of 4194304",
  });
});

Deno.test("resourcesFromFlags shapes OCI linux.resources, swap = limit", () => {
  assert.deepEqual(
    resourcesFromFlags({ memory: "64m", cpus: "0.5", pidsLimit: "100" }),
    {
      memory: { limit: 64 * MiB, swap: 64 * MiB },
      cpu: { quota: 50000, period: 100000 },
      pids: { limit: 100 },
    },
  );
  assert.deepEqual(resourcesFromFlags({}), {});
  assert.deepEqual(resourcesFromFlags({ pidsLimit: "-1" }), {});
  // docker: --memory 0 is no limit (a size below 6m is still refused)
  assert.deepEqual(resourcesFromFlags({ memory: "0" }), {});
  assert.throws(
    () => resourcesFromFlags({ memory: "0k" }),
    /below the minimum/,
  );
  assert.throws(
    () => resourcesFromFlags({ memory: "64m", cpus: "-1" }),
    /--cpus -1: invalid number of CPUs/,
  );
});
