import assert from "node:assert/strict";
import { TinycError } from "../errors.ts";
import {
  defaultDevices,
  defaultMounts,
  defaultNamespaces,
  type Spec,
} from "../spec.ts";
import { planIdMaps } from "./id_maps.ts";
import { isMapped, rootlessSetgroups, rootlessSpec } from "./spec.ts";

function spec(): Spec {
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: 0, gid: 0, additionalGids: [] },
      args: ["/bin/sh"],
      env: [],
      cwd: "/",
    },
    root: { path: "/r", readonly: false },
    hostname: "tinyhost",
    mounts: defaultMounts(),
    linux: { namespaces: defaultNamespaces(), devices: defaultDevices() },
  };
}

const SUB = "u:100000:65536\n";
const single = planIdMaps(1000, 1000, null, null, "u", true);
const full = planIdMaps(1000, 1000, SUB, SUB, "u", true);

function devpts(s: Spec) {
  return s.mounts.find((m) => m.type === "devpts")!;
}

Deno.test("rootlessSpec: only root mapped -> devpts loses gid=5, setgroups denied", () => {
  const s = rootlessSpec(spec(), single);
  assert.ok(!devpts(s).options!.includes("gid=5"));
  assert.ok(devpts(s).options!.includes("newinstance"));
  assert.equal(rootlessSetgroups(single), false);
  // the input is not changed
  assert.ok(devpts(spec()).options!.includes("gid=5"));
});

Deno.test("rootlessSpec: with the subordinate range every default mount stays as is", () => {
  const s = rootlessSpec(spec(), full);
  assert.deepEqual(s.mounts, spec().mounts);
  assert.equal(rootlessSetgroups(full), true);
});

Deno.test("rootlessSpec: adds the user namespace once", () => {
  const s = rootlessSpec(spec(), full);
  assert.equal(s.linux.namespaces.filter((n) => n.type === "user").length, 1);
  const again = rootlessSpec(s, full);
  assert.equal(
    again.linux.namespaces.filter((n) => n.type === "user").length,
    1,
  );
});

Deno.test("rootlessSpec: --network host binds the host's /sys instead of mounting sysfs", () => {
  const s0 = spec();
  s0.linux.namespaces = s0.linux.namespaces.filter((n) => n.type !== "network");
  const sys = rootlessSpec(s0, full).mounts.find((m) =>
    m.destination === "/sys"
  )!;
  assert.equal(sys.type, "bind");
  assert.equal(sys.source, "/sys");
  assert.deepEqual(sys.options, ["rbind", "nosuid", "noexec", "nodev", "ro"]);
  // with its own network namespace, sysfs is mounted
  assert.equal(
    rootlessSpec(spec(), full).mounts.find((m) => m.destination === "/sys")!
      .type,
    "sysfs",
  );
});

Deno.test("rootlessSpec: --user ids must be mapped", () => {
  const s0 = spec();
  s0.process.user = { uid: 1000, gid: 1000, additionalGids: [] };
  assert.equal(rootlessSpec(s0, full).process.user.uid, 1000);
  assert.throws(
    () => rootlessSpec(s0, single),
    (e: unknown) =>
      e instanceof TinycError && e.exitCode === 125 &&
      /^--user: uid 1000 is not mapped in the rootless container \(0-0 are\) \(only root is mapped/
        .test(e.message),
  );
  const s1 = spec();
  s1.process.user = { uid: 0, gid: 0, additionalGids: [70000] };
  assert.throws(
    () => rootlessSpec(s1, full),
    /gid 70000 is not mapped .*\(0-65535 are\)$/,
  );
});

Deno.test("isMapped: inside ranges only", () => {
  assert.ok(isMapped(full.uid, 0));
  assert.ok(isMapped(full.uid, 65535));
  assert.ok(!isMapped(full.uid, 65536));
  assert.ok(!isMapped(single.uid, 1));
});
