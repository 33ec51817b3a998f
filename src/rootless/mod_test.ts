import assert from "node:assert/strict";
import { TinycError } from "../errors.ts";
import {
  planIdMaps,
  prepareRootless,
  ROOTLESS_INIT_ARG,
  rootlessInitArgv,
  userName,
} from "./mod.ts";

const INIT = ["/usr/bin/deno", "run", "-A", "main.ts", "__init"];
const ALL = ["pid", "network", "ipc", "uts", "mount", "cgroup"] as const;
const TOOLS = { unshare: "/usr/bin/unshare", setpriv: "/usr/bin/setpriv" };
const SUB = "alice:100000:65536\n";

Deno.test("rootlessInitArgv: root only -> --map-root-user, every namespace but cgroup", () => {
  const maps = planIdMaps(1000, 1000, null, null, "alice", true);
  assert.deepEqual(rootlessInitArgv(INIT, maps, ALL, TOOLS), [
    "/usr/bin/setpriv",
    "--pdeathsig",
    "KILL",
    "--",
    "/usr/bin/unshare",
    "--user",
    "--map-root-user",
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--pid",
    "--fork",
    "--kill-child",
    "--",
    ...INIT,
    ROOTLESS_INIT_ARG,
  ]);
});

Deno.test("rootlessInitArgv: subordinate range -> --map-users/--map-groups outer,inner,count", () => {
  const maps = planIdMaps(
    1000,
    1001,
    SUB,
    "alice:300000:65536\n",
    "alice",
    true,
  );
  const argv = rootlessInitArgv(INIT, maps, ALL, TOOLS);
  const i = argv.indexOf("--map-root-user");
  assert.deepEqual(argv.slice(i, i + 3), [
    "--map-root-user",
    "--map-users=100000,1,65535",
    "--map-groups=300000,1,65535",
  ]);
});

Deno.test("rootlessInitArgv: only the namespaces asked for; no setpriv -> unshare first", () => {
  const maps = planIdMaps(1000, 1000, null, null, "alice", true);
  const argv = rootlessInitArgv(INIT, maps, ["mount", "pid"], {
    unshare: "/bin/unshare",
    setpriv: null,
  });
  assert.equal(argv[0], "/bin/unshare");
  assert.ok(argv.includes("--mount") && argv.includes("--pid"));
  for (const f of ["--net", "--uts", "--ipc", "--cgroup"]) {
    assert.ok(!argv.includes(f), f);
  }
  // the init is always a forked child, so that it is PID 1
  assert.ok(argv.includes("--fork"));
});

Deno.test("rootlessInitArgv: refuses maps unshare cannot express", () => {
  const bad = {
    uid: [{ inside: 0, outside: 1000, count: 2 }],
    gid: [{ inside: 0, outside: 1000, count: 1 }],
  };
  assert.throws(
    () => rootlessInitArgv(INIT, bad, ALL, TOOLS),
    (e: unknown) =>
      e instanceof TinycError && /unsupported id maps/.test(e.message),
  );
});

Deno.test("userName: the passwd entry's name, else the uid", () => {
  const passwd =
    "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n";
  assert.equal(userName(1000, passwd), "alice");
  assert.equal(userName(1001, passwd), "1001");
  assert.equal(userName(1000, null), "1000");
});

function host(over: {
  files?: Record<string, string>;
  exe?: string[];
}) {
  const files: Record<string, string> = {
    "/etc/passwd": "alice:x:1000:1000::/home/a:/bin/sh\n",
    "/etc/subuid": SUB,
    "/etc/subgid": SUB,
    ...over.files,
  };
  const exe = new Set(
    over.exe ??
      [
        "/usr/bin/unshare",
        "/usr/bin/setpriv",
        "/usr/bin/newuidmap",
        "/usr/bin/newgidmap",
      ],
  );
  return {
    uid: 1000,
    gid: 1000,
    path: "/usr/bin:/bin",
    read: (p: string) => files[p] ?? null,
    isExecutable: (p: string) => exe.has(p),
  };
}

Deno.test("prepareRootless: reads the host and plans the full map", () => {
  const l = prepareRootless(INIT, ALL, host({}));
  assert.equal(l.warning, undefined);
  assert.equal(l.argv[0], "/usr/bin/setpriv");
  assert.ok(l.argv.includes("--map-users=100000,1,65535"));
  assert.equal(l.maps.uid.length, 2);
});

Deno.test("prepareRootless: without newgidmap -> root only, with the warning", () => {
  const l = prepareRootless(
    INIT,
    ALL,
    host({ exe: ["/usr/bin/unshare", "/usr/bin/newuidmap"] }),
  );
  assert.equal(l.argv[0], "/usr/bin/unshare");
  assert.ok(!l.argv.some((a) => a.startsWith("--map-users")));
  assert.match(l.warning ?? "", /newuidmap\/newgidmap are not installed/);
});

Deno.test("prepareRootless: clear errors for a forbidding sysctl and a missing unshare", () => {
  assert.throws(
    () =>
      prepareRootless(
        INIT,
        ALL,
        host({ files: { "/proc/sys/user/max_user_namespaces": "0\n" } }),
      ),
    (e: unknown) =>
      e instanceof TinycError && e.exitCode === 125 &&
      /user\.max_user_namespaces is 0/.test(e.message),
  );
  assert.throws(
    () => prepareRootless(INIT, ALL, host({ exe: [] })),
    /util-linux `unshare` not found/,
  );
});
