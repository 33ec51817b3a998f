import assert from "node:assert/strict";
import { applySecurity, type SecurityPlan } from "./apply.ts";
import { resolveCapabilities } from "./capabilities.ts";
import { FakeSecuritySys } from "./security_sys_fake.ts";

const program = new Uint8Array(16);

function plan(over: Partial<SecurityPlan> = {}): SecurityPlan {
  return {
    user: { uid: 1000, gid: 1000, additionalGids: [27] },
    capabilities: resolveCapabilities({ uid: 1000 }),
    noNewPrivileges: true,
    seccomp: { program, flags: 0 },
    lastCap: 40,
    ...over,
  };
}

/** The calls without the 27 bounding-set drops, which are checked elsewhere. */
function outline(calls: string[]): string[] {
  const out: string[] = [];
  for (const c of calls) {
    if (c.startsWith("prctl PR_CAPBSET_DROP")) {
      if (out.at(-1) !== "bounding drops") out.push("bounding drops");
    } else {
      out.push(c);
    }
  }
  return out;
}

const USER_AND_CAPS = [
  "bounding drops",
  "prctl PR_SET_KEEPCAPS 1 0",
  "setgroups [27]",
  "setresgid 1000",
  "setresuid 1000",
  "prctl PR_SET_KEEPCAPS 0 0",
  "capset eff=0x0000000000000000 prm=0x0000000000000000 inh=0x0000000000000000",
  "prctl PR_CAP_AMBIENT 4 0",
];

Deno.test("with no_new_privs, seccomp is the last call", () => {
  const sys = new FakeSecuritySys();
  applySecurity(plan(), sys);
  assert.deepEqual(outline(sys.calls), [
    "prctl PR_SET_NO_NEW_PRIVS 1 0",
    ...USER_AND_CAPS,
    "seccomp 2 insns flags=0",
  ]);
  assert.equal(sys.calls.filter((c) => c.includes("CAPBSET_DROP")).length, 27);
});

Deno.test("without no_new_privs, seccomp comes before capabilities drop", () => {
  const sys = new FakeSecuritySys();
  applySecurity(plan({ noNewPrivileges: false }), sys);
  assert.deepEqual(outline(sys.calls), [
    "seccomp 2 insns flags=0",
    ...USER_AND_CAPS,
  ]);
});

Deno.test("unconfined: no seccomp call at all", () => {
  const sys = new FakeSecuritySys();
  applySecurity(plan({ seccomp: null }), sys);
  assert.deepEqual(outline(sys.calls), [
    "prctl PR_SET_NO_NEW_PRIVS 1 0",
    ...USER_AND_CAPS,
  ]);
});

Deno.test("a failure stops the sequence before seccomp", () => {
  const sys = new FakeSecuritySys((c) => c.startsWith("capset"));
  assert.throws(() => applySecurity(plan(), sys), /capset.*EPERM/);
  assert.ok(!sys.calls.some((c) => c.startsWith("seccomp")));
});

const DIE_WITH_PARENT = { signal: 9, ppid: 1, reportFd: 4 };

Deno.test("die with the parent: PDEATHSIG re-armed after the uid change and capset, then the parent checked, before seccomp", () => {
  const sys = new FakeSecuritySys();
  applySecurity(plan({ parentDeath: DIE_WITH_PARENT }), sys);
  assert.deepEqual(outline(sys.calls), [
    "prctl PR_SET_NO_NEW_PRIVS 1 0",
    ...USER_AND_CAPS,
    "prctl PR_SET_PDEATHSIG 9 0",
    "getppid",
    "poll 4",
    "seccomp 2 insns flags=0",
  ]);
});

Deno.test("die with the parent without no_new_privs: re-armed after the uid change too", () => {
  const sys = new FakeSecuritySys();
  applySecurity(
    plan({ noNewPrivileges: false, parentDeath: DIE_WITH_PARENT }),
    sys,
  );
  const at = (c: string) => sys.calls.indexOf(c);
  assert.ok(at("prctl PR_SET_PDEATHSIG 9 0") > at("setresuid 1000"));
  assert.ok(at("prctl PR_SET_PDEATHSIG 9 0") > at("setresgid 1000"));
});

Deno.test("no parentDeath (a container that outlives its creator): PDEATHSIG untouched", () => {
  const sys = new FakeSecuritySys();
  applySecurity(plan(), sys);
  assert.ok(!sys.calls.some((c) => c.includes("PDEATHSIG")), sys.calls.join());
});

Deno.test("a parent that died before PDEATHSIG was re-armed stops the start before exec", () => {
  // Without a PID namespace: reparented, so getppid changed.
  const moved = new FakeSecuritySys();
  moved.ppid = 4242;
  assert.throws(
    () => applySecurity(plan({ parentDeath: DIE_WITH_PARENT }), moved),
    /launcher exited/,
  );
  assert.ok(!moved.calls.some((c) => c.startsWith("seccomp")));
  // PID 1 of a new PID namespace (getppid is 0 either way): the report
  // pipe lost its reader.
  const orphan = new FakeSecuritySys();
  orphan.ppid = 0;
  orphan.readerClosed = true;
  assert.throws(
    () =>
      applySecurity(
        plan({ parentDeath: { ...DIE_WITH_PARENT, ppid: 0 } }),
        orphan,
      ),
    /launcher exited/,
  );
  assert.ok(!orphan.calls.some((c) => c.startsWith("seccomp")));
});

// ---------------------------------------------------------------------------
// The real thing, as root: a child Deno applies a plan on its main thread and
// execve's busybox, which reports what the kernel says about it.

const PROBE = [
  `grep -E '^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\\t ' ' '`,
  // A new user namespace needs no capability: only seccomp stops it.
  `busybox unshare -U true 2>/dev/null; echo "unshare_user=$?"`,
  // syslog: refused by seccomp (no CAP_SYSLOG) before the kernel's own check.
  `busybox dmesg >/dev/null 2>&1; echo "dmesg=$?"`,
  // personality(PER_LINUX32) is one of the allowed values.
  `busybox linux32 true; echo "linux32=$?"`,
  `busybox ls / >/dev/null && busybox ps >/dev/null && busybox cat /proc/self/stat >/dev/null; echo "tools=$?"`,
].join("; ");

function runChild(opts: {
  uid: number;
  seccomp: boolean;
  noNewPrivs: boolean;
}): Record<string, string> {
  const url = (p: string) => new URL(p, import.meta.url).href;
  const code = `
    import { applySecurity } from "${url("./apply.ts")}";
    import { hostCapabilities, resolveCapabilities } from "${
    url("./capabilities.ts")
  }";
    import { compileSeccomp, defaultSeccompProfile } from "${
    url("./seccomp.ts")
  }";
    import { cstr, cstrArray, errno, libc } from "${url("../libc.ts")}";
    const host = hostCapabilities();
    const uid = ${opts.uid};
    const caps = resolveCapabilities({ uid, available: host.bounding });
    const program = compileSeccomp(defaultSeccompProfile(caps.bounding));
    applySecurity({
      user: { uid, gid: uid, additionalGids: [] },
      capabilities: caps,
      noNewPrivileges: ${opts.noNewPrivs},
      seccomp: ${opts.seccomp} ? { program, flags: 0 } : null,
      lastCap: host.lastCap,
    });
    const argv = cstrArray(["/bin/busybox", "sh", "-c", ${
    JSON.stringify(PROBE)
  }]);
    const envp = cstrArray(["PATH=/bin:/usr/bin"]);
    libc().execve(cstr("/bin/busybox"), argv.ptrs, envp.ptrs);
    throw new Error("execve failed: errno " + errno());
  `;
  const r = new Deno.Command(Deno.execPath(), { args: ["eval", code] })
    .outputSync();
  const stdout = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr) + stdout);
  const out: Record<string, string> = {};
  for (const line of stdout.trim().split("\n")) {
    const m = line.match(/^(\w+)[:=] ?(.*)$/);
    if (m) out[m[1]] = m[2].trim();
  }
  return out;
}

const isRoot = Deno.uid() === 0;
const haveBusybox = (() => {
  try {
    return Deno.statSync("/bin/busybox").isFile;
  } catch {
    return false;
  }
})();
if (!isRoot || !haveBusybox) {
  console.log(
    "apply_test: real-kernel tests skipped (need root and /bin/busybox)",
  );
}

Deno.test({
  name: "root with defaults: docker's caps, NoNewPrivs, seccomp mode 2",
  ignore: !isRoot || !haveBusybox,
  fn() {
    const out = runChild({ uid: 0, seccomp: true, noNewPrivs: true });
    assert.equal(out.Uid, "0 0 0 0");
    assert.equal(out.CapEff, "00000000a80425fb");
    assert.equal(out.CapPrm, "00000000a80425fb");
    assert.equal(out.CapBnd, "00000000a80425fb");
    assert.equal(out.CapInh, "0000000000000000");
    assert.equal(out.CapAmb, "0000000000000000");
    assert.equal(out.NoNewPrivs, "1");
    assert.equal(out.Seccomp, "2");
    assert.notEqual(out.unshare_user, "0");
    assert.notEqual(out.dmesg, "0");
    assert.equal(out.linux32, "0");
    assert.equal(out.tools, "0");
  },
});

Deno.test({
  name: "non-root user: bounding set only, empty groups",
  ignore: !isRoot || !haveBusybox,
  fn() {
    const out = runChild({ uid: 1000, seccomp: true, noNewPrivs: true });
    assert.equal(out.Uid, "1000 1000 1000 1000");
    assert.equal(out.Gid, "1000 1000 1000 1000");
    assert.equal(out.Groups, "");
    assert.equal(out.CapEff, "0000000000000000");
    assert.equal(out.CapPrm, "0000000000000000");
    assert.equal(out.CapBnd, "00000000a80425fb");
    assert.equal(out.Seccomp, "2");
    assert.notEqual(out.unshare_user, "0");
    assert.equal(out.tools, "0");
  },
});

Deno.test({
  name: "seccomp without no_new_privs loads while CAP_SYS_ADMIN is still there",
  ignore: !isRoot || !haveBusybox,
  fn() {
    const out = runChild({ uid: 0, seccomp: true, noNewPrivs: false });
    assert.equal(out.NoNewPrivs, "0");
    assert.equal(out.Seccomp, "2");
    assert.equal(out.CapEff, "00000000a80425fb");
    assert.notEqual(out.unshare_user, "0");
  },
});

Deno.test({
  name: "unconfined: the same probes succeed, so seccomp is what refused them",
  ignore: !isRoot || !haveBusybox,
  fn() {
    const out = runChild({ uid: 0, seccomp: false, noNewPrivs: true });
    assert.equal(out.Seccomp, "0");
    assert.equal(out.CapEff, "00000000a80425fb");
    // Creating a user namespace needs no capability; only a kernel setting
    // can forbid it.
    const userns = Number(
      Deno.readTextFileSync("/proc/sys/user/max_user_namespaces"),
    );
    if (userns > 0) assert.equal(out.unshare_user, "0");
  },
});
