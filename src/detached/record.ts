/**
 * What tinyc records about a detached container (`tinyc run -d`), on top
 * of the engine's {@link ContainerRecord}, and where: the state root, the
 * monitor's socket and the log files.
 *
 * @module
 */

import type { ContainerRecord } from "../engine/state.ts";

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
