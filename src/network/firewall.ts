/**
 * The bridge firewall: what may cross between a tinyc bridge and the rest of
 * the host's networks, and the `--nat` that lets a container out.
 *
 * Shaped like docker's (DOCKER-USER / DOCKER-ISOLATION / DOCKER chains): two
 * chains of tinyc's own, each jumped to once from the top of a built-in chain.
 *
 *   filter FORWARD     -j TINYC-FORWARD                   (inserted first)
 *   filter TINYC-FORWARD, for every bridge B in use, in this order:
 *     -i B -o B -j ACCEPT                                  containers reach each other
 *     -o B -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT   replies come in
 *     -o B -j DROP                                         nothing else comes in
 *     -s ADDR/32 -i B ! -o B  [tinyc:<id>] -j ACCEPT       a --nat container goes out
 *     -i B -j DROP                                         nobody else goes out
 *     -j DROP        only while tinyc holds ip_forward on: the host routes
 *                    nothing else it did not route before (docker sets the
 *                    FORWARD policy to DROP for the same reason)
 *   nat POSTROUTING    -j TINYC-POSTROUTING               (inserted first)
 *   nat TINYC-POSTROUTING:
 *     -s ADDR/32 ! -o B  [tinyc:<id>] -j MASQUERADE        per --nat container
 *
 * All `-o B` rules of every bridge come before any `-i B` accept, so a --nat
 * container cannot reach another tinyc bridge either. Published ports need no
 * rule: the proxy in the tinyc process connects from the host (the gateway
 * address), which is local output, never forwarded.
 *
 * The chains are data: a {@link FirewallModel} (bridges in use, --nat
 * containers per bridge) renders to the chains' full text
 * ({@link renderFirewall}), and {@link syncScript} turns "what is there"
 * (parsed from `iptables-save`) and "what should be" into one
 * `iptables-restore --noflush` input that rewrites both chains atomically
 * per table (declaring a chain flushes it). {@link updateFirewall} does that
 * read-modify-write under a lock of its own, because the chains are shared by
 * every tinyc on the host.
 *
 * A bridge's isolation rules live as long as the bridge (which tinyc leaves
 * in place after its last container): they stay when its last container
 * ends, which keeps a lone run from rewriting the chains twice (~15-20 ms
 * each), and go at the next sync after the interface is deleted. A --nat
 * container's rules go with it. With no bridge left, the chains and jumps go
 * too.
 *
 * Forwarding (`net.ipv4.ip_forward`) is turned on only when a --nat container
 * needs it, and only after the rules are in place. When tinyc is the one that
 * turned it on, it records that (`/run/tinyc/net/ip_forward`) and turns it
 * off again, before removing the rules, when the last --nat container ends.
 * A forwarding that was already on is left alone.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { addr, cstr, errnoError, libc, SYS } from "../libc.ts";

/** The filter chain jumped to from FORWARD. */
export const FORWARD_CHAIN = "TINYC-FORWARD";
/** The nat chain jumped to from POSTROUTING. */
export const NAT_CHAIN = "TINYC-POSTROUTING";

/** A --nat container: its address and the comment tag on its rules. */
export interface NatContainer {
  /** `tinyc:<id>` ({@link firewallTag}). */
  tag: string;
  /** Its address on the bridge. */
  address: string;
}

/** One bridge with containers on it. */
export interface BridgeFirewall {
  /** Interface name, e.g. `tinyc0`. */
  name: string;
  /** Its containers that may go out (`--nat`). */
  nat: NatContainer[];
}

/** Everything the tinyc chains say. */
export interface FirewallModel {
  /** Bridges with at least one container. */
  bridges: BridgeFirewall[];
  /** End TINYC-FORWARD with a DROP for all other forwarded traffic (tinyc turned forwarding on). */
  isolateHost: boolean;
}

/** The comment tag for a container's rules: `tinyc:<id>` with only safe characters. */
export function firewallTag(containerId: string): string {
  return `tinyc:${containerId.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 200)}`;
}

function sorted(model: FirewallModel): BridgeFirewall[] {
  return [...model.bridges]
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    .map((b) => ({
      name: b.name,
      nat: [...b.nat].sort((x, y) =>
        x.tag < y.tag ? -1 : x.tag > y.tag ? 1 : 0
      ),
    }));
}

/**
 * The chains' rules, as `iptables-save` prints them (so that what is there
 * compares equal to what should be), without the `-A CHAIN` prefix.
 */
export function renderFirewall(
  model: FirewallModel,
): { forward: string[]; nat: string[] } {
  const bridges = sorted(model);
  const comment = (tag: string) => `-m comment --comment "${tag}"`;
  const forward = [
    ...bridges.map((b) => `-i ${b.name} -o ${b.name} -j ACCEPT`),
    ...bridges.map((b) =>
      `-o ${b.name} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`
    ),
    ...bridges.map((b) => `-o ${b.name} -j DROP`),
    ...bridges.flatMap((b) =>
      b.nat.map((c) =>
        `-s ${c.address}/32 -i ${b.name} ! -o ${b.name} ${
          comment(c.tag)
        } -j ACCEPT`
      )
    ),
    ...bridges.map((b) => `-i ${b.name} -j DROP`),
    ...(model.isolateHost && bridges.length ? ["-j DROP"] : []),
  ];
  const nat = bridges.flatMap((b) =>
    b.nat.map((c) =>
      `-s ${c.address}/32 ! -o ${b.name} ${comment(c.tag)} -j MASQUERADE`
    )
  );
  return { forward, nat };
}

/** What `iptables-save` shows of the tinyc chains. */
export interface CurrentFirewall {
  /** The model the chains encode (isolateHost as found). */
  model: FirewallModel;
  /** TINYC-FORWARD's rules (undefined: no such chain). */
  forward?: string[];
  /** TINYC-POSTROUTING's rules (undefined: no such chain). */
  nat?: string[];
  /** FORWARD jumps to TINYC-FORWARD. */
  forwardJump: boolean;
  /** POSTROUTING jumps to TINYC-POSTROUTING. */
  natJump: boolean;
}

/** Read the tinyc chains out of `iptables-save` output. */
export function parseFirewall(saved: string): CurrentFirewall {
  const cur: CurrentFirewall = {
    model: { bridges: [], isolateHost: false },
    forwardJump: false,
    natJump: false,
  };
  const bridges = new Map<string, BridgeFirewall>();
  const bridge = (name: string) => {
    let b = bridges.get(name);
    if (!b) bridges.set(name, b = { name, nat: [] });
    return b;
  };
  let table = "";
  for (const line of saved.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1).trim();
    if (table === "filter") {
      if (line.startsWith(`:${FORWARD_CHAIN} `)) cur.forward ??= [];
      if (line === `-A FORWARD -j ${FORWARD_CHAIN}`) cur.forwardJump = true;
      const prefix = `-A ${FORWARD_CHAIN} `;
      if (!line.startsWith(prefix)) continue;
      const rule = line.slice(prefix.length);
      (cur.forward ??= []).push(rule);
      const m = /^-i (\S+) -o (\S+) -j ACCEPT$/.exec(rule);
      if (m && m[1] === m[2]) bridge(m[1]);
      if (rule === "-j DROP") cur.model.isolateHost = true;
    } else if (table === "nat") {
      if (line.startsWith(`:${NAT_CHAIN} `)) cur.nat ??= [];
      if (line === `-A POSTROUTING -j ${NAT_CHAIN}`) cur.natJump = true;
      const prefix = `-A ${NAT_CHAIN} `;
      if (!line.startsWith(prefix)) continue;
      const rule = line.slice(prefix.length);
      (cur.nat ??= []).push(rule);
      const m =
        /^-s (\d+\.\d+\.\d+\.\d+)\/32 ! -o (\S+) -m comment --comment "?([^" ]+)"? -j MASQUERADE$/
          .exec(rule);
      if (m) bridge(m[2]).nat.push({ address: m[1], tag: m[3] });
    }
  }
  cur.model.bridges = [...bridges.values()];
  return cur;
}

/** `model` with bridge `name` present, holding exactly the --nat containers `nat`. */
export function withBridge(
  model: FirewallModel,
  name: string,
  nat: NatContainer[],
): FirewallModel {
  const others = model.bridges.filter((b) => b.name !== name);
  return { ...model, bridges: [...others, { name, nat: [...nat] }] };
}

/** `model` without the bridges `gone` says are gone (their interface was deleted). */
export function withoutBridges(
  model: FirewallModel,
  gone: (name: string) => boolean,
): FirewallModel {
  return { ...model, bridges: model.bridges.filter((b) => !gone(b.name)) };
}

/** `model` without the --nat container tagged `tag` (its bridge stays). */
export function withoutContainer(
  model: FirewallModel,
  tag: string,
): FirewallModel {
  return {
    ...model,
    bridges: model.bridges.map((b) => ({
      name: b.name,
      nat: b.nat.filter((c) => c.tag !== tag),
    })),
  };
}

function sameRules(a: string[] | undefined, b: string[]): boolean {
  const norm = (r: string) => r.replaceAll('"', "");
  return !!a && a.length === b.length &&
    a.every((r, i) => norm(r) === norm(b[i]));
}

/**
 * One `iptables-restore --noflush` input taking the chains from `current` to
 * `desired`, or "" when they already match. A table whose chain must change
 * is rewritten whole: declaring the chain flushes it, and the table commits
 * atomically, so no packet sees it half-written. Without bridges the chains
 * and their jumps are removed.
 */
export function syncScript(
  current: CurrentFirewall,
  desired: FirewallModel,
): string {
  const want = renderFirewall(desired);
  const keep = desired.bridges.length > 0;
  const out: string[] = [];
  const table = (
    name: string,
    builtin: string,
    chain: string,
    have: string[] | undefined,
    jump: boolean,
    rules: string[],
  ) => {
    if (keep) {
      if (jump && sameRules(have, rules)) return;
      out.push(`*${name}`, `:${chain} - [0:0]`);
      if (!jump) out.push(`-I ${builtin} 1 -j ${chain}`);
      out.push(...rules.map((r) => `-A ${chain} ${r}`), "COMMIT");
    } else if (have || jump) {
      out.push(`*${name}`);
      if (jump) out.push(`-D ${builtin} -j ${chain}`);
      if (have) out.push(`:${chain} - [0:0]`, `-X ${chain}`);
      out.push("COMMIT");
    }
  };
  table(
    "filter",
    "FORWARD",
    FORWARD_CHAIN,
    current.forward,
    current.forwardJump,
    want.forward,
  );
  table(
    "nat",
    "POSTROUTING",
    NAT_CHAIN,
    current.nat,
    current.natJump,
    want.nat,
  );
  return out.length ? out.join("\n") + "\n" : "";
}

// ---------------------------------------------------------------------------
// Applying

/** The two iptables programs (replaceable in tests). */
export interface Iptables {
  /** `iptables-save` output, or undefined when iptables is not installed. */
  save(): string | undefined;
  /** `iptables-restore --noflush` of `script`. */
  restore(script: string): void;
}

/** Where the lock and the forwarding record live, /proc, iptables (for tests). */
export interface FirewallEnv {
  /** Default `/run/tinyc/net`: host-wide, like the chains. */
  dir?: string;
  /** Default `/proc`. */
  proc?: string;
  /** Default: the real programs, the script passed in a memfd. */
  iptables?: Iptables;
}

const DEFAULT_DIR = "/run/tinyc/net";

/** What {@link updateFirewall} did, for tests and tracing. */
export interface FirewallChange {
  /** The restore script run ("" if none). */
  script: string;
  /** ip_forward written: "1" (on), "0" (restored), or undefined. */
  forwarding?: "0" | "1";
}

/**
 * Read the tinyc chains, apply `update` to their model, and bring the chains
 * and `net.ipv4.ip_forward` in line, under the host-wide firewall lock:
 * 1. no --nat container left and tinyc had turned forwarding on: off first;
 * 2. the chains (one iptables-restore);
 * 3. a --nat container needs forwarding and it is off: on, recorded.
 * Without iptables installed this throws only if a --nat container needs it,
 * or forwarding is on and a bridge needs isolating; otherwise there is
 * nothing to protect and it does nothing.
 */
export function updateFirewall(
  update: (model: FirewallModel) => FirewallModel,
  env: FirewallEnv = {},
): FirewallChange {
  const dir = env.dir ?? DEFAULT_DIR;
  const forwardPath = `${env.proc ?? "/proc"}/sys/net/ipv4/ip_forward`;
  const record = `${dir}/ip_forward`;
  const iptables = env.iptables ?? { save: iptablesSave, restore };
  Deno.mkdirSync(dir, { recursive: true, mode: 0o755 });
  return withFileLock(`${dir}/firewall.lock`, () => {
    const saved = iptables.save();
    const current = parseFirewall(saved ?? "");
    const desired = update(current.model);
    const needForwarding = desired.bridges.some((b) => b.nat.length > 0);
    const forwarding = Deno.readTextFileSync(forwardPath).trim();
    if (saved === undefined) {
      if (needForwarding) {
        throw new TinycError(
          "--nat: iptables-save not found (install iptables)",
        );
      }
      if (forwarding !== "0" && desired.bridges.length) {
        throw new TinycError(
          "--network bridge: ip_forward is on and iptables-save is not installed: cannot isolate the bridge (install iptables)",
        );
      }
      return { script: "" };
    }
    const change: FirewallChange = { script: "" };
    let owned = exists(record);
    if (!needForwarding && owned) {
      if (forwarding !== "0") {
        Deno.writeTextFileSync(forwardPath, "0\n");
        change.forwarding = "0";
      }
      Deno.removeSync(record);
      owned = false;
    }
    const turnOn = needForwarding && forwarding === "0";
    const newRecord = turnOn && !owned;
    // Recorded before anything changes: a crash from here on still tells
    // the next tinyc that forwarding is its to turn off.
    if (newRecord) Deno.writeTextFileSync(record, "0\n");
    try {
      change.script = syncScript(current, {
        ...desired,
        isolateHost: owned || turnOn,
      });
      if (change.script) iptables.restore(change.script);
    } catch (e) {
      if (newRecord) Deno.removeSync(record);
      throw e;
    }
    if (turnOn) {
      Deno.writeTextFileSync(forwardPath, "1\n");
      change.forwarding = "1";
    }
    return change;
  });
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function withFileLock<T>(path: string, fn: () => T): T {
  const f = Deno.openSync(path, { create: true, write: true });
  try {
    f.lockSync(true);
    return fn();
  } finally {
    f.close(); // closing drops the flock
  }
}

/** `iptables-save` output, or undefined when iptables is not installed. */
function iptablesSave(): string | undefined {
  try {
    return execSync("iptables-save", []);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

function execSync(cmd: string, args: string[]): string {
  const out = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new TinycError(
      `network firewall: ${cmd} ${args.join(" ")}: ${
        err || `exit ${out.code}`
      }`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

function restore(script: string): void {
  if (!script) return;
  // iptables-restore reads a file: an in-memory one (memfd), so a tinyc
  // killed mid-way leaves nothing behind, unlike a temporary file.
  const MFD_CLOEXEC = 1;
  const name = cstr("tinyc-iptables");
  const fd = Number(
    libc().syscall(
      BigInt(SYS.memfd_create),
      addr(name),
      BigInt(MFD_CLOEXEC),
      0n,
      0n,
      0n,
    ),
  );
  if (fd < 0) throw errnoError("memfd_create", "tinyc-iptables");
  try {
    const bytes = new TextEncoder().encode(script);
    if (
      Number(libc().write(fd, bytes, BigInt(bytes.length))) !== bytes.length
    ) {
      throw errnoError("write", "memfd tinyc-iptables");
    }
    try {
      execSync("iptables-restore", [
        "-w",
        "--noflush",
        `/proc/${Deno.pid}/fd/${fd}`,
      ]);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new TinycError(
          "network firewall: iptables-restore not found (install iptables)",
        );
      }
      throw e;
    }
  } finally {
    libc().close(fd);
  }
}
