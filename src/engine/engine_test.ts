import assert from "node:assert/strict";
import {
  isAlive,
  makeFifo,
  processStartTime,
  StateStore,
  validateId,
} from "./state.ts";
import {
  cgroupBindOps,
  cgroupPlacement,
  ociState,
  parseSignal,
} from "./container.ts";
import { deviceAllowList } from "./devices.ts";
import { parseOciFlags } from "../oci/cli.ts";
import type { CgroupPlan } from "../cgroups/plan.ts";
import { DEFAULT_DEVICE_RULES } from "../security/devices.ts";

Deno.test("engine: ids with / or .. are refused", () => {
  for (const id of ["a/b", "..", ".", "", "a b", "x\0"]) {
    assert.throws(() => validateId(id), /invalid container id/);
  }
  for (const id of ["abc", "A-1_2.3+x", "0f02-aba"]) validateId(id);
});

Deno.test("engine: liveness is pid + start time (a reused pid is not ours)", () => {
  const start = processStartTime(Deno.pid);
  assert.ok(start);
  assert.ok(isAlive({ pid: Deno.pid, pidStart: start! }));
  assert.ok(!isAlive({ pid: Deno.pid, pidStart: String(Number(start) + 1) }));
  assert.ok(!isAlive({ pid: 0, pidStart: start! }));
});

Deno.test("engine: state store round trip, status from process and exec fifo", async () => {
  const root = await Deno.makeTempDir();
  try {
    const store = new StateStore(`${root}/state`);
    store.create("c1");
    assert.throws(() => store.create("c1"), /container c1 already exists/);
    assert.throws(() => store.load("nope"), /container nope does not exist/);
    const record = {
      ociVersion: "1.1.0",
      id: "c1",
      pid: Deno.pid,
      pidStart: processStartTime(Deno.pid)!,
      bundle: "/b",
      rootfs: "/b/rootfs",
      created: new Date(0).toISOString(),
      spec: {} as never,
    };
    store.save(record);
    // No temporary file is left beside state.json.
    assert.deepEqual(
      [...Deno.readDirSync(store.dir("c1"))].map((e) => e.name).sort(),
      ["state.json"],
    );
    assert.equal(store.load("c1").bundle, "/b");
    assert.equal(store.status(store.load("c1")), "running");
    makeFifo(store.fifo("c1"));
    assert.equal(store.status(store.load("c1")), "created");
    assert.equal(store.status({ ...record, pidStart: "1" }), "stopped");
    assert.deepEqual(store.ids(), ["c1"]);
    const order: string[] = [];
    await Promise.all([
      store.locked("c1", async () => {
        order.push("a1");
        await new Promise((r) => setTimeout(r, 20));
        order.push("a2");
      }),
    ]);
    assert.deepEqual(order, ["a1", "a2"]);
    await assert.rejects(
      () => store.locked("zz", () => 0),
      /container zz does not exist/,
    );
    store.remove("c1");
    assert.deepEqual(store.ids(), []);
    assert.deepEqual(new StateStore(`${root}/missing`).ids(), []);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("engine: the OCI state object", () => {
  const r = {
    ociVersion: "1.1.0",
    id: "x",
    pid: 42,
    pidStart: "1",
    bundle: "/b",
    rootfs: "/b/r",
    created: "2026-01-01T00:00:00.000Z",
    annotations: { a: "b" },
    spec: {} as never,
  };
  assert.deepEqual(ociState(r, "running"), {
    ociVersion: "1.1.0",
    id: "x",
    status: "running",
    pid: 42,
    bundle: "/b",
    rootfs: "/b/r",
    created: "2026-01-01T00:00:00.000Z",
    annotations: { a: "b" },
    owner: "",
  });
  assert.equal(ociState(r, "stopped").pid, 0);
});

Deno.test("engine: signals by number or name", () => {
  assert.equal(parseSignal("9"), 9);
  assert.equal(parseSignal("KILL"), 9);
  assert.equal(parseSignal("SIGTERM"), 15);
  assert.equal(parseSignal("usr1"), 10);
  assert.equal(parseSignal("RTMIN+1"), 35);
  assert.throws(() => parseSignal("NOPE"), /invalid signal "NOPE"/);
  assert.throws(() => parseSignal("65"), /invalid signal/);
});

Deno.test("engine: cgroupsPath placement (absolute, relative, none, systemd form)", () => {
  assert.deepEqual(cgroupPlacement("/docker/abc", "x"), {
    parent: "/docker",
    name: "abc",
  });
  assert.deepEqual(cgroupPlacement("/abc", "x"), { parent: "/", name: "abc" });
  assert.deepEqual(cgroupPlacement("testdir/cgrouptest", "x"), {
    relativeParent: "testdir",
    name: "cgrouptest",
  });
  assert.deepEqual(cgroupPlacement("c", "x"), { name: "c" });
  assert.deepEqual(cgroupPlacement(undefined, "x"), { name: "x" });
  assert.throws(
    () => cgroupPlacement("system.slice:docker:abc", "x"),
    /systemd form/,
  );
  assert.throws(() => cgroupPlacement("/a/../b", "x"), /not a cgroup path/);
});

Deno.test("engine: without a cgroup namespace the container's own cgroups are bound", () => {
  const plan: CgroupPlan = {
    name: "c",
    mode: "hybrid",
    steps: [],
    cgroups: [
      {
        version: 1,
        dir: "/sys/fs/cgroup/cpu,cpuacct/p/c",
        path: "/p/c",
        controllers: ["cpu"],
        mountName: "cpu,cpuacct",
        mountData: "cpu,cpuacct",
      },
      {
        version: 2,
        dir: "/sys/fs/cgroup/unified/p/c",
        path: "/p/c",
        controllers: [],
        mountName: "unified",
        mountData: "",
      },
    ],
  };
  const ops = cgroupBindOps(plan, {
    destination: "/sys/fs/cgroup",
    readonly: true,
  });
  assert.deepEqual(ops.map((o) => [o.op, "dest" in o ? o.dest : ""]), [
    ["mount", "/sys/fs/cgroup"],
    ["bind", "/sys/fs/cgroup/cpu,cpuacct"],
    ["symlink", "/sys/fs/cgroup/cpu"],
    ["symlink", "/sys/fs/cgroup/cpuacct"],
    ["bind", "/sys/fs/cgroup/unified"],
  ]);
  assert.ok(ops.every((o) => o.op !== "bind" || o.readonly));
});

Deno.test("engine: OCI device rules as the allow-list (runtime defaults always allowed)", () => {
  const list = deviceAllowList([
    { allow: false, access: "rwm" },
    { allow: true, type: "c", major: 4, minor: 64, access: "rwm" },
  ]);
  assert.deepEqual(list[0], {
    type: "c",
    major: 4,
    minor: 64,
    access: "rwm",
  });
  assert.equal(list.length, 1 + DEFAULT_DEVICE_RULES.length);
  // An allow-all stays allow-all (no default is added under it).
  assert.deepEqual(deviceAllowList([{ allow: true, access: "rwm" }]), [
    { type: "a", major: -1, minor: -1, access: "rwm" },
  ]);
  // A deny cut out of an earlier wider allow cannot be expressed: refused.
  assert.throws(
    () =>
      deviceAllowList([
        { allow: true, type: "c", access: "rwm" },
        { allow: false, type: "c", major: 1, minor: 3, access: "rwm" },
      ]),
    /a deny inside an earlier allow/,
  );
  // Exactly undoing an earlier allow is fine.
  assert.equal(
    deviceAllowList([
      { allow: false, access: "rwm" },
      { allow: true, type: "b", major: 8, minor: 0, access: "r" },
      { allow: false, type: "b", major: 8, minor: 0, access: "rwm" },
    ]).length,
    DEFAULT_DEVICE_RULES.length,
  );
});

Deno.test("tinyc-oci flags: runc's forms (--x v, --x=v, -x v, single dash)", () => {
  const spec = {
    bundle: { value: true, alias: ["b"] },
    detach: { value: false, alias: ["d"] },
    env: { value: true, repeat: true, alias: ["e"] },
  };
  assert.deepEqual(
    parseOciFlags(spec, [
      "--bundle",
      "/b",
      "-d",
      "-e",
      "A=1",
      "--env=B=2",
      "id",
    ], "x"),
    {
      flags: { bundle: "/b", detach: true, env: ["A=1", "B=2"] },
      positional: ["id"],
    },
  );
  assert.deepEqual(parseOciFlags(spec, ["-bundle=/c", "id"], "x").flags, {
    bundle: "/c",
  });
  assert.throws(
    () => parseOciFlags(spec, ["--nope"], "create"),
    /create: unknown flag --nope/,
  );
  assert.throws(
    () => parseOciFlags(spec, ["--bundle"], "create"),
    /needs a value/,
  );
  // exec: everything after the id belongs to the command.
  assert.deepEqual(
    parseOciFlags(spec, ["-d", "id", "sh", "-c", "ls -l"], "exec", true),
    { flags: { detach: true }, positional: ["id", "sh", "-c", "ls -l"] },
  );
});
