/**
 * Seccomp: tinyc's default filter as a readable table, parsers for docker
 * profile files ({@link parseSeccompProfile}) and OCI config.json
 * `linux.seccomp` ({@link parseOciSeccomp}), and a compiler from any of them
 * to a classic BPF program the kernel runs on every system call
 * ({@link compileSeccomp}).
 *
 * The default profile is a deny list in the spirit of docker's default
 * profile (moby `profiles/seccomp/default_linux.go`): everything is allowed
 * except the calls docker refuses on x86_64 with its default capabilities,
 * which fail with EPERM. Like docker, a call gated on a capability (mount on
 * CAP_SYS_ADMIN, reboot on CAP_SYS_BOOT ...) is allowed again when the
 * container's bounding set has that capability. Differences from docker, on
 * purpose:
 * - docker allows only the calls it lists; a default-allow filter also allows
 *   system calls newer than {@link SYSCALLS_X86_64}. In exchange new, harmless
 *   calls (fchmodat2, cachestat ...) do not break programs.
 * - only the native ABI passes the architecture check: i386 (int 0x80) and
 *   x32 calls on x86_64 kill the process (docker allows both sub-ABIs). This
 *   closes the classic bypass of a filter keyed on x86_64 numbers.
 *
 * Rules are evaluated like stacked kernel filters: among the rules that match
 * a call, the most severe action wins (kill > trap > errno > trace > log >
 * allow); with none matching, the default action applies. A rule's argument
 * conditions compare only the bits the kernel reads of each argument (see
 * {@link ArgOp}): libseccomp, and so runc and crun, compare all 64 bits, and
 * a caller who sets the high half of an `int` argument slips past them.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { decodeAction, runFilter } from "./bpf_interp.ts";
import { LinuxSecuritySys, type SecuritySys } from "./security_sys.ts";
import {
  type ArgWidth,
  SYSCALL_ARG_WIDTHS,
  SYSCALLS_AARCH64,
  SYSCALLS_X86_64,
} from "./syscall_table.ts";

/** What a seccomp filter does with a call. */
export type SeccompActionKind =
  | "kill_process"
  | "kill_thread"
  | "trap"
  | "errno"
  | "trace"
  | "log"
  | "allow";

/** An action; `data` is the errno for `errno`, the message for `trace`. */
export interface SeccompAction {
  kind: SeccompActionKind;
  data?: number;
}

/**
 * Comparison of one argument (OCI `SCMP_CMP_*`, plus `masked_ne` for the
 * deny-list rules): `masked_eq`/`masked_ne` test `(arg & value) ==/!= valueTwo`.
 * Comparisons are unsigned, on the bits the kernel reads of that argument
 * ({@link SYSCALL_ARG_WIDTHS}): for a 32-bit argument (`int`, `unsigned
 * int`) only the low 32 bits of the argument and of `value`/`valueTwo` take
 * part, so garbage in the high half of the register neither hides nor fakes
 * a match, and a sign-extended -1 compares equal to 0xffffffff; for a
 * `umode_t` the low 16 bits. 64-bit arguments compare all 64 bits.
 */
export type ArgOp =
  | "eq"
  | "ne"
  | "lt"
  | "le"
  | "gt"
  | "ge"
  | "masked_eq"
  | "masked_ne";

/** One argument condition of a rule. */
export interface ArgCheck {
  /** Argument index, 0..5. */
  index: number;
  op: ArgOp;
  value: bigint;
  valueTwo?: bigint;
}

/** A rule: `action` for `names` when every `args` condition holds. */
export interface SeccompRule {
  names: readonly string[];
  action: SeccompAction;
  args: readonly ArgCheck[];
}

/** The internal form every profile becomes before compiling. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  /** For a call made through another ABI (foreign arch, x32). */
  badArchAction: SeccompAction;
  rules: readonly SeccompRule[];
  /** seccomp(2) flags, e.g. SECCOMP_FILTER_FLAG_LOG. */
  flags: number;
  /**
   * runc's -ENOSYS stub: a call numbered above every call named here fails
   * with ENOSYS instead of getting the default action, so a program falls
   * back from a call newer than the profile as it would on an older kernel
   * (glibc retries clone3, faccessat2 ... only on ENOSYS). The profile
   * parsers set it, as runc does, when the default action refuses.
   */
  enosysAfter?: readonly string[];
}

/** Architectures the compiler has system call numbers for. */
export type SeccompArch = "x86_64" | "aarch64";

/** The architecture tinyc runs on. */
export function nativeArch(): SeccompArch {
  return Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
}

const ARCH_INFO: Record<
  SeccompArch,
  { audit: number; table: Readonly<Record<string, number>>; goarch: string }
> = {
  // AUDIT_ARCH_X86_64 = EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
  x86_64: { audit: 0xc000003e, table: SYSCALLS_X86_64, goarch: "amd64" },
  // AUDIT_ARCH_AARCH64 = EM_AARCH64 (183) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
  aarch64: { audit: 0xc00000b7, table: SYSCALLS_AARCH64, goarch: "arm64" },
};

/**
 * Refuse a compiled filter under which no command could start: one that
 * does not allow (or log) `execve` for `arch`. The init loads the filter
 * right before `execve`; refused there, it could not even report why
 * (its own calls are filtered too), and the container would just die.
 *
 * @throws {TinycError} naming the action the profile takes on execve
 */
export function assertExecAllowed(
  program: Uint8Array,
  arch: SeccompArch = nativeArch(),
): void {
  const { audit, table } = ARCH_INFO[arch];
  const { kind, data } = decodeAction(
    runFilter(program, { nr: table.execve, arch: audit }),
  );
  if (kind === "allow" || kind === "log") return;
  // The profile's own name for it (kill_process -> SCMP_ACT_KILL_PROCESS).
  const name = `SCMP_ACT_${kind.toUpperCase()}`.replace("USER_NOTIF", "NOTIFY");
  throw new TinycError(
    `seccomp profile: execve gets ${name}${
      kind === "errno" ? `(${data})` : ""
    }, so no command can start; allow execve`,
  );
}

/** x32 system calls are x86_64 calls with this bit set in `nr`. */
const X32_SYSCALL_BIT = 0x40000000;

const EPERM = 1;
const ENOSYS = 38;

/** Namespace flags of clone(2)/unshare(2) (linux/sched.h). */
const CLONE_NAMESPACES = 0x00020000 | // CLONE_NEWNS
  0x02000000 | // CLONE_NEWCGROUP
  0x04000000 | // CLONE_NEWUTS
  0x08000000 | // CLONE_NEWIPC
  0x10000000 | // CLONE_NEWUSER
  0x20000000 | // CLONE_NEWPID
  0x40000000; // CLONE_NEWNET

const AF_VSOCK = 40;

const S_IFMT = 0o170000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const TIOCSTI = 0x5412;
const TIOCLINUX = 0x541c;
const TIOCSCTTY = 0x540e;

/** One line of the default deny table. */
export interface DenyEntry {
  names: readonly string[];
  /** Why the calls are refused. */
  why: string;
  /** Capabilities any of which, in the bounding set, lifts the rule (docker's `includes.caps`). */
  unless?: readonly string[];
  /** Refuse only when all these hold; otherwise always. */
  args?: readonly ArgCheck[];
  /** errno to return; EPERM unless said. */
  errno?: number;
}

/**
 * The default filter as a table: every system call docker's default profile
 * refuses on x86_64 (with docker's default capabilities), grouped by reason.
 * Names that do not exist on an architecture are skipped when compiling.
 */
export const DEFAULT_DENY: readonly DenyEntry[] = [
  {
    why: "load or unload kernel modules",
    names: ["init_module", "finit_module", "delete_module"],
    unless: ["CAP_SYS_MODULE"],
  },
  {
    why: "obsolete module calls, never needed",
    names: ["create_module", "get_kernel_syms", "query_module"],
  },
  {
    why: "boot another kernel",
    names: ["kexec_load", "kexec_file_load"],
  },
  {
    why: "the kernel keyring is not namespaced",
    names: ["keyctl", "add_key", "request_key"],
  },
  {
    why: "load BPF programs into the kernel",
    names: ["bpf"],
    unless: ["CAP_SYS_ADMIN", "CAP_BPF"],
  },
  {
    why: "performance counters leak host activity",
    names: ["perf_event_open"],
    unless: ["CAP_SYS_ADMIN", "CAP_PERFMON"],
  },
  {
    why: "stalls page faults in the kernel, a classic exploit aid",
    names: ["userfaultfd"],
  },
  {
    why: "mount or change mounts",
    names: [
      "mount",
      "umount",
      "umount2",
      "mount_setattr",
      "move_mount",
      "open_tree",
      "open_tree_attr",
      "fsopen",
      "fsconfig",
      "fsmount",
      "fspick",
    ],
    unless: ["CAP_SYS_ADMIN"],
  },
  {
    why: "change the root mount (docker refuses it even with CAP_SYS_ADMIN)",
    names: ["pivot_root"],
  },
  {
    why: "create or join namespaces, including new user namespaces",
    names: ["unshare", "setns"],
    unless: ["CAP_SYS_ADMIN"],
  },
  {
    why: "clone into new namespaces (plain fork and threads stay allowed)",
    names: ["clone"],
    args: [{
      index: 0,
      op: "masked_ne",
      value: BigInt(CLONE_NAMESPACES),
      valueTwo: 0n,
    }],
    unless: ["CAP_SYS_ADMIN"],
  },
  {
    why:
      "clone3 hides its flags in memory a filter cannot read: ENOSYS makes libc fall back to clone",
    names: ["clone3"],
    errno: ENOSYS,
    unless: ["CAP_SYS_ADMIN"],
  },
  {
    why: "administration calls that need CAP_SYS_ADMIN",
    names: [
      "quotactl",
      "quotactl_fd",
      "sethostname",
      "setdomainname",
      "lookup_dcookie",
      "fanotify_init",
    ],
    unless: ["CAP_SYS_ADMIN"],
  },
  {
    why: "read or clear the host's kernel log",
    names: ["syslog"],
    unless: ["CAP_SYS_ADMIN", "CAP_SYSLOG"],
  },
  {
    why: "open files by handle, escaping the root (the 'shocker' breakout)",
    names: ["open_by_handle_at"],
    unless: ["CAP_DAC_READ_SEARCH"],
  },
  {
    why: "swap is host-wide",
    names: ["swapon", "swapoff"],
  },
  {
    why: "the clock is not namespaced",
    names: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
    unless: ["CAP_SYS_TIME"],
  },
  {
    why: "process accounting is host-wide",
    names: ["acct"],
    unless: ["CAP_SYS_PACCT"],
  },
  {
    why: "reboot the host",
    names: ["reboot"],
    unless: ["CAP_SYS_BOOT"],
  },
  {
    why: "raw I/O port access",
    names: ["iopl", "ioperm"],
    unless: ["CAP_SYS_RAWIO"],
  },
  {
    why: "hang up the terminal",
    names: ["vhangup"],
    unless: ["CAP_SYS_TTY_CONFIG"],
  },
  {
    why: "NUMA memory policy of the host",
    names: [
      "get_mempolicy",
      "set_mempolicy",
      "mbind",
      "set_mempolicy_home_node",
    ],
    unless: ["CAP_SYS_NICE"],
  },
  {
    why: "move other processes' pages between NUMA nodes",
    names: ["move_pages", "migrate_pages"],
  },
  {
    why:
      "inspect other processes (ptrace itself is allowed, as in docker on kernels >= 4.8)",
    names: ["kcmp", "pidfd_getfd", "process_madvise"],
    unless: ["CAP_SYS_PTRACE"],
  },
  {
    why: "chroot without CAP_SYS_CHROOT",
    names: ["chroot"],
    unless: ["CAP_SYS_CHROOT"],
  },
  {
    why:
      "personality flags that weaken ASLR or emulate other systems; only PER_LINUX (0), PER_LINUX32 (8), UNAME26 (0x20000), both (0x20008) and the query 0xffffffff pass",
    names: ["personality"],
    args: [0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((v) => ({
      index: 0,
      op: "ne" as const,
      value: BigInt(v),
    })),
  },
  // Not in docker's profile: its device cgroup does this job; tinyc has no
  // device cgroup, so the filter keeps CAP_MKNOD (docker's default set)
  // from making device nodes, while FIFOs and sockets stay allowed.
  ...(["mknod", "mknodat"] as const).flatMap((name) =>
    [S_IFCHR, S_IFBLK].map((type): DenyEntry => ({
      why: "creating character or block devices (host devices behind them)",
      names: [name],
      args: [{
        index: name === "mknod" ? 1 : 2,
        op: "masked_eq",
        value: BigInt(S_IFMT),
        valueTwo: BigInt(type),
      }],
    }))
  ),
  // Typing into the terminal tinyc shares (TIOCSTI) or its console
  // (TIOCLINUX) would run commands in the user's shell, and taking it as
  // controlling terminal (TIOCSCTTY; with CAP_SYS_ADMIN even from the
  // user's shell) would hand it to the container. The request is an
  // `unsigned int`: the compiler compares its low 32 bits only.
  ...[TIOCSTI, TIOCLINUX, TIOCSCTTY].map((request): DenyEntry => ({
    why:
      "pushing input into or taking over a terminal (TIOCSTI, TIOCLINUX, TIOCSCTTY)",
    names: ["ioctl"],
    args: [{ index: 1, op: "eq", value: BigInt(request) }],
  })),
  {
    why:
      "io_uring: a large kernel attack surface (docker refuses it since 25.0)",
    names: ["io_uring_setup", "io_uring_enter", "io_uring_register"],
  },
  {
    why: "vsock sockets reach the hypervisor",
    names: ["socket"],
    args: [{ index: 0, op: "eq", value: BigInt(AF_VSOCK) }],
  },
  {
    why: "obsolete, unimplemented or legacy calls",
    names: [
      "_sysctl",
      "sysfs",
      "ustat",
      "uselib",
      "nfsservctl",
      "afs_syscall",
      "tuxcall",
      "security",
      "vserver",
      "getpmsg",
      "putpmsg",
      "vm86",
      "vm86old",
    ],
  },
];

/**
 * tinyc's default profile for a container whose bounding set is
 * `capabilities`: {@link DEFAULT_DENY} minus the entries a capability lifts.
 */
export function defaultSeccompProfile(
  capabilities: readonly string[],
): SeccompProfile {
  const have = new Set(capabilities);
  const rules: SeccompRule[] = [];
  for (const entry of DEFAULT_DENY) {
    if (entry.unless?.some((cap) => have.has(cap))) continue;
    rules.push({
      names: entry.names,
      action: { kind: "errno", data: entry.errno ?? EPERM },
      args: entry.args ?? [],
    });
  }
  return {
    defaultAction: { kind: "allow" },
    badArchAction: { kind: "kill_process" },
    rules,
    flags: 0,
  };
}

// ---------------------------------------------------------------------------
// docker / OCI profile JSON

/**
 * What a profile is parsed against. Every field is optional; missing ones
 * mean the host's architecture, no capabilities, an unknown kernel.
 */
export interface ProfileContext {
  /** The container's bounding set, for docker's `includes.caps` / `excludes.caps`. */
  caps?: readonly string[];
  /** The architecture the filter is for (default: {@link nativeArch}). */
  arch?: SeccompArch;
  /**
   * Kernel release (`Deno.osRelease()`), for docker's `includes.minKernel`
   * and to refuse `flags` the kernel is too old for.
   */
  kernel?: string;
  /**
   * Names the profile in errors: `--security-opt seccomp=p.json` (docker
   * default `seccomp profile`), `linux.seccomp` (OCI default).
   */
  source?: string;
}

/**
 * `flags` names and the seccomp(2) flag each passes (0: accepted, nothing
 * to pass) with the kernel version that introduced it.
 */
const SECCOMP_FILTER_FLAGS: Record<string, { bit: number; since: string }> = {
  // Syncs the filter onto every thread of the process. tinyc loads the filter
  // on the init's main thread right before execve, which ends the other
  // threads; syncing would only put the runtime's own threads under a user
  // profile while they finish. runc treats it the same way.
  SECCOMP_FILTER_FLAG_TSYNC: { bit: 0, since: "3.17" },
  SECCOMP_FILTER_FLAG_LOG: { bit: 2, since: "4.14" },
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: { bit: 4, since: "4.17" },
  // Only meaningful with a notify listener (SCMP_ACT_NOTIFY), which tinyc
  // does not support; the kernel refuses it without one (EINVAL).
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: { bit: 0, since: "5.19" },
};

/**
 * The `architectures` names of the OCI runtime-spec (libseccomp's). The
 * filter admits only the native ABI whatever the list says (see the module
 * documentation); the names are checked so a typo is an error, as in runc.
 */
const SCMP_ARCHES = new Set([
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
]);

const OPS: Record<string, ArgOp> = {
  SCMP_CMP_EQ: "eq",
  SCMP_CMP_NE: "ne",
  SCMP_CMP_LT: "lt",
  SCMP_CMP_LE: "le",
  SCMP_CMP_GT: "gt",
  SCMP_CMP_GE: "ge",
  SCMP_CMP_MASKED_EQ: "masked_eq",
};

type Json = Record<string, unknown>;
type Bad = (what: string) => never;

/**
 * `JSON.parse` that keeps every integer of a `value` or `valueTwo` key
 * exact, as a bigint: seccomp argument values are 64-bit and a JS number
 * holds 53 bits. Parse a config.json with it before {@link parseOciSeccomp}
 * when its profile may hold values of 2^53 or more (the parser refuses a
 * number that lost precision rather than compare the wrong value).
 * Throws what `JSON.parse` throws.
 */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(
    text,
    function (this: unknown, key: string, value: unknown, context?: {
      source?: string;
    }) {
      if (
        (key === "value" || key === "valueTwo") && typeof value === "number"
      ) {
        const src = context?.source;
        if (src !== undefined && /^\d+$/.test(src)) return BigInt(src);
      }
      return value;
    } as (this: unknown, key: string, value: unknown) => unknown,
  );
}

/**
 * Parse a docker seccomp profile file (`--security-opt seccomp=FILE`) into
 * a {@link SeccompProfile}: `defaultAction`, `defaultErrnoRet`,
 * `architectures`, `flags`, `syscalls[]` with `names` (or docker's `name`),
 * `action`, `errnoRet`, `args[]` {index, value, valueTwo, op}, and docker's
 * `includes`/`excludes` {caps, arches, minKernel} resolved against `ctx`.
 * Everything else is as {@link parseOciSeccomp} describes. Throws
 * {@link TinycError} naming the field.
 */
export function parseSeccompProfile(
  json: string,
  ctx: ProfileContext = {},
): SeccompProfile {
  const source = ctx.source ?? "seccomp profile";
  const bad: Bad = (what) => {
    throw new TinycError(`${source}: ${what}`);
  };
  let doc: unknown;
  try {
    doc = parseJsonExact(json);
  } catch (e) {
    bad(`invalid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return profileFromJson(doc, ctx, "docker", bad)!;
}

/**
 * Parse an OCI runtime-spec `linux.seccomp` object (from config.json) into
 * a {@link SeccompProfile} for {@link compileSeccomp}, or null when the
 * object asks for no filter (no `defaultAction` and no `syscalls`, as runc
 * reads it). Behaviour follows runc/crun:
 *
 * - actions: SCMP_ACT_KILL (= KILL_THREAD), KILL_THREAD, KILL_PROCESS,
 *   TRAP, ERRNO (`errnoRet`, else `defaultErrnoRet` for the default action,
 *   else EPERM), TRACE (same data), ALLOW, LOG. SCMP_ACT_NOTIFY is refused:
 *   tinyc has no seccomp agent support (`listenerPath` is not used).
 * - a rule whose action equals the default action is dropped, as runc does.
 * - `args`: ops SCMP_CMP_EQ, NE, LT, LE, GE, GT, MASKED_EQ (`(arg & value)
 *   == valueTwo`). Conditions on different arguments must all hold; when
 *   some argument index appears more than once, every condition becomes a
 *   rule of its own, so any one of them matching is enough (runc and crun
 *   do exactly this: `personality` with arg0 == 0 and arg0 == 8 allows
 *   both). Unlike libseccomp, which compares all 64 bits, only the bits the
 *   kernel reads are compared ({@link SYSCALL_ARG_WIDTHS}).
 * - syscall names this architecture does not have are skipped, not an
 *   error ({@link unknownSyscalls} lists them); an empty name is an error.
 * - runc's -ENOSYS stub: unless the default action is ALLOW, LOG, TRACE or
 *   ERRNO(ENOSYS), a call numbered above every call the profile names gets
 *   ENOSYS, so programs fall back from calls newer than the profile
 *   ({@link SeccompProfile.enosysAfter}).
 * - `architectures`: every SCMP_ARCH_* name of the spec is accepted and an
 *   unknown one is an error; the filter admits only the native ABI and
 *   kills calls made through any other (i386 or x32 on x86_64), listed or
 *   not, since tinyc has no numbers to filter them by.
 * - `flags`: SECCOMP_FILTER_FLAG_LOG and SPEC_ALLOW are passed to the
 *   kernel (refused when `ctx.kernel` is older than the flag); TSYNC and
 *   WAIT_KILLABLE_RECV are accepted and have nothing to do here. Without
 *   `flags` none is passed (runc would add SPEC_ALLOW; tinyc keeps the
 *   kernel's speculative-store-bypass default).
 *
 * Values are unsigned 64-bit: numbers up to 2^53 or bigints (see
 * {@link parseJsonExact}). Throws {@link TinycError} naming the field,
 * e.g. `linux.seccomp: syscalls[2].args[0].op: unknown operator "SCMP_CMP_X"`.
 */
export function parseOciSeccomp(
  seccomp: unknown,
  ctx: ProfileContext = {},
): SeccompProfile | null {
  const source = ctx.source ?? "linux.seccomp";
  const bad: Bad = (what) => {
    throw new TinycError(`${source}: ${what}`);
  };
  return profileFromJson(seccomp, ctx, "oci", bad);
}

/** The parser both formats share; docker adds `name` and `includes`/`excludes`. */
function profileFromJson(
  doc: unknown,
  ctx: ProfileContext,
  dialect: "docker" | "oci",
  bad: Bad,
): SeccompProfile | null {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    bad("not a JSON object");
  }
  const p = doc as Json;
  const syscalls = optArray(p.syscalls, "syscalls", bad);
  if (
    dialect === "oci" && (p.defaultAction ?? "") === "" && !syscalls.length
  ) {
    return null;
  }
  const defaultErrno = optNumber(p.defaultErrnoRet, "defaultErrnoRet", bad) ??
    EPERM;
  if (typeof p.defaultAction !== "string" || p.defaultAction === "") {
    bad("defaultAction is missing");
  }
  const defaultAction = parseAction(
    p.defaultAction as string,
    defaultErrno,
    "defaultAction",
    bad,
  );
  optArray(p.architectures, "architectures", bad).forEach((a, i) => {
    if (typeof a !== "string" || !SCMP_ARCHES.has(a)) {
      bad(`architectures[${i}]: unknown architecture ${JSON.stringify(a)}`);
    }
  });
  let flags = 0;
  for (const f of optArray(p.flags, "flags", bad)) {
    const flag = typeof f === "string" ? SECCOMP_FILTER_FLAGS[f] : undefined;
    if (flag === undefined) bad(`flags: unsupported flag ${JSON.stringify(f)}`);
    if (
      flag!.bit && ctx.kernel !== undefined &&
      compareKernel(ctx.kernel, flag!.since) < 0
    ) {
      bad(`flags: ${f} needs Linux ${flag!.since} (running ${ctx.kernel})`);
    }
    flags |= flag!.bit;
  }
  const arch = ctx.arch ?? nativeArch();
  const caps = new Set(ctx.caps ?? []);
  const rules: SeccompRule[] = [];
  const named: string[] = [];
  syscalls.forEach((raw, i) => {
    const where = `syscalls[${i}]`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      bad(`${where} is not an object`);
    }
    const s = raw as Json;
    if (
      dialect === "docker" &&
      !applies(s.includes, s.excludes, caps, arch, ctx.kernel)
    ) {
      return;
    }
    const names = [
      ...optArray(s.names, `${where}.names`, bad),
      ...(dialect === "docker" && s.name !== undefined ? [s.name] : []),
    ];
    for (const n of names) {
      if (typeof n !== "string" || n === "") {
        bad(`${where}.names: ${JSON.stringify(n)} is not a system call name`);
      }
    }
    if (typeof s.action !== "string") bad(`${where}.action is missing`);
    const errnoRet = optNumber(s.errnoRet, `${where}.errnoRet`, bad) ?? EPERM;
    const action = parseAction(
      s.action as string,
      errnoRet,
      `${where}.action`,
      bad,
    );
    const args = optArray(s.args, `${where}.args`, bad).map((a, j) =>
      parseArg(a, `${where}.args[${j}]`, bad)
    );
    named.push(...names as string[]);
    if (!names.length || sameAction(action, defaultAction)) return;
    const indexes = args.map((a) => a.index);
    if (new Set(indexes).size === indexes.length) {
      rules.push({ names: names as string[], action, args });
    } else {
      // runc and crun add each condition as a rule of its own as soon as
      // an index repeats (libseccomp takes one condition per argument in
      // a rule): OR.
      for (const a of args) {
        rules.push({ names: names as string[], action, args: [a] });
      }
    }
  });
  // runc's stub: not when the default lets calls through (a tracer handles
  // new calls itself), nor when it is ENOSYS already.
  const refusing = !["allow", "log", "trace"].includes(defaultAction.kind) &&
    retValue(defaultAction) !== retValue({ kind: "errno", data: ENOSYS });
  return {
    defaultAction,
    badArchAction: { kind: "kill_process" },
    rules,
    flags,
    ...(refusing && named.length ? { enosysAfter: named } : {}),
  };
}

function sameAction(a: SeccompAction, b: SeccompAction): boolean {
  return retValue(a) === retValue(b);
}

function parseAction(
  name: string,
  errnoRet: number,
  where: string,
  bad: Bad,
): SeccompAction {
  switch (name) {
    case "SCMP_ACT_ALLOW":
      return { kind: "allow" };
    case "SCMP_ACT_ERRNO":
      return { kind: "errno", data: errnoRet };
    case "SCMP_ACT_KILL": // libseccomp: kill the thread
    case "SCMP_ACT_KILL_THREAD":
      return { kind: "kill_thread" };
    case "SCMP_ACT_KILL_PROCESS":
      return { kind: "kill_process" };
    case "SCMP_ACT_TRAP":
      return { kind: "trap" };
    case "SCMP_ACT_LOG":
      return { kind: "log" };
    case "SCMP_ACT_TRACE":
      return { kind: "trace", data: errnoRet };
    case "SCMP_ACT_NOTIFY":
      return bad(
        `${where}: SCMP_ACT_NOTIFY is not supported by tinyc (no seccomp agent; listenerPath is not used)`,
      );
    default:
      return bad(`${where}: unknown action ${JSON.stringify(name)}`);
  }
}

function parseArg(raw: unknown, where: string, bad: Bad): ArgCheck {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    bad(`${where} is not an object`);
  }
  const a = raw as Json;
  const index = a.index;
  if (
    typeof index !== "number" || !Number.isInteger(index) || index < 0 ||
    index > 5
  ) {
    bad(`${where}.index must be 0..5`);
  }
  const op = typeof a.op === "string" ? OPS[a.op] : undefined;
  if (op === undefined) {
    bad(`${where}.op: unknown operator ${JSON.stringify(a.op)}`);
  }
  return {
    index: index as number,
    op: op!,
    value: u64(a.value ?? 0, `${where}.value`, bad),
    valueTwo: u64(a.valueTwo ?? 0, `${where}.valueTwo`, bad),
  };
}

function u64(v: unknown, where: string, bad: Bad): bigint {
  if (typeof v === "bigint" && v >= 0n && v < 1n << 64n) return v;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) {
    return BigInt(v);
  }
  if (typeof v === "number" && Number.isInteger(v) && v > 0) {
    return bad(
      `${where}: ${v} is not exact in a JS number (2^53 or more); read the JSON with parseJsonExact`,
    );
  }
  return bad(`${where} must be an unsigned 64-bit integer`);
}

function optNumber(v: unknown, where: string, bad: Bad): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "bigint") v = Number(v);
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff) {
    bad(`${where} must be an integer 0..65535`);
  }
  return v as number;
}

function optArray(v: unknown, where: string, bad: Bad): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(`${where} must be an array`);
  return v as unknown[];
}

/** docker's `includes` (all must hold) and `excludes` (none may hold) filters. */
function applies(
  includes: unknown,
  excludes: unknown,
  caps: Set<string>,
  arch: SeccompArch,
  kernel: string | undefined,
): boolean {
  const goarch = ARCH_INFO[arch].goarch;
  const inc = (includes ?? {}) as Json;
  const exc = (excludes ?? {}) as Json;
  const list = (v: unknown) => (Array.isArray(v) ? v : []) as string[];
  if (list(inc.caps).some((c) => !caps.has(c))) return false;
  if (list(inc.arches).length && !list(inc.arches).includes(goarch)) {
    return false;
  }
  if (
    typeof inc.minKernel === "string" && kernel !== undefined &&
    compareKernel(kernel, inc.minKernel) < 0
  ) {
    return false;
  }
  if (list(exc.caps).some((c) => caps.has(c))) return false;
  if (list(exc.arches).includes(goarch)) return false;
  if (
    typeof exc.minKernel === "string" && kernel !== undefined &&
    compareKernel(kernel, exc.minKernel) >= 0
  ) {
    return false;
  }
  return true;
}

/** Compare `6.1.0-13-amd64` with `4.8`: major, then minor. */
function compareKernel(release: string, min: string): number {
  const parse = (s: string) =>
    (s.match(/^(\d+)\.(\d+)/) ?? ["", "0", "0"]).slice(1).map(Number);
  const [a1, a2] = parse(release);
  const [b1, b2] = parse(min);
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}

/** Names in `profile` that are not system calls on `arch` (they are skipped). */
export function unknownSyscalls(
  profile: SeccompProfile,
  arch: SeccompArch = nativeArch(),
): string[] {
  const table = ARCH_INFO[arch].table;
  const out = new Set<string>();
  for (const r of profile.rules) {
    for (const n of r.names) if (!(n in table)) out.add(n);
  }
  return [...out].sort();
}

// ---------------------------------------------------------------------------
// Compiler: profile -> classic BPF

const RET = {
  kill_process: 0x80000000,
  kill_thread: 0x00000000,
  trap: 0x00030000,
  errno: 0x00050000,
  trace: 0x7ff00000,
  log: 0x7ffc0000,
  allow: 0x7fff0000,
} as const;

/** Lower is more severe; the kernel's precedence between filters. */
const SEVERITY: Record<SeccompActionKind, number> = {
  kill_process: 0,
  kill_thread: 1,
  trap: 2,
  errno: 3,
  trace: 4,
  log: 5,
  allow: 6,
};

function retValue(a: SeccompAction): number {
  const data = a.kind === "errno" || a.kind === "trace" ? (a.data ?? EPERM) : 0;
  return (RET[a.kind] | (data & 0xffff)) >>> 0;
}

/** Kernel limit on a filter's length (BPF_MAXINSNS). */
const MAX_INSNS = 4096;

// Offsets in struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }.
const OFF_NR = 0;
const OFF_ARCH = 4;
const argLo = (i: number) => 16 + 8 * i; // little-endian: low word first
const argHi = (i: number) => 20 + 8 * i;

type Label = number;
/** The instruction after this one. */
const NEXT: Label = -1;

type Ins =
  | { op: "ld"; off: number }
  | { op: "and"; k: number }
  | {
    op: "jmp";
    cond: "jeq" | "jgt" | "jge" | "jset";
    k: number;
    t: Label;
    f: Label;
  }
  | { op: "ja"; to: Label }
  | { op: "ret"; k: number }
  | { op: "label"; id: Label };

class Emitter {
  readonly code: Ins[] = [];
  #labels = 0;
  label(): Label {
    return this.#labels++;
  }
  place(id: Label): void {
    this.code.push({ op: "label", id });
  }
  ld(off: number): void {
    this.code.push({ op: "ld", off });
  }
  and(k: number): void {
    this.code.push({ op: "and", k: k >>> 0 });
  }
  jmp(cond: "jeq" | "jgt" | "jge" | "jset", k: number, t: Label, f: Label) {
    this.code.push({ op: "jmp", cond, k: k >>> 0, t, f });
  }
  ja(to: Label): void {
    this.code.push({ op: "ja", to });
  }
  ret(k: number): void {
    this.code.push({ op: "ret", k: k >>> 0 });
  }
}

/**
 * Compile `profile` for `arch` into a packed array of struct sock_filter
 * {u16 code; u8 jt; u8 jf; u32 k}, ready for {@link loadSeccomp}.
 *
 * Layout: check `arch` (and the x32 bit on x86_64), load `nr`, find the
 * call's block by binary search over the numbers that have rules, and in
 * the block try its rules most severe first; each block ends with the
 * default action. Conditional jumps reach at most 255 instructions ahead;
 * farther ones go through an unconditional `ja` placed right after them.
 */
export function compileSeccomp(
  profile: SeccompProfile,
  arch: SeccompArch = nativeArch(),
): Uint8Array {
  const info = ARCH_INFO[arch];
  const byNr = new Map<number, SeccompRule[]>();
  const widths = new Map<number, readonly ArgWidth[]>();
  for (const rule of profile.rules) {
    for (const name of new Set(rule.names)) {
      const nr = info.table[name];
      if (nr === undefined) continue; // not a call on this arch
      const list = byNr.get(nr) ?? [];
      list.push(rule);
      byNr.set(nr, list);
      widths.set(nr, SYSCALL_ARG_WIDTHS[name] ?? []);
    }
  }
  const nrs = [...byNr.keys()].sort((a, b) => a - b);
  const dflt = retValue(profile.defaultAction);
  const e = new Emitter();
  const badArch = e.label();
  const blocks = new Map(nrs.map((nr) => [nr, e.label()]));

  e.ld(OFF_ARCH);
  e.jmp("jeq", info.audit, NEXT, badArch);
  e.ld(OFF_NR);
  if (arch === "x86_64") {
    // x32 calls share AUDIT_ARCH_X86_64; nr -1 (a tracer skipping a call) is
    // not one and gets the default like any unknown number.
    const notX32 = e.label();
    e.jmp("jset", X32_SYSCALL_BIT, NEXT, notX32);
    e.jmp("jeq", 0xffffffff, NEXT, badArch);
    e.ret(dflt);
    e.place(notX32);
  }
  // runc skips its stub when the highest named call is 0 (read on x86_64).
  const newest = Math.max(
    0,
    ...(profile.enosysAfter ?? []).map((n) => info.table[n] ?? 0),
  );
  if (newest > 0) {
    const older = e.label();
    e.jmp("jgt", newest, NEXT, older);
    e.ret(retValue({ kind: "errno", data: ENOSYS }));
    e.place(older);
  }
  emitDispatch(e, nrs, blocks, dflt);
  for (const nr of nrs) {
    e.place(blocks.get(nr)!);
    // A call whose last rule is unconditional never reaches the default.
    if (!emitRules(e, byNr.get(nr)!, widths.get(nr)!)) e.ret(dflt);
  }
  e.place(badArch);
  e.ret(retValue(profile.badArchAction));
  return assemble(e.code);
}

/** Binary search on A (= nr) over `nrs`, jumping to each number's block. */
function emitDispatch(
  e: Emitter,
  nrs: readonly number[],
  blocks: Map<number, Label>,
  dflt: number,
): void {
  const LEAF = 4;
  if (nrs.length <= LEAF) {
    for (const nr of nrs) e.jmp("jeq", nr, blocks.get(nr)!, NEXT);
    e.ret(dflt);
    return;
  }
  const mid = nrs.length >> 1;
  const right = e.label();
  e.jmp("jge", nrs[mid], right, NEXT);
  emitDispatch(e, nrs.slice(0, mid), blocks, dflt);
  e.place(right);
  emitDispatch(e, nrs.slice(mid), blocks, dflt);
}

/**
 * One call's rules, most severe first; an unconditional rule ends the list.
 * Returns true when it did, i.e. every path has returned.
 */
function emitRules(
  e: Emitter,
  rules: readonly SeccompRule[],
  widths: readonly ArgWidth[],
): boolean {
  const ordered = rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) =>
      SEVERITY[a.r.action.kind] - SEVERITY[b.r.action.kind] || a.i - b.i
    )
    .map(({ r }) => r);
  for (const rule of ordered) {
    const fail = e.label();
    for (const check of rule.args) {
      emitCheck(e, check, fail, widths[check.index] ?? 64);
    }
    e.ret(retValue(rule.action));
    e.place(fail);
    if (rule.args.length === 0) return true; // later rules are unreachable
  }
  return false;
}

/**
 * Fall through when `c` holds, jump to `fail` when it does not; `width` is
 * how many low bits of the argument the kernel reads.
 */
function emitCheck(
  e: Emitter,
  c: ArgCheck,
  fail: Label,
  width: ArgWidth,
): void {
  if (!Number.isInteger(c.index) || c.index < 0 || c.index > 5) {
    throw new TinycError(`seccomp: argument index ${c.index} is not 0..5`);
  }
  if (width !== 64) return emitNarrowCheck(e, c, fail, width);
  const hi = (v: bigint) => Number((v >> 32n) & 0xffffffffn);
  const lo = (v: bigint) => Number(v & 0xffffffffn);
  const v = BigInt.asUintN(64, c.value);
  const ok = e.label();
  switch (c.op) {
    case "eq":
      e.ld(argHi(c.index));
      e.jmp("jeq", hi(v), NEXT, fail);
      e.ld(argLo(c.index));
      e.jmp("jeq", lo(v), NEXT, fail);
      break;
    case "ne":
      e.ld(argHi(c.index));
      e.jmp("jeq", hi(v), NEXT, ok);
      e.ld(argLo(c.index));
      e.jmp("jeq", lo(v), fail, NEXT);
      break;
    case "gt":
    case "ge":
      // hi > vhi: holds; hi < vhi: fails; equal: decided by the low words.
      e.ld(argHi(c.index));
      e.jmp("jgt", hi(v), ok, NEXT);
      e.jmp("jeq", hi(v), NEXT, fail);
      e.ld(argLo(c.index));
      e.jmp(c.op === "gt" ? "jgt" : "jge", lo(v), NEXT, fail);
      break;
    case "lt":
    case "le":
      e.ld(argHi(c.index));
      e.jmp("jge", hi(v), NEXT, ok);
      e.jmp("jeq", hi(v), NEXT, fail);
      e.ld(argLo(c.index));
      e.jmp(c.op === "lt" ? "jge" : "jgt", lo(v), fail, NEXT);
      break;
    case "masked_eq":
    case "masked_ne": {
      const datum = BigInt.asUintN(64, c.valueTwo ?? 0n);
      const eq = c.op === "masked_eq";
      // A 32-bit mask and datum need no look at the high word, which for an
      // `int` argument may hold garbage.
      if (hi(v) !== 0 || hi(datum) !== 0) {
        e.ld(argHi(c.index));
        e.and(hi(v));
        e.jmp("jeq", hi(datum), NEXT, eq ? fail : ok);
      }
      e.ld(argLo(c.index));
      e.and(lo(v));
      e.jmp("jeq", lo(datum), eq ? NEXT : fail, eq ? fail : NEXT);
      break;
    }
    default:
      throw new TinycError(`seccomp: unknown argument operator ${c.op}`);
  }
  e.place(ok);
}

/**
 * {@link emitCheck} for an argument the kernel reads as its low 16 or 32
 * bits: one load of the low word (masked to 16 bits for a `umode_t`), and
 * the rule's values cut to the same bits. The high word is never looked at.
 */
function emitNarrowCheck(
  e: Emitter,
  c: ArgCheck,
  fail: Label,
  width: 16 | 32,
): void {
  const cut = (v: bigint | undefined) => Number(BigInt.asUintN(width, v ?? 0n));
  e.ld(argLo(c.index));
  if (c.op === "masked_eq" || c.op === "masked_ne") {
    const eq = c.op === "masked_eq";
    e.and(cut(c.value));
    e.jmp("jeq", cut(c.valueTwo), eq ? NEXT : fail, eq ? fail : NEXT);
    return;
  }
  if (width < 32) e.and(2 ** width - 1);
  const v = cut(c.value);
  switch (c.op) {
    case "eq":
      return e.jmp("jeq", v, NEXT, fail);
    case "ne":
      return e.jmp("jeq", v, fail, NEXT);
    case "gt":
      return e.jmp("jgt", v, NEXT, fail);
    case "ge":
      return e.jmp("jge", v, NEXT, fail);
    case "lt":
      return e.jmp("jge", v, fail, NEXT);
    case "le":
      return e.jmp("jgt", v, fail, NEXT);
    default:
      throw new TinycError(`seccomp: unknown argument operator ${c.op}`);
  }
}

const OPCODE = {
  ld: 0x20, // BPF_LD | BPF_W | BPF_ABS
  and: 0x54, // BPF_ALU | BPF_AND | BPF_K
  ja: 0x05, // BPF_JMP | BPF_JA
  jeq: 0x15, // BPF_JMP | BPF_JEQ | BPF_K
  jgt: 0x25,
  jge: 0x35,
  jset: 0x45,
  ret: 0x06, // BPF_RET | BPF_K
} as const;

/**
 * Resolve labels into offsets and pack. A conditional jump whose target is
 * more than 255 instructions ahead gets a trampoline: its jt (or jf) points
 * at a `ja` right after it, whose 32-bit offset reaches anywhere. Adding
 * trampolines only lengthens jumps, so repeating until none is added ends.
 */
function assemble(code: readonly Ins[]): Uint8Array {
  const tramp = code.map(() => ({ t: false, f: false }));
  let pcs: number[] = [];
  let labels = new Map<Label, number>();
  const size = (i: number) => {
    const ins = code[i];
    if (ins.op === "label") return 0;
    if (ins.op === "jmp") {
      return 1 + (tramp[i].t ? 1 : 0) + (tramp[i].f ? 1 : 0);
    }
    return 1;
  };
  const target = (i: number, l: Label) => {
    if (l === NEXT) return pcs[i] + size(i);
    const pc = labels.get(l);
    if (pc === undefined) throw new Error(`seccomp: unplaced label ${l}`);
    return pc;
  };
  for (;;) {
    pcs = [];
    labels = new Map();
    let pc = 0;
    code.forEach((ins, i) => {
      pcs.push(pc);
      if (ins.op === "label") labels.set(ins.id, pc);
      pc += size(i);
    });
    let grew = false;
    code.forEach((ins, i) => {
      if (ins.op !== "jmp") return;
      for (const side of ["t", "f"] as const) {
        if (tramp[i][side]) continue;
        if (target(i, ins[side]) - (pcs[i] + 1) > 255) {
          tramp[i][side] = true;
          grew = true;
        }
      }
    });
    if (!grew) {
      if (pc > MAX_INSNS) {
        throw new TinycError(
          `seccomp: the filter has ${pc} instructions, more than the kernel's ${MAX_INSNS}`,
        );
      }
      break;
    }
  }
  const out: { code: number; jt: number; jf: number; k: number }[] = [];
  code.forEach((ins, i) => {
    const pc = pcs[i];
    switch (ins.op) {
      case "label":
        return;
      case "ld":
        out.push({ code: OPCODE.ld, jt: 0, jf: 0, k: ins.off });
        return;
      case "and":
        out.push({ code: OPCODE.and, jt: 0, jf: 0, k: ins.k });
        return;
      case "ret":
        out.push({ code: OPCODE.ret, jt: 0, jf: 0, k: ins.k });
        return;
      case "ja":
        out.push({
          code: OPCODE.ja,
          jt: 0,
          jf: 0,
          k: target(i, ins.to) - (pc + 1),
        });
        return;
      case "jmp": {
        const { t, f } = tramp[i];
        const tPc = t ? pc + 1 : target(i, ins.t);
        const fPc = f ? pc + 1 + (t ? 1 : 0) : target(i, ins.f);
        out.push({
          code: OPCODE[ins.cond],
          jt: tPc - (pc + 1),
          jf: fPc - (pc + 1),
          k: ins.k,
        });
        let at = pc + 1;
        if (t) {
          out.push({
            code: OPCODE.ja,
            jt: 0,
            jf: 0,
            k: target(i, ins.t) - (at + 1),
          });
          at++;
        }
        if (f) {
          out.push({
            code: OPCODE.ja,
            jt: 0,
            jf: 0,
            k: target(i, ins.f) - (at + 1),
          });
        }
        return;
      }
    }
  });
  const bytes = new Uint8Array(out.length * 8);
  const view = new DataView(bytes.buffer);
  out.forEach((ins, n) => {
    if (ins.jt < 0 || ins.jt > 255 || ins.jf < 0 || ins.jf > 255 || ins.k < 0) {
      throw new Error(`seccomp: bad jump at instruction ${n}`);
    }
    view.setUint16(n * 8, ins.code, true);
    view.setUint8(n * 8 + 2, ins.jt);
    view.setUint8(n * 8 + 3, ins.jf);
    view.setUint32(n * 8 + 4, ins.k >>> 0, true);
  });
  return bytes;
}

/**
 * Install `program` as the calling thread's seccomp filter
 * (`seccomp(SECCOMP_SET_MODE_FILTER, flags, &sock_fprog)`).
 *
 * The kernel allows this only with no_new_privs set or CAP_SYS_ADMIN in the
 * effective set (EACCES otherwise). So: with no_new_privs, load it last,
 * right before execve, so the init's own setup calls (capset, setresuid ...)
 * are not subject to a user profile; without no_new_privs, load it before
 * capabilities are dropped. Other threads are not filtered, which is fine
 * because execve ends them.
 */
export function loadSeccomp(
  program: Uint8Array,
  flags = 0,
  sys: SecuritySys = new LinuxSecuritySys(),
): void {
  sys.seccompFilter(program, flags);
}
