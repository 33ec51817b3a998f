import assert from "node:assert/strict";
import {
  compileSeccomp,
  parseJsonExact,
  parseOciSeccomp,
  parseSeccompProfile,
  type ProfileContext,
  type SeccompProfile,
  unknownSyscalls,
} from "./seccomp.ts";
import { decodeAction, runFilter } from "./bpf_interp.ts";
import { SYSCALLS_X86_64 } from "./syscall_table.ts";

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const CTX: ProfileContext = { arch: "x86_64", kernel: "6.1.0" };

/** Decision of `profile` for `name(args)` on x86_64: `allow`, `errno 1` ... */
function decide(
  profile: SeccompProfile,
  name: string,
  args: bigint[] = [],
): string {
  const nr = SYSCALLS_X86_64[name];
  assert.ok(nr !== undefined, name);
  const { kind, data } = decodeAction(
    runFilter(compileSeccomp(profile, "x86_64"), {
      nr,
      arch: AUDIT_ARCH_X86_64,
      args,
    }),
  );
  return kind === "errno" || kind === "trace" ? `${kind} ${data}` : kind;
}

function oci(seccomp: unknown, ctx: ProfileContext = CTX): SeccompProfile {
  const p = parseOciSeccomp(seccomp, ctx);
  assert.ok(p, "expected a profile");
  return p;
}

/** Expect parseOciSeccomp to throw a TinycError matching `want`. */
function refuses(seccomp: unknown, want: RegExp, ctx: ProfileContext = CTX) {
  assert.throws(
    () => parseOciSeccomp(seccomp, ctx),
    (e: Error) => e.name === "TinycError" && want.test(e.message),
    JSON.stringify(seccomp),
  );
}

Deno.test("OCI: repeated conditions on one argument are OR'd (personality 0 or 8)", () => {
  const p = oci({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{
      names: ["personality"],
      action: "SCMP_ACT_ALLOW",
      args: [
        { index: 0, value: 0, op: "SCMP_CMP_EQ" },
        { index: 0, value: 8, op: "SCMP_CMP_EQ" },
      ],
    }],
  });
  assert.equal(decide(p, "personality", [0n]), "allow");
  assert.equal(decide(p, "personality", [8n]), "allow");
  assert.equal(decide(p, "personality", [1n]), "errno 1");
  assert.equal(decide(p, "personality", [0x20008n]), "errno 1");
});

Deno.test("OCI: conditions on different arguments are AND'd", () => {
  const p = oci({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{
      names: ["kill"],
      action: "SCMP_ACT_ERRNO",
      args: [
        { index: 0, value: 1, op: "SCMP_CMP_EQ" },
        { index: 1, value: 9, op: "SCMP_CMP_EQ" },
      ],
    }],
  });
  assert.equal(decide(p, "kill", [1n, 9n]), "errno 1");
  assert.equal(decide(p, "kill", [1n, 15n]), "allow");
  assert.equal(decide(p, "kill", [2n, 9n]), "allow");
});

Deno.test("OCI: with a repeated index, every condition stands alone, as runc and crun add them", () => {
  // runc (matchCall) and crun add one rule per condition as soon as any
  // index repeats, so the arg1 condition alone is enough.
  const p = oci({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{
      names: ["kill"],
      action: "SCMP_ACT_ALLOW",
      args: [
        { index: 0, value: 1, op: "SCMP_CMP_EQ" },
        { index: 0, value: 2, op: "SCMP_CMP_EQ" },
        { index: 1, value: 15, op: "SCMP_CMP_EQ" },
      ],
    }],
  });
  assert.equal(decide(p, "kill", [1n, 9n]), "allow");
  assert.equal(decide(p, "kill", [2n, 9n]), "allow");
  assert.equal(decide(p, "kill", [7n, 15n]), "allow");
  assert.equal(decide(p, "kill", [7n, 9n]), "errno 1");
});

Deno.test("OCI: every operator, MASKED_EQ with valueTwo, on the bits the kernel reads", () => {
  const rule = (op: string, value: number, valueTwo?: number) => ({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [{
      names: ["setpriority"], // int which, int who, int niceval
      action: "SCMP_ACT_ERRNO",
      errnoRet: 13,
      args: [{
        index: 2,
        op,
        value,
        ...(valueTwo === undefined ? {} : { valueTwo }),
      }],
    }],
  });
  const table: [string, number, number | undefined, bigint, boolean][] = [
    ["SCMP_CMP_EQ", 5, undefined, 5n, true],
    ["SCMP_CMP_EQ", 5, undefined, 6n, false],
    ["SCMP_CMP_NE", 5, undefined, 6n, true],
    ["SCMP_CMP_NE", 5, undefined, 5n, false],
    ["SCMP_CMP_LT", 5, undefined, 4n, true],
    ["SCMP_CMP_LT", 5, undefined, 5n, false],
    ["SCMP_CMP_LE", 5, undefined, 5n, true],
    ["SCMP_CMP_LE", 5, undefined, 6n, false],
    ["SCMP_CMP_GT", 5, undefined, 6n, true],
    ["SCMP_CMP_GT", 5, undefined, 5n, false],
    ["SCMP_CMP_GE", 5, undefined, 5n, true],
    ["SCMP_CMP_GE", 5, undefined, 4n, false],
    ["SCMP_CMP_MASKED_EQ", 0xf0, 0x30, 0x3an, true],
    ["SCMP_CMP_MASKED_EQ", 0xf0, 0x30, 0x4an, false],
    // An int: garbage in the high half does not count, in either direction.
    ["SCMP_CMP_EQ", 5, undefined, 0xffff_ffff_0000_0005n, true],
    ["SCMP_CMP_LT", 5, undefined, 0x1_0000_0004n, true],
    ["SCMP_CMP_GT", 5, undefined, 0x1_0000_0004n, false],
    // -1 as libseccomp users write it (sign-extended) matches an int -1.
    ["SCMP_CMP_EQ", 0xffffffff, undefined, 0xffff_ffff_ffff_ffffn, true],
  ];
  for (const [op, value, valueTwo, arg, match] of table) {
    const p = oci(rule(op, value, valueTwo));
    assert.equal(
      decide(p, "setpriority", [0n, 0n, arg]),
      match ? "errno 13" : "allow",
      `${op} ${value} ${valueTwo} on 0x${arg.toString(16)}`,
    );
  }
});

Deno.test("OCI: every action, defaultErrnoRet and errnoRet", () => {
  const p = oci({
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 38,
    syscalls: [
      { names: ["read"], action: "SCMP_ACT_ALLOW" },
      { names: ["write"], action: "SCMP_ACT_ERRNO" },
      { names: ["close"], action: "SCMP_ACT_ERRNO", errnoRet: 5 },
      { names: ["kill"], action: "SCMP_ACT_KILL" },
      { names: ["tkill"], action: "SCMP_ACT_KILL_THREAD" },
      { names: ["tgkill"], action: "SCMP_ACT_KILL_PROCESS" },
      { names: ["getuid"], action: "SCMP_ACT_TRAP" },
      { names: ["getgid"], action: "SCMP_ACT_TRACE", errnoRet: 3 },
      { names: ["getegid"], action: "SCMP_ACT_TRACE" },
      { names: ["getpid"], action: "SCMP_ACT_LOG" },
    ],
  });
  assert.deepEqual(p.defaultAction, { kind: "errno", data: 38 });
  assert.equal(decide(p, "openat"), "errno 38");
  assert.equal(decide(p, "read"), "allow");
  // errnoRet defaults to EPERM, not to defaultErrnoRet (as runc).
  assert.equal(decide(p, "write"), "errno 1");
  assert.equal(decide(p, "close"), "errno 5");
  assert.equal(decide(p, "kill"), "kill_thread");
  assert.equal(decide(p, "tkill"), "kill_thread");
  assert.equal(decide(p, "tgkill"), "kill_process");
  assert.equal(decide(p, "getuid"), "trap");
  assert.equal(decide(p, "getgid"), "trace 3");
  assert.equal(decide(p, "getegid"), "trace 1");
  assert.equal(decide(p, "getpid"), "log");
  for (
    const [action, kind] of [
      ["SCMP_ACT_KILL", "kill_thread"],
      ["SCMP_ACT_KILL_PROCESS", "kill_process"],
      ["SCMP_ACT_TRAP", "trap"],
      ["SCMP_ACT_LOG", "log"],
      ["SCMP_ACT_ALLOW", "allow"],
    ]
  ) {
    assert.equal(oci({ defaultAction: action }).defaultAction.kind, kind);
  }
  assert.deepEqual(
    oci({ defaultAction: "SCMP_ACT_TRACE", defaultErrnoRet: 9 }).defaultAction,
    { kind: "trace", data: 9 },
  );
});

Deno.test("OCI: a rule with the default action is dropped, as runc does", () => {
  const p = oci({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [
      { names: ["read"], action: "SCMP_ACT_ALLOW" },
      {
        names: ["read"],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 0, value: 5, op: "SCMP_CMP_EQ" }],
      },
      // Another errno is another action.
      {
        names: ["read"],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 9,
        args: [{ index: 0, value: 6, op: "SCMP_CMP_EQ" }],
      },
    ],
  });
  assert.equal(p.rules.length, 2);
  assert.equal(decide(p, "read", [5n]), "allow");
  assert.equal(decide(p, "read", [6n]), "errno 9");
});

Deno.test("OCI: unknown syscall names are skipped; empty names and docker-only fields are not OCI", () => {
  const p = oci({
    defaultAction: "SCMP_ACT_ALLOW",
    syscalls: [
      { names: ["no_such_call", "getcwd"], action: "SCMP_ACT_ERRNO" },
      // OCI has no `name`, `includes` or `excludes`: runc ignores them.
      { name: "chdir", action: "SCMP_ACT_ERRNO" },
      {
        names: ["fchdir"],
        action: "SCMP_ACT_ERRNO",
        includes: { caps: ["CAP_NOT_HELD"] },
      },
    ],
  });
  assert.deepEqual(unknownSyscalls(p, "x86_64"), ["no_such_call"]);
  assert.equal(decide(p, "getcwd"), "errno 1");
  assert.equal(decide(p, "chdir"), "allow");
  assert.equal(decide(p, "fchdir"), "errno 1");
  refuses(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: [""], action: "SCMP_ACT_ERRNO" }],
    },
    /^linux\.seccomp: syscalls\[0\]\.names: "" is not a system call name$/,
  );
});

Deno.test("OCI: no defaultAction and no syscalls means no filter, as in runc", () => {
  assert.equal(parseOciSeccomp({}, CTX), null);
  assert.equal(parseOciSeccomp({ defaultAction: "", syscalls: [] }, CTX), null);
  refuses(
    { syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }] },
    /^linux\.seccomp: defaultAction is missing$/,
  );
});

Deno.test("OCI: architectures are checked by name; only the native ABI passes", () => {
  const p = oci({
    defaultAction: "SCMP_ACT_ALLOW",
    architectures: [
      "SCMP_ARCH_X86_64",
      "SCMP_ARCH_X86",
      "SCMP_ARCH_X32",
      "SCMP_ARCH_AARCH64",
      "SCMP_ARCH_ARM",
      "SCMP_ARCH_RISCV64",
    ],
    syscalls: [{ names: ["getcwd"], action: "SCMP_ACT_ERRNO" }],
  });
  const program = compileSeccomp(p, "x86_64");
  const run = (nr: number, arch: number) =>
    decodeAction(runFilter(program, { nr, arch })).kind;
  assert.equal(run(SYSCALLS_X86_64.getcwd, AUDIT_ARCH_X86_64), "errno");
  assert.equal(run(183, AUDIT_ARCH_I386), "kill_process"); // i386 getcwd
  assert.equal(run(0x40000000 | 79, AUDIT_ARCH_X86_64), "kill_process"); // x32
  refuses(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"],
    },
    /^linux\.seccomp: architectures\[1\]: unknown architecture "SCMP_ARCH_Z80"$/,
  );
});

Deno.test("OCI: flags: LOG and SPEC_ALLOW are passed, TSYNC and WAIT_KILLABLE_RECV accepted, others refused", () => {
  const flags = (f: string[], kernel = "6.1.0") =>
    oci({ defaultAction: "SCMP_ACT_ALLOW", flags: f }, { ...CTX, kernel })
      .flags;
  assert.equal(flags([]), 0);
  assert.equal(flags(["SECCOMP_FILTER_FLAG_LOG"]), 2);
  assert.equal(flags(["SECCOMP_FILTER_FLAG_SPEC_ALLOW"]), 4);
  assert.equal(
    flags(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
    6,
  );
  assert.equal(flags(["SECCOMP_FILTER_FLAG_TSYNC"]), 0);
  assert.equal(flags(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), 0);
  // No flags field: none (runc would add SPEC_ALLOW).
  assert.equal(oci({ defaultAction: "SCMP_ACT_ALLOW" }).flags, 0);
  refuses(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      flags: ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
    },
    /flags: SECCOMP_FILTER_FLAG_SPEC_ALLOW needs Linux 4\.17 \(running 4\.15\.0\)/,
    { ...CTX, kernel: "4.15.0" },
  );
  refuses(
    {
      defaultAction: "SCMP_ACT_ALLOW",
      flags: ["SECCOMP_FILTER_FLAG_NEW_LISTENER"],
    },
    /^linux\.seccomp: flags: unsupported flag "SECCOMP_FILTER_FLAG_NEW_LISTENER"$/,
  );
});

Deno.test("OCI: bad input names the field", () => {
  const allow = { defaultAction: "SCMP_ACT_ALLOW" };
  const cases: [unknown, RegExp][] = [
    [[], /^linux\.seccomp: not a JSON object$/],
    [null, /^linux\.seccomp: not a JSON object$/],
    [
      { defaultAction: "SCMP_ACT_NOTIFY" },
      /^linux\.seccomp: defaultAction: SCMP_ACT_NOTIFY is not supported by tinyc/,
    ],
    [
      { ...allow, syscalls: [{ names: ["read"], action: "SCMP_ACT_NOTIFY" }] },
      /^linux\.seccomp: syscalls\[0\]\.action: SCMP_ACT_NOTIFY is not supported/,
    ],
    [
      { defaultAction: "SCMP_ACT_MAYBE" },
      /defaultAction: unknown action "SCMP_ACT_MAYBE"/,
    ],
    [
      { ...allow, defaultErrnoRet: -1 },
      /defaultErrnoRet must be an integer 0\.\.65535/,
    ],
    [{ ...allow, syscalls: {} }, /^linux\.seccomp: syscalls must be an array$/],
    [{ ...allow, syscalls: [7] }, /syscalls\[0\] is not an object/],
    [
      { ...allow, syscalls: [{ names: ["read"] }] },
      /syscalls\[0\]\.action is missing/,
    ],
    [
      {
        ...allow,
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 1e6,
        }],
      },
      /syscalls\[0\]\.errnoRet must be an integer 0\.\.65535/,
    ],
    [
      {
        ...allow,
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ERRNO",
          args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }],
        }],
      },
      /syscalls\[0\]\.args\[0\]\.index must be 0\.\.5/,
    ],
    [
      {
        ...allow,
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ERRNO",
          args: [{ index: 0, value: 1, op: "SCMP_CMP_MASKED_NE" }],
        }],
      },
      /syscalls\[0\]\.args\[0\]\.op: unknown operator "SCMP_CMP_MASKED_NE"/,
    ],
    [
      {
        ...allow,
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ERRNO",
          args: [{ index: 0, value: -1, op: "SCMP_CMP_EQ" }],
        }],
      },
      /syscalls\[0\]\.args\[0\]\.value must be an unsigned 64-bit integer/,
    ],
    [
      {
        ...allow,
        syscalls: [{
          names: ["read"],
          action: "SCMP_ACT_ERRNO",
          args: [{
            index: 0,
            value: 1,
            valueTwo: 2 ** 64,
            op: "SCMP_CMP_MASKED_EQ",
          }],
        }],
      },
      /syscalls\[0\]\.args\[0\]\.valueTwo: 18446744073709552000 is not exact .*parseJsonExact/,
    ],
  ];
  for (const [input, want] of cases) refuses(input, want);
});

Deno.test("OCI: 64-bit values survive through parseJsonExact", () => {
  const config = parseJsonExact(`{"linux": {"seccomp": {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["lseek"], "action": "SCMP_ACT_ERRNO",
      "args": [{"index": 1, "value": 18446744073709551615, "op": "SCMP_CMP_EQ"}]}]
  }}, "process": {"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]}}`) as {
    linux: { seccomp: unknown };
    process: { rlimits: { hard: unknown }[] };
  };
  // Only seccomp's value/valueTwo become bigints.
  assert.equal(config.process.rlimits[0].hard, 1024);
  const p = oci(config.linux.seccomp);
  assert.equal(p.rules[0].args[0].value, 0xffff_ffff_ffff_ffffn);
  // lseek's offset is an off_t: all 64 bits count.
  assert.equal(decide(p, "lseek", [3n, 0xffff_ffff_ffff_ffffn]), "errno 1");
  assert.equal(decide(p, "lseek", [3n, 0x0000_0000_ffff_ffffn]), "allow");
});

Deno.test("docker profiles share the parser: OR of repeated conditions there too", () => {
  const p = parseSeccompProfile(
    JSON.stringify({
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [{
        name: "personality",
        action: "SCMP_ACT_ALLOW",
        args: [
          { index: 0, value: 0, op: "SCMP_CMP_EQ" },
          { index: 0, value: 8, op: "SCMP_CMP_EQ" },
        ],
      }],
    }),
    CTX,
  );
  assert.equal(decide(p, "personality", [0n]), "allow");
  assert.equal(decide(p, "personality", [8n]), "allow");
  assert.equal(decide(p, "personality", [9n]), "errno 1");
  assert.throws(
    () =>
      parseSeccompProfile(
        `{"defaultAction":"SCMP_ACT_ALLOW","architectures":["amd64"]}`,
        { source: "p.json" },
      ),
    /^TinycError: p\.json: architectures\[0\]: unknown architecture "amd64"$/,
  );
});

Deno.test("OCI: calls newer than every call the profile names get ENOSYS when the default refuses (runc's stub)", () => {
  const profile = (
    defaultAction: string,
    extra: Record<string, unknown> = {},
  ) =>
    oci({
      defaultAction,
      ...extra,
      syscalls: [
        { names: ["read", "write"], action: "SCMP_ACT_ALLOW" },
        // Names with the default action or unknown here still count / not.
        { names: ["openat", "no_such_call"], action: defaultAction },
      ],
    });
  const p = profile("SCMP_ACT_ERRNO");
  assert.equal(decide(p, "read"), "allow");
  assert.equal(decide(p, "close"), "errno 1"); // 3: older than openat (257)
  assert.equal(decide(p, "openat"), "errno 1");
  assert.equal(decide(p, "clone3"), "errno 38"); // 435
  assert.equal(decide(p, "faccessat2"), "errno 38");
  assert.equal(decide(profile("SCMP_ACT_KILL_PROCESS"), "clone3"), "errno 38");
  assert.equal(
    decide(profile("SCMP_ACT_KILL_PROCESS"), "close"),
    "kill_process",
  );
  // No stub when the default lets calls through or is ENOSYS already.
  assert.equal(decide(profile("SCMP_ACT_ALLOW"), "clone3"), "allow");
  assert.equal(decide(profile("SCMP_ACT_LOG"), "clone3"), "log");
  assert.equal(decide(profile("SCMP_ACT_TRACE"), "clone3"), "trace 1");
  assert.equal(
    profile("SCMP_ACT_ERRNO", { defaultErrnoRet: 38 }).enosysAfter,
    undefined,
  );
  // As in runc, a profile naming only call 0 (read) gets no stub.
  const onlyRead = oci({
    defaultAction: "SCMP_ACT_ERRNO",
    syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }],
  });
  assert.equal(decide(onlyRead, "clone3"), "errno 1");
  // x32 and foreign ABIs are still killed before the stub.
  const program = compileSeccomp(p, "x86_64");
  assert.equal(
    decodeAction(
      runFilter(program, { nr: 0x40000000 | 435, arch: AUDIT_ARCH_X86_64 }),
    ).kind,
    "kill_process",
  );
});
