import assert from "node:assert/strict";
import {
  applyCapabilities,
  applyUser,
  CAP_LAST_KNOWN,
  CAPABILITIES,
  capMask,
  capNames,
  DEFAULT_CAPABILITIES,
  dropBoundingSet,
  hostCapabilities,
  parseCapName,
  resolveCapabilities,
} from "./capabilities.ts";
import { FakeSecuritySys } from "./security_sys_fake.ts";
import { TinycError } from "../errors.ts";

Deno.test("capability table numbers 0..40 once each", () => {
  const numbers = Object.values(CAPABILITIES).sort((a, b) => a - b);
  assert.deepEqual(numbers, [...Array(CAP_LAST_KNOWN + 1).keys()]);
  assert.equal(CAPABILITIES.CAP_SYS_ADMIN, 21);
  assert.equal(CAPABILITIES.CAP_CHECKPOINT_RESTORE, 40);
  for (const name of Object.keys(CAPABILITIES)) assert.match(name, /^CAP_/);
});

Deno.test("docker's default set is CapEff 00000000a80425fb", () => {
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  assert.equal(capMask(DEFAULT_CAPABILITIES), 0xa80425fbn);
  assert.deepEqual(
    capNames(0xa80425fbn),
    [...DEFAULT_CAPABILITIES].sort((a, b) => CAPABILITIES[a] - CAPABILITIES[b]),
  );
});

Deno.test("parseCapName accepts any case, with or without CAP_, and ALL", () => {
  assert.equal(parseCapName("net_admin"), "CAP_NET_ADMIN");
  assert.equal(parseCapName("CAP_NET_ADMIN"), "CAP_NET_ADMIN");
  assert.equal(parseCapName("cap_sys_admin"), "CAP_SYS_ADMIN");
  assert.equal(parseCapName("Sys_Time"), "CAP_SYS_TIME");
  assert.equal(parseCapName("all"), "ALL");
  assert.throws(
    () => parseCapName("FOO"),
    (e) =>
      e instanceof TinycError &&
      e.message === "--cap-add FOO: unknown capability" && e.exitCode === 125,
  );
  assert.throws(
    () => parseCapName("cap_bogus", "--cap-drop"),
    { message: "--cap-drop cap_bogus: unknown capability" },
  );
});

Deno.test("resolveCapabilities: defaults for root", () => {
  const caps = resolveCapabilities({});
  assert.equal(capMask(caps.bounding), 0xa80425fbn);
  assert.deepEqual(caps.effective, caps.bounding);
  assert.deepEqual(caps.permitted, caps.bounding);
  assert.deepEqual(caps.inheritable, []);
  assert.deepEqual(caps.ambient, []);
});

Deno.test("resolveCapabilities: a non-root user gets the bounding set only", () => {
  const caps = resolveCapabilities({ uid: 1000, add: ["NET_ADMIN"] });
  assert.equal(capMask(caps.bounding), 0xa80425fbn | (1n << 12n));
  assert.deepEqual(caps.effective, []);
  assert.deepEqual(caps.permitted, []);
  assert.deepEqual(caps.inheritable, []);
  assert.deepEqual(caps.ambient, []);
});

Deno.test("resolveCapabilities: drop and add", () => {
  const caps = resolveCapabilities({
    add: ["sys_admin", "SYS_ADMIN"],
    drop: ["chown", "CAP_NET_RAW"],
  });
  const want = (0xa80425fbn & ~(1n | (1n << 13n))) | (1n << 21n);
  assert.equal(capMask(caps.bounding), want);
  assert.equal(
    caps.bounding.filter((c) => c === "CAP_SYS_ADMIN").length,
    1,
  );
});

Deno.test("resolveCapabilities: --cap-drop ALL --cap-add X gives only X", () => {
  const caps = resolveCapabilities({
    drop: ["ALL"],
    add: ["NET_BIND_SERVICE"],
  });
  assert.deepEqual(caps.bounding, ["CAP_NET_BIND_SERVICE"]);
  assert.deepEqual(resolveCapabilities({ drop: ["all"] }).bounding, []);
});

Deno.test("resolveCapabilities: --cap-add ALL and --privileged use what the host has", () => {
  const every = (1n << 41n) - 1n;
  assert.equal(capMask(resolveCapabilities({ add: ["ALL"] }).bounding), every);
  assert.equal(
    capMask(
      resolveCapabilities({ add: ["ALL"], drop: ["SYS_ADMIN"] }).bounding,
    ),
    every & ~(1n << 21n),
  );
  // docker's quirk: add ALL wins over drop ALL.
  assert.equal(
    capMask(resolveCapabilities({ add: ["ALL"], drop: ["ALL"] }).bounding),
    every,
  );
  const host = 0x1fffeffffffn; // a host without CAP_SYS_RESOURCE (24)
  const priv = resolveCapabilities({
    privileged: true,
    drop: ["ALL"],
    available: host,
  });
  assert.equal(capMask(priv.bounding), host);
  assert.equal(capMask(priv.effective), host);
});

Deno.test("resolveCapabilities rejects unknown names in either list", () => {
  assert.throws(() => resolveCapabilities({ drop: ["NOPE"] }), {
    message: "--cap-drop NOPE: unknown capability",
  });
  assert.throws(() => resolveCapabilities({ privileged: true, add: ["x"] }), {
    message: "--cap-add x: unknown capability",
  });
});

Deno.test("dropBoundingSet drops every cap up to lastCap that is not kept", () => {
  const sys = new FakeSecuritySys();
  dropBoundingSet(resolveCapabilities({}), 40, sys);
  const dropped = sys.calls.map((c) => Number(c.split(" ")[2]));
  assert.ok(sys.calls.every((c) => c.startsWith("prctl PR_CAPBSET_DROP ")));
  const kept = new Set(DEFAULT_CAPABILITIES.map((c) => CAPABILITIES[c]));
  assert.deepEqual(
    dropped,
    [...Array(41).keys()].filter((n) => !kept.has(n)),
  );
  // An older kernel: nothing above its last cap is touched.
  const old = new FakeSecuritySys();
  dropBoundingSet(resolveCapabilities({}), 37, old);
  assert.equal(old.calls.length, 38 - 14);
});

Deno.test("applyCapabilities: bounding, then capset, then ambient", () => {
  const sys = new FakeSecuritySys();
  const caps = resolveCapabilities({ drop: ["ALL"], add: ["NET_RAW", "KILL"] });
  caps.inheritable = [...caps.bounding];
  caps.ambient = ["CAP_NET_RAW"];
  applyCapabilities(caps, 40, sys);
  assert.equal(sys.calls.length, 39 + 3);
  assert.ok(
    sys.calls.slice(0, 39).every((c) => c.startsWith("prctl PR_CAPBSET_DROP")),
  );
  assert.deepEqual(sys.calls.slice(39), [
    "capset eff=0x0000000000002020 prm=0x0000000000002020 inh=0x0000000000002020",
    "prctl PR_CAP_AMBIENT 4 0",
    "prctl PR_CAP_AMBIENT 2 13",
  ]);
});

Deno.test("applyUser: keep-caps, groups, gid, uid, then capset", () => {
  const sys = new FakeSecuritySys();
  applyUser(
    { uid: 1000, gid: 100, additionalGids: [10, 20] },
    resolveCapabilities({ uid: 1000 }),
    sys,
  );
  assert.deepEqual(sys.calls, [
    "prctl PR_SET_KEEPCAPS 1 0",
    "setgroups [10,20]",
    "setresgid 100",
    "setresuid 1000",
    "prctl PR_SET_KEEPCAPS 0 0",
    "capset eff=0x0000000000000000 prm=0x0000000000000000 inh=0x0000000000000000",
    "prctl PR_CAP_AMBIENT 4 0",
  ]);
});

Deno.test("applyUser: setgroups false (rootless, setgroups denied) skips setgroups", () => {
  const sys = new FakeSecuritySys();
  applyUser(
    { uid: 0, gid: 0, additionalGids: [], setgroups: false },
    resolveCapabilities({ uid: 0 }),
    sys,
  );
  assert.ok(
    !sys.calls.some((c) => c.startsWith("setgroups")),
    sys.calls.join(),
  );
  assert.deepEqual(sys.calls.slice(1, 3), ["setresgid 0", "setresuid 0"]);
});

Deno.test("applyUser stops at the first failing call", () => {
  const sys = new FakeSecuritySys((c) => c.startsWith("setresgid"));
  assert.throws(
    () =>
      applyUser(
        { uid: 1000, gid: 100, additionalGids: [] },
        resolveCapabilities({}),
        sys,
      ),
    /setresgid.*EPERM/,
  );
  assert.deepEqual(sys.calls, ["prctl PR_SET_KEEPCAPS 1 0", "setgroups []"]);
});

Deno.test("hostCapabilities reads cap_last_cap and CapBnd", () => {
  const { lastCap, bounding } = hostCapabilities();
  assert.ok(lastCap >= 36 && lastCap <= 63, `lastCap ${lastCap}`);
  assert.equal(bounding >> BigInt(lastCap + 1), 0n);
});
