/**
 * What tinyc records about a detached container (`tinyc run -d`), on top
 * of the engine's {@link ContainerRecord}, and where: the state root, the
 * monitor's socket and the log files.
 *
 * @module
 */

import type { ContainerRecord } from "../engine/state.ts";
import { TinycError } from "../errors.ts";

/** `--restart`: docker's policies. */
export interface RestartPolicy {
  name: "no" | "on-failure" | "always";
  /** on-failure:N: at most N restarts (0: unlimited). */
  max: number;
}

/** The detached part of a container's record (written by the monitor). */
export interface DetachedInfo {
  /** Unique among the user's containers. */
  name: string;
  /** `tinyc run` arguments (without -d, --name, --rm, --restart). */
  args: string[];
  /** --root as given (ps's IMAGE). */
  image: string;
  /** The command (process args). */
  command: string[];
  restart: RestartPolicy;
  /** --rm: removed when it ends. */
  autoRemove: boolean;
  state: "created" | "running" | "restarting" | "exited";
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  oomKilled?: boolean;
  /** Why it could not be (re)started. */
  error?: string;
  restartCount: number;
  /** Published ports, docker's form: `0.0.0.0:8080->80/tcp`. */
  ports: string[];
  /** The bridge address, if any. */
  address?: string;
  /** stop/kill asked it to end: no restart. */
  stopRequested?: boolean;
  /** The monitor that runs it: pid and start time. */
  monitor: { pid: number; pidStart: string };
}

/** A record that belongs to a detached container. */
export type DetachedRecord = ContainerRecord & { detached: DetachedInfo };

/**
 * The detached containers' state directory: /run/tinyc as root,
 * $XDG_RUNTIME_DIR/tinyc rootless; `TINYC_STATE_DIR` overrides (a monitor
 * of its own, e.g. for tests).
 */
export function stateBase(
  uid: number = Deno.uid() ?? 0,
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): string {
  const own = env("TINYC_STATE_DIR");
  if (own) return own;
  if (uid === 0) return "/run/tinyc";
  const xdg = env("XDG_RUNTIME_DIR");
  return xdg ? `${xdg}/tinyc` : `/tmp/tinyc-${uid}`;
}

/**
 * Create the state directory `base` (0700) if missing. Rootless, it must be
 * a real directory of ours that nobody else can write: a planted
 * /tmp/tinyc-UID (or a symlink there) is refused.
 */
export function ensureStateDir(base: string, uid = Deno.uid() ?? 0): void {
  Deno.mkdirSync(base, { recursive: true, mode: 0o700 });
  if (uid === 0) return;
  const st = Deno.lstatSync(base);
  if (!st.isDirectory || st.uid !== uid || ((st.mode ?? 0) & 0o022) !== 0) {
    throw new TinycError(
      `state directory ${base}: not a directory of uid ${uid} that only it can write`,
    );
  }
}

/** Paths of the detached machinery under {@link stateBase}. */
export function detachedPaths(base: string = stateBase()): {
  root: string;
  socket: string;
  lock: string;
  monitorLog: string;
} {
  return {
    root: `${base}/containers`,
    socket: `${base}/monitor.sock`,
    lock: `${base}/monitor.lock`,
    monitorLog: `${base}/monitor.log`,
  };
}

/** The log file of a container (rotated to `<file>.1`). */
export function logPath(root: string, id: string): string {
  return `${root}/${id}/container.log`;
}
