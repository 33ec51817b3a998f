/**
 * Integration tests: real containers as root, checked from inside.
 */

import assert from "node:assert/strict";
import {
  busyboxRoot,
  pidsWithCmdline,
  sh,
  skipUnlessRoot,
  startSh,
  tinyc,
  waitFor,
} from "./helpers.ts";

const ignore = skipUnlessRoot("tests/run_test.ts");

Deno.test({
  name: "the command is PID 1 and ps sees only the container",
  ignore,
}, async () => {
  const r = await sh("echo $$; ps -o pid,comm; true");
  assert.equal(r.code, 0, r.stderr);
  const [pid, ...ps] = r.stdout.trim().split("\n");
  assert.equal(pid, "1");
  // header, sh (1) and ps itself
  assert.equal(ps.length, 3, r.stdout);
});

Deno.test({
  name: "hostname is tinyhost, --hostname changes it, the host's stays",
  ignore,
}, async () => {
  const before = Deno.hostname();
  assert.equal((await sh("hostname")).stdout.trim(), "tinyhost");
  assert.equal(
    (await sh("hostname", ["--hostname", "box1"])).stdout.trim(),
    "box1",
  );
  assert.equal(Deno.hostname(), before);
});

Deno.test({
  name: "mount, UTS, IPC, PID, network and cgroup namespaces are new",
  ignore,
}, async () => {
  const names = ["mnt", "uts", "ipc", "pid", "net", "cgroup"];
  const r = await sh(names.map((n) => `readlink /proc/self/ns/${n}`).join(";"));
  assert.equal(r.code, 0, r.stderr);
  const inside = r.stdout.trim().split("\n");
  names.forEach((n, i) => {
    const host = Deno.readLinkSync(`/proc/self/ns/${n}`);
    assert.match(inside[i], new RegExp(`^${n}:\\[\\d+\\]$`));
    assert.notEqual(inside[i], host, `${n} namespace is the host's`);
  });
});

Deno.test({
  name: "/ is the rootfs; old root gone; /proc, /dev, read-only /sys mounted",
  ignore,
}, async () => {
  const root = await busyboxRoot();
  const r = await sh(
    "ls /; echo ---; cat /proc/self/mountinfo; echo ---; ls /dev; echo ---; touch /sys/x; echo $?",
  );
  assert.equal(r.code, 0, r.stderr);
  const [ls, mountinfo, dev, sysw] = r.stdout.split("---\n");
  assert.deepEqual(
    ls.trim().split("\n").sort(),
    [...Deno.readDirSync(root)].map((e) => e.name)
      .filter((n) => !n.startsWith(".")).sort(), // ls hides .tinyc-rootfs
  );
  const points = mountinfo.trim().split("\n").map((l) => l.split(" ")[4]);
  assert.deepEqual(points.slice(0, 7), [
    "/",
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
  ]);
  // The rest hide or protect kernel interfaces (masked and read-only paths).
  for (const p of points.slice(7)) assert.match(p, /^\/(proc|sys)\//);
  assert.match(mountinfo, / \/sys ro,/);
  for (
    const d of [
      "null",
      "zero",
      "full",
      "random",
      "urandom",
      "tty",
      "ptmx",
      "pts",
      "shm",
      "fd",
      "stdin",
      "stdout",
      "stderr",
    ]
  ) {
    assert.ok(dev.split("\n").includes(d), `/dev/${d} missing: ${dev}`);
  }
  assert.ok(!dev.includes("vda") && !dev.includes("sda"), "host disks visible");
  assert.notEqual(sysw.trim(), "0", "/sys is writable");
});

Deno.test({ name: "devices work: null, zero, urandom", ignore }, async () => {
  const r = await sh(
    "echo gone > /dev/null && head -c 4 /dev/zero | od -An -tx1 && head -c 8 /dev/urandom | wc -c",
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /00 00 00 00/);
  assert.match(r.stdout, /\b8\b/);
});

Deno.test(
  { name: "the network namespace has only lo, and it is up", ignore },
  async () => {
    const r = await sh("ls /sys/class/net; ip link show lo");
    assert.equal(r.code, 0, r.stderr);
    const [ifs] = r.stdout.split("1: lo");
    assert.deepEqual(ifs.trim().split(/\s+/), ["lo"]);
    assert.match(r.stdout, /<LOOPBACK,UP/);
  },
);

Deno.test(
  { name: "environment is built from scratch plus -e", ignore },
  async () => {
    const r = await tinyc(
      [
        "run",
        "--root",
        await busyboxRoot(),
        "-e",
        "FOO=bar",
        "-e",
        "HOSTONLY",
        "--",
        "/bin/env",
      ],
      { env: { HOSTONLY: "yes", LEAKY: "no" } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n").sort(), [
      "FOO=bar",
      "HOME=/root",
      "HOSTNAME=tinyhost",
      "HOSTONLY=yes",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "tiny_demo=something tiny",
    ]);
  },
);

Deno.test({
  name: "-w sets the working directory (created when missing)",
  ignore,
}, async () => {
  assert.equal((await sh("pwd", ["-w", "/tmp"])).stdout.trim(), "/tmp");
  assert.equal((await sh("pwd", ["-w", "/new/dir"])).stdout.trim(), "/new/dir");
});

Deno.test({ name: "stdin and stdout pass through", ignore }, async () => {
  const r = await tinyc(["run", "--root", await busyboxRoot(), "--", "cat"], {
    stdin: "hello\n",
  });
  assert.equal(r.stdout, "hello\n");
});

Deno.test(
  { name: "exit codes: the command's, 127, 126, 125, 128+N", ignore },
  async () => {
    const root = await busyboxRoot();
    assert.equal((await sh("exit 3")).code, 3);
    const nf = await tinyc(["run", "--root", root, "--", "nosuchcmd"]);
    assert.equal(nf.code, 127);
    assert.equal(nf.stderr.trim().split("\n").length, 1, nf.stderr);
    assert.match(
      nf.stderr,
      /^tinyc: exec nosuchcmd: executable file not found in \$PATH/,
    );
    const na = await tinyc(["run", "--root", root, "--", "/etc/passwd"]);
    assert.equal(na.code, 126);
    assert.match(na.stderr, /permission denied/);
    const dir = await tinyc(["run", "--root", root, "--", "/etc"]);
    assert.equal(dir.code, 126);
    const nr = await tinyc(["run", "--root", "/no/such/root", "--", "true"]);
    assert.equal(nr.code, 125);
    assert.equal(nr.stderr, "tinyc: rootfs /no/such/root: no such directory\n");
    const file = await tinyc(["run", "--root", "/etc/passwd", "--", "true"]);
    assert.equal(file.code, 125);
    assert.match(file.stderr, /not a directory/);
  },
);

Deno.test({
  name: "SIGTERM to tinyc is forwarded to the container's init",
  ignore,
}, async () => {
  const child = await startSh(
    "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
  );
  child.kill("SIGTERM");
  const st = await child.status;
  await child.stderr.cancel();
  assert.equal(st.code, 42);
});

Deno.test({
  name: "if tinyc is SIGKILLed, the container dies with it; no mount leaks",
  ignore,
}, async () => {
  const mountsBefore = Deno.readTextFileSync("/proc/self/mountinfo");
  const marker = `3${Math.floor(Math.random() * 1e6)}.5`;
  const child = await startSh(`echo ready; exec sleep ${marker}`);
  assert.ok(
    await waitFor(() => pidsWithCmdline(`sleep ${marker}`).length === 1),
  );
  child.kill("SIGKILL");
  await child.status;
  await child.stderr.cancel();
  assert.ok(
    await waitFor(() => pidsWithCmdline(`sleep ${marker}`).length === 0),
    "container process survived its launcher",
  );
  assert.equal(Deno.readTextFileSync("/proc/self/mountinfo"), mountsBefore);
});

Deno.test(
  { name: "no mount is left on the host after a run", ignore },
  async () => {
    const before = Deno.readTextFileSync("/proc/self/mountinfo");
    await sh("true");
    await tinyc(["run", "--root", await busyboxRoot(), "--", "nosuchcmd"]);
    assert.equal(Deno.readTextFileSync("/proc/self/mountinfo"), before);
  },
);

Deno.test({
  name: "hostile symlinks in the rootfs cannot point mounts at the host",
  ignore,
}, async () => {
  const root = await Deno.makeTempDir({ prefix: "tinyc-evil-" });
  try {
    const base = await busyboxRoot();
    await new Deno.Command("cp", { args: ["-a", `${base}/.`, root] }).output();
    // /dev in the rootfs points at a host directory; the container's /dev
    // must still be a fresh tmpfs inside the rootfs, and the host dir untouched.
    const hostDir = await Deno.makeTempDir({ prefix: "tinyc-victim-" });
    await Deno.remove(`${root}/dev`, { recursive: true });
    await Deno.symlink(hostDir, `${root}/dev`);
    const r = await tinyc([
      "run",
      "--root",
      root,
      "--",
      "/bin/ls",
      "/dev/null",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...Deno.readDirSync(hostDir)], []);
    await Deno.remove(hostDir, { recursive: true });
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name: "a second SIGTERM kills a container whose PID 1 ignores the first",
  ignore,
}, async () => {
  const child = await startSh("echo ready; exec sleep 1000");
  child.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 100));
  child.kill("SIGTERM");
  assert.equal((await child.status).code, 137);
  await child.stderr.cancel();
});

Deno.test({
  name: "a --tmpfs never hides a -v below it (parents mount first)",
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "kept");
    const r = await sh("cat /tmp/data/f", [
      "-v",
      `${dir}:/tmp/data`,
      "--tmpfs",
      "/tmp",
    ]);
    assert.equal(r.stdout, "kept", r.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "-t gives the container a pty of its own as controlling terminal",
  ignore,
}, async () => {
  const r = await tinyc([
    "run",
    "-it",
    "--root",
    await busyboxRoot(),
    "--",
    "sh",
  ], {
    stdin: "tty; cut -d' ' -f7 /proc/self/stat; echo TERM=$TERM; exit 3\n",
  });
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /^\/dev\/pts\/0\r?$/m);
  // tty_nr is non-zero: the pty is the controlling terminal.
  assert.match(r.stdout, /^[1-9]\d*\r?$/m);
  assert.match(r.stdout, /TERM=xterm/);
});
