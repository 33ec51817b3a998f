/**
 * Outbound NAT for bridge containers, only when asked (`--nat`).
 *
 * Per container, all tagged with an iptables comment `tinyc:<container id>`:
 *   nat    POSTROUTING -s ADDR/32 ! -o BRIDGE -j MASQUERADE
 *   filter FORWARD     -s ADDR/32 -i BRIDGE -j ACCEPT            (inserted first)
 *   filter FORWARD     -d ADDR/32 -o BRIDGE ctstate RELATED,ESTABLISHED -j ACCEPT
 * The FORWARD rules matter on hosts whose FORWARD policy is DROP (docker sets
 * that). Rules are per address rather than per subnet so that one container's
 * teardown never removes what another still needs, and removal works by tag
 * (from `iptables-save`), so the same code cleans up after a crashed launcher.
 *
 * Rules are applied with one `iptables-restore --noflush` run (one process
 * instead of one per rule); `-w` waits for the xtables lock.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { addr, cstr, errnoError, libc, SYS } from "../libc.ts";

/** One rule, without the `-A`/`-I`/`-D` verb. */
export interface FirewallRule {
  /** `nat` or `filter`. */
  table: "nat" | "filter";
  /** `POSTROUTING`, `FORWARD`. */
  chain: string;
  /** `-I` (first) or `-A` (last) when adding. */
  position: "-I" | "-A";
  /** Match and target arguments. */
  args: string[];
}

/** The comment tag for a container's rules: `tinyc:<id>` with only safe characters. */
export function firewallTag(containerId: string): string {
  return `tinyc:${containerId.replace(/[^A-Za-z0-9_.:-]/g, "_").slice(0, 200)}`;
}

/** The NAT and forward rules for one container (see the module comment). */
export function natRules(
  address: string,
  bridge: string,
  tag: string,
): FirewallRule[] {
  const comment = ["-m", "comment", "--comment", tag];
  return [
    {
      table: "nat",
      chain: "POSTROUTING",
      position: "-A",
      args: [
        "-s",
        `${address}/32`,
        "!",
        "-o",
        bridge,
        ...comment,
        "-j",
        "MASQUERADE",
      ],
    },
    {
      table: "filter",
      chain: "FORWARD",
      position: "-I",
      args: ["-s", `${address}/32`, "-i", bridge, ...comment, "-j", "ACCEPT"],
    },
    {
      table: "filter",
      chain: "FORWARD",
      position: "-I",
      args: [
        "-d",
        `${address}/32`,
        "-o",
        bridge,
        "-m",
        "conntrack",
        "--ctstate",
        "RELATED,ESTABLISHED",
        ...comment,
        "-j",
        "ACCEPT",
      ],
    },
  ];
}

/** `iptables-restore --noflush` input that adds `rules`. */
export function addScript(rules: readonly FirewallRule[]): string {
  const out: string[] = [];
  for (const table of ["nat", "filter"] as const) {
    const mine = rules.filter((r) => r.table === table);
    if (!mine.length) continue;
    out.push(`*${table}`);
    for (const r of mine) {
      out.push([r.position, r.chain, ...r.args].join(" "));
    }
    out.push("COMMIT");
  }
  return out.length ? out.join("\n") + "\n" : "";
}

/**
 * `iptables-restore --noflush` input that deletes every rule carrying `tag`,
 * found in `iptables-save` output (which quotes comments).
 */
export function deleteScript(saved: string, tag: string): string {
  const out: string[] = [];
  let table = "";
  let found: string[] = [];
  const tagged = new RegExp(
    `(^| )--comment "?${tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"?( |$)`,
  );
  for (const line of saved.split("\n")) {
    if (line.startsWith("*")) {
      table = line.slice(1);
      found = [];
    } else if (line.startsWith("-A ") && tagged.test(line)) {
      found.push("-D " + line.slice(3));
    } else if (line === "COMMIT" && found.length) {
      out.push(`*${table}`, ...found, "COMMIT");
    }
  }
  return out.length ? out.join("\n") + "\n" : "";
}

function execSync(cmd: string, args: string[]): string {
  let out: Deno.CommandOutput;
  try {
    out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
      .outputSync();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TinycError(`--nat: ${cmd} not found (install iptables)`);
    }
    throw e;
  }
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new TinycError(
      `--nat: ${cmd} ${args.join(" ")}: ${err || `exit ${out.code}`}`,
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
    execSync("iptables-restore", [
      "-w",
      "--noflush",
      `/proc/${Deno.pid}/fd/${fd}`,
    ]);
  } finally {
    libc().close(fd);
  }
}

/** Add `rules` (all or nothing: iptables-restore commits each table atomically). */
export function addRules(rules: readonly FirewallRule[]): void {
  restore(addScript(rules));
}

/** Delete every rule tagged `tag`; returns how many there were. */
export function removeTaggedRules(tag: string): number {
  const script = deleteScript(execSync("iptables-save", []), tag);
  restore(script);
  return script.split("\n").filter((l) => l.startsWith("-D ")).length;
}

/** `sysctl net.ipv4.ip_forward=1`, left on afterwards: other containers may rely on it. */
export function enableIpForward(proc = "/proc"): void {
  const path = `${proc}/sys/net/ipv4/ip_forward`;
  if (Deno.readTextFileSync(path).trim() !== "1") {
    Deno.writeTextFileSync(path, "1\n");
  }
}
