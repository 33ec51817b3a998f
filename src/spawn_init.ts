/**
 * Spawning the container's init into new namespaces (steps 1-3 of
 * src/launcher.ts), kept apart from the rest of the launcher so that the
 * CLI can spawn the init first thing, before it loads anything else (see
 * {@link spawnEarlyFromArgs}): the init's ~20 ms Deno start-up then overlaps
 * all of the CLI's own loading and work. Imports only the syscall layer.
 *
 * @module
 */

import { CLONE, LinuxSys, MS, type Sys } from "./sys.ts";
import type { Namespace, Spec } from "./spec.ts";
import { CONFIG_FD, pipe, REPORT_FD } from "./sync.ts";
import { signal, spawn, waitSync } from "./process.ts";
import { TinycError } from "./errors.ts";
import { trace } from "./trace.ts";
import { keptMountFlags } from "./security/paths.ts";
import { tinycArgv } from "./self.ts";

/** Namespaces the launcher unshares (the cgroup ns is the init's own). */
const NS_TABLE: Array<
  {
    type: Spec["linux"]["namespaces"][number]["type"];
    flag: number;
    file: string;
  }
> = [
  { type: "mount", flag: CLONE.CLONE_NEWNS, file: "mnt" },
  { type: "uts", flag: CLONE.CLONE_NEWUTS, file: "uts" },
  { type: "ipc", flag: CLONE.CLONE_NEWIPC, file: "ipc" },
  { type: "network", flag: CLONE.CLONE_NEWNET, file: "net" },
  { type: "pid", flag: CLONE.CLONE_NEWPID, file: "pid_for_children" },
];

/** Namespaces to create and to join for a spec (see {@link spawnInNamespaces}). */
export interface NamespacePlan {
  /** CLONE_NEW* flags to unshare. */
  flags: number;
  /** `/proc/thread-self/ns/` files to save (and restore) around the spawn. */
  files: string[];
  /** Namespaces to join (OCI `path`): file name, path, CLONE_NEW* type. */
  joins?: Array<{ file: string; path: string; type: number }>;
}

/** The namespaces to unshare and join for `spec`, and the files to save. */
export function planNamespaces(
  namespaces: readonly Namespace[],
): NamespacePlan {
  let flags = 0;
  const files: string[] = [];
  const joins: NonNullable<NamespacePlan["joins"]> = [];
  for (const ns of NS_TABLE) {
    const n = namespaces.find((n) => n.type === ns.type);
    if (!n) continue;
    files.push(ns.file);
    if (n.path) joins.push({ file: ns.file, path: n.path, type: ns.flag });
    else flags |= ns.flag;
  }
  // The cgroup namespace: created by the init itself; joined here.
  const cg = namespaces.find((n) => n.type === "cgroup" && n.path);
  if (cg) {
    files.push("cgroup");
    joins.push({ file: "cgroup", path: cg.path!, type: CLONE.CLONE_NEWCGROUP });
  }
  return joins.length ? { flags, files, joins } : { flags, files };
}

/** The argv that re-executes tinyc as the container's init. */
export function initArgv(): string[] {
  return tinycArgv("__init");
}

const CLONE_FS = 0x200;

/**
 * Spawn `argv` as PID 1 of new namespaces (`ns.flags`), in the namespaces
 * `ns.joins` names, and return to ours. The caller's thread must be the
 * main thread, and nothing async may run between unshare and setns: other
 * threads never see the new namespaces, and after CLONE_NEWPID no thread
 * can be created until we are back.
 *
 * With a new mount namespace, the runtime's binary is bind-mounted
 * read-only onto itself there before the spawn, so the init (and anything
 * in the container that reaches it through /proc/self/exe, as in
 * CVE-2019-5736) runs it from a read-only mount: opening it for writing
 * fails with EROFS.
 */
export function spawnInNamespaces(
  sys: Sys,
  ns: NamespacePlan,
  argv: string[],
  fds: Array<[number, number]>,
): number {
  const cwd = Deno.cwd();
  const saved = ns.files.map((f) => ({
    f,
    fd: sys.openNs(`/proc/thread-self/ns/${f}`),
  }));
  const joins = (ns.joins ?? []).map((j) => {
    try {
      return { ...j, fd: sys.openNs(j.path) };
    } catch (e) {
      throw new TinycError(
        `namespace ${j.file} ${j.path}: ${(e as Error).message}`,
      );
    }
  });
  try {
    // mount last: the other namespace files are reached through our /proc.
    const order = [...joins].sort((a, b) =>
      (a.file === "mnt" ? 1 : 0) - (b.file === "mnt" ? 1 : 0)
    );
    if (order.some((j) => j.file === "mnt")) sys.unshare(CLONE_FS);
    for (const j of order) sys.setns(j.fd, j.type, `${j.file} ${j.path}`);
    sys.unshare(ns.flags);
    try {
      if ((ns.flags & CLONE.CLONE_NEWNS) !== 0) readOnlyRuntime(sys, argv[0]);
      return spawn(argv[0], argv, envList(), { fds });
    } finally {
      // setns(mnt) also resets root and cwd to the namespace's: go back.
      for (const { f, fd } of saved) {
        sys.setns(fd, 0, `${f} (back to the host's)`);
      }
      sys.chdir(cwd);
    }
  } finally {
    for (const { fd } of saved) sys.close(fd);
    for (const { fd } of joins) sys.close(fd);
  }
}

/**
 * In a new mount namespace (ours until we setns back, then the
 * container's): make every mount private, so nothing propagates to the
 * host, and bind `exe` read-only onto itself.
 */
function readOnlyRuntime(sys: Sys, exe: string): void {
  sys.mount("", "/", "", MS.MS_REC | MS.MS_PRIVATE);
  sys.mount(exe, exe, "", MS.MS_BIND);
  sys.mount(
    "",
    exe,
    "",
    MS.MS_REMOUNT | MS.MS_BIND | MS.MS_RDONLY | MS.MS_NOSUID | MS.MS_NODEV |
      // In a user namespace the mount's atime/noexec flags are locked.
      keptMountFlags(exe, Deno.readTextFileSync("/proc/thread-self/mountinfo")),
  );
}

/** Our environment as `KEY=VALUE` strings. */
export function envList(): string[] {
  return Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`);
}

/** An init spawned before the spec was complete (see {@link spawnEarlyInit}). */
export interface EarlyInit {
  pid: number;
  flags: number;
  cfgWrite: number;
  repRead: number;
}

/**
 * Spawn the init into new `namespaces` right away: a Deno init takes
 * ~20 ms to start, which then overlaps the launcher's own remaining work
 * (host facts, spec, cgroup, network). The init waits for its config.
 */
export function spawnEarlyInit(namespaces: readonly Namespace[]): EarlyInit {
  const sys = new LinuxSys();
  const ns = planNamespaces(namespaces);
  const [cfgRead, cfgWrite] = pipe();
  const [repRead, repWrite] = pipe();
  let pid: number;
  try {
    pid = spawnInNamespaces(sys, ns, initArgv(), [
      [CONFIG_FD, cfgRead],
      [REPORT_FD, repWrite],
    ]);
  } catch (e) {
    [cfgRead, cfgWrite, repRead, repWrite].forEach((fd) => sys.close(fd));
    throw e;
  }
  sys.close(cfgRead);
  sys.close(repWrite);
  return { pid, flags: ns.flags, cfgWrite, repRead };
}

/** Kill and reap an early init that will not be used. */
export function discardEarlyInit(early: EarlyInit): void {
  const sys = new LinuxSys();
  sys.close(early.cfgWrite);
  sys.close(early.repRead);
  signal(early.pid, 9);
  waitSync(early.pid);
}

/**
 * `tinyc run ARGS` as root: spawn the init right away, from a quick look at
 * the arguments (`--network host` means no network namespace), before the
 * CLI is loaded. Returns undefined when there is nothing to spawn for
 * (`--help`). A wrong guess costs time, never correctness: the launcher
 * discards an early init whose namespaces differ from the spec's, and the
 * CLI discards it on any error before the launcher takes it.
 */
export function spawnEarlyFromArgs(
  args: readonly string[],
): EarlyInit | undefined {
  const end = args.indexOf("--");
  const flags = end < 0 ? args : args.slice(0, end);
  if (flags.includes("--help")) return undefined;
  // Detached (-d, also in a group such as -dit): the monitor runs it.
  // A false alarm (a command's own -d) only costs the head start.
  if (
    flags.some((a) =>
      a === "--detach" || a.startsWith("--detach=") || /^-[a-z]*d/.test(a)
    )
  ) return undefined;
  let hostNet = false;
  flags.forEach((a, i) => {
    if (a === "--network") hostNet = flags[i + 1] === "host";
    else if (a.startsWith("--network=")) hostNet = a === "--network=host";
  });
  const types: Namespace["type"][] = ["pid", "ipc", "uts", "mount", "cgroup"];
  if (!hostNet) types.push("network");
  const early = spawnEarlyInit(types.map((type) => ({ type })));
  trace("early init spawned");
  return early;
}
