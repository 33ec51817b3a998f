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
 *  launcher (subreaper)       nsenter --net=P ... (joins by path)
 *  spawn ───────────────────▶ unshare [--user] --mount ... --pid --fork  (pid U)
 *                               └─ fork: PID 1 of the new namespaces (pid C)
 *                                  [flock -F LOCK: waits while we hold the lock]
 *  poll /proc/U children ◀───      [setpriv --reuid=0 --regid=0 --clear-groups]
 *  [write /proc/C/uid_map, gid_map]
 *  SIGKILL U: C is ours now (we are its subreaper)
 *  [release LOCK] ──────────▶      exec deno main.ts __init --adopted
 * ```
 *
 * With a new user namespace the init must run as the container's root
 * before Deno starts (an execve as an unmapped uid drops every capability),
 * hence setpriv after the maps; and flock holds it back until they are
 * written. The init is told `--adopted`: it sets no parent-death signal
 * while its parent is the helper we kill.
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
  /** With a new user namespace: hold the init with flock on this file. */
  lockFile?: string;
  tools: { unshare: string; nsenter: string; flock: string; setpriv: string };
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
  const pre: string[] = joins.length
    ? [
      p.tools.nsenter,
      ...joins.map((n) => `${NSENTER[n.type]}=${n.path}`),
      "--",
    ]
    : [];
  const fresh = p.namespaces.filter((n) => !n.path && UNSHARE[n.type]);
  const userns = fresh.some((n) => n.type === "user");
  const chain = [
    ...pre,
    p.tools.unshare,
    ...fresh.map((n) => UNSHARE[n.type]),
    "--fork",
    "--",
  ];
  if (userns) {
    if (!p.lockFile) {
      throw new Error("adoptedArgv: a user namespace needs a lock file");
    }
    chain.push(
      p.tools.flock,
      "--no-fork",
      p.lockFile,
      p.tools.setpriv,
      "--reuid=0",
      "--regid=0",
      "--clear-groups",
      "--",
    );
  }
  return [...chain, ...initArgv, ADOPTED_INIT_ARG];
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

/**
 * Spawn `initArgv` in the spec's namespaces through the helper chain and
 * adopt it: returns its pid, our child. `fds` and `env` as for spawn.
 */
export function spawnAdopted(
  initArgv: readonly string[],
  namespaces: readonly Namespace[],
  maps: { uid?: IdMapping[]; gid?: IdMapping[]; lockDir: string },
  fds: Array<[number, number]>,
  env: string[],
): number {
  const PR_SET_CHILD_SUBREAPER = 36;
  libc().syscall(
    BigInt(SYS.prctl),
    BigInt(PR_SET_CHILD_SUBREAPER),
    1n,
    0n,
    0n,
    0n,
  );
  const userns = namespaces.some((n) => n.type === "user" && !n.path);
  let lock: Deno.FsFile | undefined;
  let lockFile: string | undefined;
  if (userns) {
    lockFile = `${maps.lockDir}/userns.lock`;
    lock = Deno.openSync(lockFile, { create: true, write: true, mode: 0o644 });
    lock.lockSync(true);
  }
  try {
    const argv = adoptedArgv(initArgv, {
      namespaces,
      lockFile,
      tools: {
        unshare: tool("unshare"),
        nsenter: tool("nsenter"),
        flock: tool("flock"),
        setpriv: tool("setpriv"),
      },
    });
    const helper = spawn(argv[0], argv, env, { fds });
    // The helper's child: PID 1 of the new namespaces.
    let child = 0;
    for (let waited = 0; child === 0; waited += 1) {
      try {
        const text = Deno.readTextFileSync(
          `/proc/${helper}/task/${helper}/children`,
        ).trim();
        if (text) child = Number(text.split(/\s+/)[0]);
      } catch {
        // the helper is gone
      }
      if (child) break;
      const st = new Int32Array(1);
      const WNOHANG = 1;
      if (
        libc().waitpid(helper, new Uint8Array(st.buffer), WNOHANG) === helper
      ) {
        throw new TinycError(
          `${argv[0]} exited (status ${
            (st[0] >> 8) & 0xff
          }) before the container's init was made (see above)`,
        );
      }
      if (waited > 10_000) {
        libc().kill(helper, 9);
        waitSync(helper);
        throw new TinycError("util-linux unshare made no init within 10 s");
      }
      sleepMs(1);
    }
    if (userns) {
      // Before the init runs anything: it waits for our lock.
      try {
        if (maps.uid?.length) {
          Deno.writeTextFileSync(`/proc/${child}/uid_map`, idMapText(maps.uid));
        }
        if (maps.gid?.length) {
          Deno.writeTextFileSync(`/proc/${child}/gid_map`, idMapText(maps.gid));
        }
      } catch (e) {
        libc().kill(child, 9);
        libc().kill(helper, 9);
        waitSync(helper);
        throw new TinycError(
          `config.json: linux.uidMappings/gidMappings: ${(e as Error).message}`,
        );
      }
    }
    // Orphan the init onto us (the subreaper), then let it go.
    libc().kill(helper, 9);
    waitSync(helper);
    return child;
  } finally {
    lock?.close();
    if (lockFile) {
      try {
        Deno.removeSync(lockFile);
      } catch {
        // another create's, or gone
      }
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
  const PR_SET_CHILD_SUBREAPER = 36;
  libc().syscall(
    BigInt(SYS.prctl),
    BigInt(PR_SET_CHILD_SUBREAPER),
    1n,
    0n,
    0n,
    0n,
  );
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
  let child = 0;
  for (let waited = 0; !child; waited++) {
    try {
      const text = Deno.readTextFileSync(
        `/proc/${helper}/task/${helper}/children`,
      ).trim();
      if (text) child = Number(text.split(/\s+/)[0]);
    } catch {
      // gone
    }
    if (child) break;
    const st = new Int32Array(1);
    if (libc().waitpid(helper, new Uint8Array(st.buffer), 1) === helper) {
      throw new TinycError(
        `nsenter exited (status ${
          (st[0] >> 8) & 0xff
        }) before the exec init was made (see above)`,
      );
    }
    if (waited > 10_000) {
      libc().kill(helper, 9);
      waitSync(helper);
      throw new TinycError("util-linux nsenter made no process within 10 s");
    }
    sleepMs(1);
  }
  libc().kill(helper, 9);
  waitSync(helper);
  return child;
}
