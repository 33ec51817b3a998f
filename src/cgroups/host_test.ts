// Integration tests on the real cgroup hierarchy of this machine (root only).
import assert from "node:assert/strict";
import { posix } from "node:path";
import { MS } from "../sys.ts";
import {
  type Cgroup,
  cgroupId,
  type CgroupMountOp,
  cgroupMountPlan,
  type CgroupPlan,
  cleanupStaleCgroups,
  createCgroup,
  planCgroup,
} from "./mod.ts";
import { type LinuxResources, resourcesFromFlags } from "./resources.ts";

const ignore = Deno.uid() !== 0;
if (ignore) console.log("cgroups host tests skipped: they need root");

function read(path: string): string {
  return Deno.readTextFileSync(path).trim();
}

function newCgroup(resources: LinuxResources): [CgroupPlan, Cgroup] {
  const plan = planCgroup({
    id: cgroupId(crypto.randomUUID().slice(0, 8)),
    resources,
  });
  return [plan, createCgroup(plan)];
}

/** A shell that waits for one line on stdin before running `script`, so it can be moved first. */
function gatedShell(script: string) {
  return new Deno.Command("sh", {
    args: ["-c", `read go; ${script}`],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function release(child: Deno.ChildProcess): Promise<Deno.CommandOutput> {
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  return await child.output();
}

function cgroupOf(pid: number): string {
  return Deno.readTextFileSync(`/proc/${pid}/cgroup`);
}

Deno.test({
  name: "host: limits are written, a process joins, destroy leaves nothing",
  ignore,
  fn: async () => {
    cleanupStaleCgroups();
    const [plan, cg] = newCgroup(
      resourcesFromFlags({ memory: "64m", cpus: "0.5", pidsLimit: "100" }),
    );
    try {
      const byCtl = (c: string) =>
        plan.cgroups.find((p) => p.controllers.includes(c))!.dir;
      if (plan.mode === "v2") {
        const d = plan.cgroups[0].dir;
        assert.equal(read(`${d}/memory.max`), "67108864");
        assert.equal(read(`${d}/cpu.max`), "50000 100000");
        assert.equal(read(`${d}/pids.max`), "100");
      } else {
        assert.equal(
          read(`${byCtl("memory")}/memory.limit_in_bytes`),
          "67108864",
        );
        const memsw = `${byCtl("memory")}/memory.memsw.limit_in_bytes`;
        try {
          assert.equal(read(memsw), "67108864");
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
          console.log("no swap accounting on this host: memsw not set");
        }
        assert.equal(read(`${byCtl("cpu")}/cpu.cfs_period_us`), "100000");
        assert.equal(read(`${byCtl("cpu")}/cpu.cfs_quota_us`), "50000");
        assert.equal(read(`${byCtl("pids")}/pids.max`), "100");
      }
      const sleep = new Deno.Command("sleep", { args: ["30"] }).spawn();
      cg.addProcess(sleep.pid);
      const own = cgroupOf(sleep.pid);
      for (const c of plan.cgroups) {
        assert.ok(own.includes(`:${c.path}\n`), `${c.path} not in\n${own}`);
        assert.deepEqual(read(`${c.dir}/cgroup.procs`), String(sleep.pid));
      }
      sleep.kill("SIGKILL");
      await sleep.status;
      assert.equal(cg.oomKilled(), false);
      cg.destroy();
    } finally {
      try {
        cg.destroy();
      } catch { /* reported by the assertions */ }
    }
    for (const p of cg.paths) {
      assert.throws(() => Deno.statSync(p), Deno.errors.NotFound);
    }
  },
});

Deno.test({
  name: "host: destroy kills processes still in the cgroup",
  ignore,
  fn: async () => {
    const [, cg] = newCgroup(resourcesFromFlags({ pidsLimit: "10" }));
    const sh = gatedShell("sleep 30 & sleep 30");
    cg.addProcess(sh.pid);
    const out = release(sh);
    // Both shells and sleeps are in the cgroup once the background one forks.
    for (
      let i = 0;
      i < 200 && read(`${cg.paths[0]}/cgroup.procs`).split("\n").length < 3;
      i++
    ) {
      await new Promise((r) => setTimeout(r, 5));
    }
    cg.destroy();
    const { signal } = await out;
    assert.equal(signal, "SIGKILL");
    for (const p of cg.paths) {
      assert.throws(() => Deno.statSync(p), Deno.errors.NotFound);
    }
  },
});

Deno.test({
  name: "host: a process over --memory is OOM-killed and oomKilled() says so",
  ignore,
  fn: async () => {
    const [, cg] = newCgroup(resourcesFromFlags({ memory: "16m" }));
    try {
      // tail buffers everything it reads: 100 MiB against a 16 MiB limit.
      const sh = gatedShell("head -c 100m /dev/zero | tail > /dev/null");
      cg.addProcess(sh.pid);
      assert.equal(cg.oomKilled(), false);
      const { code } = await release(sh);
      assert.equal(code, 128 + 9);
      assert.equal(cg.oomKilled(), true);
    } finally {
      cg.destroy();
    }
    assert.equal(cg.oomKilled(), true);
  },
});

Deno.test({
  name: "host: --pids-limit stops forks, the shell carries on",
  ignore,
  fn: async () => {
    const [, cg] = newCgroup(resourcesFromFlags({ pidsLimit: "4" }));
    try {
      // dash gives up on a failed fork: run the forks in a subshell and see
      // that the outer shell carries on.
      const sh = gatedShell(
        "(for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait); echo survived $?",
      );
      cg.addProcess(sh.pid);
      const out = await release(sh);
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.match(stderr, /fork/i);
      assert.match(stdout, /^survived [1-9]/);
    } finally {
      cg.destroy();
    }
  },
});

Deno.test({
  name:
    "host: cgroups of a SIGKILLed launcher are removed by the next cleanup, not before",
  ignore,
  fn: async () => {
    const mod = new URL("./mod.ts", import.meta.url).href;
    const res = new URL("./resources.ts", import.meta.url).href;
    const launcher = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { cgroupId, createCgroup, planCgroup } from "${mod}";
         import { resourcesFromFlags } from "${res}";
         const cg = createCgroup(planCgroup({
           id: cgroupId("crash"),
           resources: resourcesFromFlags({ memory: "32m", pidsLimit: "20" }),
         }));
         console.log(JSON.stringify(cg.paths));
         setTimeout(() => {}, 60_000);`,
      ],
      stdout: "piped",
    }).spawn();
    const reader = launcher.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const paths: string[] = JSON.parse(text);
    assert.ok(paths.length > 0);
    // While its owner lives, the cgroup is not stale.
    assert.deepEqual(
      cleanupStaleCgroups().filter((p) => paths.includes(p)),
      [],
    );
    launcher.kill("SIGKILL");
    await launcher.status;
    await reader.cancel();
    const removed = cleanupStaleCgroups();
    assert.deepEqual(
      removed.filter((p) => paths.includes(p)).sort(),
      [...paths].sort(),
    );
    for (const p of paths) {
      assert.throws(() => Deno.statSync(p), Deno.errors.NotFound);
    }
  },
});

/** The mount plan as a shell script (util-linux mount), to try it in `unshare --cgroup --mount`. */
function mountScript(ops: CgroupMountOp[]): string {
  const names: Array<[number, string]> = [
    [MS.MS_REMOUNT, "remount"],
    [MS.MS_BIND, "bind"],
    [MS.MS_RDONLY, "ro"],
    [MS.MS_NOSUID, "nosuid"],
    [MS.MS_NODEV, "nodev"],
    [MS.MS_NOEXEC, "noexec"],
  ];
  return ops.map((o) => {
    if (o.op === "mkdir") return `mkdir -p '${o.path}'`;
    if (o.op === "symlink") return `ln -s '${o.target}' '${o.path}'`;
    const opts = [
      ...names.filter(([bit]) => o.flags & bit).map(([, n]) => n),
      ...(o.data ? [o.data] : []),
    ].join(",");
    return o.flags & MS.MS_REMOUNT
      ? `mount -o ${opts} '${o.target}'`
      : `mount -t ${o.fstype} -o ${opts} ${o.source} '${o.target}'`;
  }).join(" && ");
}

Deno.test({
  name:
    "host: cgroupMountPlan inside a new cgroup+mount namespace shows only the container's cgroup, read-only",
  ignore,
  fn: async () => {
    const [plan, cg] = newCgroup(
      resourcesFromFlags({ memory: "64m", pidsLimit: "50" }),
    );
    try {
      const script = [
        mountScript(cgroupMountPlan(plan)),
        "cat /proc/self/cgroup",
        "echo ---",
        "ls /sys/fs/cgroup",
        "echo ---",
        plan.mode === "v2"
          ? "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
          : "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
        "ls /sys/fs/cgroup/* | grep -c tinyc- || true",
        "(echo 1 > /sys/fs/cgroup/pids.max || echo 1 > /sys/fs/cgroup/pids/pids.max) 2>/dev/null || echo read-only",
        "mkdir /sys/fs/cgroup/x 2>/dev/null || echo no-mkdir",
      ].join("; ");
      const sh = gatedShell(
        `exec unshare --cgroup --mount sh -c '${
          script.replaceAll("'", `'"'"'`)
        }'`,
      );
      cg.addProcess(sh.pid);
      const out = await release(sh);
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const [procCgroup, listing, rest] = stdout.split("---\n");
      // Every hierarchy the container has a cgroup in shows `/`; with cgroupns
      // the others do too (their root is where the shell was at unshare).
      for (const line of procCgroup.trim().split("\n")) {
        assert.match(line, /:\/$/, line);
      }
      const names = listing.trim().split("\n");
      if (plan.mode === "v2") {
        assert.ok(names.includes("memory.max"));
      } else {
        assert.deepEqual(
          names.sort(),
          plan.cgroups.map((c) => c.mountName).sort(),
        );
      }
      assert.deepEqual(rest.trim().split("\n"), [
        "67108864",
        "50",
        "0",
        "read-only",
        "no-mkdir",
      ]);
    } finally {
      cg.destroy();
    }
  },
});

Deno.test({
  name: "host: create + destroy cost (printed, not asserted)",
  ignore,
  fn: () => {
    const limits = resourcesFromFlags({
      memory: "64m",
      cpus: "0.5",
      pidsLimit: "100",
    });
    const times: number[] = [];
    const plans: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      const plan = planCgroup({ id: cgroupId(`bench${i}`), resources: limits });
      const t1 = performance.now();
      createCgroup(plan).destroy();
      times.push(performance.now() - t0);
      plans.push(t1 - t0);
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
    console.log(
      `plan+create+destroy median ${median(times).toFixed(2)} ms (plan ${
        median(plans).toFixed(2)
      } ms), ${posix.basename(Deno.execPath())}`,
    );
  },
});
