import assert from "node:assert/strict";
import {
  checkRootlessRequest,
  checkUserNamespaces,
  controllersFor,
  delegatedControllers,
  findTool,
} from "./host_check.ts";

function files(map: Record<string, string>) {
  return (p: string) => map[p] ?? null;
}

Deno.test("checkUserNamespaces: nothing forbids -> null (missing files are fine)", () => {
  assert.equal(checkUserNamespaces(files({})), null);
  assert.equal(
    checkUserNamespaces(files({
      "/proc/sys/kernel/unprivileged_userns_clone": "1\n",
      "/proc/sys/user/max_user_namespaces": "63000\n",
      "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "0\n",
    })),
    null,
  );
});

Deno.test("checkUserNamespaces: each forbidding sysctl is named with its fix", () => {
  const cases: Array<[string, string, RegExp]> = [
    [
      "/proc/sys/kernel/unprivileged_userns_clone",
      "0\n",
      /kernel\.unprivileged_userns_clone is 0 .*sysctl -w kernel\.unprivileged_userns_clone=1/,
    ],
    [
      "/proc/sys/user/max_user_namespaces",
      "0\n",
      /user\.max_user_namespaces is 0 .*sysctl -w user\.max_user_namespaces=/,
    ],
    [
      "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
      "1\n",
      /kernel\.apparmor_restrict_unprivileged_userns is 1 .*=0/,
    ],
  ];
  for (const [file, value, re] of cases) {
    const msg = checkUserNamespaces(files({ [file]: value }));
    assert.match(msg ?? "", re);
    assert.doesNotMatch(msg ?? "", /\n/);
  }
});

Deno.test("findTool: PATH first, then the system directories", () => {
  const exe = new Set(["/opt/bin/unshare", "/usr/bin/unshare", "/sbin/x"]);
  const isExe = (p: string) => exe.has(p);
  assert.equal(
    findTool("unshare", "/opt/bin:/usr/bin", isExe),
    "/opt/bin/unshare",
  );
  assert.equal(findTool("unshare", "/nowhere", isExe), "/usr/bin/unshare");
  assert.equal(findTool("x", undefined, isExe), "/sbin/x");
  assert.equal(
    findTool("unshare", "relative:/opt/bin/", isExe),
    "/opt/bin/unshare",
  );
  assert.equal(findTool("newuidmap", "/usr/bin", isExe), null);
});

Deno.test("checkRootlessRequest: bridge and publish need root; none and host do not", () => {
  const host = { delegated: [] };
  assert.equal(checkRootlessRequest({ network: "none" }, host), null);
  assert.equal(checkRootlessRequest({ network: "host" }, host), null);
  assert.equal(checkRootlessRequest({}, host), null);
  assert.match(
    checkRootlessRequest({ network: "bridge" }, host) ?? "",
    /^--network bridge: needs root/,
  );
  assert.match(
    checkRootlessRequest({ network: "none", publish: 1 }, host) ?? "",
    /^--publish: needs root/,
  );
});

Deno.test("checkRootlessRequest: limits need the controllers delegated", () => {
  const none = { delegated: [] };
  assert.match(
    checkRootlessRequest({ controllers: ["memory"] }, none) ?? "",
    /^--memory: needs root, or a cgroup v2 subtree delegated to you with the memory controller/,
  );
  assert.match(
    checkRootlessRequest({ controllers: ["cpu", "pids"] }, none) ?? "",
    /^--cpus, --pids-limit: .*cpu, pids controllers/,
  );
  const some = { delegated: ["memory", "pids"] };
  assert.equal(checkRootlessRequest({ controllers: ["memory"] }, some), null);
  assert.match(
    checkRootlessRequest({ controllers: ["memory", "cpu"] }, some) ?? "",
    /^--cpus:/,
  );
  assert.match(
    checkRootlessRequest({ cgroupParent: "/x" }, none) ?? "",
    /^--cgroup-parent \/x: needs root/,
  );
  assert.equal(checkRootlessRequest({ cgroupParent: "/x" }, some), null);
});

Deno.test("controllersFor: the controllers the resources use", () => {
  assert.deepEqual(controllersFor(undefined), []);
  assert.deepEqual(controllersFor({}), []);
  assert.deepEqual(
    controllersFor({
      memory: { limit: 1 },
      cpu: { quota: 1, period: 2 },
      pids: { limit: 3 },
    }),
    ["memory", "cpu", "pids"],
  );
});

Deno.test("delegatedControllers: only a cgroup v2 directory the caller owns", () => {
  const root = "/cg";
  const own = "/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope";
  const dir = root + own;
  const text = files({
    [`${root}/cgroup.controllers`]: "cpuset cpu io memory pids\n",
    [`${dir}/cgroup.controllers`]: "cpu memory pids\n",
  });
  const owners = new Map([
    [dir, 1000],
    [`${dir}/cgroup.procs`, 1000],
    [`${dir}/cgroup.subtree_control`, 1000],
  ]);
  const owner = (p: string) => owners.get(p) ?? null;
  const proc = `0::${own}\n`;
  assert.deepEqual(
    delegatedControllers(1000, proc, root, text, owner),
    ["cpu", "memory", "pids"],
  );
  // someone else's cgroup
  assert.deepEqual(delegatedControllers(1001, proc, root, text, owner), []);
  // not all the files are ours (systemd without Delegate=yes)
  owners.set(`${dir}/cgroup.subtree_control`, 0);
  assert.deepEqual(delegatedControllers(1000, proc, root, text, owner), []);
  // cgroup v1 / hybrid: no cgroup.controllers at the root
  owners.set(`${dir}/cgroup.subtree_control`, 1000);
  assert.deepEqual(
    delegatedControllers(1000, proc, root, files({}), owner),
    [],
  );
  // no v2 line in /proc/self/cgroup
  assert.deepEqual(
    delegatedControllers(1000, "4:memory:/x\n", root, text, owner),
    [],
  );
});
