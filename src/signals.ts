/**
 * Signal names and numbers (Linux, x86_64 and aarch64 share them), for the
 * CLIs that take a signal: `tinyc kill -s`, `tinyc-oci kill`.
 *
 * @module
 */

import { TinycError } from "./errors.ts";

const NUMBERS: Record<string, number> = {
  HUP: 1,
  INT: 2,
  QUIT: 3,
  ILL: 4,
  TRAP: 5,
  ABRT: 6,
  IOT: 6,
  BUS: 7,
  FPE: 8,
  KILL: 9,
  USR1: 10,
  SEGV: 11,
  USR2: 12,
  PIPE: 13,
  ALRM: 14,
  TERM: 15,
  STKFLT: 16,
  CHLD: 17,
  CONT: 18,
  STOP: 19,
  TSTP: 20,
  TTIN: 21,
  TTOU: 22,
  URG: 23,
  XCPU: 24,
  XFSZ: 25,
  VTALRM: 26,
  PROF: 27,
  WINCH: 28,
  IO: 29,
  POLL: 29,
  PWR: 30,
  SYS: 31,
};
for (let i = 0; i <= 30; i++) NUMBERS[`RTMIN+${i}`] = 34 + i;
for (let i = 0; i <= 30; i++) NUMBERS[`RTMAX-${i}`] = 64 - i;

/** A signal by number (1-64) or name (`9`, `KILL`, `SIGKILL`, `sigterm`, `RTMIN+1`). */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= 64) return n;
  }
  const n = NUMBERS[s.toUpperCase().replace(/^SIG/, "")];
  if (n === undefined) {
    throw new TinycError(`invalid signal ${JSON.stringify(s)}`);
  }
  return n;
}
