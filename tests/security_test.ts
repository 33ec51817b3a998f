/**
 * Integration tests for hardening: capabilities, no_new_privs, seccomp,
 * masked and read-only paths, and the flags that change them. Probed from
 * inside real containers (root only).
 */

import assert from "node:assert/strict";
import { sh, skipUnlessRoot } from "./helpers.ts";

const ignore = skipUnlessRoot("tests/security_test.ts");

function field(status: string, name: string): string {
  const m = status.match(new RegExp(`^${name}:\\s*(\\S+)`, "m"));
  assert.ok(m, `${name} missing in ${status}`);
  return m[1];
}

const hostBounding = BigInt(
  "0x" + field(Deno.readTextFileSync("/proc/self/status"), "CapBnd"),
);

Deno.test({
  name: "defaults: docker's capabilities, NoNewPrivs 1, Seccomp 2",
  ignore,
}, async () => {
  const r = await sh("cat /proc/self/status");
  assert.equal(r.code, 0, r.stderr);
  for (const set of ["CapEff", "CapPrm", "CapBnd"]) {
    assert.equal(field(r.stdout, set), "00000000a80425fb", set);
  }
  assert.equal(field(r.stdout, "CapInh"), "0000000000000000");
  assert.equal(field(r.stdout, "CapAmb"), "0000000000000000");
  assert.equal(field(r.stdout, "NoNewPrivs"), "1");
  assert.equal(field(r.stdout, "Seccomp"), "2");
});

Deno.test({
  name: "blocked: new user namespace, mount, sethostname, module loading",
  ignore,
}, async () => {
  const r = await sh(
    "unshare -U true 2>&1; echo u=$?; mount -t tmpfs none /mnt 2>&1; echo m=$?; hostname evil 2>&1; echo h=$?; insmod /bin/sh 2>&1; echo i=$?",
  );
  assert.match(r.stdout, /unshare.*Operation not permitted/);
  assert.match(r.stdout, /u=1/);
  assert.match(r.stdout, /m=[1-9]/);
  assert.match(r.stdout, /h=1/);
  assert.match(r.stdout, /i=1/);
  // The hostname did not change.
  assert.equal((await sh("hostname")).stdout.trim(), "tinyhost");
});

Deno.test({
  name: "masked paths read empty; /proc/sys, /sys read-only; escapes fail",
  ignore,
}, async () => {
  const masked = [
    "/proc/keys",
    "/proc/timer_list",
    "/proc/latency_stats",
    "/proc/kcore",
    "/proc/sched_debug",
  ]
    .filter((p) => {
      try {
        Deno.statSync(p);
        return true;
      } catch {
        return false;
      }
    });
  const script = [
    ...masked.map((p) => `echo ${p}=$(wc -c < ${p})`),
    "echo firmware=$(ls /sys/firmware | wc -l)",
    "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo procsys=$?",
    "echo x > /sys/kernel/uevent_helper 2>/dev/null; echo sysw=$?",
    "mount -o remount,rw /proc/sys 2>/dev/null; echo remount=$?",
    "mount -o remount,rw /sys 2>/dev/null; echo remountsys=$?",
    "echo 1 > /proc/sysrq-trigger 2>/dev/null; echo sysrq=$?",
  ].join("; ");
  const r = await sh(script);
  for (const p of masked) {
    assert.match(r.stdout, new RegExp(`${p}=0\\b`), `${p} not masked`);
  }
  assert.match(r.stdout, /firmware=0/);
  for (const k of ["procsys", "sysw", "remount", "remountsys"]) {
    assert.match(
      r.stdout,
      new RegExp(`${k}=[1-9]`),
      `${k} succeeded: ${r.stdout}`,
    );
  }
});

Deno.test(
  { name: "the host's files and the old root are unreachable", ignore },
  async () => {
    const marker = `tinyc-marker-${crypto.randomUUID()}`;
    await Deno.writeTextFile(`/tmp/${marker}`, "host secret");
    try {
      const r = await sh(
        `cd /../../../..; ls /tmp /proc/1/root/tmp; echo find:; find / -xdev -name ${marker}; echo :find; cat /proc/1/root/../../tmp/${marker} 2>&1; true`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes("host secret"), r.stdout);
      assert.match(r.stdout, /find:\n:find/);
    } finally {
      await Deno.remove(`/tmp/${marker}`);
    }
  },
);

Deno.test(
  { name: "chroot-twice breakout stays inside the rootfs", ignore },
  async () => {
    // Classic escape: chroot into a subdirectory, then walk up from a cwd left
    // outside it. With pivot_root and the old root detached, the top is the rootfs.
    const marker = `tinyc-marker-${crypto.randomUUID()}`;
    await Deno.writeTextFile(`/${marker}`, "host root");
    try {
      const r = await sh(
        `mkdir -p /jail/bin && cp /bin/busybox /jail/bin/ && cd /jail && chroot /jail /bin/busybox sh -c 'cd /; /bin/busybox chroot . /bin/busybox ls /../../..' ; ls /../../ ; true`,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.stdout.includes(marker), r.stdout);
    } finally {
      await Deno.remove(`/${marker}`);
    }
  },
);

Deno.test({
  name: "--cap-drop / --cap-add change exactly the named capabilities",
  ignore,
}, async () => {
  const all = await sh("grep CapEff /proc/self/status", ["--cap-drop", "ALL"]);
  assert.equal(field(all.stdout, "CapEff"), "0000000000000000");
  const chown = await sh("grep CapEff /proc/self/status", [
    "--cap-drop",
    "chown",
  ]);
  assert.equal(field(chown.stdout, "CapEff"), "00000000a80425fa");
  const admin = await sh("grep CapEff /proc/self/status", [
    "--cap-add",
    "CAP_NET_ADMIN",
  ]);
  assert.equal(
    field(admin.stdout, "CapEff"),
    (0xa80425fbn | (1n << 12n)).toString(16).padStart(16, "0"),
  );
  const bad = await sh("true", ["--cap-add", "FLY"]);
  assert.equal(bad.code, 125);
  assert.equal(bad.stderr, "tinyc: --cap-add FLY: unknown capability\n");
});

Deno.test({
  name:
    "--privileged: all host capabilities, no seccomp, writable /sys, host devices",
  ignore,
}, async () => {
  const r = await sh(
    "grep -E 'CapEff|Seccomp:|NoNewPrivs' /proc/self/status; grep ' /sys ' /proc/self/mountinfo; ls /dev",
    ["--privileged"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.equal(BigInt("0x" + field(r.stdout, "CapEff")), hostBounding);
  assert.equal(field(r.stdout, "Seccomp"), "0");
  assert.match(r.stdout, / \/sys rw,/);
  const hostDevs = [...Deno.readDirSync("/dev")].filter((e) => {
    const st = Deno.lstatSync(`/dev/${e.name}`);
    return st.isBlockDevice;
  });
  for (const d of hostDevs) {
    assert.ok(r.stdout.includes(d.name), `/dev/${d.name} missing`);
  }
});

Deno.test({
  name:
    "--security-opt: seccomp=unconfined, a profile file, no-new-privileges=false",
  ignore,
}, async () => {
  const un = await sh(
    "grep Seccomp: /proc/self/status; unshare -U true; echo u=$?",
    [
      "--security-opt",
      "seccomp=unconfined",
    ],
  );
  assert.equal(field(un.stdout, "Seccomp"), "0");
  const dir = await Deno.makeTempDir();
  try {
    const profile = `${dir}/p.json`;
    await Deno.writeTextFile(
      profile,
      JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO" }],
      }),
    );
    const p = await sh(
      "mkdir /tmp/x 2>&1; echo m=$?; touch /tmp/y; echo t=$?",
      [
        "--security-opt",
        `seccomp=${profile}`,
      ],
    );
    assert.match(p.stdout, /Operation not permitted/);
    assert.match(p.stdout, /m=1/);
    assert.match(p.stdout, /t=0/);
    const missing = await sh("true", [
      "--security-opt",
      `seccomp=${dir}/none.json`,
    ]);
    assert.equal(missing.code, 125);
    assert.match(
      missing.stderr,
      /^tinyc: --security-opt seccomp=.*none\.json: /,
    );
    await Deno.writeTextFile(profile, "{ not json");
    const bad = await sh("true", ["--security-opt", `seccomp=${profile}`]);
    assert.equal(bad.code, 125);
    assert.equal(bad.stderr.split("\n").length, 2, bad.stderr);
    // A profile that refuses everything, execve too: said, not a silent 139.
    await Deno.writeTextFile(profile, '{"defaultAction":"SCMP_ACT_ERRNO"}');
    const none = await sh("true", ["--security-opt", `seccomp=${profile}`]);
    assert.equal(none.code, 125);
    assert.match(
      none.stderr,
      /^tinyc: seccomp profile: execve gets SCMP_ACT_ERRNO\(1\), so no command can start; allow execve\n/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const nnp = await sh("grep -E 'NoNewPrivs|Seccomp:' /proc/self/status", [
    "--security-opt",
    "no-new-privileges=false",
  ]);
  assert.equal(field(nnp.stdout, "NoNewPrivs"), "0");
  assert.equal(field(nnp.stdout, "Seccomp"), "2");
  const badOpt = await sh("true", ["--security-opt", "apparmor=x"]);
  assert.equal(badOpt.code, 125);
});

Deno.test(
  { name: "--read-only rootfs with --tmpfs /tmp", ignore },
  async () => {
    const r = await sh(
      "touch /x 2>/dev/null; echo root=$?; touch /tmp/ok; echo tmp=$?; grep ' /tmp ' /proc/self/mountinfo",
      ["--read-only", "--tmpfs", "/tmp:1m"],
    );
    assert.match(r.stdout, /root=1/);
    assert.match(r.stdout, /tmp=0/);
    assert.match(r.stdout, /size=1024k/);
    const bad = await sh("true", ["--tmpfs", "tmp"]);
    assert.equal(bad.code, 125);
  },
);

Deno.test({
  name:
    "-v binds host paths, :ro is read-only, a missing host path is an error",
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/in.txt`, "from host");
    const r = await sh(
      "cat /data/in.txt; echo out > /data/out.txt; echo w=$?",
      ["-v", `${dir}:/data`],
    );
    assert.match(r.stdout, /from host/);
    assert.equal(await Deno.readTextFile(`${dir}/out.txt`), "out\n");
    const ro = await sh("echo x > /data/ro.txt; echo w=$?", [
      "-v",
      `${dir}:/data:ro`,
    ]);
    assert.match(ro.stdout, /w=1/);
    const file = await sh("cat /etc/motd2", [
      "-v",
      `${dir}/in.txt:/etc/motd2:ro`,
    ]);
    assert.equal(file.stdout, "from host");
    const missing = await sh("true", ["-v", `${dir}/nope:/x`]);
    assert.equal(missing.code, 125);
    assert.equal(
      missing.stderr,
      `tinyc: --volume ${dir}/nope:/x: ${dir}/nope: no such file or directory\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "-u runs as another user with docker's capability rules",
  ignore,
}, async () => {
  const nobody = await sh(
    "id -u; id -g; grep CapEff /proc/self/status; echo $HOME",
    ["-u", "nobody"],
  );
  assert.equal(nobody.code, 0, nobody.stderr);
  const lines = nobody.stdout.trim().split("\n");
  assert.equal(lines[0], "65534");
  assert.equal(field(nobody.stdout, "CapEff"), "0000000000000000");
  const num = await sh("id -u; id -g; id -G", ["-u", "1000:1001"]);
  assert.deepEqual(num.stdout.trim().split("\n"), ["1000", "1001", "1001"]);
  const bad = await sh("true", ["-u", "bob"]);
  assert.equal(bad.code, 125);
  assert.equal(
    bad.stderr,
    "tinyc: --user bob: no such user in /etc/passwd of the rootfs\n",
  );
});

Deno.test({
  name:
    "no controlling terminal (no TIOCSTI into the user's shell), own session",
  ignore,
}, async () => {
  // fields 6-7 of stat: session, tty_nr
  const r = await sh(
    "cut -d' ' -f6,7 /proc/self/stat; echo x > /dev/tty; echo tty=$?",
  );
  assert.match(r.stdout, /^1 0$/m);
  assert.match(r.stdout, /tty=[1-9]/);
});

Deno.test({
  name: "device nodes: usable by any user, new ones refused (FIFOs allowed)",
  ignore,
}, async () => {
  const r = await sh(
    "echo x > /dev/null && echo null-ok; mknod /tmp/kmsg c 1 11 2>/dev/null; echo chr=$?; mknod /tmp/sda b 8 0 2>/dev/null; echo blk=$?; mkfifo /tmp/f && echo fifo-ok",
  );
  assert.match(r.stdout, /null-ok/);
  assert.match(r.stdout, /chr=1/);
  assert.match(r.stdout, /blk=1/);
  assert.match(r.stdout, /fifo-ok/);
  const nobody = await sh("echo x > /dev/null && echo ok; umask", [
    "-u",
    "nobody",
  ]);
  assert.match(nobody.stdout, /ok\n0022/);
});

Deno.test({
  name: "signals start at their defaults (SIGPIPE kills a writer)",
  ignore,
}, async () => {
  const r = await sh(
    "grep -E 'SigIgn|SigBlk' /proc/self/status; yes | head -n 1",
  );
  assert.match(r.stdout, /SigBlk:\s+0+\n/);
  assert.match(r.stdout, /SigIgn:\s+0+\n/);
  assert.ok(!r.stderr.includes("Broken pipe"), r.stderr);
});

Deno.test({
  name:
    "device nodes shipped in the rootfs or a volume do not open host devices",
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A "hostile image": a node for /dev/kmsg outside the container's /dev.
    await new Deno.Command("mknod", { args: [`${dir}/kmsg`, "c", "1", "11"] })
      .output();
    const r = await sh(
      "cat /vol/kmsg > /dev/null 2>&1; echo vol=$?; grep ' / ' /proc/self/mountinfo",
      [
        "-v",
        `${dir}:/vol`,
      ],
    );
    assert.match(r.stdout, /vol=1/);
    assert.match(r.stdout, / \/ rw,nodev/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "mounts over /, /proc and (unprivileged) /dev are refused",
  ignore,
}, async () => {
  for (
    const flags of [["-v", "/tmp:/"], ["--tmpfs", "/proc/x"], [
      "-v",
      "/tmp:/dev",
    ]]
  ) {
    const r = await sh("true", flags);
    assert.equal(r.code, 125, flags.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test({
  name:
    "host devices stay closed even with SYS_ADMIN or without seccomp (device filter)",
  ignore,
}, async () => {
  const viaDevtmpfs = await sh(
    "mkdir -p /mnt/d && mount -t devtmpfs d /mnt/d && head -c1 /mnt/d/kmsg >/dev/null; echo rc=$?; echo x > /dev/null && echo null-ok",
    ["--cap-add", "SYS_ADMIN"],
  );
  assert.match(viaDevtmpfs.stdout, /rc=1/);
  assert.match(viaDevtmpfs.stdout, /null-ok/);
  const viaMknod = await sh(
    "mknod /dev/km c 1 11 && head -c1 /dev/km >/dev/null; echo rc=$?",
    ["--security-opt", "seccomp=unconfined"],
  );
  assert.match(viaMknod.stdout, /rc=1/);
  const privileged = await sh("head -c0 /dev/kmsg && echo open-ok", [
    "--privileged",
  ]);
  assert.match(privileged.stdout, /open-ok/);
});
