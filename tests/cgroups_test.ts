/**
 * Integration tests for resource limits (--memory, --cpus, --pids-limit):
 * real containers as root, and no cgroup left behind.
 */

import assert from "node:assert/strict";
import {
  busyboxRoot,
  pidsWithCmdline,
  readUntil,
  sh,
  skipUnlessRoot,
  startSh,
  tinycSpawn,
  waitFor,
} from "./helpers.ts";

const ignore = skipUnlessRoot("tests/cgroups_test.ts");

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** tinyc-* cgroups of dead launchers beneath this process's cgroup in every mounted hierarchy. */
function tinycCgroups(includeLive = false): string[] {
  const found: string[] = [];
  const own = Deno.readTextFileSync("/proc/self/cgroup").trim().split("\n");
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f.length > 8 && /^cgroup2?$/.test(f[f.indexOf("-") + 1]));
  for (const f of mounts) {
    const point = f[4];
    const fstype = f[f.indexOf("-") + 1];
    const opts = f[f.length - 1].split(",");
    const line = own.find((l) => {
      const [, ctrls] = l.split(":");
      return fstype === "cgroup2"
        ? ctrls === ""
        : ctrls.split(",").some((c) =>
          opts.includes(c) || opts.includes(`name=${c.replace("name=", "")}`)
        );
    });
    if (!line) continue;
    const dir = `${point}${line.split(":")[2]}`.replace(/\/$/, "");
    try {
      for (const e of Deno.readDirSync(dir)) {
        if (!e.isDirectory || !e.name.startsWith("tinyc-")) continue;
        // tinyc-<launcher pid>-<id>: a live launcher's (another run's) is no leftover.
        const owner = e.name.match(/^tinyc-(?:launcher-)?(\d+)/)?.[1];
        if (!includeLive && owner && alive(Number(owner))) continue;
        found.push(`${dir}/${e.name}`);
      }
    } catch {
      // not there
    }
  }
  return found;
}

Deno.test({
  name: "limits are visible inside; /proc/self/cgroup shows /",
  ignore,
}, async () => {
  const r = await sh(
    "cat /proc/self/cgroup; ls /sys/fs/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true",
    ["--memory", "64m", "--pids-limit", "100", "--cpus", "0.5"],
  );
  assert.equal(r.code, 0, r.stderr);
  for (const line of r.stdout.split("\n").filter((l) => /^\d+:/.test(l))) {
    const [, ctrls, path] = line.split(":");
    if (["memory", "pids", "cpu,cpuacct", ""].includes(ctrls)) {
      assert.equal(path, "/", line);
    }
  }
  assert.match(r.stdout, /^67108864$/m);
  assert.match(r.stdout, /^100$/m);
  assert.deepEqual(tinycCgroups(), []);
});

Deno.test({
  name: "--memory: going over is OOM-killed, exit 137 with one line",
  ignore,
}, async () => {
  const r = await sh(
    "x=$(head -c 100000000 /dev/zero | tr '\\0' a) 2>/dev/null; echo survived",
    [
      "--memory",
      "16m",
    ],
  );
  assert.equal(r.code, 137);
  assert.ok(!r.stdout.includes("survived"));
  assert.equal(
    r.stderr.trim().split("\n").at(-1),
    "tinyc: container killed: out of memory (--memory 16m)",
  );
  assert.deepEqual(tinycCgroups(), []);
});

Deno.test({
  name: "--pids-limit: forks past the limit fail, the container keeps running",
  ignore,
}, async () => {
  // The inner shell forks 30 sleeps; with the limit, forking fails (and that
  // shell gives up), while PID 1 carries on.
  const forker =
    "sh -c 'i=0; while [ $i -lt 30 ]; do sleep 1 & i=$((i+1)); done; echo $i started' 2>&1";
  const capped = await sh(`${forker}; echo alive`, ["--pids-limit", "10"]);
  assert.equal(capped.code, 0, capped.stderr);
  assert.match(capped.stdout, /can't fork|Resource temporarily unavailable/i);
  assert.match(capped.stdout, /alive/);
  assert.ok(!capped.stdout.includes("30 started"), capped.stdout);
  const free = await sh(`${forker}; echo alive`);
  assert.match(free.stdout, /30 started/);
});

Deno.test({
  name: "--cpus 0.5: a 3 s busy loop gets about 1.5 s of CPU",
  ignore,
}, async () => {
  // cutime + cstime of PID 1 (fields 16-17 of stat) count the waited-for
  // busy loop, in clock ticks of 1/100 s.
  const r = await sh(
    "timeout 3 sh -c 'while :; do :; done'; cat /proc/$$/stat",
    ["--cpus", "0.5"],
  );
  const fields = r.stdout.slice(r.stdout.lastIndexOf(")") + 2).split(" ");
  const seconds = (Number(fields[13]) + Number(fields[14])) / 100;
  assert.ok(
    seconds > 1.0 && seconds < 2.0,
    `used ${seconds} s of CPU: ${r.stdout}`,
  );
});

Deno.test(
  { name: "invalid limits are exit 125 naming the flag", ignore },
  async () => {
    for (
      const [flag, value] of [["--memory", "abc"], ["--cpus", "-1"], [
        "--pids-limit",
        "zero",
      ]]
    ) {
      const r = await sh("true", [`${flag}=${value}`]);
      assert.equal(r.code, 125, flag);
      assert.match(r.stderr, new RegExp(`^tinyc: ${flag} ${value}: `));
      assert.equal(r.stderr.split("\n").length, 2);
    }
  },
);

Deno.test({
  name: "a SIGKILLed launcher's cgroup is removed by the next run",
  ignore,
}, async () => {
  const marker = `5${Math.floor(Math.random() * 1e6)}.5`;
  const child = await startSh(`echo ready; exec sleep ${marker}`, [
    "--memory",
    "32m",
  ]);
  assert.ok(tinycCgroups(true).length > 0);
  child.kill("SIGKILL");
  await child.status;
  await child.stderr.cancel();
  assert.ok(
    await waitFor(() => pidsWithCmdline(`sleep ${marker}`).length === 0),
  );
  await sh("true");
  assert.deepEqual(tinycCgroups(), []);
});

Deno.test({
  name: "--cgroup-parent places the container's cgroup under that path",
  ignore,
}, async () => {
  const parent = `tinyc-test-parent-${Deno.pid}`;
  const root = await busyboxRoot();
  const child = tinycSpawn([
    "run",
    "--root",
    root,
    "--cgroup-parent",
    parent,
    "--memory",
    "32m",
    "--",
    "/bin/sh",
    "-c",
    "echo ready; sleep 2",
  ]);
  try {
    await readUntil(child.stdout, /ready/);
    const dir = `/sys/fs/cgroup/memory/${parent}`;
    let inside: string[] = [];
    try {
      inside = [...Deno.readDirSync(dir)].filter((e) =>
        e.isDirectory && e.name.startsWith("tinyc-")
      ).map((e) => e.name);
    } catch {
      // pure cgroup v2 host: look there instead
      inside = [...Deno.readDirSync(`/sys/fs/cgroup/${parent}`)].filter((e) =>
        e.isDirectory && e.name.startsWith("tinyc-")
      ).map((e) => e.name);
    }
    assert.equal(inside.length, 1, `no container cgroup under ${parent}`);
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel();
    // The next run under that parent removes the SIGKILLed one's cgroup.
    await sh("true", ["--cgroup-parent", parent]);
    for (const e of Deno.readDirSync("/sys/fs/cgroup")) {
      try {
        Deno.removeSync(`/sys/fs/cgroup/${e.name}/${parent}`);
      } catch {
        // not in this hierarchy
      }
    }
    try {
      Deno.removeSync(`/sys/fs/cgroup/${parent}`);
    } catch {
      // v1 host
    }
  }
  const bad = await sh("true", ["--cgroup-parent", "../escape"]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /--cgroup-parent \.\.\/escape/);
});
