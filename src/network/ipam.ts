/**
 * IPv4 address management for bridge networking.
 *
 * A subnet `10.10.10.0/24` (the book's values, the default) gives the bridge
 * its gateway `.1` and containers `.2` upwards. Leases are files under a state
 * directory (default `/run/tinyc/net`, a tmpfs, so a reboot forgets them),
 * one per address, written under an exclusive `flock` on `lock` so that
 * concurrent starts never hand out the same address. Every lease records the
 * launcher's pid and that process's start time (pids are reused); a lease
 * whose launcher is gone is stale and is reclaimed by the next allocation,
 * which first lets the caller undo what the dead launcher left behind.
 * Lease files are written in place under the lock, so a file that does not
 * parse was cut short by a crash and is removed as well.
 *
 * Leases are keyed by address, not by subnet, so overlapping `--subnet`s
 * still never share an address.
 *
 * @module
 */

import { TinycError } from "../errors.ts";

// Paths are joined by hand: node:path costs ~7 ms to load at start-up.
function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** Where leases live unless told otherwise. */
export const DEFAULT_STATE_DIR = "/run/tinyc/net";

/** The default subnet, as in the book (`brg0` 10.10.10.1/24, container 10.10.10.2). */
export const DEFAULT_SUBNET = "10.10.10.0/24";

/** A parsed IPv4 subnet. Addresses are unsigned 32-bit numbers. */
export interface Subnet {
  /** Normalized text, e.g. `10.10.10.0/24`. */
  cidr: string;
  /** Network address. */
  network: number;
  /** Prefix length. */
  prefixLength: number;
  /** The bridge's address: network + 1. */
  gateway: number;
  /** First container address: network + 2. */
  first: number;
  /** Last container address: broadcast - 1. */
  last: number;
}

/** `10.10.10.2` → 0x0a0a0a02, or undefined when not a dotted quad. */
export function parseIPv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

/** 0x0a0a0a02 → `10.10.10.2`. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/**
 * Parse `--subnet`. The prefix must leave room for a gateway and at least one
 * container (/8 to /30), and host bits must be zero so that what the user
 * wrote is what the bridge gets.
 */
export function parseSubnet(cidr: string, flag = "--subnet"): Subnet {
  const bad = (why: string) => new TinycError(`${flag} ${cidr}: ${why}`);
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) throw bad("invalid CIDR (use A.B.C.D/N, e.g. 10.10.10.0/24)");
  const ip = parseIPv4(m[1]);
  if (ip === undefined) throw bad("invalid IPv4 address");
  const prefixLength = Number(m[2]);
  if (prefixLength < 8 || prefixLength > 30) {
    throw bad("prefix length must be between 8 and 30");
  }
  const size = 2 ** (32 - prefixLength);
  const network = ip - (ip % size);
  if (network !== ip) {
    throw bad(
      `host bits set (did you mean ${formatIPv4(network)}/${prefixLength}?)`,
    );
  }
  for (const [start, bits, what] of RESERVED) {
    if (overlaps(network, prefixLength, start, bits)) {
      throw bad(
        `overlaps ${
          formatIPv4(start)
        }/${bits} (${what}); use a private range such as 10.10.10.0/24`,
      );
    }
  }
  if (
    !PRIVATE.some(([start, bits]) => within(network, prefixLength, start, bits))
  ) {
    throw bad(
      "not a private range (use one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16): a public one would take those addresses away from the host",
    );
  }
  return {
    cidr: `${formatIPv4(network)}/${prefixLength}`,
    network,
    prefixLength,
    gateway: network + 1,
    first: network + 2,
    last: network + size - 2,
  };
}

/** Ranges a container subnet must not touch. */
const RESERVED: Array<[start: number, bits: number, what: string]> = [
  [0, 8, "this network"],
  [127 * 2 ** 24, 8, "loopback"],
  [(169 * 256 + 254) * 2 ** 16, 16, "link-local"],
  [224 * 2 ** 24, 3, "multicast and reserved"],
];

/** RFC 1918 ranges: the only ones a container subnet may use. */
const PRIVATE: Array<[start: number, bits: number]> = [
  [10 * 2 ** 24, 8],
  [(172 * 256 + 16) * 2 ** 16, 12],
  [(192 * 256 + 168) * 2 ** 16, 16],
];

/** Is a/aBits inside b/bBits? */
function within(a: number, aBits: number, b: number, bBits: number): boolean {
  return aBits >= bBits && overlaps(a, aBits, b, bBits);
}

/** Do a/aBits and b/bBits share any address? */
function overlaps(a: number, aBits: number, b: number, bBits: number): boolean {
  const bits = Math.min(aBits, bBits);
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

/**
 * A one-line reason why `subnet` cannot be used on this host, or undefined:
 * it overlaps a route on another interface (the host's own networks), or a
 * different subnet already on the bridge. `routes` is /proc/net/route.
 */
export function subnetConflict(
  subnet: Subnet,
  routes: string,
  bridge: string,
): string | undefined {
  for (const line of routes.trim().split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    // Destination and Mask are little-endian hex.
    const le = (h: string) => {
      const n = parseInt(h, 16);
      return ((n & 0xff) * 2 ** 24) + (((n >>> 8) & 0xff) << 16) +
        (((n >>> 16) & 0xff) << 8) + ((n >>> 24) & 0xff);
    };
    const dest = le(f[1]);
    const mask = le(f[7]);
    if (mask === 0) continue; // the default route overlaps everything
    const bits = 32 - Math.log2(2 ** 32 - mask);
    if (!Number.isInteger(bits)) continue;
    if (!overlaps(subnet.network, subnet.prefixLength, dest, bits)) continue;
    const cidr = `${formatIPv4(dest)}/${bits}`;
    if (f[0] !== bridge) {
      return `--subnet ${subnet.cidr}: overlaps the host's network ${cidr} on ${
        f[0]
      }`;
    }
    if (cidr !== subnet.cidr) {
      return `--subnet ${subnet.cidr}: overlaps ${cidr}, already used on bridge ${bridge}`;
    }
  }
  return undefined;
}

/** One address handed to one container. */
export interface Lease {
  /** The container's address, e.g. `10.10.10.2`. */
  address: string;
  /** The subnet it came from. */
  subnet: string;
  /** The container it belongs to. */
  containerId: string;
  /** The launcher that holds it. */
  pid: number;
  /** That process's start time (`/proc/PID/stat` field 22), to tell a reused pid apart. */
  pidStart: string;
  /** What the owner set up and a reclaimer must undo (host veth name, NAT tag, files). */
  resources: LeaseResources;
}

/** Things outside the lease file that belong to a container's network. */
export interface LeaseResources {
  /** Host end of the veth pair. */
  hostVeth?: string;
  /** The bridge it is on, whose firewall rules count it (default `tinyc0`). */
  bridge?: string;
  /** The iptables comment tag of its `--nat` rules (only with `--nat`). */
  firewallTag?: string;
  /** Files to delete (the generated /etc/hosts). */
  files?: string[];
}

/** The start time of `pid`, or undefined when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // comm (field 2) may hold spaces and parentheses: count from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19]; // field 22
  } catch {
    return undefined;
  }
}

/** Whether the process that took `lease` still runs. */
export function leaseOwnerAlive(lease: Lease): boolean {
  return processStartTime(lease.pid) === lease.pidStart;
}

/** Called for a stale lease before its address is reused; should undo `lease.resources`. */
export type StaleHandler = (lease: Lease) => void;

/** Leases in one state directory. */
export class Ipam {
  /** The state directory. */
  readonly dir: string;

  constructor(dir: string = DEFAULT_STATE_DIR) {
    this.dir = dir;
  }

  get #leaseDir(): string {
    return join(this.dir, "leases");
  }

  /** Run `fn` holding the exclusive lock (flock on `DIR/lock`). */
  withLock<T>(fn: () => T): T {
    Deno.mkdirSync(this.#leaseDir, { recursive: true, mode: 0o755 });
    const f = Deno.openSync(join(this.dir, "lock"), {
      create: true,
      write: true,
    });
    try {
      f.lockSync(true);
      return fn();
    } finally {
      f.close(); // closing drops the flock
    }
  }

  /** Every lease on record, live or stale. */
  list(): Lease[] {
    return this.#scan().leases;
  }

  #scan(): { leases: Lease[]; torn: string[] } {
    const leases: Lease[] = [], torn: string[] = [];
    let names: string[];
    try {
      names = [...Deno.readDirSync(this.#leaseDir)].filter((e) => e.isFile)
        .map((e) => e.name);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { leases, torn };
      throw e;
    }
    for (const name of names) {
      try {
        leases.push(
          JSON.parse(Deno.readTextFileSync(join(this.#leaseDir, name))),
        );
      } catch {
        torn.push(name);
      }
    }
    return { leases, torn };
  }

  /**
   * Drop leases whose launcher is gone, after `onStale` undid what they left
   * (lock held). A handler failure does not keep the address taken: it is
   * collected in `errors` for the caller to report or ignore.
   */
  #reclaim(
    onStale?: StaleHandler,
  ): { live: Lease[]; stale: Lease[]; errors: unknown[] } {
    const { leases, torn } = this.#scan();
    // Writers hold the lock, so an unreadable file is a write cut short by a crash.
    for (const name of torn) this.#remove(name);
    const live: Lease[] = [], stale: Lease[] = [], errors: unknown[] = [];
    for (const l of leases) {
      if (leaseOwnerAlive(l)) {
        live.push(l);
        continue;
      }
      stale.push(l);
      try {
        onStale?.(l);
      } catch (e) {
        errors.push(e);
      }
      this.#remove(l.address);
    }
    return { live, stale, errors };
  }

  /** Reclaim every stale lease now; returns them (throws the first cleanup error after all are done). */
  reclaimStale(onStale?: StaleHandler): Lease[] {
    const { stale, errors } = this.withLock(() => this.#reclaim(onStale));
    if (errors.length) throw errors[0];
    return stale;
  }

  /**
   * Take the lowest free address of `subnet` for `containerId`, owned by
   * process `pid` (the launcher, by default this process). Stale leases are
   * reclaimed first.
   */
  allocate(
    subnet: Subnet,
    containerId: string,
    opts: {
      pid?: number;
      resources?: LeaseResources;
      onStale?: StaleHandler;
    } = {},
  ): Lease {
    const pid = opts.pid ?? Deno.pid;
    const pidStart = processStartTime(pid);
    if (pidStart === undefined) {
      throw new TinycError(`ipam: lease owner pid ${pid} does not exist`);
    }
    return this.withLock(() => {
      // Cleanup errors of stale leases must not stop this container.
      const { live } = this.#reclaim(opts.onStale);
      const taken = new Set(live.map((l) => l.address));
      for (let a = subnet.first; a <= subnet.last; a++) {
        const address = formatIPv4(a);
        if (taken.has(address)) continue;
        const lease: Lease = {
          address,
          subnet: subnet.cidr,
          containerId,
          pid,
          pidStart,
          resources: opts.resources ?? {},
        };
        this.#write(lease);
        return lease;
      }
      throw new TinycError(
        `--subnet ${subnet.cidr}: no free address (${
          subnet.last - subnet.first + 1
        } in use)`,
      );
    });
  }

  /**
   * Give the address back (only if `lease` still owns it). When it was the
   * last lease in its subnet, `lastInSubnet` runs with the lock still held
   * (so no new lease of that subnet can slip in between): the caller drops
   * the subnet's gateway address from the bridge there.
   */
  release(lease: Lease, lastInSubnet?: (subnet: string) => void): void {
    this.withLock(() => {
      const current = this.#read(lease.address);
      if (
        current && current.pid === lease.pid &&
        current.pidStart === lease.pidStart
      ) this.#remove(lease.address);
      if (
        lastInSubnet &&
        !this.#scan().leases.some((l) => l.subnet === lease.subnet)
      ) lastInSubnet(lease.subnet);
    });
  }

  #read(address: string): Lease | undefined {
    try {
      return JSON.parse(
        Deno.readTextFileSync(join(this.#leaseDir, address)),
      );
    } catch {
      return undefined;
    }
  }

  #write(lease: Lease): void {
    // Written in place, not via tmp+rename: readers hold the lock too, and
    // a file torn by a crash mid-write is treated as stale. (A rename costs
    // a journal flush on ext4, ~1 ms, where /run is not a tmpfs.)
    Deno.writeTextFileSync(
      join(this.#leaseDir, lease.address),
      JSON.stringify(lease) + "\n",
      { createNew: true },
    );
  }

  #remove(address: string): void {
    try {
      Deno.removeSync(join(this.#leaseDir, address));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
}
