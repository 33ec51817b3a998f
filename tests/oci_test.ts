/**
 * tinyc-oci end to end, as an engine drives it (root): the lifecycle, exec,
 * run, hooks, errors and what is left behind.
 */

import assert from "node:assert/strict";
import { busyboxRoot, type CliResult, skipUnlessRoot } from "./helpers.ts";

const ignore = skipUnlessRoot("tests/oci_test.ts");
const MAIN = new URL("../main.ts", import.meta.url).pathname;

/**
 * `tinyc-oci --root STATE ARGS...` (through main.ts, as the installed
 * wrapper does). Output goes through files: a created container keeps
 * `create`'s stdio (as with runc), so a pipe would not end with the command.
 */
async function oci(state: string, args: string[]): Promise<CliResult> {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-oci-out-" });
  try {
    const st = await new Deno.Command("/bin/sh", {
      args: [
        "-c",
        'exec "$@" >"$OUT" 2>"$ERR"',
        "sh",
        MAIN,
        "oci",
        "--root",
        state,
        ...args,
      ],
      env: { OUT: `${dir}/out`, ERR: `${dir}/err` },
      stdin: "null",
    }).output();
    return {
      code: st.code,
      stdout: await Deno.readTextFile(`${dir}/out`),
      stderr: await Deno.readTextFile(`${dir}/err`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Bundle {
  dir: string;
  state: string;
  id: string;
  cgroup: string;
}

/** A bundle whose rootfs is the test busybox, config from `tinyc-oci spec`. */
// deno-lint-ignore no-explicit-any
type Config = Record<string, any>;

async function bundle(
  edit: (c: Config) => void = () => {},
): Promise<Bundle> {
  const dir = await Deno.makeTempDir({ prefix: "oci-test-tinyc-" });
  const state = `${dir}/state`;
  const id = `t${crypto.randomUUID().slice(0, 8)}`;
  const spec = await oci(state, ["spec", "--bundle", dir]);
  assert.equal(spec.code, 0, spec.stderr);
  const c: Config = JSON.parse(
    await Deno.readTextFile(`${dir}/config.json`),
  );
  c.root = { path: await busyboxRoot(), readonly: true };
  c.process.terminal = false;
  c.linux.cgroupsPath = `/oci-test-tinyc/${id}`;
  edit(c);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(c));
  return { dir, state, id, cgroup: `/oci-test-tinyc/${id}` };
}

/** Every cgroup hierarchy's mount point (v1 controllers, v2, or the v2 root). */
function hierarchies(): string[] {
  const dirs = ["/sys/fs/cgroup"];
  for (const e of Deno.readDirSync("/sys/fs/cgroup")) {
    if (e.isDirectory) dirs.push(`/sys/fs/cgroup/${e.name}`);
  }
  return dirs;
}

/** Nothing of the container remains: state, cgroup directories, processes. */
async function assertGone(b: Bundle): Promise<void> {
  assert.throws(() => Deno.statSync(`${b.state}/${b.id}`));
  for (const h of hierarchies()) {
    const p = `${h}${b.cgroup}`;
    assert.throws(() => Deno.statSync(p), `${p} left behind`);
  }
  await Deno.remove(b.dir, { recursive: true });
  // The parent cgroup the tests asked for (runtimes leave parents, as runc).
  for (const h of hierarchies()) {
    try {
      Deno.removeSync(`${h}/oci-test-tinyc`);
    } catch {
      // in use by a concurrent test, or never made
    }
  }
}

/** statfs(2) `path` (following links) and say whether ST_RDONLY is set. */
function readOnlyMount(path: string): boolean {
  const SYS_statfs = Deno.build.arch === "aarch64" ? 43 : 137;
  const lib = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "buffer", "buffer"], result: "i64" },
  });
  try {
    const buf = new BigUint64Array(15); // struct statfs (LP64)
    const p = new TextEncoder().encode(path + "\0");
    const r = lib.symbols.syscall(
      BigInt(SYS_statfs),
      p,
      new Uint8Array(buf.buffer),
    );
    assert.equal(r, 0n, `statfs ${path}`);
    const ST_RDONLY = 1n;
    return (buf[10] & ST_RDONLY) !== 0n; // f_flags
  } finally {
    lib.close();
  }
}

async function stateOf(b: Bundle): Promise<{ status: string; pid: number }> {
  const r = await oci(b.state, ["state", b.id]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

async function waitStatus(b: Bundle, status: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if ((await stateOf(b)).status === status) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal((await stateOf(b)).status, status);
}

Deno.test({
  name: "tinyc-oci: create, state, exec, start, kill, delete",
  ignore,
}, async () => {
  const b = await bundle((c) => {
    c.process.args = [
      "/bin/sh",
      "-c",
      "trap 'exit 7' TERM; echo started > /dev/null; while true; do sleep 0.1; done",
    ];
    c.linux.resources = { memory: { limit: 64 << 20 }, pids: { limit: 50 } };
  });
  const pidFile = `${b.dir}/pid`;
  const created = await oci(b.state, [
    "create",
    "--bundle",
    b.dir,
    "--pid-file",
    pidFile,
    b.id,
  ]);
  assert.equal(created.code, 0, created.stderr);
  const pid = Number(await Deno.readTextFile(pidFile));
  let s = await stateOf(b);
  assert.equal(s.status, "created");
  assert.equal(s.pid, pid);
  // Not started: the command has not run; the init waits for start.
  // exec works in a created container, in its namespaces and cgroup.
  const ex = await oci(b.state, [
    "exec",
    b.id,
    "/bin/sh",
    "-c",
    "hostname; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; grep -c . /proc/self/cgroup >/dev/null; exit 4",
  ]);
  assert.equal(ex.code, 4, ex.stderr);
  assert.equal(ex.stdout, "tinyc\n67108864\n");
  // A created container is not deleted without --force (runtime-spec).
  const early = await oci(b.state, ["delete", b.id]);
  assert.equal(early.code, 1);
  assert.match(
    early.stderr,
    /^tinyc-oci: cannot delete container \S+ that is not stopped: created\n$/,
  );
  const started = await oci(b.state, ["start", b.id]);
  assert.equal(started.code, 0, started.stderr);
  s = await stateOf(b);
  assert.equal(s.status, "running");
  assert.equal((await oci(b.state, ["start", b.id])).code, 1);
  const ps = await oci(b.state, ["ps", "--format", "json", b.id]);
  assert.ok(JSON.parse(ps.stdout).includes(pid), ps.stdout);
  const list = await oci(b.state, ["list", "--format", "json"]);
  assert.equal(JSON.parse(list.stdout)[0].id, b.id);
  const refused = await oci(b.state, ["delete", b.id]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /not stopped: running/);
  assert.equal((await oci(b.state, ["kill", b.id, "TERM"])).code, 0);
  await waitStatus(b, "stopped");
  // The init is not our child: reap nothing; delete cleans up.
  const del = await oci(b.state, ["delete", b.id]);
  assert.equal(del.code, 0, del.stderr);
  const again = await oci(b.state, ["state", b.id]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /container \S+ does not exist/);
  await assertGone(b);
});

Deno.test({
  name: "tinyc-oci run: attached, exit status, output, deleted after",
  ignore,
}, async () => {
  const b = await bundle((c) => {
    c.process.args = ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"];
  });
  const r = await oci(b.state, ["run", "--bundle", b.dir, b.id]);
  assert.equal(r.code, 3, r.stderr);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
  await assertGone(b);
});

Deno.test({
  name:
    "tinyc-oci: the runtime's binary is read-only in the container (CVE-2019-5736)",
  ignore,
}, async () => {
  const b = await bundle((c) => {
    c.process.args = ["/bin/sleep", "30"];
  });
  assert.equal(
    (await oci(b.state, ["create", "--bundle", b.dir, b.id])).code,
    0,
  );
  try {
    // PID 1 is still tinyc's init (Deno), waiting for start: the file its
    // /proc/PID/exe leads to (what a container reaches through
    // /proc/self/exe) is on a read-only mount. (A write attempt cannot
    // tell: any running deno makes it ETXTBSY first.)
    const { pid } = await stateOf(b);
    assert.ok(readOnlyMount(`/proc/${pid}/exe`));
    // The host's deno binary itself stays where it was, writable by root.
    assert.ok(!readOnlyMount(Deno.execPath()));
  } finally {
    assert.equal((await oci(b.state, ["delete", "--force", b.id])).code, 0);
  }
  await assertGone(b);
});

Deno.test(
  { name: "tinyc-oci: hooks get the state on stdin, in order", ignore },
  async () => {
    const out = await Deno.makeTempDir();
    const hook = (name: string) => ({
      path: "/bin/sh",
      args: ["sh", "-c", `cat >> ${out}/${name}; echo >> ${out}/${name}`],
    });
    const b = await bundle((c) => {
      c.process.args = ["/bin/true"];
      c.hooks = {
        prestart: [hook("prestart")],
        createRuntime: [hook("createRuntime")],
        poststart: [hook("poststart")],
        poststop: [hook("poststop")],
      };
    });
    try {
      assert.equal(
        (await oci(b.state, ["create", "--bundle", b.dir, b.id])).code,
        0,
      );
      assert.equal((await oci(b.state, ["start", b.id])).code, 0);
      await waitStatus(b, "stopped");
      assert.equal((await oci(b.state, ["delete", b.id])).code, 0);
      const read = (n: string) =>
        JSON.parse(Deno.readTextFileSync(`${out}/${n}`).trim());
      assert.equal(read("prestart").status, "created");
      assert.equal(read("prestart").id, b.id);
      assert.ok(read("prestart").pid > 0);
      assert.equal(read("createRuntime").status, "created");
      assert.equal(read("poststart").status, "running");
      assert.equal(read("poststop").status, "stopped");
      assert.equal(read("poststop").bundle, b.dir);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
    await assertGone(b);
  },
);

Deno.test({
  name: "tinyc-oci: a failing prestart hook fails create and leaves nothing",
  ignore,
}, async () => {
  const b = await bundle((c) => {
    c.hooks = { prestart: [{ path: "/bin/false", args: ["false"] }] };
  });
  const r = await oci(b.state, [
    "--log",
    `${b.dir}/log.json`,
    "--log-format",
    "json",
    "create",
    "--bundle",
    b.dir,
    b.id,
  ]);
  assert.equal(r.code, 1);
  assert.equal(
    r.stderr,
    "tinyc-oci: prestart hook /bin/false: exit status 1\n",
  );
  const log = JSON.parse(await Deno.readTextFile(`${b.dir}/log.json`));
  assert.equal(log.level, "error");
  assert.equal(log.msg, "prestart hook /bin/false: exit status 1");
  await assertGone(b);
});

Deno.test(
  { name: "tinyc-oci: bad input is one line and exit 1", ignore },
  async () => {
    const b = await bundle((c) => {
      c.linux.intelRdt = { closID: "x" };
    });
    const r = await oci(b.state, ["create", "--bundle", b.dir, b.id]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "tinyc-oci: config.json: linux.intelRdt: not supported by tinyc\n",
    );
    const bad = await oci(b.state, ["create", "--bundle", b.dir, "../x"]);
    assert.match(bad.stderr, /^tinyc-oci: invalid container id "\.\.\/x"\n$/);
    const unknown = await oci(b.state, ["frobnicate"]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown command frobnicate/);
    const sig = await oci(b.state, ["kill", b.id, "NOPE"]);
    assert.match(sig.stderr, /invalid signal "NOPE"/);
    await assertGone(b);
  },
);

Deno.test({
  name: "tinyc-oci: pause, resume and update a running container",
  ignore,
}, async () => {
  const b = await bundle((c) => {
    c.process.args = ["/bin/sleep", "30"];
    c.linux.resources = { memory: { limit: 64 << 20 } };
  });
  assert.equal(
    (await oci(b.state, ["create", "--bundle", b.dir, b.id])).code,
    0,
  );
  try {
    assert.equal((await oci(b.state, ["start", b.id])).code, 0);
    if (Deno.statSync("/sys/fs/cgroup/unified").isDirectory) {
      assert.equal((await oci(b.state, ["pause", b.id])).code, 0);
      assert.equal((await stateOf(b)).status, "paused");
      assert.equal((await oci(b.state, ["resume", b.id])).code, 0);
      assert.equal((await stateOf(b)).status, "running");
    }
    const u = await oci(b.state, [
      "update",
      "--memory",
      String(32 << 20),
      b.id,
    ]);
    assert.equal(u.code, 0, u.stderr);
    const limit = async () =>
      (await oci(b.state, [
        "exec",
        b.id,
        "/bin/sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      ])).stdout;
    assert.equal(await limit(), `${32 << 20}\n`);
    // Sizes as runc takes them; junk is one line naming the flag.
    const m = await oci(b.state, ["update", "--memory", "48m", b.id]);
    assert.equal(m.code, 0, m.stderr);
    assert.equal(await limit(), `${48 << 20}\n`);
    const bad = await oci(b.state, ["update", "--memory", "lots", b.id]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^tinyc-oci: update --memory lots: invalid size/);
  } finally {
    assert.equal((await oci(b.state, ["delete", "--force", b.id])).code, 0);
  }
  await assertGone(b);
});

Deno.test({ name: "tinyc-oci spec and features", ignore }, async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal((await oci(`${dir}/s`, ["spec", "--bundle", dir])).code, 0);
    const c = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assert.equal(c.root.path, "rootfs");
    const again = await oci(`${dir}/s`, ["spec", "--bundle", dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /config\.json already exists/);
    const nowhere = await oci(`${dir}/s`, ["spec", "--bundle", `${dir}/no`]);
    assert.deepEqual([nowhere.code, nowhere.stderr], [
      1,
      `tinyc-oci: spec: ${dir}/no/config.json: no such file or directory\n`,
    ]);
    const f = JSON.parse((await oci(`${dir}/s`, ["features"])).stdout);
    assert.equal(f.ociVersionMax, "1.1.0");
    assert.ok(f.linux.namespaces.includes("mount"));
    const v = await oci(`${dir}/s`, ["--version"]);
    assert.match(v.stdout, /^tinyc-oci version \S+\nspec: 1\.1\.0\n$/);
    // bad input: one line, the prefix once, exit 1
    const bad = await oci(`${dir}/s`, ["--bogus", "list"]);
    assert.deepEqual([bad.code, bad.stderr], [
      1,
      "tinyc-oci: unknown flag --bogus\n",
    ]);
    const fmt = await oci(`${dir}/s`, ["list", "--format", "yaml"]);
    assert.deepEqual([fmt.code, fmt.stderr], [
      1,
      "tinyc-oci: list: --format yaml: must be table or json\n",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  {
    name: "tinyc-oci: a user namespace from uid/gid maps (create, exec, run)",
    ignore,
  },
  async () => {
    // The init runs Deno as the mapped root (host uid 100000): it needs a
    // runtime copy and a rootfs it can read, as after `deno task install`.
    const top = await Deno.makeTempDir({ prefix: "oci-test-tinyc-userns-" });
    await Deno.chmod(top, 0o755);
    try {
      const install = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../scripts/install.ts", import.meta.url).pathname,
        ],
        env: { PREFIX: `${top}/prefix` },
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.equal(install.code, 0, new TextDecoder().decode(install.stderr));
      const cp = await new Deno.Command("cp", {
        args: ["-a", await busyboxRoot(), `${top}/rootfs`],
      }).output();
      assert.equal(cp.code, 0);
      await Deno.chmod(`${top}/rootfs`, 0o755);
      await Deno.chmod(`${top}/rootfs/tmp`, 0o1777);
      const b = await bundle((c) => {
        c.root = { path: `${top}/rootfs`, readonly: false };
        c.process.args = [
          "/bin/sh",
          "-c",
          "id -u; cat /proc/self/uid_map; touch /tmp/made-inside",
        ];
        c.linux.namespaces.push({ type: "user" });
        c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        // gid 5 is mapped (tty), so runc spec's devpts options stay.
      });
      const oci2 = async (args: string[]) => {
        const dir = await Deno.makeTempDir();
        try {
          const st = await new Deno.Command("/bin/sh", {
            args: [
              "-c",
              'exec "$@" >"$OUT" 2>"$ERR"',
              "sh",
              `${top}/prefix/bin/tinyc-oci`,
              "--root",
              b.state,
              ...args,
            ],
            env: { OUT: `${dir}/out`, ERR: `${dir}/err` },
          }).output();
          return {
            code: st.code,
            stdout: await Deno.readTextFile(`${dir}/out`),
            stderr: await Deno.readTextFile(`${dir}/err`),
          };
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      };
      const r = await oci2(["run", "--bundle", b.dir, b.id]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^0\n\s+0\s+100000\s+65536\n$/);
      // What the container's root made belongs to the mapped uid outside.
      assert.equal(Deno.statSync(`${top}/rootfs/tmp/made-inside`).uid, 100000);
      await assertGone(b);
      // exec joins the user namespace too.
      const b2 = await bundle((c) => {
        c.root = { path: `${top}/rootfs`, readonly: false };
        c.process.args = ["/bin/sleep", "30"];
        c.linux.namespaces.push({ type: "user" });
        c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      });
      assert.equal((await oci2(["create", "--bundle", b2.dir, b2.id])).code, 0);
      try {
        assert.equal((await oci2(["start", b2.id])).code, 0);
        const ex = await oci2([
          "exec",
          b2.id,
          "/bin/sh",
          "-c",
          "id -u; cat /proc/self/uid_map",
        ]);
        assert.equal(ex.code, 0, ex.stderr);
        assert.match(ex.stdout, /^0\n\s+0\s+100000\s+65536\n$/);
      } finally {
        assert.equal((await oci2(["delete", "--force", b2.id])).code, 0);
      }
      await assertGone(b2);
    } finally {
      await Deno.remove(top, { recursive: true });
    }
  },
);

Deno.test(
  {
    name: "tinyc-oci as root of a user namespace (as rootless podman runs it)",
    ignore,
  },
  async () => {
    const b = await bundle((c) => {
      c.process.args = ["/bin/sh", "-c", "ls /dev/null && echo inside"];
      // Only root is mapped: devpts cannot be given gid 5, as with
      // `spec --rootless`; no limits, so no cgroup is needed.
      for (const m of c.mounts) {
        if (m.type === "devpts") {
          m.options = m.options.filter((o: string) => o !== "gid=5");
        }
      }
      delete c.linux.resources;
    });
    const st = await new Deno.Command("unshare", {
      args: [
        "--user",
        "--map-root-user",
        "--mount",
        "--fork",
        "--",
        MAIN,
        "oci",
        "--root",
        b.state,
        "run",
        "--bundle",
        b.dir,
        b.id,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(st.stdout);
    assert.equal(st.code, 0, new TextDecoder().decode(st.stderr));
    assert.equal(out, "/dev/null\ninside\n");
    await assertGone(b);
  },
);
