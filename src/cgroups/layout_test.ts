import assert from "node:assert/strict";
import { cgroupDir, detectLayout, parseProcCgroup } from "./layout.ts";

// This project's build machines: v1 controllers plus an empty v2 at unified.
const HYBRID_MOUNTINFO = `
23 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const HYBRID_CGROUP = `9:name=systemd:/
8:pids:/
4:memory:/process_api/58be
2:cpuacct:/
1:cpu:/
0::/
`;

Deno.test("detectLayout: hybrid v1 + unified, own cgroup per hierarchy", () => {
  const l = detectLayout("/sys/fs/cgroup", HYBRID_MOUNTINFO, HYBRID_CGROUP);
  assert.equal(l.mode, "hybrid");
  assert.deepEqual(
    l.hierarchies.map((h) => [h.version, h.mountpoint, h.controllers, h.own]),
    [
      [1, "/sys/fs/cgroup/cpu", ["cpu"], "/"],
      [1, "/sys/fs/cgroup/cpuacct", ["cpuacct"], "/"],
      [1, "/sys/fs/cgroup/memory", ["memory"], "/process_api/58be"],
      [1, "/sys/fs/cgroup/pids", ["pids"], "/"],
      [1, "/sys/fs/cgroup/systemd", [], "/"],
      [2, "/sys/fs/cgroup/unified", [], "/"],
    ],
  );
  assert.equal(l.hierarchies[4].name, "systemd");
});

Deno.test("detectLayout: pure v2 ignores other mounts; own path from 0::", () => {
  const l = detectLayout(
    "/sys/fs/cgroup/",
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n" +
      "99 23 0:50 / /mnt/other rw - cgroup cgroup rw,memory\n",
    "0::/user.slice/user-1000.slice/session-2.scope\n",
  );
  assert.equal(l.mode, "v2");
  assert.equal(l.hierarchies.length, 1);
  assert.equal(
    l.hierarchies[0].own,
    "/user.slice/user-1000.slice/session-2.scope",
  );
});

Deno.test("detectLayout: co-mounted cpu,cpuacct, duplicate bind mount, escaped space", () => {
  const l = detectLayout(
    "/x y/cg",
    "1 0 0:1 / /x\\040y/cg/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu\n" +
      "2 0 0:1 / /x\\040y/cg/cpu rw - cgroup cgroup rw,cpu,cpuacct\n" +
      "3 0 0:2 / /x\\040y/cg/cpuset rw - cgroup cgroup rw,cpuset,noprefix,clone_children\n",
    "3:cpuset:/a\n2:cpu,cpuacct:/b/c\n",
  );
  assert.equal(l.mode, "v1");
  assert.deepEqual(
    l.hierarchies.map((h) => [h.mountpoint, h.controllers, h.own]),
    [
      ["/x y/cg/cpu,cpuacct", ["cpuacct", "cpu"], "/b/c"],
      ["/x y/cg/cpuset", ["cpuset"], "/a"],
    ],
  );
});

Deno.test("cgroupDir maps through the mount's root (v1 inside a container)", () => {
  const l = detectLayout(
    "/sys/fs/cgroup",
    "1 0 0:1 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
    "4:memory:/docker/abc\n",
  );
  const h = l.hierarchies[0];
  assert.equal(cgroupDir(h, "/docker/abc"), "/sys/fs/cgroup/memory");
  assert.equal(
    cgroupDir(h, "/docker/abc/tinyc-1"),
    "/sys/fs/cgroup/memory/tinyc-1",
  );
  assert.throws(() => cgroupDir(h, "/docker"), /not visible under/);
  assert.throws(() => cgroupDir(h, "/docker/abcd"), /not visible under/);
});

Deno.test("detectLayout fails when no cgroup fs is mounted under the root", () => {
  assert.throws(
    () => detectLayout("/elsewhere", HYBRID_MOUNTINFO, HYBRID_CGROUP),
    { message: "cgroups: no cgroup filesystem is mounted at `/elsewhere`" },
  );
});

Deno.test("parseProcCgroup keys v2 by '' and v1 by sorted controllers", () => {
  const m = parseProcCgroup(
    "12:cpuacct,cpu:/a\n1:name=systemd:/s\n0::/u\ngarbage\n",
  );
  assert.deepEqual([...m], [["cpu,cpuacct", "/a"], ["name=systemd", "/s"], [
    "",
    "/u",
  ]]);
});
