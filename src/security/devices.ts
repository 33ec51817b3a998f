/**
 * Which devices a container may open: docker's default allow-list, enforced
 * by a cgroup-v2 device program (eBPF, BPF_PROG_TYPE_CGROUP_DEVICE) attached
 * to the container's cgroup. That holds even where the container could make
 * or mount device nodes itself (`--cap-add SYS_ADMIN`, an unconfined or
 * custom seccomp profile); it works on hybrid hosts too, because the kernel
 * runs the program for the task's cgroup-v2 cgroup whatever the v1 layout.
 *
 * The program is generated here from a readable table and unit-tested with
 * a small interpreter (`runDeviceFilter`).
 *
 * @module
 */

import { addr, cstr, errnoError, libc, SYS } from "../libc.ts";

/** One allow rule: type `a` matches both; a major/minor of -1 matches any. */
export interface DeviceRule {
  type: "c" | "b" | "a";
  major: number;
  minor: number;
  /** Some of `r`, `w`, `m`. */
  access: string;
}

/** docker's default device allow-list. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  // Making any node is the kernel's business (seccomp refuses it anyway);
  // opening one is what the rules below decide.
  { type: "c", major: -1, minor: -1, access: "m" },
  { type: "b", major: -1, minor: -1, access: "m" },
  { type: "c", major: 1, minor: 3, access: "rwm" }, // null
  { type: "c", major: 1, minor: 5, access: "rwm" }, // zero
  { type: "c", major: 1, minor: 7, access: "rwm" }, // full
  { type: "c", major: 1, minor: 8, access: "rwm" }, // random
  { type: "c", major: 1, minor: 9, access: "rwm" }, // urandom
  { type: "c", major: 5, minor: 0, access: "rwm" }, // tty
  { type: "c", major: 5, minor: 1, access: "rwm" }, // console
  { type: "c", major: 5, minor: 2, access: "rwm" }, // ptmx
  { type: "c", major: 136, minor: -1, access: "rwm" }, // pts/*
  { type: "c", major: 10, minor: 200, access: "rwm" }, // net/tun
];

// bpf_cgroup_dev_ctx: u32 access_type (access << 16 | type), u32 major, u32 minor.
const DEV_BLOCK = 1;
const DEV_CHAR = 2;
const ACC: Record<string, number> = { m: 1, r: 2, w: 4 };

// eBPF opcodes used.
const LDX_W = 0x61; // dst = *(u32 *)(src + off)
const MOV64_X = 0xbf; // dst = src
const MOV64_K = 0xb7; // dst = imm
const AND32_K = 0x54; // dst &= imm (32-bit)
const RSH32_K = 0x74; // dst >>= imm (32-bit)
const JNE_K = 0x55; // if dst != imm: pc += off
const EXIT = 0x95;

type Insn = [code: number, dst: number, src: number, off: number, imm: number];

function accessMask(access: string): number {
  let m = 0;
  for (const ch of access) {
    if (!(ch in ACC)) throw new Error(`device rule: bad access ${access}`);
    m |= ACC[ch];
  }
  return m;
}

/**
 * Compile `rules` to an eBPF device program (8-byte `struct bpf_insn`s):
 * allow (1) when any rule matches type, major, minor and covers the access
 * asked for; deny (0) otherwise.
 */
export function compileDeviceFilter(rules: readonly DeviceRule[]): Uint8Array {
  const insns: Insn[] = [
    [LDX_W, 2, 1, 0, 0], // r2 = access_type
    [MOV64_X, 3, 2, 0, 0],
    [AND32_K, 3, 0, 0, 0xffff], // r3 = type
    [MOV64_X, 4, 2, 0, 0],
    [RSH32_K, 4, 0, 0, 16], // r4 = access
    [LDX_W, 5, 1, 4, 0], // r5 = major
    [LDX_W, 6, 1, 8, 0], // r6 = minor
  ];
  for (const r of rules) {
    // Each check jumps past the rest of this rule's block when it fails.
    const checks: Array<(skip: number) => Insn[]> = [];
    if (r.type !== "a") {
      const t = r.type === "c" ? DEV_CHAR : DEV_BLOCK;
      checks.push((skip) => [[JNE_K, 3, 0, skip, t]]);
    }
    // Asked-for access bits outside the rule's: no match.
    const notAllowed = ~accessMask(r.access) & 0x7;
    checks.push((skip) => [
      [MOV64_X, 7, 4, 0, 0],
      [AND32_K, 7, 0, 0, notAllowed],
      [JNE_K, 7, 0, skip, 0],
    ]);
    if (r.major >= 0) checks.push((skip) => [[JNE_K, 5, 0, skip, r.major]]);
    if (r.minor >= 0) checks.push((skip) => [[JNE_K, 6, 0, skip, r.minor]]);
    const sizes = checks.map((c) => c(0).length);
    const total = sizes.reduce((a, b) => a + b, 0) + 2; // + allow, exit
    let done = 0;
    for (let i = 0; i < checks.length; i++) {
      done += sizes[i];
      // The jump is the check's last instruction; skip to after `exit`.
      insns.push(...checks[i](total - done));
    }
    insns.push([MOV64_K, 0, 0, 0, 1], [EXIT, 0, 0, 0, 0]);
  }
  insns.push([MOV64_K, 0, 0, 0, 0], [EXIT, 0, 0, 0, 0]);
  const out = new Uint8Array(insns.length * 8);
  const view = new DataView(out.buffer);
  insns.forEach(([code, dst, src, off, imm], i) => {
    view.setUint8(i * 8, code);
    view.setUint8(i * 8 + 1, (src << 4) | dst);
    view.setInt16(i * 8 + 2, off, true);
    view.setInt32(i * 8 + 4, imm, true);
  });
  return out;
}

/**
 * Run a program from {@link compileDeviceFilter} on one access, for tests:
 * `type` c or b, `access` some of r, w, m. Returns the program's verdict.
 */
export function runDeviceFilter(
  program: Uint8Array,
  type: "c" | "b",
  major: number,
  minor: number,
  access: string,
): boolean {
  const view = new DataView(program.buffer, program.byteOffset);
  const ctx = [
    ((accessMask(access) << 16) | (type === "c" ? DEV_CHAR : DEV_BLOCK)) >>> 0,
    major,
    minor,
  ];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0; pc < program.length / 8; pc++) {
    const code = view.getUint8(pc * 8);
    const regs = view.getUint8(pc * 8 + 1);
    const dst = regs & 0xf, src = regs >> 4;
    const off = view.getInt16(pc * 8 + 2, true);
    const imm = view.getInt32(pc * 8 + 4, true);
    switch (code) {
      case LDX_W:
        if (src !== 1) throw new Error(`ldx from r${src}`);
        r[dst] = ctx[off / 4];
        break;
      case MOV64_X:
        r[dst] = r[src];
        break;
      case MOV64_K:
        r[dst] = imm;
        break;
      case AND32_K:
        r[dst] = (r[dst] & imm) >>> 0;
        break;
      case RSH32_K:
        r[dst] = r[dst] >>> imm;
        break;
      case JNE_K:
        if (r[dst] !== imm) pc += off;
        break;
      case EXIT:
        return r[0] === 1;
      default:
        throw new Error(`opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("program fell off its end");
}

const BPF_PROG_LOAD = 5;
const BPF_PROG_ATTACH = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
const BPF_CGROUP_DEVICE = 6;
const BPF_F_ALLOW_MULTI = 2;

function bpf(cmd: number, attr: Uint8Array, what: string): number {
  const r = Number(
    libc().syscall(
      BigInt(SYS.bpf),
      BigInt(cmd),
      addr(attr),
      BigInt(attr.length),
      0n,
      0n,
    ),
  );
  if (r < 0) throw errnoError("bpf", what);
  return r;
}

/**
 * Load `program` and attach it to the cgroup-v2 directory `cgroupDir`
 * (multi-attach: programs already above it keep applying). The attachment
 * lives as long as the cgroup; no fd needs to stay open.
 */
export function attachDeviceFilter(
  cgroupDir: string,
  program: Uint8Array,
): void {
  const license = cstr("Apache-2.0");
  // Without a log first (a full verifier log that does not fit is ENOSPC);
  // on failure, again with one, for the reason.
  const load = (log: Uint8Array | null) => {
    const attr = new Uint8Array(128);
    const v = new DataView(attr.buffer);
    v.setUint32(0, BPF_PROG_TYPE_CGROUP_DEVICE, true);
    v.setUint32(4, program.length / 8, true);
    v.setBigUint64(8, addr(program), true);
    v.setBigUint64(16, addr(license), true);
    if (log) {
      v.setUint32(24, 1, true); // log_level
      v.setUint32(28, log.length, true);
      v.setBigUint64(32, addr(log), true);
    }
    return bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD cgroup device filter");
  };
  let progFd: number;
  try {
    progFd = load(null);
  } catch (e) {
    const log = new Uint8Array(1 << 20);
    try {
      load(log);
    } catch {
      // expected: only the log is wanted
    }
    const why = new TextDecoder().decode(log).split("\0")[0].trim()
      .split("\n").filter((l) => !l.startsWith("processed")).at(-1);
    throw why ? new Error(`${(e as Error).message}: ${why}`) : e;
  }
  const O_DIRECTORY_CLOEXEC = 0o200000 | 0o2000000;
  const dirFd = libc().open(cstr(cgroupDir), O_DIRECTORY_CLOEXEC, 0);
  try {
    if (dirFd < 0) throw errnoError("open", `\`${cgroupDir}\``);
    const attach = new Uint8Array(32);
    const av = new DataView(attach.buffer);
    av.setUint32(0, dirFd, true);
    av.setUint32(4, progFd, true);
    av.setUint32(8, BPF_CGROUP_DEVICE, true);
    av.setUint32(12, BPF_F_ALLOW_MULTI, true);
    bpf(BPF_PROG_ATTACH, attach, `BPF_PROG_ATTACH \`${cgroupDir}\``);
  } finally {
    if (dirFd >= 0) libc().close(dirFd);
    libc().close(progFd);
  }
}
