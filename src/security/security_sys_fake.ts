/**
 * A recording {@link SecuritySys} for tests: each call is logged as one
 * readable line, and a call can be made to fail like the kernel would.
 *
 * @module
 */

import { SysError } from "../errors.ts";
import { type CapSets, hex, PR, type SecuritySys } from "./security_sys.ts";

const PR_NAMES = new Map<number, string>(
  Object.entries(PR).map(([name, n]) => [n, name]),
);

/** Records calls as `prctl PR_SET_KEEPCAPS 1 0`, `setresuid 1000` ... */
export class FakeSecuritySys implements SecuritySys {
  /** The calls made, in order. */
  readonly calls: string[] = [];
  /** Programs given to seccompFilter. */
  readonly programs: Uint8Array[] = [];
  #failOn: (call: string) => boolean;

  /** What `getppid` returns. */
  ppid = 1;
  /** What `readerGone` returns. */
  readerClosed = false;

  /** `failOn(line)` returning true makes that call throw EPERM. */
  constructor(failOn: (call: string) => boolean = () => false) {
    this.#failOn = failOn;
  }

  #record(line: string): void {
    if (this.#failOn(line)) {
      throw new SysError(
        line.split(" ")[0],
        line,
        1,
        "EPERM",
        "operation not permitted",
      );
    }
    this.calls.push(line);
  }

  prctl(option: number, arg2: number, arg3: number): void {
    this.#record(
      `prctl ${PR_NAMES.get(option) ?? option} ${arg2} ${arg3}`,
    );
  }
  capset(sets: CapSets): void {
    this.#record(
      `capset eff=${hex(sets.effective)} prm=${hex(sets.permitted)} inh=${
        hex(sets.inheritable)
      }`,
    );
  }
  setgroups(gids: readonly number[]): void {
    this.#record(`setgroups [${gids.join(",")}]`);
  }
  setresgid(gid: number): void {
    this.#record(`setresgid ${gid}`);
  }
  setresuid(uid: number): void {
    this.#record(`setresuid ${uid}`);
  }
  seccompFilter(program: Uint8Array, flags: number): void {
    this.#record(`seccomp ${program.length / 8} insns flags=${flags}`);
    this.programs.push(program);
  }
  getppid(): number {
    this.#record("getppid");
    return this.ppid;
  }
  readerGone(fd: number): boolean {
    this.#record(`poll ${fd}`);
    return this.readerClosed;
  }
}
