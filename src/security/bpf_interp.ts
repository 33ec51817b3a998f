/**
 * A small classic-BPF interpreter and disassembler for seccomp programs, so
 * tests can run a compiled filter on sample `seccomp_data` and check the
 * decision the kernel would take, and so a filter can be read.
 *
 * It checks what the kernel's verifier checks for the instructions tinyc
 * emits (known opcodes, jumps inside the program, aligned loads inside
 * `seccomp_data`, a return on every path) and throws on anything else.
 *
 * @module
 */

/** struct seccomp_data, the input of a seccomp filter. */
export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  /** Up to six 64-bit arguments; missing ones are 0. */
  args?: readonly bigint[];
}

/** One decoded struct sock_filter. */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Decode a packed program (8 bytes per instruction, little-endian). */
export function decodeProgram(program: Uint8Array): SockFilter[] {
  if (program.length % 8 !== 0) {
    throw new Error(`program length ${program.length} is not a multiple of 8`);
  }
  const view = new DataView(
    program.buffer,
    program.byteOffset,
    program.byteLength,
  );
  const out: SockFilter[] = [];
  for (let off = 0; off < program.length; off += 8) {
    out.push({
      code: view.getUint16(off, true),
      jt: view.getUint8(off + 2),
      jf: view.getUint8(off + 3),
      k: view.getUint32(off + 4, true),
    });
  }
  return out;
}

/** The 64-byte seccomp_data as the filter sees it. */
function packData(d: SeccompData): DataView {
  const view = new DataView(new ArrayBuffer(64));
  view.setInt32(0, d.nr, true);
  view.setUint32(4, d.arch >>> 0, true);
  view.setBigUint64(8, d.instructionPointer ?? 0n, true);
  const args = d.args ?? [];
  for (let i = 0; i < 6; i++) {
    view.setBigUint64(16 + 8 * i, BigInt.asUintN(64, args[i] ?? 0n), true);
  }
  return view;
}

/** Run `program` on `data`; returns the filter's 32-bit return value. */
export function runFilter(program: Uint8Array, data: SeccompData): number {
  const ins = decodeProgram(program);
  const mem = packData(data);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= ins.length; steps++) {
    if (pc >= ins.length) throw new Error(`fell off the end at pc ${pc}`);
    const { code, jt, jf, k } = ins[pc];
    const jump = (cond: boolean) => {
      const off = cond ? jt : jf;
      pc += 1 + off;
    };
    switch (code) {
      case 0x20: // BPF_LD | BPF_W | BPF_ABS
        if (k % 4 !== 0 || k + 4 > 64) {
          throw new Error(`bad load offset ${k} at pc ${pc}`);
        }
        a = mem.getUint32(k, true);
        pc++;
        break;
      case 0x54: // BPF_ALU | BPF_AND | BPF_K
        a = (a & k) >>> 0;
        pc++;
        break;
      case 0x05: // BPF_JMP | BPF_JA
        pc += 1 + k;
        break;
      case 0x15: // BPF_JMP | BPF_JEQ | BPF_K
        jump(a === k);
        break;
      case 0x25: // BPF_JMP | BPF_JGT | BPF_K
        jump(a > k);
        break;
      case 0x35: // BPF_JMP | BPF_JGE | BPF_K
        jump(a >= k);
        break;
      case 0x45: // BPF_JMP | BPF_JSET | BPF_K
        jump((a & k) !== 0);
        break;
      case 0x06: // BPF_RET | BPF_K
        return k >>> 0;
      default:
        throw new Error(`unknown opcode 0x${code.toString(16)} at pc ${pc}`);
    }
  }
  throw new Error("program loops");
}

/** What a seccomp return value means, e.g. `{kind: "errno", data: 1}`. */
export function decodeAction(
  ret: number,
): { kind: string; data: number } {
  const action = (ret & 0xffff0000) >>> 0;
  const data = ret & 0xffff;
  const kinds: Record<number, string> = {
    0x80000000: "kill_process",
    0x00000000: "kill_thread",
    0x00030000: "trap",
    0x00050000: "errno",
    0x7fc00000: "user_notif",
    0x7ff00000: "trace",
    0x7ffc0000: "log",
    0x7fff0000: "allow",
  };
  return { kind: kinds[action] ?? `0x${action.toString(16)}`, data };
}

/** One line per instruction, `  12: jeq #0x10 jt 13 jf 20`, for reading a filter. */
export function disassemble(program: Uint8Array): string[] {
  return decodeProgram(program).map(({ code, jt, jf, k }, pc) => {
    const at = String(pc).padStart(4);
    const hex = `#0x${k.toString(16)}`;
    const to = (off: number) => pc + 1 + off;
    switch (code) {
      case 0x20:
        return `${at}: ld [${k}]`;
      case 0x54:
        return `${at}: and ${hex}`;
      case 0x05:
        return `${at}: ja ${to(k)}`;
      case 0x15:
        return `${at}: jeq ${hex} jt ${to(jt)} jf ${to(jf)}`;
      case 0x25:
        return `${at}: jgt ${hex} jt ${to(jt)} jf ${to(jf)}`;
      case 0x35:
        return `${at}: jge ${hex} jt ${to(jt)} jf ${to(jf)}`;
      case 0x45:
        return `${at}: jset ${hex} jt ${to(jt)} jf ${to(jf)}`;
      case 0x06: {
        const { kind, data } = decodeAction(k);
        return `${at}: ret ${kind}${data ? ` ${data}` : ""}`;
      }
      default:
        return `${at}: ??? code=0x${code.toString(16)} k=${hex}`;
    }
  });
}
