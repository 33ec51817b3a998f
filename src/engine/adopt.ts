/**
 * Spawning an OCI container's init through stock util-linux tools, for the
 * two cases a multithreaded Deno launcher cannot do itself:
 *
 * - the config asks for a user namespace (a new one, with uid/gid maps):
 *   only a single-threaded process may unshare CLONE_NEWUSER, and the PID
 *   namespace must be created after it (so the container's root may mount
 *   /proc);
 * - tinyc-oci itself runs as root of a user namespace (rootless podman):
 *   the launcher could not setns back into the namespaces it came from,
 *   since the host's user namespace owns them.
 *
 * ```text
 *  launcher (subreaper)
 *  [spawn unshare --user -- sleep infinity  (H: holds the new user namespace)
 *   write /proc/H/uid_map, gid_map]
 *  spawn ───────────────────▶ nsenter [--user=/proc/H/ns/user] [--net=P ...]
 *                               unshare --mount ... --pid --fork  (pid U)
 *                               └─ fork: PID 1 of the new namespaces (pid C),
 *                                  exec deno main.ts __init --adopted
 *  poll /proc/U children ◀───
 *  SIGKILL U (and H): C is ours now (we are its subreaper)
 * ```
 *
 * The maps are written before anything else enters the user namespace:
 * nsenter then becomes its root (uid 0, mapped), so the init keeps its
 * capabilities across execve (an execve as an unmapped uid drops them all)
 * and every other namespace, PID included, is owned by the new user
 * namespace (so the container's root may mount /proc). The init is told
 * `--adopted`: it sets no parent-death signal while its parent is the
 * helper we kill.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { IdMapping, Namespace } from "../spec.ts";
import { libc, SYS } from "../libc.ts";
import { spawn, waitSync } from "../process.ts";
import { findTool } from "../rootless/host_check.ts";

/** The init argument that says its first parent is a helper (see above). */
export const ADOPTED_INIT_ARG = "--adopted";

/** unshare's option for each namespace type it creates. */
const UNSHARE: Record<string, string> = {
  user: "--user",
  mount: "--mount",
  uts: "--uts",
  ipc: "--ipc",
  network: "--net",
  pid: "--pid",
};

/** nsenter's option for each namespace type it joins by path. */
const NSENTER: Record<string, string> = {
  mount: "--mount",
  uts: "--uts",
  ipc: "--ipc",
  network: "--net",
  pid: "--pid",
  cgroup: "--cgroup",
};

/** What {@link adoptedArgv} needs besides the init's argv. */
export interface AdoptPlan {
  namespaces: readonly Namespace[];
  /** A new user namespace, already mapped, to enter first (`/proc/H/ns/user`). */
  userNs?: string;
  tools: { unshare: string; nsenter: string };
}

/** The helper chain's argv (pure). */
export function adoptedArgv(
  initArgv: readonly string[],
  p: AdoptPlan,
): string[] {
  const joins = p.namespaces.filter((n) => n.path);
  if (joins.some((n) => n.type === "user")) {
    throw new TinycError(
      "config.json: linux.namespaces: joining a user namespace by path is not supported by tinyc-oci",
    );
  }
  const enter = [
    ...(p.userNs ? [`--user=${p.userNs}`] : []),
    ...joins.map((n) => `${NSENTER[n.type]}=${n.path}`),
  ];
  const pre = enter.length ? [p.tools.nsenter, ...enter, "--"] : [];
  const fresh = p.namespaces.filter((n) =>
    !n.path && n.type !== "user" && UNSHARE[n.type]
  );
  return [
    ...pre,
    p.tools.unshare,
    ...fresh.map((n) => UNSHARE[n.type]),
    "--fork",
    "--",
    ...initArgv,
    ADOPTED_INIT_ARG,
  ];
}

/** `/proc/PID/uid_map` text for OCI mappings. */
export function idMapText(maps: readonly IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

function tool(name: string): string {
  const p = findTool(name, Deno.env.get("PATH"));
  if (!p) {
    throw new TinycError(
      `util-linux \`${name}\` not found in PATH (apt-get install util-linux)`,
    );
  }
  return p;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Become a child subreaper: orphans below us are reparented to us. */
function subreaper(): void {
  const PR_SET_CHILD_SUBREAPER = 36;
  libc().syscall(
    BigInt(SYS.prctl),
    BigInt(PR_SET_CHILD_SUBREAPER),
    1n,
    0n,
    0n,
    0n,
  );
}

/** The first child of `helper` (polled), or an error once it has exited. */
function childOf(helper: number, what: string): number {
  for (let waited = 0;; waited++) {
    try {
      const text = Deno.readTextFileSync(
        `/proc/${helper}/task/${helper}/children`,
      ).trim();
      if (text) return Number(text.split(/\s+/)[0]);
    } catch {
      // gone
    }
    const st = new Int32Array(1);
    const WNOHANG = 1;
    if (libc().waitpid(helper, new Uint8Array(st.buffer), WNOHANG) === helper) {
      throw new TinycError(
        `${what} exited (status ${
          (st[0] >> 8) & 0xff
        }) before the container's process was made (see above)`,
      );
    }
    if (waited > 10_000) {
      libc().kill(helper, 9);
      waitSync(helper);
      throw new TinycError(`${what} made no process within 10 s`);
    }
    sleepMs(1);
  }
}

/**
 * A new user namespace with the maps written, held by a sleeping util-linux
 * `unshare`: returns the holder's pid (kill it once others are inside).
 */
function mappedUserNs(
  uid: IdMapping[],
  gid: IdMapping[],
  env: string[],
): number {
  const argv = [tool("unshare"), "--user", "--", "sleep", "infinity"];
  const holder = spawn(argv[0], argv, env);
  const ours = Deno.readLinkSync("/proc/self/ns/user");
  for (let waited = 0;; waited++) {
    let ns = ours;
    try {
      ns = Deno.readLinkSync(`/proc/${holder}/ns/user`);
    } catch {
      // not there yet, or gone
    }
    if (ns !== ours) break;
    const st = new Int32Array(1);
    if (libc().waitpid(holder, new Uint8Array(st.buffer), 1) === holder) {
      throw new TinycError("util-linux unshare --user failed (see above)");
    }
    if (waited > 10_000) {
      libc().kill(holder, 9);
      waitSync(holder);
      throw new TinycError(
        "util-linux unshare --user did not start within 10 s",
      );
    }
    sleepMs(1);
  }
  try {
    Deno.writeTextFileSync(`/proc/${holder}/uid_map`, idMapText(uid));
    Deno.writeTextFileSync(`/proc/${holder}/gid_map`, idMapText(gid));
  } catch (e) {
    libc().kill(holder, 9);
    waitSync(holder);
    throw new TinycError(
      `config.json: linux.uidMappings/gidMappings: ${(e as Error).message}`,
    );
  }
  return holder;
}

/**
 * Spawn `initArgv` in the spec's namespaces through the helper chain and
 * adopt it: returns its pid, our child. `fds` and `env` as for spawn.
 */
export function spawnAdopted(
  initArgv: readonly string[],
  namespaces: readonly Namespace[],
  maps: { uid?: IdMapping[]; gid?: IdMapping[] },
  fds: Array<[number, number]>,
  env: string[],
): number {
  subreaper();
  const userns = namespaces.some((n) => n.type === "user" && !n.path);
  const holder = userns ? mappedUserNs(maps.uid ?? [], maps.gid ?? [], env) : 0;
  try {
    const argv = adoptedArgv(initArgv, {
      namespaces,
      userNs: holder ? `/proc/${holder}/ns/user` : undefined,
      tools: { unshare: tool("unshare"), nsenter: tool("nsenter") },
    });
    const helper = spawn(argv[0], argv, env, { fds });
    const child = childOf(helper, argv[0]);
    // Orphan the init onto us (the subreaper).
    libc().kill(helper, 9);
    waitSync(helper);
    return child;
  } finally {
    if (holder) {
      libc().kill(holder, 9);
      waitSync(holder);
    }
  }
}

/**
 * `exec` into a container whose namespaces we may not setns back from
 * (ours are owned by another user namespace) or whose user namespace must
 * be joined (only a single-threaded process can): util-linux `nsenter`
 * joins them and forks the exec init, which we adopt as in
 * {@link spawnAdopted}. The exec init joins the mount namespace itself.
 */
export function spawnAdoptedExec(
  target: number,
  joinUser: boolean,
  initArgv: readonly string[],
  fds: Array<[number, number]>,
  env: string[],
): number {
  subreaper();
  const argv = [
    tool("nsenter"),
    `--target=${target}`,
    ...(joinUser ? ["--user"] : []),
    "--net",
    "--ipc",
    "--uts",
    "--pid",
    "--cgroup",
    "--",
    ...initArgv,
  ];
  const helper = spawn(argv[0], argv, env, { fds });
  const child = childOf(helper, "nsenter");
  libc().kill(helper, 9);
  waitSync(helper);
  return child;
}
