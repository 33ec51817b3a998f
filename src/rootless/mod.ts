/**
 * Rootless mode: an ordinary user runs a container whose root is that user.
 *
 * Only a single-threaded process can create a user namespace, and Deno has
 * several threads before any of our code runs; from inside a new user
 * namespace the launcher could not `setns` back into the host's namespaces
 * either. So stock single-threaded tools create every namespace and the
 * maps, and tinyc's own Deno init does the rest inside, as in root mode:
 *
 * ```text
 *   launcher (Deno, the user)     setpriv + unshare (util-linux)       init (Deno)
 *   -------------------------     ------------------------------       -----------
 *   pipe2(cfg), pipe2(report)
 *   posix_spawn(setpriv ...) ---> setpriv: PDEATHSIG=KILL, exec unshare
 *                                 unshare(USER|NS|UTS|IPC|NET|PID)
 *                                 the maps of its own new user ns:
 *                                  root only: unshare writes them,
 *                                   setgroups "deny", then uid_map
 *                                   "0 UID 1", gid_map "0 GID 1";
 *                                  with subordinate ids: a helper it
 *                                   forked first runs newuidmap and
 *                                   newgidmap (setuid root) on
 *                                   unshare's pid; unshare waits
 *                                 fork (the child is PID 1), waitpid ---> PDEATHSIG=KILL (--kill-child)
 *                                   holds fds 3 and 4 till the end        exec deno ... __init --rootless
 *   read(report) ... blocks                                               prctl(PDEATHSIG, SIGKILL)
 *                                                                         pipe2(own report pipe)
 *   hello {pid, fd} <---------------------------------------------------- write(fd 4, hello); dup2 -> fd 4
 *   open /proc/PID/fd/N (own report)                                      read(fd 3) ... blocks
 *   cgroup (delegated only), no network
 *   write(cfg, {spec, devices: "bind"}) --------------------------------> close(own read end)
 *                                                                         unshare(cgroup), mounts, ...
 *   read(own report) ... blocks                                           (as in root mode, src/sync.ts)
 *   EOF: exec succeeded <------------------------------------------------ execve(cmd)
 *   forward signals to the init's pid
 *   waitpid(setpriv/unshare pid)  <---    exits with the init's status
 *                                         (or re-raises its signal)
 * ```
 *
 * unshare blocks SIGINT and SIGTERM while it waits, so signals go to the
 * init's pid from the hello, never to unshare's. If the launcher dies,
 * PDEATHSIG kills unshare and `--kill-child` the init, as root mode's
 * PDEATHSIG does. The cgroup namespace is left to the init, which unshares
 * it after the launcher placed it in its cgroup.
 *
 * Files: `id_maps.ts` (the maps, from /etc/subuid), `host_check.ts` (sysctls,
 * tools, what cannot work rootless), `spec.ts` (the spec adjusted to the
 * maps), `report.ts` (the hello).
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { Namespace } from "../spec.ts";
import { type IdMaps, type IdRange, planIdMaps } from "./id_maps.ts";
import {
  checkUserNamespaces,
  findTool,
  type ReadText,
  readTextOrNull,
} from "./host_check.ts";
import { ROOTLESS_INIT_ARG } from "./report.ts";

export {
  formatIdMap,
  type IdMaps,
  type IdRange,
  parseIdMap,
  parseSubordinateIds,
  planIdMaps,
} from "./id_maps.ts";
export { isMapped, rootlessSetgroups, rootlessSpec } from "./spec.ts";
export {
  checkRootlessRequest,
  checkUserNamespaces,
  controllersFor,
  delegatedControllers,
  findTool,
  type RootlessHost,
  type RootlessRequest,
} from "./host_check.ts";
export {
  initHandover,
  initHandoverDone,
  launcherHandover,
  ROOTLESS_INIT_ARG,
  type RootlessHello,
} from "./report.ts";

/** The stock tools rootless mode runs. */
export interface RootlessTools {
  /** util-linux `unshare`. */
  unshare: string;
  /** util-linux `setpriv`, for PDEATHSIG; null runs without it. */
  setpriv: string | null;
}

/** unshare's flag for each namespace it creates (the cgroup one is the init's). */
const UNSHARE_FLAGS: Partial<Record<Namespace["type"], string>> = {
  mount: "--mount",
  uts: "--uts",
  ipc: "--ipc",
  network: "--net",
  pid: "--pid",
};

function isRootLine(r: IdRange | undefined): boolean {
  return r !== undefined && r.inside === 0 && r.count === 1;
}

/** unshare's map options for `maps` (planned by {@link planIdMaps}). */
function mapFlags(maps: IdMaps): string[] {
  const { uid, gid } = maps;
  const extra = (r: IdRange) => `${r.outside},${r.inside},${r.count}`;
  if (
    !isRootLine(uid[0]) || !isRootLine(gid[0]) || uid.length !== gid.length ||
    uid.length > 2
  ) {
    throw new TinycError(
      `rootless: unsupported id maps (need container root plus at most one more range)`,
    );
  }
  // --map-root-user maps the caller's own ids to 0 (writing the maps itself
  // with setgroups denied when that is all); with --map-users/--map-groups
  // too, unshare 2.38 has newuidmap/newgidmap write both lines at once and
  // leaves setgroups allowed. util-linux 2.39 also reads this comma form
  // (outer,inner,count).
  const flags = ["--map-root-user"];
  if (uid.length === 2) {
    flags.push(`--map-users=${extra(uid[1])}`, `--map-groups=${extra(gid[1])}`);
  }
  return flags;
}

/**
 * The argv that starts `initArgv` (the re-executed tinyc init) as PID 1 of
 * a new user namespace mapped by `maps` and new namespaces of the `ns`
 * types. The init gets {@link ROOTLESS_INIT_ARG} appended. Pure.
 */
export function rootlessInitArgv(
  initArgv: readonly string[],
  maps: IdMaps,
  ns: readonly Namespace["type"][],
  tools: RootlessTools,
): string[] {
  const nsFlags = Object.entries(UNSHARE_FLAGS)
    .filter(([type]) => ns.includes(type as Namespace["type"]))
    .map(([, flag]) => flag as string);
  const unshare = [
    tools.unshare,
    "--user",
    ...mapFlags(maps),
    ...nsFlags,
    // The init must be PID 1 (a child: after unshare(CLONE_NEWPID) only
    // children are in the new namespace), and die with unshare.
    "--fork",
    "--kill-child",
    "--",
    ...initArgv,
    ROOTLESS_INIT_ARG,
  ];
  return tools.setpriv
    ? [tools.setpriv, "--pdeathsig", "KILL", "--", ...unshare]
    : unshare;
}

/** The caller's name from /etc/passwd text, or its uid as a string. */
export function userName(uid: number, passwdText: string | null): string {
  for (const line of (passwdText ?? "").split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && f[2] === String(uid) && f[0] !== "") return f[0];
  }
  return String(uid);
}

/** Where {@link prepareRootless} reads the host (replaceable in tests). */
export interface RootlessHostReader {
  uid: number;
  gid: number;
  path: string | undefined;
  read: ReadText;
  isExecutable?: (path: string) => boolean;
}

/** What the launcher needs to start a rootless init. */
export interface RootlessLaunch {
  /** The argv to `posix_spawn` (argv[0] is an absolute path). */
  argv: string[];
  maps: IdMaps;
  /** One line to print once, when only container root is mapped. */
  warning?: string;
}

/**
 * Check the host and plan the launch of `initArgv` in new namespaces of the
 * `ns` types: throws {@link TinycError} (one line, exit 125) when the
 * kernel forbids unprivileged user namespaces or util-linux `unshare` is
 * missing.
 */
export function prepareRootless(
  initArgv: readonly string[],
  ns: readonly Namespace["type"][],
  host: RootlessHostReader = {
    uid: Deno.uid() ?? 0,
    gid: Deno.gid() ?? 0,
    path: Deno.env.get("PATH"),
    read: readTextOrNull,
  },
): RootlessLaunch {
  const forbidden = checkUserNamespaces(host.read);
  if (forbidden !== null) throw new TinycError(forbidden);
  const tool = (name: string) => findTool(name, host.path, host.isExecutable);
  const unshare = tool("unshare");
  if (unshare === null) {
    throw new TinycError(
      "rootless: util-linux `unshare` not found in PATH (as root: apt-get install util-linux)",
    );
  }
  const maps = planIdMaps(
    host.uid,
    host.gid,
    host.read("/etc/subuid"),
    host.read("/etc/subgid"),
    userName(host.uid, host.read("/etc/passwd")),
    tool("newuidmap") !== null && tool("newgidmap") !== null,
  );
  return {
    argv: rootlessInitArgv(initArgv, maps, ns, {
      unshare,
      setpriv: tool("setpriv"),
    }),
    maps,
    warning: maps.warning,
  };
}
