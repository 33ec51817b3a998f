import assert from "node:assert/strict";
import { SysError, TinycError } from "../errors.ts";
import { MS } from "../sys.ts";
import {
  cgroupId,
  cgroupMountPlan,
  type CgroupOptions,
  cleanupStaleCgroups,
  createCgroup,
  planCgroup,
} from "./mod.ts";
import { resourcesFromFlags } from "./resources.ts";
import { FakeCgroupKernel, type FakeHierarchy } from "./testing.ts";

const LIMITS = resourcesFromFlags({
  memory: "64m",
  cpus: "0.5",
  pidsLimit: "100",
});
const LAUNCHER = 4242;
const ID = cgroupId("ab", LAUNCHER);

const V2: FakeHierarchy[] = [
  { at: "", version: 2, controllers: ["cpu", "io", "memory", "pids"] },
];
const HYBRID: FakeHierarchy[] = [
  { at: "cpu", version: 1, controllers: ["cpu"] },
  { at: "cpuacct", version: 1, controllers: ["cpuacct"] },
  { at: "memory", version: 1, controllers: ["memory"] },
  { at: "pids", version: 1, controllers: ["pids"] },
  { at: "systemd", version: 1, controllers: [], name: "systemd" },
  { at: "unified", version: 2, controllers: [] },
];
const HYBRID_CGROUP =
  "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/s1\n2:cpuacct:/\n1:cpu:/\n0::/\n";
const V1: FakeHierarchy[] = [
  { at: "cpu,cpuacct", version: 1, controllers: ["cpu", "cpuacct"] },
  { at: "cpuset", version: 1, controllers: ["cpuset"] },
  { at: "memory", version: 1, controllers: ["memory"] },
  { at: "pids", version: 1, controllers: ["pids"] },
];
const V1_CGROUP =
  "4:pids:/user/1\n3:memory:/user/1\n2:cpuset:/\n1:cpu,cpuacct:/user/1\n";

/** A fake cgroupfs, cleaned up after `fn`. */
function withFs(
  hierarchies: FakeHierarchy[],
  fn: (k: FakeCgroupKernel) => void,
): () => void {
  return () => {
    const k = new FakeCgroupKernel(hierarchies);
    try {
      fn(k);
    } finally {
      k.cleanup();
    }
  };
}

function opts(
  k: FakeCgroupKernel,
  procSelfCgroup: string,
  extra: Partial<CgroupOptions> = {},
): CgroupOptions {
  return {
    id: ID,
    resources: LIMITS,
    root: k.root,
    mountinfo: k.mountinfo(),
    procSelfCgroup,
    pid: LAUNCHER,
    kernel: k,
    ...extra,
  };
}

/** Steps with the fake root replaced by `R`, for readable expectations. */
function steps(k: FakeCgroupKernel, plan: { steps: object[] }): string[] {
  return plan.steps.map((s) =>
    JSON.stringify(s).replaceAll(k.root, "R").replace(/^\{|\}$/g, "")
  );
}

function read(path: string): string {
  return Deno.readTextFileSync(path).trim();
}

Deno.test(
  "v2 in the real root: enable controllers there, then create and write limits",
  withFs(V2, (k) => {
    const plan = planCgroup(opts(k, "0::/\n"));
    assert.equal(plan.mode, "v2");
    assert.equal(plan.name, `tinyc-${LAUNCHER}-ab`);
    const c = `R/tinyc-${LAUNCHER}-ab`;
    assert.deepEqual(steps(k, plan), [
      `"op":"write","path":"R/cgroup.subtree_control","value":"+cpu +memory +pids"`,
      `"op":"mkdir","path":"${c}"`,
      `"op":"write","path":"${c}/cpu.max","value":"50000 100000"`,
      `"op":"write","path":"${c}/memory.max","value":"67108864"`,
      `"op":"write","path":"${c}/memory.swap.max","value":"0","optional":true`,
      `"op":"write","path":"${c}/pids.max","value":"100"`,
    ]);
    // Planning wrote nothing.
    assert.equal(read(k.dir("", "cgroup.subtree_control")), "");

    const cg = createCgroup(plan, k);
    const dir = k.dir("", plan.name);
    assert.deepEqual(cg.paths, [dir]);
    assert.equal(read(`${dir}/memory.max`), "67108864");
    assert.equal(read(`${dir}/memory.swap.max`), "0");
    assert.equal(read(`${dir}/cpu.max`), "50000 100000");
    assert.equal(read(`${dir}/pids.max`), "100");

    cg.addProcess(777);
    assert.deepEqual(k.procs(dir), [777]);
    assert.equal(cg.oomKilled(), false);
    k.setProcs(dir, []); // the container exits
    cg.destroy();
    assert.equal(k.exists(dir), false);
    assert.deepEqual(k.log, []); // no waiting, no killing
    cg.destroy(); // idempotent
  }),
);

Deno.test(
  "v2: a cgroup already delegating the controllers is not written to",
  withFs(V2, (k) => {
    k.write(k.dir("", "cgroup.subtree_control"), "+cpu +memory +pids");
    const parent = k.mkdirp("", "/tinyc.slice");
    k.write(`${parent}/cgroup.subtree_control`, "+cpu +memory +pids");
    const plan = planCgroup(opts(k, "0::/tinyc.slice\n"));
    assert.deepEqual(plan.steps.filter((s) => s.op === "mkdir").length, 1);
    assert.ok(!plan.steps.some((s) => s.path.includes("subtree_control")));
    createCgroup(plan, k).destroy();
  }),
);

Deno.test(
  "v2: own cgroup with other processes (a session scope) -> nearest ancestor that holds",
  withFs(V2, (k) => {
    k.write(k.dir("", "cgroup.subtree_control"), "+memory +pids");
    const user = k.mkdirp("", "/user.slice");
    k.write(`${user}/cgroup.subtree_control`, "+memory +pids");
    const slice = k.mkdirp("", "/user.slice/user-1000.slice");
    k.write(`${slice}/cgroup.subtree_control`, "+memory +pids");
    const scope = k.mkdirp("", "/user.slice/user-1000.slice/session-2.scope");
    k.setProcs(scope, [100, LAUNCHER]);
    const own = "0::/user.slice/user-1000.slice/session-2.scope\n";

    const memOnly = resourcesFromFlags({ memory: "64m", pidsLimit: "10" });
    const plan = planCgroup(opts(k, own, { resources: memOnly }));
    assert.equal(
      plan.cgroups[0].path,
      `/user.slice/user-1000.slice/${plan.name}`,
    );
    assert.ok(!plan.steps.some((s) => s.path.endsWith("subtree_control")));
    const cg = createCgroup(plan, k);
    assert.equal(read(`${cg.paths[0]}/memory.max`), "67108864");
    cg.destroy();
    assert.deepEqual(k.procs(scope), [100, LAUNCHER]); // untouched

    // cpu is not delegated to the slice: a clear error, nothing written.
    assert.throws(
      () => planCgroup(opts(k, own)),
      {
        message:
          `cgroups: the cpu controller is not available in \`${slice}\` ` +
          "(not delegated by its parent; needed for --cpus)",
      },
    );
  }),
);

Deno.test(
  "v2: launcher alone in its cgroup moves into a leaf (podman), which stale cleanup removes later",
  withFs(V2, (k) => {
    k.write(k.dir("", "cgroup.subtree_control"), "+cpu +memory +pids");
    const sys = k.mkdirp("", "/system.slice");
    k.write(`${sys}/cgroup.subtree_control`, "+cpu +memory +pids");
    const scope = k.mkdirp("", "/system.slice/run-1.scope");
    k.setProcs(scope, [LAUNCHER]);
    const own = "0::/system.slice/run-1.scope\n";

    const plan = planCgroup(opts(k, own));
    const leaf = `${scope}/tinyc-launcher-${LAUNCHER}`;
    assert.equal(plan.launcherLeaf, leaf);
    assert.deepEqual(steps(k, plan).slice(0, 4), [
      `"op":"mkdir","path":"R/system.slice/run-1.scope/tinyc-launcher-${LAUNCHER}"`,
      `"op":"write","path":"R/system.slice/run-1.scope/tinyc-launcher-${LAUNCHER}/cgroup.procs","value":"${LAUNCHER}"`,
      `"op":"write","path":"R/system.slice/run-1.scope/cgroup.subtree_control","value":"+cpu +memory +pids"`,
      `"op":"mkdir","path":"R/system.slice/run-1.scope/${plan.name}"`,
    ]);

    const cg = createCgroup(plan, k);
    assert.deepEqual(k.procs(scope), []);
    assert.deepEqual(k.procs(leaf), [LAUNCHER]);
    assert.equal(read(`${scope}/${plan.name}/pids.max`), "100");
    cg.destroy();
    assert.equal(k.exists(`${scope}/${plan.name}`), false);
    assert.equal(k.exists(leaf), true); // still holds the launcher

    // While the launcher lives, its leaf is left alone...
    assert.deepEqual(
      cleanupStaleCgroups({
        root: k.root,
        mountinfo: k.mountinfo(),
        procSelfCgroup: own,
        kernel: k,
      }),
      [],
    );
    // ...once it is dead (and so the leaf is empty), the next run removes it.
    k.kill(LAUNCHER);
    assert.deepEqual(
      cleanupStaleCgroups({
        root: k.root,
        mountinfo: k.mountinfo(),
        procSelfCgroup: own,
        kernel: k,
      }),
      [leaf],
    );
  }),
);

Deno.test(
  "v2: the launcher's own children (the init) move into the leaf with it, then into the container",
  withFs(V2, (k) => {
    k.write(k.dir("", "cgroup.subtree_control"), "+memory");
    const scope = k.mkdirp("", "/run-2.scope");
    const INIT = 4243;
    k.setProcs(scope, [LAUNCHER, INIT]);
    const memOnly = resourcesFromFlags({ memory: "64m" });
    const own = "0::/run-2.scope\n";
    // Without being told the init is ours, the scope has "other" processes.
    const walked = planCgroup(opts(k, own, { resources: memOnly }));
    assert.equal(walked.launcherLeaf, undefined);
    assert.equal(walked.cgroups[0].path, `/${walked.name}`);

    const plan = planCgroup(
      opts(k, own, { resources: memOnly, children: [INIT] }),
    );
    const leaf = `${scope}/tinyc-launcher-${LAUNCHER}`;
    assert.equal(plan.launcherLeaf, leaf);
    const cg = createCgroup(plan, k);
    assert.deepEqual(k.procs(leaf).sort(), [LAUNCHER, INIT]);
    cg.addProcess(INIT);
    assert.deepEqual(k.procs(leaf), [LAUNCHER]);
    assert.deepEqual(k.procs(cg.paths[0]), [INIT]);
    k.kill(INIT);
    cg.destroy();
    assert.equal(k.exists(cg.paths[0]), false);
  }),
);

Deno.test(
  "v2: a cgroup-namespace root with other processes cannot delegate: error with a hint",
  withFs(V2, (k) => {
    // Seen from inside a container: the mount shows /ns, which has cgroup.type
    // (it is not the real root) and holds the shell and the launcher.
    Deno.writeTextFileSync(k.dir("", "cgroup.type"), "domain\n");
    k.setProcs(k.dir("", ""), [1, LAUNCHER]);
    const mountinfo = k.mountinfo().replace(" / ", " /ns ");
    assert.throws(
      () => planCgroup(opts(k, "0::/ns\n", { mountinfo })),
      (e: unknown) =>
        e instanceof TinycError &&
        /cannot enable cpu, memory, pids below `.*`: it has other processes \(cgroup v2 allows no processes in a cgroup that delegates controllers\); run tinyc in a cgroup of its own \(e\.g\. systemd-run --scope\) or pass --cgroup-parent/
          .test(e.message),
    );
    // Without limits there is nothing to delegate: placement is the own cgroup.
    const plan = planCgroup(opts(k, "0::/ns\n", { mountinfo, resources: {} }));
    assert.deepEqual(plan.cgroups.map((c) => c.path), [`/ns/${plan.name}`]);
    assert.equal(plan.cgroups[0].dir, k.dir("", plan.name));
  }),
);

Deno.test(
  "v2 --cgroup-parent: missing directories are created, delegate, and are kept",
  withFs(V2, (k) => {
    const plan = planCgroup(opts(k, "0::/somewhere\n", { parent: "a/b/" }));
    assert.deepEqual(steps(k, plan).slice(0, 6), [
      `"op":"write","path":"R/cgroup.subtree_control","value":"+cpu +memory +pids"`,
      `"op":"mkdir","path":"R/a","keep":true`,
      `"op":"write","path":"R/a/cgroup.subtree_control","value":"+cpu +memory +pids"`,
      `"op":"mkdir","path":"R/a/b","keep":true`,
      `"op":"write","path":"R/a/b/cgroup.subtree_control","value":"+cpu +memory +pids"`,
      `"op":"mkdir","path":"R/a/b/${plan.name}"`,
    ]);
    const cg = createCgroup(plan, k);
    assert.equal(
      read(`${k.dir("", "a/b")}/${plan.name}/memory.max`),
      "67108864",
    );
    cg.destroy();
    assert.equal(k.exists(k.dir("", `a/b/${plan.name}`)), false);
    assert.equal(k.exists(k.dir("", "a/b")), true);

    const busy = k.mkdirp("", "/busy");
    k.setProcs(busy, [55]);
    assert.throws(
      () => planCgroup(opts(k, "0::/\n", { parent: "/busy" })),
      /^TinycError: --cgroup-parent \/busy: `.*\/busy` has processes and does not delegate cpu, memory, pids/,
    );
    assert.throws(
      () => planCgroup(opts(k, "0::/\n", { parent: "/a/../../etc" })),
      {
        message:
          "--cgroup-parent /a/../../etc: must be a cgroup path without ..",
      },
    );
  }),
);

Deno.test(
  "pure v1: one cgroup per used hierarchy beneath the own cgroup; limits in kernel order",
  withFs(V1, (k) => {
    for (const at of ["cpu,cpuacct", "memory", "pids"]) k.mkdirp(at, "/user/1");
    const plan = planCgroup(opts(k, V1_CGROUP));
    assert.equal(plan.mode, "v1");
    const n = plan.name;
    assert.deepEqual(steps(k, plan), [
      `"op":"mkdir","path":"R/cpu,cpuacct/user/1/${n}"`,
      `"op":"write","path":"R/cpu,cpuacct/user/1/${n}/cpu.cfs_period_us","value":"100000"`,
      `"op":"write","path":"R/cpu,cpuacct/user/1/${n}/cpu.cfs_quota_us","value":"50000"`,
      `"op":"mkdir","path":"R/memory/user/1/${n}"`,
      `"op":"write","path":"R/memory/user/1/${n}/memory.limit_in_bytes","value":"67108864"`,
      `"op":"write","path":"R/memory/user/1/${n}/memory.memsw.limit_in_bytes","value":"67108864","optional":true`,
      `"op":"mkdir","path":"R/pids/user/1/${n}"`,
      `"op":"write","path":"R/pids/user/1/${n}/pids.max","value":"100"`,
    ]);
    const cg = createCgroup(plan, k);
    assert.equal(cg.paths.length, 3);
    assert.equal(
      read(`${cg.paths[1]}/memory.memsw.limit_in_bytes`),
      "67108864",
    );
    assert.equal(read(`${cg.paths[0]}/cpu.cfs_quota_us`), "50000");
    cg.addProcess(900);
    for (const p of cg.paths) assert.deepEqual(k.procs(p), [900]);
    assert.deepEqual(k.procs(k.dir("cpuset", "")), []); // cpuset untouched
    k.kill(900);
    k.log.length = 0;
    cg.destroy();
    for (const p of cg.paths) assert.equal(k.exists(p), false);
    for (const at of ["cpu,cpuacct", "memory", "pids"]) {
      assert.equal(k.exists(k.dir(at, "/user/1")), true);
    }
  }),
);

Deno.test(
  "v1 without swap accounting: memsw is skipped, the limit still written",
  withFs(V1, (k) => {
    k.memsw = false;
    const plan = planCgroup(
      opts(k, "", { resources: resourcesFromFlags({ memory: "8m" }) }),
    );
    const cg = createCgroup(plan, k);
    assert.deepEqual(cg.paths, [k.dir("memory", plan.name)]);
    assert.equal(read(`${cg.paths[0]}/memory.limit_in_bytes`), String(8 << 20));
    assert.equal(k.exists(`${cg.paths[0]}/memory.memsw.limit_in_bytes`), false);
    cg.destroy();
  }),
);

Deno.test(
  "hybrid: v1 for the limits plus a controller-less cgroup in unified",
  withFs(HYBRID, (k) => {
    k.mkdirp("memory", "/process_api/s1");
    const plan = planCgroup(opts(k, HYBRID_CGROUP));
    assert.equal(plan.mode, "hybrid");
    assert.deepEqual(
      plan.cgroups.map((
        c,
      ) => [c.version, c.path, c.controllers, c.mountName, c.mountData]),
      [
        [1, `/${plan.name}`, ["cpu"], "cpu", "cpu"],
        [1, `/process_api/s1/${plan.name}`, ["memory"], "memory", "memory"],
        [1, `/${plan.name}`, ["pids"], "pids", "pids"],
        [2, `/${plan.name}`, [], "unified", ""],
      ],
    );
    assert.ok(
      !plan.steps.some((s) => s.op === "write" && s.path.includes("/unified/")),
    );
    const cg = createCgroup(plan, k);
    cg.addProcess(31);
    assert.deepEqual(k.procs(k.dir("unified", plan.name)), [31]);
    k.kill(31);
    cg.destroy();
    for (const p of cg.paths) assert.equal(k.exists(p), false);

    // No limits: only the unified cgroup.
    const bare = planCgroup(opts(k, HYBRID_CGROUP, { resources: {} }));
    assert.deepEqual(bare.cgroups.map((c) => c.dir), [
      k.dir("unified", bare.name),
    ]);
  }),
);

Deno.test(
  "missing controllers are errors naming the flag",
  withFs(V1.filter((h) => h.at !== "pids"), (k) => {
    assert.throws(() => planCgroup(opts(k, V1_CGROUP)), {
      message:
        `cgroups: no pids controller is mounted under \`${k.root}\` (needed for --pids-limit)`,
    });
    // Pure v1 without limits: no cgroup at all.
    const plan = planCgroup(opts(k, V1_CGROUP, { resources: {} }));
    assert.deepEqual(plan.cgroups, []);
    assert.deepEqual(cgroupMountPlan(plan), []);
  }),
);

Deno.test(
  "hybrid without a v1 pids hierarchy: unified does not offer it either",
  withFs(HYBRID.filter((h) => h.at !== "pids"), (k) => {
    assert.throws(
      () => planCgroup(opts(k, HYBRID_CGROUP)),
      /the pids controller is not available in `.*\/unified` \(not delegated by its parent; needed for --pids-limit\)/,
    );
  }),
);

Deno.test(
  "invalid ids are refused",
  withFs(V2, (k) => {
    for (const id of ["", "../x", "a/b", "-x"]) {
      assert.throws(() => planCgroup(opts(k, "0::/\n", { id })), /invalid id/);
    }
  }),
);

Deno.test(
  "a failure midway removes every directory made and rethrows the SysError",
  withFs(HYBRID, (k) => {
    const plan = planCgroup(
      opts(k, HYBRID_CGROUP.replace("/process_api/s1", "/")),
    );
    const failing = `${k.dir("pids", plan.name)}/pids.max`;
    k.failOn.add(failing);
    assert.throws(
      () => createCgroup(plan, k),
      (e: unknown) =>
        e instanceof SysError && e.code === "EINVAL" &&
        e.message === `write \`${failing}\`: EINVAL (einval)`,
    );
    for (const at of ["cpu", "memory", "pids", "unified"]) {
      assert.deepEqual(k.subdirs(k.dir(at, "")), [], at);
    }
  }),
);

Deno.test(
  "v2 failure before delegation moves the launcher back out of its leaf",
  withFs(V2, (k) => {
    k.write(k.dir("", "cgroup.subtree_control"), "+cpu +memory +pids");
    const scope = k.mkdirp("", "/s.scope");
    k.setProcs(scope, [LAUNCHER]);
    const plan = planCgroup(opts(k, "0::/s.scope\n"));
    k.failOn.add(`${scope}/cgroup.subtree_control`);
    assert.throws(() => createCgroup(plan, k), SysError);
    assert.deepEqual(k.procs(scope), [LAUNCHER]);
    assert.deepEqual(k.subdirs(scope), []);
  }),
);

Deno.test(
  "destroy retries rmdir on EBUSY with short sleeps, without killing",
  withFs(V2, (k) => {
    const plan = planCgroup(opts(k, "0::/\n"));
    const cg = createCgroup(plan, k);
    k.busy.set(cg.paths[0], 3);
    cg.destroy();
    assert.equal(k.exists(cg.paths[0]), false);
    assert.deepEqual(k.log, ["sleep 1", "sleep 2", "sleep 4"]);
  }),
);

Deno.test(
  "destroy kills what is left: cgroup.kill on v2, by pid on v1",
  () => {
    withFs(V2, (k) => {
      const cg = createCgroup(planCgroup(opts(k, "0::/\n")), k);
      cg.addProcess(900);
      cg.destroy();
      assert.equal(k.exists(cg.paths[0]), false);
      assert.ok(k.log.includes("kill 900"));
      const slept = k.log.filter((l) => l.startsWith("sleep")).map((l) =>
        Number(l.slice(6))
      );
      assert.ok(slept.reduce((a, b) => a + b, 0) >= 100); // waited before killing
    })();
    withFs(V1, (k) => {
      const cg = createCgroup(planCgroup(opts(k, "")), k);
      cg.addProcess(901);
      k.setProcs(cg.paths[1], [901, 902]);
      cg.destroy();
      for (const p of cg.paths) assert.equal(k.exists(p), false);
      assert.ok(k.log.includes("kill 901") && k.log.includes("kill 902"));
    })();
  },
);

Deno.test(
  "destroy gives up after a bounded wait and names the directory",
  withFs(V2, (k) => {
    const cg = createCgroup(planCgroup(opts(k, "0::/\n")), k);
    k.busy.set(cg.paths[0], Number.MAX_SAFE_INTEGER);
    assert.throws(() => cg.destroy(), {
      message: `cgroups: cannot remove \`${cg.paths[0]}\`: rmdir \`${
        cg.paths[0]
      }\`: EBUSY (ebusy)`,
    });
    const slept = k.log.filter((l) => l.startsWith("sleep")).map((l) =>
      Number(l.slice(6))
    );
    const total = slept.reduce((a, b) => a + b, 0);
    assert.ok(total >= 1100 && total < 1200, `slept ${total} ms in all`);
  }),
);

Deno.test(
  "oomKilled reads memory.events (v2) and memory.oom_control or failcnt (v1)",
  () => {
    withFs(V2, (k) => {
      const cg = createCgroup(planCgroup(opts(k, "0::/\n")), k);
      assert.equal(cg.oomKilled(), false);
      Deno.writeTextFileSync(
        `${cg.paths[0]}/memory.events`,
        "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n",
      );
      assert.equal(cg.oomKilled(), true);
      cg.destroy();
      assert.equal(cg.oomKilled(), true); // remembered after the files are gone
    })();
    withFs(V1, (k) => {
      const cg = createCgroup(planCgroup(opts(k, "")), k);
      const mem = cg.paths[1];
      Deno.writeTextFileSync(
        `${mem}/memory.oom_control`,
        "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
      );
      assert.equal(cg.oomKilled(), true);
      // A kernel before 4.13 has no oom_kill line: failcnt is the hint.
      Deno.writeTextFileSync(
        `${mem}/memory.oom_control`,
        "oom_kill_disable 0\nunder_oom 0\n",
      );
      assert.equal(cg.oomKilled(), false);
      Deno.writeTextFileSync(`${mem}/memory.failcnt`, "3\n");
      assert.equal(cg.oomKilled(), true);
      cg.destroy();
    })();
    withFs(V2, (k) => {
      const cg = createCgroup(
        planCgroup(
          opts(k, "0::/\n", { resources: resourcesFromFlags({ cpus: "1" }) }),
        ),
        k,
      );
      assert.equal(cg.oomKilled(), false); // no memory controller, no OOM to report
      cg.destroy();
    })();
  },
);

Deno.test(
  "cleanupStaleCgroups removes only tinyc cgroups with a dead owner and no processes",
  withFs(HYBRID, (k) => {
    const DEAD = 5001, ALIVE = 5002;
    k.live.add(ALIVE);
    const mk = (at: string, path: string) => k.mkdirp(at, path);
    const stale = [
      mk("memory", `/process_api/s1/tinyc-${DEAD}-a`),
      mk("pids", `/tinyc-${DEAD}-a`),
      mk("unified", `/tinyc-${DEAD}-a`),
      mk("memory", `/process_api/tinyc-${DEAD}-e`), // an ancestor of the own cgroup
      mk("unified", `/tinyc-launcher-${DEAD}`),
      mk("cpu", `/tinyc-${DEAD}-g`),
    ];
    mk("cpu", `/tinyc-${DEAD}-g/sub`); // an empty child goes too
    const kept = [
      mk("memory", `/process_api/s1/tinyc-${ALIVE}-b`), // owner alive
      mk("memory", `/process_api/s1/tinyc-${DEAD}-c`), // has a process
      mk("pids", `/tinyc-${DEAD}-d`), // a descendant has a process
      mk("pids", `/tinyc-${DEAD}-d/x`),
      mk("memory", `/process_api/s2/tinyc-${DEAD}-f`), // not where we place
      mk("memory", "/process_api/s1/foo"),
      mk("unified", "/tinyc-noowner"),
      mk("unified", "/tinyc-"),
      mk("cpuacct", `/tinyc-${DEAD}-h`), // a hierarchy tinyc never uses
    ];
    k.setProcs(k.dir("memory", `/process_api/s1/tinyc-${DEAD}-c`), [6000]);
    k.setProcs(k.dir("pids", `/tinyc-${DEAD}-d/x`), [6001]);

    const removed = cleanupStaleCgroups({
      root: k.root,
      mountinfo: k.mountinfo(),
      procSelfCgroup: HYBRID_CGROUP,
      kernel: k,
    });
    assert.deepEqual(removed.sort(), stale.sort());
    for (const d of kept) assert.equal(k.exists(d), true, d);
    assert.deepEqual(k.log, []); // nothing killed

    // --cgroup-parent scans only that parent.
    const elsewhere = mk("unified", `/p/tinyc-${DEAD}-z`);
    mk("unified", `/tinyc-${DEAD}-y`);
    assert.deepEqual(
      cleanupStaleCgroups({
        root: k.root,
        mountinfo: k.mountinfo(),
        procSelfCgroup: HYBRID_CGROUP,
        kernel: k,
        parent: "/p",
      }),
      [elsewhere],
    );
  }),
);

Deno.test(
  "cgroupMountPlan: v2 is one read-only cgroup2 mount",
  withFs(V2, (k) => {
    const RO = MS.MS_RDONLY | MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC;
    assert.deepEqual(cgroupMountPlan(planCgroup(opts(k, "0::/\n"))), [
      { op: "mkdir", path: "/sys/fs/cgroup" },
      {
        op: "mount",
        source: "cgroup2",
        target: "/sys/fs/cgroup",
        fstype: "cgroup2",
        flags: RO,
      },
    ]);
  }),
);

Deno.test(
  "cgroupMountPlan: v1/hybrid is a tmpfs with the container's hierarchies, read-only",
  withFs(V1, (k) => {
    const RO = MS.MS_RDONLY | MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC;
    const ops = cgroupMountPlan(planCgroup(opts(k, "")));
    const show = ops.map((o) =>
      o.op === "mount"
        ? [o.fstype || "-", o.target, o.data, o.flags === RO ? "ro" : o.flags]
          .filter((x) => x !== undefined).join(" ").replace(/^/, "mount ")
        : o.op === "mkdir"
        ? `mkdir ${o.path}`
        : `ln -s ${o.target} ${o.path}`
    );
    assert.deepEqual(show, [
      "mkdir /sys/fs/cgroup",
      `mount tmpfs /sys/fs/cgroup mode=755 ${
        MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC
      }`,
      "mkdir /sys/fs/cgroup/cpu,cpuacct",
      "mount cgroup /sys/fs/cgroup/cpu,cpuacct cpu,cpuacct ro",
      "ln -s cpu,cpuacct /sys/fs/cgroup/cpu",
      "ln -s cpu,cpuacct /sys/fs/cgroup/cpuacct",
      "mkdir /sys/fs/cgroup/memory",
      "mount cgroup /sys/fs/cgroup/memory memory ro",
      "mkdir /sys/fs/cgroup/pids",
      "mount cgroup /sys/fs/cgroup/pids pids ro",
      `mount - /sys/fs/cgroup ${MS.MS_REMOUNT | MS.MS_BIND | RO}`,
    ]);
  }),
);
