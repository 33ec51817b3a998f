/**
 * The pure parts of detached containers: the flags `run` takes besides
 * the container's, restart decisions, names and id prefixes, and what
 * `ps` prints.
 *
 * @module
 */

import { parseSignal } from "../signals.ts";
import { TinycError } from "../errors.ts";
import type { DetachedInfo, RestartPolicy } from "./record.ts";

/** `run`'s own flags for detached containers (not passed to the container). */
export interface DetachedFlags {
  detach: boolean;
  name?: string;
  rm: boolean;
  restart?: string;
}

/** The part of `tinyc run --help` about detached containers. */
export const DETACHED_RUN_HELP =
  `Detached containers (see tinyc ps, logs, exec, stop, kill, wait, inspect, rm):
  -d, --detach                 run in the background: print the container's id
                               and return; output goes to 'tinyc logs'
      --name NAME              a unique name (default: a random one)
      --rm                     remove the container when it ends
      --restart POLICY         no (default), on-failure[:N], always`;

/** Flags {@link splitRunArgs} takes out; `true`: takes a value. */
const OURS: Record<string, boolean> = {
  detach: false,
  name: true,
  rm: false,
  restart: true,
};

/**
 * Take `-d/--detach`, `--name`, `--rm` and `--restart` out of `tinyc run`
 * arguments (only among the flags, before the command), leaving the rest
 * for the run parser. `-d` may be grouped with run's boolean short flags
 * (`-dit`). `valueFlags` are run's flags that take a value (so that their
 * values are skipped), `shortBooleans` its one-letter booleans.
 */
export function splitRunArgs(
  args: readonly string[],
  valueFlags: ReadonlySet<string>,
  shortBooleans: ReadonlySet<string>,
): { flags: DetachedFlags; rest: string[] } {
  const flags: DetachedFlags = { detach: false, rm: false };
  const rest: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i];
    if (a === "--" || !a.startsWith("-") || a === "-") break;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (name in OURS) {
        if (!OURS[name]) {
          if (eq >= 0) {
            throw new TinycError(`tinyc run: --${name} takes no value`);
          }
          if (name === "detach") flags.detach = true;
          else flags.rm = true;
          continue;
        }
        let value = eq >= 0 ? a.slice(eq + 1) : args[++i];
        if (value === undefined) {
          throw new TinycError(`tinyc run: --${name} needs a value`);
        }
        value = String(value);
        if (name === "name") flags.name = value;
        else flags.restart = value;
        continue;
      }
      rest.push(a);
      if (eq < 0 && valueFlags.has(name) && i + 1 < args.length) {
        rest.push(args[++i]);
      }
      continue;
    }
    // Short flags: -d alone or in a group of booleans (-dit).
    const letters = [...a.slice(1)];
    if (letters.includes("d")) {
      if (letters.every((c) => c === "d" || shortBooleans.has(c))) {
        flags.detach = true;
        const others = letters.filter((c) => c !== "d");
        if (others.length) rest.push(`-${others.join("")}`);
        continue;
      }
      if (a[1] === "d") {
        throw new TinycError(`tinyc run: -d takes no value`);
      }
    }
    rest.push(a);
    if (a.length === 2 && valueFlags.has(a[1]) && i + 1 < args.length) {
      rest.push(args[++i]);
    }
  }
  rest.push(...args.slice(i));
  return { flags, rest };
}

/** Parse `--restart no|on-failure[:N]|always|unless-stopped`. */
export function parseRestart(s: string | undefined): RestartPolicy {
  if (s === undefined || s === "no") return { name: "no", max: 0 };
  if (s === "always" || s === "unless-stopped") {
    return { name: "always", max: 0 };
  }
  const m = /^on-failure(?::(\d+))?$/.exec(s);
  if (m) return { name: "on-failure", max: m[1] ? Number(m[1]) : 0 };
  throw new TinycError(
    `--restart ${s}: must be no, on-failure[:N] or always`,
  );
}

/**
 * Does a container that ended with `code` start again? `always` unless it
 * was stopped; `on-failure` on a non-zero code until N restarts were made.
 */
export function shouldRestart(
  policy: RestartPolicy,
  code: number,
  restartCount: number,
  stopRequested: boolean,
): boolean {
  if (stopRequested) return false;
  if (policy.name === "always") return true;
  if (policy.name === "on-failure") {
    return code !== 0 && (policy.max === 0 || restartCount < policy.max);
  }
  return false;
}

/** The wait before restart number `n` (0-based): 100 ms, doubling, at most 10 s. */
export function restartDelay(n: number): number {
  return Math.min(100 * 2 ** Math.min(n, 10), 10_000);
}

/** Names as docker allows them. */
export function validateName(name: string): void {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name) || name.length > 128) {
    throw new TinycError(
      `invalid container name ${
        JSON.stringify(name)
      }: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
    );
  }
}

const ADJECTIVES = [
  "brave",
  "calm",
  "eager",
  "fervent",
  "gifted",
  "happy",
  "jolly",
  "keen",
  "lucid",
  "modest",
  "nimble",
  "quiet",
  "sharp",
  "tender",
  "vibrant",
  "wise",
];
const NOUNS = [
  "ada",
  "babbage",
  "curie",
  "dijkstra",
  "euler",
  "fermat",
  "gauss",
  "hopper",
  "knuth",
  "lovelace",
  "noether",
  "pascal",
  "ritchie",
  "shannon",
  "turing",
  "wozniak",
];

/** A docker-style name not in `taken` (adjective_scientist, then a number). */
export function randomName(
  taken: ReadonlySet<string>,
  random: () => number = Math.random,
): string {
  for (let n = 0;; n++) {
    const a = ADJECTIVES[Math.floor(random() * ADJECTIVES.length)];
    const b = NOUNS[Math.floor(random() * NOUNS.length)];
    const name = n < 20 ? `${a}_${b}` : `${a}_${b}${n}`;
    if (!taken.has(name)) return name;
  }
}

/** A new container id: 64 hex digits, as docker's. */
export function newId(): string {
  const b = crypto.getRandomValues(new Uint8Array(32));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * The container `ref` names: a full id, a name, or a unique id prefix
 * (as docker: an exact id or name wins over a prefix).
 */
export function resolveRef(
  ref: string,
  containers: ReadonlyArray<{ id: string; name: string }>,
): string {
  const exact = containers.find((c) => c.id === ref || c.name === ref);
  if (exact) return exact.id;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = containers.filter((c) => c.id.startsWith(ref));
    if (hits.length === 1) return hits[0].id;
    if (hits.length > 1) {
      throw new TinycError(
        `container id prefix ${ref} is ambiguous (${hits.length} containers)`,
      );
    }
  }
  throw new TinycError(
    ref === ""
      ? "no container named: an empty name or id"
      : `no such container: ${ref}`,
  );
}

/** docker's human durations: "3 seconds", "About a minute", "2 hours". */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return "Less than a second";
  if (s === 1) return "1 second";
  if (s < 60) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m === 1) return "About a minute";
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** What a container looks like to ps/inspect, stale records accounted for. */
export interface ViewState {
  status: "created" | "running" | "restarting" | "exited";
  exitCode: number;
  finishedAt?: string;
}

/**
 * The state to show: the recorded one, unless the record says it runs but
 * neither its init nor its monitor is alive any more (a reboot or a killed
 * monitor): then it exited, status unknown (255, as docker).
 */
export function viewState(
  d: Pick<DetachedInfo, "state" | "exitCode" | "finishedAt">,
  initAlive: boolean,
  monitorAlive: boolean,
): ViewState {
  if (
    (d.state === "running" && !initAlive && !monitorAlive) ||
    ((d.state === "restarting" || d.state === "created") && !monitorAlive)
  ) {
    return { status: "exited", exitCode: d.exitCode ?? 255 };
  }
  return {
    status: d.state,
    exitCode: d.exitCode ?? 0,
    finishedAt: d.finishedAt,
  };
}

/** ps's STATUS column. */
export function statusText(
  v: ViewState,
  startedAt: string | undefined,
  now: number,
): string {
  const ago = (t: string | undefined) =>
    t ? ` ${humanDuration(now - Date.parse(t))} ago` : "";
  switch (v.status) {
    case "running":
      return `Up ${humanDuration(now - Date.parse(startedAt ?? ""))}`;
    case "restarting":
      return `Restarting (${v.exitCode})${ago(v.finishedAt)}`;
    case "created":
      return "Created";
    case "exited":
      return `Exited (${v.exitCode})${ago(v.finishedAt)}`;
  }
}

/** ps's COMMAND column: quoted, cut at 20 characters. */
export function commandText(args: readonly string[]): string {
  const s = args.join(" ");
  return JSON.stringify(s.length > 20 ? `${s.slice(0, 19)}…` : s);
}

/** docker's port form: `0.0.0.0:8080->80/tcp`. */
export function portText(
  p: { hostIp: string; hostPort: number; port: number; proto: string },
): string {
  const ip = p.hostIp.includes(":") ? `[${p.hostIp}]` : p.hostIp;
  return `${ip}:${p.hostPort}->${p.port}/${p.proto}`;
}

/** Columns padded to their widest cell plus three spaces, as docker prints. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => [...r[i]].length))
  );
  return rows.map((r) =>
    r.map((c, i) =>
      i === r.length - 1 ? c : c + " ".repeat(widths[i] - [...c].length + 3)
    ).join("").trimEnd()
  ).join("\n");
}

/** docker's signal names and numbers (`KILL`, `SIGKILL`, `9`). */
export function parseSignalName(s: string): number {
  return parseSignal(s);
}
