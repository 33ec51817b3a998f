import assert from "node:assert/strict";
import {
  type ArgCheck,
  assertExecAllowed,
  compileSeccomp,
  DEFAULT_DENY,
  defaultSeccompProfile,
  loadSeccomp,
  parseSeccompProfile,
  type SeccompArch,
  type SeccompProfile,
  unknownSyscalls,
} from "./seccomp.ts";
import { decodeAction, disassemble, runFilter } from "./bpf_interp.ts";
import {
  type ArgWidth,
  SYSCALL_ARG_WIDTHS,
  SYSCALLS_AARCH64,
  SYSCALLS_X86_64,
} from "./syscall_table.ts";
import { DEFAULT_CAPABILITIES } from "./capabilities.ts";
import { FakeSecuritySys } from "./security_sys_fake.ts";

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const AUDIT_ARCH_I386 = 0x40000003;
const CLONE_NEWNS = 0x20000n;
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;
const EPERM = 1;
const ENOSYS = 38;

const TABLES: Record<SeccompArch, Readonly<Record<string, number>>> = {
  x86_64: SYSCALLS_X86_64,
  aarch64: SYSCALLS_AARCH64,
};
const AUDIT: Record<SeccompArch, number> = {
  x86_64: AUDIT_ARCH_X86_64,
  aarch64: AUDIT_ARCH_AARCH64,
};

/** Decision of `program` for `name(args)` on `arch`: `allow`, `errno 1` ... */
function decide(
  program: Uint8Array,
  name: string,
  args: bigint[] = [],
  arch: SeccompArch = "x86_64",
): string {
  const nr = TABLES[arch][name];
  assert.ok(nr !== undefined, `${name} is not a call on ${arch}`);
  return decideNr(program, nr, args, AUDIT[arch]);
}

function decideNr(
  program: Uint8Array,
  nr: number,
  args: bigint[] = [],
  audit = AUDIT_ARCH_X86_64,
): string {
  const { kind, data } = decodeAction(
    runFilter(program, { nr, arch: audit, args }),
  );
  return kind === "errno" || kind === "trace" ? `${kind} ${data}` : kind;
}

const defaultProgram = compileSeccomp(
  defaultSeccompProfile(DEFAULT_CAPABILITIES),
  "x86_64",
);

Deno.test("default filter allows what programs need", () => {
  for (
    const name of [
      "read",
      "write",
      "openat",
      "close",
      "mmap",
      "futex",
      "execve",
      "exit_group",
      "rt_sigaction",
      "wait4",
      "ptrace",
      "chroot",
      "seccomp",
      "prctl",
      "capset",
      "setresuid",
    ]
  ) {
    assert.equal(decide(defaultProgram, name), "allow", name);
  }
  // fork (SIGCHLD) and pthread_create's flags.
  assert.equal(decide(defaultProgram, "clone", [SIGCHLD]), "allow");
  assert.equal(decide(defaultProgram, "clone", [0x3d0f00n]), "allow");
  assert.equal(decide(defaultProgram, "socket", [2n, 1n, 0n]), "allow");
  // A number past the table, e.g. a call newer than this code.
  assert.equal(decideNr(defaultProgram, 999), "allow");
  // nr -1 (a tracer skipping a call) is not an x32 call.
  assert.equal(decideNr(defaultProgram, -1), "allow");
});

Deno.test("default filter refuses dangerous calls with EPERM", () => {
  for (
    const name of [
      "init_module",
      "finit_module",
      "delete_module",
      "kexec_load",
      "kexec_file_load",
      "keyctl",
      "add_key",
      "request_key",
      "bpf",
      "perf_event_open",
      "userfaultfd",
      "open_by_handle_at",
      "swapon",
      "swapoff",
      "clock_settime",
      "settimeofday",
      "quotactl",
      "acct",
      "mount",
      "umount2",
      "pivot_root",
      "reboot",
      "setns",
      "unshare",
      "syslog",
      "uselib",
      "ustat",
      "sysfs",
      "_sysctl",
      "iopl",
      "ioperm",
      "lookup_dcookie",
      "nfsservctl",
      "get_mempolicy",
      "set_mempolicy",
      "mbind",
      "move_pages",
      "sethostname",
      "fsopen",
      "move_mount",
    ]
  ) {
    assert.equal(decide(defaultProgram, name), `errno ${EPERM}`, name);
  }
});

Deno.test("new namespaces are refused through unshare, clone and clone3", () => {
  assert.equal(
    decide(defaultProgram, "unshare", [CLONE_NEWUSER]),
    `errno ${EPERM}`,
  );
  // docker refuses unshare altogether without CAP_SYS_ADMIN.
  assert.equal(
    decide(defaultProgram, "unshare", [CLONE_NEWNS]),
    `errno ${EPERM}`,
  );
  assert.equal(
    decide(defaultProgram, "clone", [CLONE_NEWUSER | SIGCHLD]),
    `errno ${EPERM}`,
  );
  assert.equal(
    decide(defaultProgram, "clone", [CLONE_NEWNS]),
    `errno ${EPERM}`,
  );
  // Garbage in the high word of the int flags does not change the answer.
  assert.equal(
    decide(defaultProgram, "clone", [0xdead_0000_0000_0000n | SIGCHLD]),
    "allow",
  );
  assert.equal(decide(defaultProgram, "clone3"), `errno ${ENOSYS}`);
});

Deno.test("CAP_SYS_ADMIN lifts the namespace and mount rules, as in docker", () => {
  const program = compileSeccomp(
    defaultSeccompProfile([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]),
    "x86_64",
  );
  assert.equal(decide(program, "unshare", [CLONE_NEWNS]), "allow");
  assert.equal(decide(program, "clone", [CLONE_NEWUSER]), "allow");
  assert.equal(decide(program, "clone3"), "allow");
  assert.equal(decide(program, "mount"), "allow");
  assert.equal(decide(program, "bpf"), "allow");
  // Never allowed by docker, whatever the capabilities.
  assert.equal(decide(program, "pivot_root"), `errno ${EPERM}`);
  assert.equal(decide(program, "kexec_load"), `errno ${EPERM}`);
  assert.equal(decide(program, "keyctl"), `errno ${EPERM}`);
});

Deno.test("dropping CAP_SYS_CHROOT refuses chroot too", () => {
  const caps = DEFAULT_CAPABILITIES.filter((c) => c !== "CAP_SYS_CHROOT");
  const program = compileSeccomp(defaultSeccompProfile(caps), "x86_64");
  assert.equal(decide(program, "chroot"), `errno ${EPERM}`);
});

Deno.test("personality: only docker's safe values pass", () => {
  // persona is an unsigned int: the kernel reads 0 and 8 of the last two.
  for (
    const v of [
      0n,
      8n,
      0x20000n,
      0x20008n,
      0xffffffffn,
      0x1_0000_0000n,
      0x1_0000_0008n,
    ]
  ) {
    assert.equal(decide(defaultProgram, "personality", [v]), "allow", `${v}`);
  }
  for (const v of [1n, 0x0040000n, 0x1_0000_0001n, 0xffff_ffff_0004_0000n]) {
    assert.equal(
      decide(defaultProgram, "personality", [v]),
      `errno ${EPERM}`,
      `${v}`,
    );
  }
});

Deno.test("vsock sockets are refused", () => {
  assert.equal(decide(defaultProgram, "socket", [40n, 1n]), `errno ${EPERM}`);
});

Deno.test("another ABI is killed: wrong arch, x32", () => {
  assert.equal(
    decideNr(defaultProgram, 1, [], AUDIT_ARCH_I386),
    "kill_process",
  );
  assert.equal(
    decideNr(defaultProgram, 1, [], AUDIT_ARCH_AARCH64),
    "kill_process",
  );
  // x32 write and x32 init_module (x32 numbers carry bit 30).
  assert.equal(decideNr(defaultProgram, 0x40000000 | 1), "kill_process");
  assert.equal(decideNr(defaultProgram, 0x40000000 | 175), "kill_process");
});

Deno.test("every x86_64 and aarch64 call gets the table's answer", () => {
  for (const arch of ["x86_64", "aarch64"] as const) {
    const program = compileSeccomp(
      defaultSeccompProfile(DEFAULT_CAPABILITIES),
      arch,
    );
    const refused = new Map<string, string>();
    for (const entry of DEFAULT_DENY) {
      const lifted = entry.unless?.some((c) =>
        DEFAULT_CAPABILITIES.includes(c)
      );
      // With all-zero arguments the conditional entries do not match.
      if (lifted || entry.args?.length) continue;
      for (const n of entry.names) {
        refused.set(n, `errno ${entry.errno ?? EPERM}`);
      }
    }
    for (const name of Object.keys(TABLES[arch])) {
      assert.equal(
        decide(program, name, [], arch),
        refused.get(name) ?? "allow",
        `${arch} ${name}`,
      );
    }
  }
});

Deno.test("aarch64 filter checks its own arch and numbers", () => {
  const program = compileSeccomp(
    defaultSeccompProfile(DEFAULT_CAPABILITIES),
    "aarch64",
  );
  assert.equal(
    decide(program, "unshare", [CLONE_NEWUSER], "aarch64"),
    "errno 1",
  );
  assert.equal(decide(program, "write", [], "aarch64"), "allow");
  // x86_64's unshare number (272) is something else on aarch64; the arch check
  // stops an x86_64 caller outright.
  assert.equal(decideNr(program, 272, [], AUDIT_ARCH_X86_64), "kill_process");
  // No x32 special case on aarch64.
  assert.equal(decideNr(program, 0x40000001, [], AUDIT_ARCH_AARCH64), "allow");
});

/** Reference semantics of one argument check, in BigInt. */
function holds(c: ArgCheck, arg: bigint): boolean {
  const v = c.value;
  switch (c.op) {
    case "eq":
      return arg === v;
    case "ne":
      return arg !== v;
    case "lt":
      return arg < v;
    case "le":
      return arg <= v;
    case "gt":
      return arg > v;
    case "ge":
      return arg >= v;
    case "masked_eq":
      return (arg & v) === (c.valueTwo ?? 0n);
    case "masked_ne":
      return (arg & v) !== (c.valueTwo ?? 0n);
  }
}

Deno.test("64-bit argument comparisons match their definition", () => {
  const interesting = [
    0n,
    1n,
    2n,
    0x7fffffffn,
    0xffffffffn,
    0x1_0000_0000n,
    0x1_0000_0001n,
    0x1_ffff_ffffn,
    0x2_0000_0000n,
    0xffff_ffff_0000_0000n,
    0xffff_ffff_ffff_fffen,
    0xffff_ffff_ffff_ffffn,
  ];
  let seed = 12345;
  const rand32 = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return BigInt(seed);
  };
  for (let i = 0; i < 20; i++) interesting.push((rand32() << 32n) | rand32());
  const ops = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "masked_eq",
    "masked_ne",
  ] as const;
  for (const op of ops) {
    for (const value of interesting) {
      const check: ArgCheck = {
        index: 3,
        op,
        value,
        valueTwo: op.startsWith("masked") ? value & 0xf0f0_f0f0_f0f0_f0f0n : 0n,
      };
      const program = compileSeccomp({
        defaultAction: { kind: "allow" },
        badArchAction: { kind: "kill_process" },
        rules: [{
          names: ["write"],
          action: { kind: "errno", data: 7 },
          args: [check],
        }],
        flags: 0,
      }, "x86_64");
      for (const arg of interesting) {
        const got = decide(program, "write", [0n, 0n, 0n, arg]);
        const want = holds(check, arg) ? "errno 7" : "allow";
        assert.equal(got, want, `${arg} ${op} ${value}`);
      }
    }
  }
});

Deno.test("several arguments of a rule must all hold", () => {
  const program = compileSeccomp({
    defaultAction: { kind: "allow" },
    badArchAction: { kind: "kill_process" },
    rules: [{
      names: ["kill"],
      action: { kind: "errno", data: EPERM },
      args: [
        { index: 0, op: "eq", value: 1n },
        { index: 1, op: "ge", value: 9n },
      ],
    }],
    flags: 0,
  }, "x86_64");
  assert.equal(decide(program, "kill", [1n, 9n]), "errno 1");
  assert.equal(decide(program, "kill", [1n, 15n]), "errno 1");
  assert.equal(decide(program, "kill", [1n, 2n]), "allow");
  assert.equal(decide(program, "kill", [2n, 9n]), "allow");
});

Deno.test("the most severe matching rule wins, in any order", () => {
  const base = {
    defaultAction: { kind: "errno", data: 99 },
    badArchAction: { kind: "kill_process" },
    flags: 0,
  } as const;
  const rules: SeccompProfile["rules"] = [
    { names: ["getpid"], action: { kind: "allow" }, args: [] },
    {
      names: ["getpid"],
      action: { kind: "errno", data: 5 },
      args: [{ index: 0, op: "eq", value: 5n }],
    },
    {
      names: ["getpid"],
      action: { kind: "kill_thread" },
      args: [{ index: 0, op: "eq", value: 6n }],
    },
  ];
  for (const order of [rules, [...rules].reverse()]) {
    const program = compileSeccomp({ ...base, rules: order }, "x86_64");
    assert.equal(decide(program, "getpid", [0n]), "allow");
    assert.equal(decide(program, "getpid", [5n]), "errno 5");
    assert.equal(decide(program, "getpid", [6n]), "kill_thread");
    assert.equal(decide(program, "getppid"), "errno 99");
  }
});

Deno.test("long programs: jumps past 255 instructions land right", () => {
  // 300 calls, each refused only for one argument value: the dispatch jumps
  // and the arch check's jump to the end span thousands of instructions.
  const names = Object.entries(SYSCALLS_X86_64)
    .filter(([, nr]) => nr < 300).map(([n]) => n);
  assert.equal(names.length, 300);
  const profile: SeccompProfile = {
    defaultAction: { kind: "allow" },
    badArchAction: { kind: "kill_process" },
    rules: names.map((name) => ({
      names: [name],
      action: { kind: "errno", data: (SYSCALLS_X86_64[name] % 200) + 1 },
      args: [{ index: 1, op: "eq", value: BigInt(SYSCALLS_X86_64[name]) }],
    })),
    flags: 0,
  };
  const program = compileSeccomp(profile, "x86_64");
  const listing = disassemble(program);
  assert.ok(listing.length > 1500, `${listing.length} instructions`);
  assert.ok(
    listing.some((l) => / ja /.test(l)),
    "expected trampolines for far jumps",
  );
  for (const name of names) {
    const nr = BigInt(SYSCALLS_X86_64[name]);
    assert.equal(
      decide(program, name, [0n, nr]),
      `errno ${(Number(nr) % 200) + 1}`,
      name,
    );
    assert.equal(decide(program, name, [0n, nr + 1n]), "allow", name);
  }
  assert.equal(decideNr(program, 5, [], AUDIT_ARCH_I386), "kill_process");
  assert.equal(decideNr(program, 0x40000000 | 5), "kill_process");
});

Deno.test("a filter longer than the kernel allows is refused", () => {
  const names = Object.keys(SYSCALLS_X86_64);
  const profile: SeccompProfile = {
    defaultAction: { kind: "allow" },
    badArchAction: { kind: "kill_process" },
    rules: names.map((name) => ({
      names: [name],
      action: { kind: "errno", data: 1 },
      args: [0, 1, 2].map((index) => ({ index, op: "lt", value: 7n })),
    })),
    flags: 0,
  };
  assert.throws(
    () => compileSeccomp(profile, "x86_64"),
    /more than the kernel's 4096/,
  );
});

// ---------------------------------------------------------------------------

const DOCKER_STYLE = `{
  "defaultAction": "SCMP_ACT_ERRNO",
  "defaultErrnoRet": 1,
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [
    { "names": ["read", "write", "exit_group", "not_a_syscall"], "action": "SCMP_ACT_ALLOW" },
    { "name": "getpid", "action": "SCMP_ACT_ALLOW" },
    { "names": ["personality"], "action": "SCMP_ACT_ALLOW",
      "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] },
    { "names": ["clone"], "action": "SCMP_ACT_ALLOW",
      "args": [{ "index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }],
      "excludes": { "caps": ["CAP_SYS_ADMIN"], "arches": ["s390", "s390x"] } },
    { "names": ["clone", "unshare"], "action": "SCMP_ACT_ALLOW",
      "includes": { "caps": ["CAP_SYS_ADMIN"] } },
    { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
      "excludes": { "caps": ["CAP_SYS_ADMIN"] } },
    { "names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": { "minKernel": "4.8" } },
    { "names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": { "arches": ["amd64", "x32"] } },
    { "names": ["kill"], "action": "SCMP_ACT_KILL" },
    { "names": ["tkill"], "action": "SCMP_ACT_KILL_PROCESS" },
    { "names": ["tgkill"], "action": "SCMP_ACT_TRAP" },
    { "names": ["getuid"], "action": "SCMP_ACT_LOG" },
    { "names": ["getgid"], "action": "SCMP_ACT_TRACE", "errnoRet": 3 },
    { "names": ["lseek"], "action": "SCMP_ACT_ALLOW",
      "args": [{ "index": 1, "value": 18446744073709551615, "op": "SCMP_CMP_EQ" }] }
  ]
}`;

Deno.test("parseSeccompProfile: a docker-style allow list", () => {
  const profile = parseSeccompProfile(DOCKER_STYLE, {
    caps: DEFAULT_CAPABILITIES,
    arch: "x86_64",
    kernel: "6.1.0-13-amd64",
  });
  assert.deepEqual(profile.defaultAction, { kind: "errno", data: 1 });
  assert.deepEqual(unknownSyscalls(profile, "x86_64"), ["not_a_syscall"]);
  const p = compileSeccomp(profile, "x86_64");
  assert.equal(decide(p, "read"), "allow");
  assert.equal(decide(p, "getpid"), "allow");
  assert.equal(decide(p, "openat"), "errno 1");
  assert.equal(decide(p, "personality", [8n]), "allow");
  assert.equal(decide(p, "personality", [0n]), "errno 1");
  assert.equal(decide(p, "clone", [SIGCHLD]), "allow");
  assert.equal(decide(p, "clone", [CLONE_NEWUSER]), "errno 1");
  assert.equal(decide(p, "unshare"), "errno 1");
  assert.equal(decide(p, "clone3"), "errno 38");
  assert.equal(decide(p, "ptrace"), "allow");
  assert.equal(decide(p, "arch_prctl"), "allow");
  assert.equal(decide(p, "kill"), "kill_thread");
  assert.equal(decide(p, "tkill"), "kill_process");
  assert.equal(decide(p, "tgkill"), "trap");
  assert.equal(decide(p, "getuid"), "log");
  assert.equal(decide(p, "getgid"), "trace 3");
  // 2^64-1 survived JSON parsing exactly.
  assert.equal(decide(p, "lseek", [3n, 0xffff_ffff_ffff_ffffn]), "allow");
  assert.equal(decide(p, "lseek", [3n, 0xffff_ffff_ffff_f800n]), "errno 1");
});

Deno.test("parseSeccompProfile: includes/excludes follow caps, arch, kernel", () => {
  const admin = parseSeccompProfile(DOCKER_STYLE, {
    caps: [...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"],
    arch: "x86_64",
    kernel: "4.4.0",
  });
  const p = compileSeccomp(admin, "x86_64");
  assert.equal(decide(p, "unshare"), "allow");
  assert.equal(decide(p, "clone", [CLONE_NEWUSER]), "allow");
  // The clone3 rule is excluded, and clone3 is newer than every call the
  // profile still names: ENOSYS, as runc's stub answers.
  assert.equal(decide(p, "clone3"), "errno 38");
  assert.equal(decide(p, "openat"), "errno 1"); // default action
  assert.equal(decide(p, "ptrace"), "errno 1"); // kernel older than 4.8
  const arm = parseSeccompProfile(DOCKER_STYLE, { arch: "aarch64" });
  const pa = compileSeccomp(arm, "aarch64");
  assert.equal(decide(pa, "read", [], "aarch64"), "allow");
  assert.ok(!arm.rules.some((r) => r.names.includes("arch_prctl")));
});

Deno.test("parseSeccompProfile: flags and errors", () => {
  const ok = parseSeccompProfile(
    `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_LOG"]}`,
  );
  assert.equal(ok.flags, 2);
  assert.deepEqual(ok.rules, []);
  const cases: [string, RegExp][] = [
    ["{", /^p\.json: invalid JSON/],
    ["[]", /^p\.json: not a JSON object$/],
    ["{}", /^p\.json: defaultAction is missing$/],
    [
      `{"defaultAction":"SCMP_ACT_MAYBE"}`,
      /defaultAction: unknown action "SCMP_ACT_MAYBE"/,
    ],
    [
      `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}`,
      /syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not supported/,
    ],
    [
      `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}`,
      /syscalls\[0\]\.args\[0\]\.index must be 0\.\.5/,
    ],
    [
      `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":1,"op":"SCMP_CMP_ABOUT"}]}]}`,
      /unknown operator "SCMP_CMP_ABOUT"/,
    ],
    [
      `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}`,
      /value must be an unsigned 64-bit integer/,
    ],
    [
      `{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}`,
      /flags: unsupported flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"/,
    ],
    [
      `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":{}}`,
      /syscalls must be an array/,
    ],
  ];
  for (const [json, want] of cases) {
    assert.throws(
      () => parseSeccompProfile(json, { source: "p.json" }),
      (e: Error) => e.name === "TinycError" && want.test(e.message),
      json,
    );
  }
});

Deno.test("loadSeccomp hands the program and flags to seccomp(2)", () => {
  const sys = new FakeSecuritySys();
  loadSeccomp(defaultProgram, 2, sys);
  assert.deepEqual(sys.calls, [
    `seccomp ${defaultProgram.length / 8} insns flags=2`,
  ]);
  assert.equal(sys.programs[0], defaultProgram);
});

Deno.test("default filter: device nodes, TIOCSTI/TIOCLINUX (any high bits) and io_uring are refused", () => {
  const p = defaultProgram;
  // mknod(path, mode, dev): char and block devices refused, FIFOs allowed.
  assert.equal(decide(p, "mknod", [0n, 0o020666n, 0n]), "errno 1");
  assert.equal(decide(p, "mknod", [0n, 0o060600n, 0n]), "errno 1");
  assert.equal(decide(p, "mknod", [0n, 0o010644n, 0n]), "allow");
  assert.equal(decide(p, "mknodat", [0n, 0n, 0o020666n, 0n]), "errno 1");
  assert.equal(decide(p, "mknodat", [0n, 0n, 0o140755n, 0n]), "allow");
  assert.equal(decide(p, "ioctl", [0n, 0x5412n]), "errno 1");
  assert.equal(decide(p, "ioctl", [0n, 0x1_0000_5412n]), "errno 1");
  assert.equal(decide(p, "ioctl", [0n, 0x541cn]), "errno 1");
  assert.equal(decide(p, "ioctl", [0n, 0x540en, 1n]), "errno 1"); // TIOCSCTTY
  assert.equal(decide(p, "ioctl", [0n, 0x5401n]), "allow"); // TCGETS
  for (const n of ["io_uring_setup", "io_uring_enter", "io_uring_register"]) {
    assert.equal(decide(p, n, [0n, 0n]), "errno 1", n);
  }
});

// ---------------------------------------------------------------------------
// Argument widths: compare what the kernel reads

/** Reference semantics at `width` bits: both sides cut to the low bits. */
function holdsAt(c: ArgCheck, arg: bigint, width: ArgWidth): boolean {
  const cut = (v: bigint | undefined) => BigInt.asUintN(width, v ?? 0n);
  return holds(
    { ...c, value: cut(c.value), valueTwo: cut(c.valueTwo) },
    cut(arg),
  );
}

/** Bits above `width` set in many patterns: what a caller can put there. */
function garbage(width: ArgWidth): bigint[] {
  if (width === 64) return [];
  const high = (v: bigint) =>
    BigInt.asUintN(64, v) & ~((1n << BigInt(width)) - 1n);
  return [
    1n << BigInt(width),
    1n << 32n,
    1n << 63n,
    0xffff_ffff_ffff_ffffn,
    0xdead_beef_cafe_f00dn,
  ].map(high).filter((g, i, all) => g !== 0n && all.indexOf(g) === i);
}

Deno.test("the width table covers every call of both tables, as the kernel declares them", () => {
  for (const table of [SYSCALLS_X86_64, SYSCALLS_AARCH64]) {
    for (const name of Object.keys(table)) {
      const w = SYSCALL_ARG_WIDTHS[name];
      assert.ok(w, `${name} has no widths`);
      assert.ok(w.length <= 6, name);
      for (const bits of w) assert.ok([16, 32, 64].includes(bits), name);
    }
  }
  const want: Record<string, ArgWidth[]> = {
    socket: [32, 32, 32],
    personality: [32],
    ioctl: [32, 32, 64],
    clone: [32, 64, 64, 64, 64], // flags read as lower_32_bits
    unshare: [64],
    mknod: [64, 16, 32],
    mknodat: [32, 64, 16, 32],
    kill: [32, 32],
    prctl: [32, 64, 64, 64, 64],
    mmap: [64, 64, 64, 64, 64, 64],
    setns: [32, 32],
    getpid: [],
  };
  for (const [name, widths] of Object.entries(want)) {
    assert.deepEqual(SYSCALL_ARG_WIDTHS[name], widths, name);
  }
});

Deno.test("32- and 16-bit arguments: every operator compares the low bits only", () => {
  const interesting = [
    0n,
    1n,
    2n,
    0x7fffn,
    0xffffn,
    0x1_0000n,
    0x7fffffffn,
    0xffffffffn,
    0x1_0000_0000n,
    0x1_0000_0001n,
    0xffff_ffff_0000_0000n,
    0xffff_ffff_ffff_fffen,
    0xffff_ffff_ffff_ffffn,
    0x8000_0000_0000_0028n,
  ];
  const ops = [
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "masked_eq",
    "masked_ne",
  ] as const;
  // socket's family is an int, mknod's mode a umode_t.
  const cases = [
    { name: "socket", index: 0, width: 32 as const },
    { name: "mknod", index: 1, width: 16 as const },
  ];
  for (const { name, index, width } of cases) {
    assert.equal(SYSCALL_ARG_WIDTHS[name][index], width);
    for (const op of ops) {
      for (const value of interesting) {
        const check: ArgCheck = {
          index,
          op,
          value,
          valueTwo: op.startsWith("masked")
            ? value & 0xf0f0_f0f0_f0f0_f0f0n
            : 0n,
        };
        const program = compileSeccomp({
          defaultAction: { kind: "allow" },
          badArchAction: { kind: "kill_process" },
          rules: [{
            names: [name],
            action: { kind: "errno", data: 7 },
            args: [check],
          }],
          flags: 0,
        }, "x86_64");
        for (const arg of interesting) {
          const args = [0n, 0n, 0n];
          args[index] = arg;
          const got = decide(program, name, args);
          const want = holdsAt(check, arg, width) ? "errno 7" : "allow";
          assert.equal(got, want, `${name} ${arg} ${op} ${value}`);
        }
      }
    }
  }
});

/**
 * An argument value for which every check in `checks` holds (`want`) or
 * one fails (`!want`), at `width` bits; undefined if none of the candidates
 * does.
 */
function witness(
  checks: readonly ArgCheck[],
  width: ArgWidth,
  want: boolean,
): bigint | undefined {
  const candidates = [0n, 1n, 2n, 0x7fn];
  for (const c of checks) {
    const low = c.value & -c.value; // lowest bit of a mask
    candidates.push(
      c.value,
      c.value + 1n,
      c.value - 1n,
      c.valueTwo ?? 0n,
      (c.valueTwo ?? 0n) ^ low,
    );
  }
  return candidates.map((v) => BigInt.asUintN(width, v)).find((v) =>
    checks.every((c) => holdsAt(c, v, width)) === want
  );
}

Deno.test("every default rule on an argument gives the same answer with garbage in the bits the kernel ignores", () => {
  let tested = 0;
  for (const arch of ["x86_64", "aarch64"] as const) {
    const program = compileSeccomp(
      defaultSeccompProfile(DEFAULT_CAPABILITIES),
      arch,
    );
    for (const entry of DEFAULT_DENY) {
      if (!entry.args?.length) continue;
      assert.ok(
        !entry.unless?.some((c) => DEFAULT_CAPABILITIES.includes(c)),
        "a default-lifted argument rule would go untested here",
      );
      for (const name of entry.names) {
        if (TABLES[arch][name] === undefined) continue;
        const widths = SYSCALL_ARG_WIDTHS[name];
        const indexes: number[] = [
          ...new Set(entry.args.map((a: ArgCheck) => a.index)),
        ];
        const match = [0n, 0n, 0n, 0n, 0n, 0n];
        for (const i of indexes) {
          const checks = entry.args.filter((a) => a.index === i);
          const v = witness(checks, widths[i] ?? 64, true);
          assert.ok(v !== undefined, `${name}: no matching value for arg ${i}`);
          match[i] = v;
        }
        const refused = `errno ${entry.errno ?? EPERM}`;
        assert.equal(decide(program, name, match, arch), refused, name);
        for (const i of indexes) {
          const width = widths[i] ?? 64;
          const checks = entry.args.filter((a) => a.index === i);
          const miss = [...match];
          miss[i] = witness(checks, width, false)!;
          assert.ok(
            miss[i] !== undefined,
            `${name}: no other value for arg ${i}`,
          );
          const missAnswer = decide(program, name, miss, arch);
          assert.notEqual(missAnswer, undefined);
          for (const g of garbage(width)) {
            const hi = [...match];
            hi[i] = match[i] | g;
            assert.equal(
              decide(program, name, hi, arch),
              refused,
              `${arch} ${name} arg${i}=0x${hi[i].toString(16)}`,
            );
            const hiMiss = [...miss];
            hiMiss[i] = miss[i] | g;
            assert.equal(
              decide(program, name, hiMiss, arch),
              missAnswer,
              `${arch} ${name} arg${i}=0x${hiMiss[i].toString(16)}`,
            );
            tested++;
          }
        }
      }
    }
  }
  assert.ok(tested > 50, `${tested} cases`);
});

Deno.test("the vsock trick: socket((1 << 32) | AF_VSOCK) is refused like socket(AF_VSOCK)", () => {
  for (const family of [40n, (1n << 32n) | 40n, 0xffff_ffff_0000_0028n]) {
    assert.equal(
      decide(defaultProgram, "socket", [family, 1n, 0n]),
      `errno ${EPERM}`,
      `0x${family.toString(16)}`,
    );
  }
  // AF_INET with garbage above is AF_INET.
  assert.equal(
    decide(defaultProgram, "socket", [(1n << 32n) | 2n, 1n]),
    "allow",
  );
});

Deno.test("the narrow compare is one load of the low word: the high word of an int is never read", () => {
  const program = compileSeccomp({
    defaultAction: { kind: "allow" },
    badArchAction: { kind: "kill_process" },
    rules: [{
      names: ["socket"],
      action: { kind: "errno", data: 1 },
      args: [{ index: 0, op: "eq", value: 40n }],
    }],
    flags: 0,
  }, "x86_64");
  const listing = disassemble(program).join("\n");
  assert.match(listing, /ld \[16\]/); // args[0], low word
  assert.doesNotMatch(listing, /ld \[20\]/); // args[0], high word
});

Deno.test("assertExecAllowed: a filter must let execve through, or no command starts", () => {
  for (const arch of ["x86_64", "aarch64"] as const) {
    const compile = (json: string) =>
      compileSeccomp(parseSeccompProfile(json, { arch }), arch);
    // tinyc's default and a log-everything profile pass
    assertExecAllowed(
      compileSeccomp(defaultSeccompProfile(DEFAULT_CAPABILITIES), arch),
      arch,
    );
    assertExecAllowed(compile('{"defaultAction":"SCMP_ACT_LOG"}'), arch);
    assert.throws(
      () =>
        assertExecAllowed(compile('{"defaultAction":"SCMP_ACT_ERRNO"}'), arch),
      /^TinycError: seccomp profile: execve gets SCMP_ACT_ERRNO\(1\), so no command can start/,
    );
    const kill = compile(JSON.stringify({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["execve"], action: "SCMP_ACT_KILL_PROCESS" }],
    }));
    assert.throws(() => assertExecAllowed(kill, arch), /SCMP_ACT_KILL_PROCESS/);
    // execveat alone refused: execve still starts the command
    assertExecAllowed(
      compile(JSON.stringify({
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["execveat"], action: "SCMP_ACT_ERRNO" }],
      })),
      arch,
    );
  }
});
