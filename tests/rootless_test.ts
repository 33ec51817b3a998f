/**
 * Rootless integration tests: tinyc run by an ordinary user (made here with
 * useradd, run through runuser), checked from inside the container.
 *
 * Needs root (to create the users) and a kernel that lets unprivileged users
 * create user namespaces; skipped with the reason otherwise. Two users:
 * - `tinyc-rl-test` with a subordinate range (usermod --add-subuids
 *   200000-265535 --add-subgids 200000-265535): maps cover 0..65535;
 * - `tinyc-rl-nosub`, a system user without one: only root is mapped.
 * The users stay on the machine for the next run; each one's Deno cache is
 * /tmp/tinyc-rl-deno-USER (cold on the first run: slower, not wrong).
 */

import assert from "node:assert/strict";
import { checkUserNamespaces, findTool } from "../src/rootless/mod.ts";

const FILE = "tests/rootless_test.ts";
const FULL = "tinyc-rl-test";
const SINGLE = "tinyc-rl-nosub";
const PATH = "/usr/local/bin:/usr/bin:/bin";

function skipReason(): string | undefined {
  if (Deno.uid() !== 0) return "they need root (uid 0) to create test users";
  const forbidden = checkUserNamespaces();
  if (forbidden) return forbidden;
  for (const tool of ["unshare", "runuser", "useradd", "usermod"]) {
    if (!findTool(tool, Deno.env.get("PATH"))) return `${tool} is missing`;
  }
  return undefined;
}

const reason = skipReason();
if (reason) console.log(`${FILE}: skipping rootless tests: ${reason}`);
const ignore = reason !== undefined;

const decoder = new TextDecoder();

async function cmd(
  argv: string[],
  opts: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

async function must(argv: string[]): Promise<string> {
  const r = await cmd(argv);
  assert.equal(r.code, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** One test user: ids, its Deno cache, a work dir with its rootfs. */
interface TestUser {
  name: string;
  uid: number;
  gid: number;
  denoDir: string;
  root: string;
}

let mainPath = new URL("../main.ts", import.meta.url).pathname;

function hasRange(file: string, name: string, start: number): boolean {
  return Deno.readTextFileSync(file).split("\n").includes(
    `${name}:${start}:65536`,
  );
}

/** The user's subordinate ranges, as `start` numbers, from a subuid/subgid file. */
function rangeStarts(file: string, name: string, uid: number): number[] {
  return Deno.readTextFileSync(file).split("\n").map((l) => l.split(":"))
    .filter((f) =>
      f.length === 3 && (f[0] === name || f[0] === String(uid)) &&
      Number(f[2]) >= 65535
    ).map((f) => Number(f[1]));
}

async function ensureUser(name: string, subids: boolean): Promise<TestUser> {
  if ((await cmd(["id", "-u", name])).code !== 0) {
    await must(
      subids ? ["useradd", "--create-home", name] : [
        "useradd",
        "--system",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        name,
      ],
    );
  }
  const uid = Number((await must(["id", "-u", name])).trim());
  const gid = Number((await must(["id", "-g", name])).trim());
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    try {
      Deno.statSync(file);
    } catch {
      Deno.writeTextFileSync(file, "", { mode: 0o644 });
    }
  }
  if (subids) {
    if (
      !hasRange("/etc/subuid", name, 200000) ||
      !hasRange("/etc/subgid", name, 200000)
    ) {
      await must([
        "usermod",
        "--add-subuids",
        "200000-265535",
        "--add-subgids",
        "200000-265535",
        name,
      ]);
    }
  } else {
    // The single-id case needs a user without ranges: drop any it got.
    for (
      const [file, flag] of [["/etc/subuid", "--del-subuids"], [
        "/etc/subgid",
        "--del-subgids",
      ]]
    ) {
      for (
        const line of Deno.readTextFileSync(file).split("\n").filter((l) =>
          l.startsWith(`${name}:`) || l.startsWith(`${uid}:`)
        )
      ) {
        const [, start, count] = line.split(":").map(Number);
        await must(["usermod", flag, `${start}-${start + count - 1}`, name]);
      }
    }
  }
  const denoDir = `/tmp/tinyc-rl-deno-${name}`;
  Deno.mkdirSync(denoDir, { recursive: true });
  await must(["chown", "-R", `${uid}:${gid}`, denoDir]);
  const work = Deno.makeTempDirSync({ prefix: `tinyc-rl-${name}-` });
  // The user's own, closed to others (tinyc run warns otherwise).
  Deno.chmodSync(work, 0o700);
  Deno.chownSync(work, uid, gid);
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(work, { recursive: true });
    } catch {
      // best effort: files chowned to subordinate ids inside are still ours as root
    }
  });
  return { name, uid, gid, denoDir, root: `${work}/root` };
}

/** Run `deno run main.ts ARGS...` as `u`, from its work dir. */
function asUser(u: TestUser, args: string[]) {
  return cmd([
    "runuser",
    "-u",
    u.name,
    "--",
    "env",
    `HOME=${u.root}/..`,
    `DENO_DIR=${u.denoDir}`,
    `PATH=${PATH}`,
    Deno.execPath(),
    "run",
    "-A",
    "--quiet",
    mainPath,
    ...args,
  ], { cwd: `${u.root}/..` });
}

/** Make tinyc's sources readable by the test users (copy them if the checkout is not). */
async function ensureReadableMain(u: TestUser): Promise<void> {
  const r = await cmd(["runuser", "-u", u.name, "--", "test", "-r", mainPath]);
  if (r.code === 0) return;
  const repo = new URL("..", import.meta.url).pathname;
  const copy = Deno.makeTempDirSync({ prefix: "tinyc-rl-src-" });
  Deno.chmodSync(copy, 0o755);
  await must([
    "cp",
    "-r",
    `${repo}/main.ts`,
    `${repo}/deno.json`,
    `${repo}/src`,
    copy,
  ]);
  await must(["chmod", "-R", "a+rX", copy]);
  mainPath = `${copy}/main.ts`;
}

let usersPromise: Promise<{ full: TestUser; single: TestUser }> | undefined;

/** Both users, each with a busybox rootfs it built itself. */
function users(): Promise<{ full: TestUser; single: TestUser }> {
  usersPromise ??= (async () => {
    const full = await ensureUser(FULL, true);
    const single = await ensureUser(SINGLE, false);
    await ensureReadableMain(full);
    for (const u of [full, single]) {
      const r = await asUser(u, ["rootfs", u.root]);
      assert.equal(r.code, 0, `rootfs as ${u.name}: ${r.stderr}`);
    }
    return { full, single };
  })();
  return usersPromise;
}

function run(u: TestUser, script: string, extra: string[] = []) {
  return asUser(u, [
    "run",
    "--root",
    u.root,
    ...extra,
    "--",
    "/bin/sh",
    "-c",
    script,
  ]);
}

function idMap(text: string): number[][] {
  return text.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
}

Deno.test({
  name:
    "rootless: id 0 inside; maps 0 -> the user, 1..65535 -> its subordinate range",
  ignore,
}, async () => {
  const { full: u } = await users();
  const r = await run(
    u,
    "id -u; id -g; echo ---; cat /proc/self/uid_map; echo ---; cat /proc/self/gid_map",
  );
  assert.equal(r.code, 0, r.stderr);
  // No warning: the full map needs none.
  assert.equal(r.stderr, "");
  const [ids, uidMap, gidMap] = r.stdout.split("---\n");
  assert.equal(ids, "0\n0\n");
  const um = idMap(uidMap), gm = idMap(gidMap);
  assert.deepEqual(um[0], [0, u.uid, 1]);
  assert.deepEqual(gm[0], [0, u.gid, 1]);
  assert.equal(um.length, 2);
  assert.equal(gm.length, 2);
  assert.deepEqual([um[1][0], um[1][2]], [1, 65535]);
  assert.deepEqual([gm[1][0], gm[1][2]], [1, 65535]);
  assert.ok(
    rangeStarts("/etc/subuid", u.name, u.uid).includes(um[1][1]),
    `uid range ${um[1][1]} is not ${u.name}'s in /etc/subuid`,
  );
  assert.ok(
    rangeStarts("/etc/subgid", u.name, u.uid).includes(gm[1][1]),
    `gid range ${gm[1][1]} is not ${u.name}'s in /etc/subgid`,
  );
});

Deno.test({
  name:
    "rootless: hostname tinyhost, the shell is PID 1, ps sees only the container",
  ignore,
}, async () => {
  const { full: u } = await users();
  // "; true": else the shell execs ps in its place as its last command.
  const r = await run(u, "hostname; echo $$; ps -o pid,comm; true");
  assert.equal(r.code, 0, r.stderr);
  const [hostname, pid, header, ...ps] = r.stdout.trim().split("\n").map((
    l,
  ) => l.trim());
  assert.equal(hostname, "tinyhost");
  assert.equal(pid, "1");
  assert.match(header, /^PID\s+COMMAND$/);
  // Only the shell (PID 1) and ps itself.
  assert.equal(ps.length, 2, r.stdout);
  assert.match(ps[0], /^1\s+sh$/);
  assert.match(ps[1], /^\d+\s+ps$/);
});

Deno.test({
  name:
    "rootless: user, mount, UTS, IPC, PID, network and cgroup namespaces are new",
  ignore,
}, async () => {
  const { full: u } = await users();
  const names = ["user", "mnt", "uts", "ipc", "pid", "net", "cgroup"];
  const r = await run(
    u,
    names.map((n) => `readlink /proc/self/ns/${n}`).join(";"),
  );
  assert.equal(r.code, 0, r.stderr);
  const inside = r.stdout.trim().split("\n");
  names.forEach((n, i) => {
    assert.match(inside[i], new RegExp(`^${n}:\\[\\d+\\]$`));
    assert.notEqual(
      inside[i],
      Deno.readLinkSync(`/proc/self/ns/${n}`),
      `${n} namespace is the host's`,
    );
  });
});

Deno.test({
  name:
    "rootless: /dev nodes (bound from the host) work, /proc and read-only /sys",
  ignore,
}, async () => {
  const { full: u } = await users();
  const r = await run(
    u,
    "echo x > /dev/null && echo null-ok; head -c 5 /dev/zero | wc -c; " +
      "head -c 7 /dev/urandom | wc -c; grep -c . /proc/self/status >/dev/null && echo proc-ok; " +
      "touch /sys/x 2>/dev/null || echo sys-ro; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status",
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => l.trim());
  assert.deepEqual(lines.slice(0, 5), [
    "null-ok",
    "5",
    "7",
    "proc-ok",
    "sys-ro",
  ]);
  // Capabilities are relative to the user namespace: docker's set, as in root mode.
  assert.deepEqual(lines.slice(5), [
    "CapEff:\t00000000a80425fb",
    "NoNewPrivs:\t1",
    "Seccomp:\t2",
  ]);
});

Deno.test({
  name:
    "rootless: chown to a subordinate id inside shows as that range's id outside",
  ignore,
}, async () => {
  const { full: u } = await users();
  const r = await run(
    u,
    "touch /owned && chown 1234:1234 /owned && stat -c '%u %g' /owned; cat /proc/self/uid_map",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split("\n")[0], "1234 1234");
  const um = idMap(r.stdout.split("\n").slice(1).join("\n"));
  const st = Deno.statSync(`${u.root}/owned`);
  assert.equal(st.uid, um[1][1] + 1233);
});

Deno.test({
  name:
    "rootless: without subordinate ids only root is mapped, and tinyc says so once",
  ignore,
}, async () => {
  const { single: u } = await users();
  const r = await run(
    u,
    "id -u; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; hostname; echo $$",
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n").map((l) => l.trim());
  assert.equal(lines[0], "0");
  assert.deepEqual(lines[1].split(/\s+/).map(Number), [0, u.uid, 1]);
  assert.deepEqual(lines[2].split(/\s+/).map(Number), [0, u.gid, 1]);
  assert.deepEqual(lines.slice(3), ["deny", "tinyhost", "1"]);
  const warnings = r.stderr.trim().split("\n");
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /^tinyc: rootless: only container root is mapped/);
  assert.match(warnings[0], /usermod --add-subuids/);
});

Deno.test({
  name:
    "rootless: the command's status passes through; not found is 127 in one line",
  ignore,
}, async () => {
  const { full: u } = await users();
  assert.equal((await run(u, "exit 7")).code, 7);
  const r = await asUser(u, ["run", "--root", u.root, "--", "/nonexistent"]);
  assert.equal(r.code, 127);
  assert.equal(
    r.stderr,
    "tinyc: exec /nonexistent: no such file or directory\n",
  );
});

Deno.test({
  name: "rootless: --network bridge and --memory fail with one line, exit 125",
  ignore,
}, async () => {
  const { full: u } = await users();
  for (
    const [flags, re] of [
      [["--network", "bridge"], /^tinyc: --network bridge: needs root/],
      [["--memory", "64m"], /^tinyc: --memory: needs root, or a cgroup v2/],
    ] as const
  ) {
    const r = await run(u, "true", [...flags]);
    assert.equal(r.code, 125, r.stderr);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  }
});

Deno.test({
  name: "rootless: rootfs add works as the user, and the added program runs",
  ignore,
}, async () => {
  const { full: u } = await users();
  const add = await asUser(u, ["rootfs", "add", u.root, "/usr/bin/getconf"]);
  assert.equal(add.code, 0, add.stderr);
  const r = await asUser(u, [
    "run",
    "--root",
    u.root,
    "--",
    "/usr/bin/getconf",
    "PAGE_SIZE",
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^\d+\n$/);
});

Deno.test({
  name: "rootless: rootfs rm removes files a container gave to subordinate ids",
  ignore,
}, async () => {
  const { full: u } = await users();
  const dir = `${u.root}/../rm-me`;
  const built = await asUser(u, ["rootfs", dir]);
  assert.equal(built.code, 0, built.stderr);
  const r = await asUser(u, [
    "run",
    "--root",
    dir,
    "--",
    "/bin/sh",
    "-c",
    "mkdir /tmp/d && touch /tmp/d/f && chown -R 1000:1000 /tmp/d && chmod 700 /tmp/d",
  ]);
  assert.equal(r.code, 0, r.stderr);
  // Outside, the files belong to a subordinate id: the user cannot remove them.
  const plain = await cmd([
    "runuser",
    "-u",
    u.name,
    "--",
    "rm",
    "-rf",
    `${dir}/tmp/d`,
  ]);
  assert.notEqual(plain.code, 0);
  const rm = await asUser(u, ["rootfs", "rm", dir]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.throws(() => Deno.lstatSync(dir));
});

Deno.test({
  name: "rootless -u 1000: a SIGKILLed tinyc takes the container with it",
  ignore,
}, async () => {
  const { full: u } = await users();
  const marker = `4${Math.floor(Math.random() * 1e6)}.5`;
  const child = new Deno.Command("runuser", {
    args: [
      "-u",
      u.name,
      "--",
      "env",
      `DENO_DIR=${u.denoDir}`,
      `PATH=${PATH}`,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      mainPath,
      "run",
      "--root",
      u.root,
      "-u",
      "1000",
      "--",
      "/bin/sh",
      "-c",
      `echo ready; exec sleep ${marker}`,
    ],
    cwd: `${u.root}/..`,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += decoder.decode(value);
  }
  reader.releaseLock();
  await child.stdout.cancel();
  const procs = () => {
    const found: Array<{ pid: number; cmd: string }> = [];
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`)
          .split("\0").join(" ").trim();
        if (cmd.includes(marker)) found.push({ pid: Number(e.name), cmd });
      } catch {
        // gone
      }
    }
    return found;
  };
  const container = () => procs().filter((p) => p.cmd === `sleep ${marker}`);
  const launcher = procs().find((p) =>
    p.cmd.startsWith(Deno.execPath()) && p.cmd.includes(" run --root ")
  );
  try {
    assert.ok(launcher, JSON.stringify(procs()));
    // "ready" comes just before sh execs sleep.
    await waitUntil(() => container().length === 1);
    assert.equal(container().length, 1, JSON.stringify(procs()));
    Deno.kill(launcher.pid, "SIGKILL");
    await child.status;
    assert.ok(
      await waitUntil(() => container().length === 0),
      "the rootless -u container survived its launcher",
    );
  } finally {
    // Whatever failed, leave no process behind.
    for (const p of procs()) {
      try {
        Deno.kill(p.pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await child.status;
  }
});

async function waitUntil(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 250 && !check(); i++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}
