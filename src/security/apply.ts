/**
 * The security steps the container init takes on its main thread right
 * before `execve`, in the one order that works:
 *
 * 1. `PR_SET_NO_NEW_PRIVS` (unless `no-new-privileges=false`): nothing in
 *    it needs privileges, and with it set seccomp can be loaded later
 *    without CAP_SYS_ADMIN.
 * 2. Without no_new_privs only: load seccomp now, while CAP_SYS_ADMIN is
 *    still effective (the kernel refuses with EACCES otherwise). The filter
 *    then also covers steps 3-6, so a custom profile must allow prctl,
 *    setgroups, setresgid, setresuid and capset (docker's does).
 * 3. Drop the bounding set: PR_CAPBSET_DROP needs CAP_SETPCAP in effective,
 *    which a switch to a non-root uid clears.
 * 4. keep-caps, setgroups, setresgid, setresuid: groups and gid before uid,
 *    because a non-root uid loses CAP_SETGID (see `applyUser`).
 * 5. capset effective/permitted/inheritable, then ambient (needs the cap in
 *    permitted and inheritable; the uid change cleared ambient).
 * 5a. When the container dies with its parent: `PR_SET_PDEATHSIG` again.
 *    The kernel clears it whenever the effective uid or gid changes (step
 *    4), so a `-u` container would otherwise outlive a killed launcher (runc
 *    re-arms it here too). Then make sure the parent did not die before the
 *    signal was armed: its pid changed (without a PID namespace), or the
 *    report pipe it reads until our `execve` lost its reader.
 * 6. With no_new_privs: load seccomp last, so the fewest system calls run
 *    under it before execve and the steps above never meet a user profile
 *    (runc does the same).
 * 7. The caller `execve`s. Between 6 and 7 the thread must make no call the
 *    filter refuses.
 *
 * All of it is per-thread: other Deno threads keep root and no filter until
 * `execve` ends them, so nothing else may run in between.
 *
 * @module
 */

import {
  applyUser,
  dropBoundingSet,
  type OciCapabilities,
  type ProcessUser,
} from "./capabilities.ts";
import { LinuxSecuritySys, PR, type SecuritySys } from "./security_sys.ts";
import { TinycError } from "../errors.ts";

/** Everything the init needs to lock the process down, as plain data. */
export interface SecurityPlan {
  user: ProcessUser;
  capabilities: OciCapabilities;
  noNewPrivileges: boolean;
  /** A compiled filter (`compileSeccomp`), or null for `seccomp=unconfined`. */
  seccomp: { program: Uint8Array; flags: number } | null;
  /** /proc/sys/kernel/cap_last_cap of the host. */
  lastCap: number;
  /**
   * Die with the parent (the attached launcher): re-arm `PR_SET_PDEATHSIG`
   * with `signal` after the credential change, then check the parent is
   * still there. Unset for a container that outlives whoever created it
   * (OCI `create`).
   */
  parentDeath?: {
    signal: number;
    /** getppid() when the init started (0 as PID 1 of a new PID namespace). */
    ppid: number;
    /** A pipe write end whose only reader is the parent, open until execve. */
    reportFd: number;
  };
}

/**
 * Apply `plan` to the calling thread in the order described above. Call it
 * on the main thread as the last thing before `execve`.
 */
export function applySecurity(
  plan: SecurityPlan,
  sys: SecuritySys = new LinuxSecuritySys(),
): void {
  // 1. no_new_privs
  if (plan.noNewPrivileges) {
    sys.prctl(PR.PR_SET_NO_NEW_PRIVS, 1, 0, "PR_SET_NO_NEW_PRIVS");
  }
  // 2. seccomp early, while CAP_SYS_ADMIN still allows it without NNP
  if (plan.seccomp && !plan.noNewPrivileges) {
    // sys.seccompFilter, not loadSeccomp: importing seccomp.ts (and its
    // syscall tables) would cost the init start-up time for nothing.
    sys.seccompFilter(plan.seccomp.program, plan.seccomp.flags);
  }
  // 3. bounding set, while CAP_SETPCAP is effective
  dropBoundingSet(plan.capabilities, plan.lastCap, sys);
  // 4-5. groups, gid, uid with keep-caps; then capset and ambient
  applyUser(plan.user, plan.capabilities, sys);
  // 5a. die with the parent, again
  if (plan.parentDeath) rearmParentDeath(plan.parentDeath, sys);
  // 6. seccomp late, the last call before execve
  if (plan.seccomp && plan.noNewPrivileges) {
    sys.seccompFilter(plan.seccomp.program, plan.seccomp.flags);
  }
}

function rearmParentDeath(
  pd: NonNullable<SecurityPlan["parentDeath"]>,
  sys: SecuritySys,
): void {
  sys.prctl(PR.PR_SET_PDEATHSIG, pd.signal, 0, "PR_SET_PDEATHSIG");
  if (sys.getppid() !== pd.ppid || sys.readerGone(pd.reportFd)) {
    throw new TinycError("the launcher exited before the container started");
  }
}
