/**
 * Container networking: `--network none|host|bridge`, `--subnet`, `--publish`, `--nat`.
 *
 * Plan, then apply. {@link planNetwork} turns options (and the address the
 * IPAM leased) into plain data; {@link setupNetwork} applies it with
 * rtnetlink; {@link teardownNetwork} undoes it. {@link ContainerNetwork}
 * bundles the lease, the plan, the published-port listeners and the
 * generated `/etc/hosts` for the launcher, which does all of it in a
 * host-setup step, while the init boots (measured: it then adds nothing to
 * start-up):
 *
 *   launcher                                   kernel / container
 *   CLI: parseSubnet, parsePublish,      one-line errors, exit 125
 *        checkNetworkOptions
 *   unshare(NEWNET ...), spawn init ───▶ init boots, waits on the sync pipe
 *   startNetwork(opts, initPid)
 *     prepare: lease, hosts file,        address under the IPAM lock; a port
 *              bind published ports      in use fails here (exit 125)
 *     setup:   firewall (firewall.ts)    the bridge's isolation rules, this
 *                                        container's --nat rules, then (only
 *                                        for --nat) ip_forward on
 *              bridge tinyc0 (first      veth tcXXXX ⇄ eth0 born in the
 *              use), veth, addresses     init's netns; lo and eth0 up,
 *                                        eth0 address, default route
 *   add a bind mount hostsFile ->
 *     /etc/hosts to the init's config
 *   go ────────────────────────────────▶ mounts (incl. /etc/hosts), execve
 *   wait for the container
 *   await net.teardown()                 listeners closed, host veth deleted,
 *                                        lease released, then the firewall
 *                                        redone without it (ip_forward back
 *                                        off after the last --nat container
 *                                        if tinyc turned it on)
 *
 * Bridge mode setup for the container side works from outside: a netlink
 * socket made while the launcher's main thread is briefly inside the
 * container's netns stays bound to that namespace (see netlink.ts).
 *
 * @module
 */

import { SysError, TinycError } from "../errors.ts";
import {
  addAddress,
  addRoute,
  closeFd,
  deleteAddress,
  deleteLink,
  IFF_UP,
  type LinkInfo,
  NetlinkSocket,
  newBridge,
  newVeth,
  openNetns,
  setLink,
} from "./netlink.ts";
import {
  DEFAULT_STATE_DIR,
  DEFAULT_SUBNET,
  formatIPv4,
  Ipam,
  type Lease,
  leaseOwnerAlive,
  parseIPv4,
  parseSubnet,
  type Subnet,
} from "./ipam.ts";
import {
  type FirewallEnv,
  firewallTag,
  type NatContainer,
  updateFirewall,
  withBridge,
  withoutBridges,
  withoutContainer,
} from "./firewall.ts";
import { type BoundPort, type PortMapping, PortPublisher } from "./publish.ts";

export { type BoundPort, parsePublish, type PortMapping } from "./publish.ts";
export { DEFAULT_STATE_DIR, DEFAULT_SUBNET, parseSubnet } from "./ipam.ts";

/** The bridge containers attach to unless told otherwise. */
export const DEFAULT_BRIDGE = "tinyc0";

/** `--network` values. */
export type NetworkMode = "none" | "host" | "bridge";

/** What the user asked for. */
export interface NetworkOptions {
  /** `none` (default: only lo), `host` (no netns), `bridge`. */
  mode: NetworkMode;
  /** Names the veth and tags the lease and firewall rules. */
  containerId: string;
  /** For the `/etc/hosts` entry. */
  hostname?: string;
  /** `--subnet` CIDR (bridge only); default {@link DEFAULT_SUBNET}. */
  subnet?: string;
  /** Bridge name; default {@link DEFAULT_BRIDGE}. */
  bridge?: string;
  /** Parsed `--publish` values (bridge only). */
  publish?: readonly PortMapping[];
  /** `--nat`: masquerade outbound traffic and enable forwarding (bridge only). */
  nat?: boolean;
}

/** A route inside the container. */
export interface PlannedRoute {
  /** `default` or a CIDR. */
  dst: string;
  /** Next hop. */
  gateway: string;
  /** Device inside the container. */
  device: string;
}

/** Everything {@link setupNetwork} will do, as data. */
export interface NetworkPlan {
  /** The mode. */
  mode: NetworkMode;
  /** Whether the launcher must unshare CLONE_NEWNET (false only for `host`). */
  newNetns: boolean;
  /** Bring `lo` up inside (a fresh netns has it down). */
  loopbackUp: boolean;
  /** The bridge and its (gateway) address, created/assigned when missing. */
  bridge?: {
    name: string;
    gateway: string;
    prefixLength: number;
    subnet: string;
  };
  /** The veth pair: `host` end on the bridge, `container` end in the netns. */
  veth?: { host: string; container: string };
  /** The container's address on its veth end. */
  address?: { address: string; prefixLength: number; device: string };
  /** Routes inside the container. */
  routes: PlannedRoute[];
  /** Published ports, forwarded to {@link NetworkPlan.address}. */
  ports: PortMapping[];
  /**
   * This container in the bridge firewall (bridge mode): its bridge gets
   * isolation rules; with `--nat`, its address gets MASQUERADE and may be
   * forwarded out, rules tagged `tag`, and forwarding is turned on.
   */
  firewall?: { bridge: string; address: string; tag: string; nat: boolean };
  /** Content for the container's `/etc/hosts` (bridge mode with a hostname). */
  hosts?: string;
}

/** FNV-1a, 64 bit, as 16 hex digits: a stable short name for any id. */
function fnv1a64(s: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(s)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, "0");
}

/**
 * The host end's name: `tc` + 12 hex digits (14 of the kernel's 15). A hex
 * container id is used as is, so `ip link` shows its prefix; anything else
 * is hashed, since a truncated name could collide.
 */
export function vethName(containerId: string): string {
  const id = /^[0-9a-f]{12,}$/.test(containerId)
    ? containerId
    : fnv1a64(containerId);
  return `tc${id.slice(0, 12)}`;
}

/** An `/etc/hosts` for a container called `hostname` at `address`. */
export function hostsFileContent(hostname: string, address: string): string {
  if (!/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(hostname)) {
    throw new TinycError(`hostname ${hostname}: not valid in /etc/hosts`);
  }
  const short = hostname.split(".")[0];
  const names = short !== hostname ? `${hostname} ${short}` : hostname;
  return [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${address}\t${names}`,
    "",
  ].join("\n");
}

/**
 * Check the options that do not depend on an address: mode, subnet, and that
 * bridge-only flags come with `--network bridge`. Returns the parsed subnet.
 */
export function checkNetworkOptions(opts: NetworkOptions): Subnet | undefined {
  if (!["none", "host", "bridge"].includes(opts.mode)) {
    throw new TinycError(
      `--network ${opts.mode}: unknown mode (use none, host or bridge)`,
    );
  }
  if (opts.mode !== "bridge") {
    const needs = (what: string) =>
      new TinycError(`${what}: requires --network bridge`);
    if (opts.publish?.length) {
      throw needs(`--publish ${opts.publish[0].spec}`);
    }
    if (opts.subnet !== undefined) throw needs(`--subnet ${opts.subnet}`);
    if (opts.nat) throw needs("--nat");
    return undefined;
  }
  const bridge = opts.bridge ?? DEFAULT_BRIDGE;
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) {
    throw new TinycError(
      `bridge ${bridge}: invalid interface name (1-15 of A-Z a-z 0-9 _ . -)`,
    );
  }
  return parseSubnet(opts.subnet ?? DEFAULT_SUBNET);
}

/**
 * The network plan (pure). Bridge mode needs `address`, the container's
 * leased address in the subnet.
 */
export function planNetwork(
  opts: NetworkOptions & { address?: string },
): NetworkPlan {
  const subnet = checkNetworkOptions(opts);
  const base: NetworkPlan = {
    mode: opts.mode,
    newNetns: opts.mode !== "host",
    loopbackUp: opts.mode !== "host",
    routes: [],
    ports: [],
  };
  if (!subnet) return base;
  const ip = opts.address === undefined ? undefined : parseIPv4(opts.address);
  if (
    ip === undefined || ip < subnet.first || ip > subnet.last
  ) {
    throw new TinycError(
      `network: address ${opts.address} is not a container address in ${subnet.cidr}`,
    );
  }
  const address = formatIPv4(ip);
  const gateway = formatIPv4(subnet.gateway);
  const bridge = opts.bridge ?? DEFAULT_BRIDGE;
  const tag = firewallTag(opts.containerId);
  return {
    ...base,
    bridge: {
      name: bridge,
      gateway,
      prefixLength: subnet.prefixLength,
      subnet: subnet.cidr,
    },
    veth: { host: vethName(opts.containerId), container: "eth0" },
    address: { address, prefixLength: subnet.prefixLength, device: "eth0" },
    routes: [{ dst: "default", gateway, device: "eth0" }],
    ports: [...(opts.publish ?? [])],
    firewall: { bridge, address, tag, nat: opts.nat === true },
    hosts: opts.hostname ? hostsFileContent(opts.hostname, address) : undefined,
  };
}

function randomMac(): Uint8Array {
  const mac = crypto.getRandomValues(new Uint8Array(6));
  mac[0] = (mac[0] & 0xfe) | 0x02; // unicast, locally administered
  return mac;
}

function isCode(e: unknown, code: string): boolean {
  return e instanceof SysError && e.code === code;
}

/**
 * Remove a subnet's gateway address (and so its route) from the bridge once
 * no container uses the subnet any more; the bridge itself stays.
 */
function dropGateway(plan: NetworkPlan): void {
  const b = plan.bridge;
  if (!b) return;
  const nl = NetlinkSocket.open();
  try {
    const link = nl.getLink(b.name);
    if (!link) return;
    try {
      nl.call(deleteAddress(link.index, b.name, b.gateway, b.prefixLength));
    } catch (e) {
      // Already gone (a concurrent last container, or by hand).
      if (!isCode(e, "EADDRNOTAVAIL") && !isCode(e, "ENODEV")) throw e;
    }
  } finally {
    nl.close();
  }
}

/**
 * The bridge, created if missing, with the gateway address, up. Concurrent
 * launchers may race here: EEXIST from either step means another won.
 */
function ensureBridge(
  nl: NetlinkSocket,
  b: NonNullable<NetworkPlan["bridge"]>,
): LinkInfo {
  let link = nl.getLink(b.name);
  if (!link) {
    try {
      // A fixed MAC: otherwise a bridge takes the lowest of its ports' MACs
      // and changes it as containers come and go, confusing ARP caches.
      nl.call(newBridge(b.name, randomMac()));
    } catch (e) {
      if (!isCode(e, "EEXIST")) throw e;
    }
    link = nl.getLink(b.name);
    if (!link) {
      throw new TinycError(`bridge ${b.name}: vanished after creation`);
    }
  }
  // `replace`: idempotent without going through an error (and its cost).
  nl.call(addAddress(link.index, b.name, b.gateway, b.prefixLength, true));
  if (!(link.flags & IFF_UP)) {
    nl.call(setLink(link.index, b.name, { up: true }));
  }
  return link;
}

/**
 * Apply `plan` to the container whose init is `initPid` (still waiting, not
 * yet running the user's command). Synchronous, on the calling thread. On
 * failure it undoes what it did and throws.
 */
export function setupNetwork(plan: NetworkPlan, initPid: number): void {
  if (!plan.newNetns) return;
  const nsFd = openNetns(initPid);
  let inside: NetlinkSocket | undefined;
  let host: NetlinkSocket | undefined;
  try {
    inside = NetlinkSocket.openInNetns(nsFd);
    if (plan.loopbackUp) {
      // lo is ifindex 1 in every netns (LOOPBACK_IFINDEX, Linux >= 3.7).
      inside.call(setLink(1, "lo", { up: true }));
    }
    if (!plan.bridge || !plan.veth || !plan.address) return;
    host = NetlinkSocket.open();
    const bridge = ensureBridge(host, plan.bridge);
    // One message: host end enslaved and up, peer born in the container's
    // netns as eth0; no temporary names, nothing to move afterwards.
    host.call(newVeth({
      name: plan.veth.host,
      peer: plan.veth.container,
      peerNetns: { fd: nsFd },
      master: bridge.index,
      up: true,
    }));
    const eth = inside.getLink(plan.veth.container);
    if (!eth) {
      throw new TinycError(
        `veth ${plan.veth.host}: peer ${plan.veth.container} missing in the container`,
      );
    }
    // Up before the route: the kernel refuses a gateway on a down link.
    inside.call(setLink(eth.index, plan.veth.container, { up: true }));
    const a = plan.address;
    inside.call(addAddress(eth.index, a.device, a.address, a.prefixLength));
    for (const r of plan.routes) {
      inside.call(addRoute({ ...r, oif: eth.index }));
    }
  } catch (e) {
    try {
      if (plan.veth) deleteHostVeth(plan.veth.host);
    } catch { /* report the first error */ }
    throw e;
  } finally {
    inside?.close();
    host?.close();
    closeFd(nsFd);
  }
}

/**
 * Undo {@link setupNetwork} on the host side (idempotent). The container
 * end needs nothing: it dies with the container's netns, and so would the
 * host end, but the kernel destroys a netns asynchronously (0-25 ms later
 * here), so the host end is deleted now. That takes the kernel ~15-25 ms
 * (RCU grace periods); the wait happens off the main thread.
 */
export async function teardownNetwork(plan: NetworkPlan): Promise<void> {
  if (plan.veth) await deleteHostVethAsync(plan.veth.host);
}

async function deleteHostVethAsync(name: string): Promise<void> {
  const nl = NetlinkSocket.open();
  try {
    await nl.callAsync(deleteLink({ name }));
  } catch (e) {
    if (!isCode(e, "ENODEV")) throw e;
  } finally {
    nl.close();
  }
}

function deleteHostVeth(name: string): void {
  const nl = NetlinkSocket.open();
  try {
    nl.call(deleteLink({ name }));
  } catch (e) {
    if (!isCode(e, "ENODEV")) throw e;
  } finally {
    nl.close();
  }
}

/** Whether network interface `name` exists on the host. */
function linkExists(name: string): boolean {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) return false;
  try {
    Deno.statSync(`/sys/class/net/${name}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Bring bridge `bridge`'s firewall rules in line with the live leases on it
 * (under the IPAM lock, so concurrent starts and ends of this state
 * directory's containers apply in some order and the last one wins with the
 * full picture). With no live lease the bridge keeps its isolation rules
 * as long as it exists itself; rules of bridges that were deleted go.
 */
function syncBridgeFirewall(
  ipam: Ipam,
  bridge: string,
  env: FirewallEnv,
): void {
  ipam.withLock(() => {
    const live = ipam.list().filter((l) =>
      (l.resources.bridge ?? DEFAULT_BRIDGE) === bridge && leaseOwnerAlive(l)
    );
    const nat: NatContainer[] = live
      .filter((l) => l.resources.firewallTag)
      .map((l) => ({ tag: l.resources.firewallTag!, address: l.address }));
    // A live lease keeps its bridge's rules even before the bridge exists:
    // the rules come first.
    const keep = (b: string) =>
      (b === bridge && live.length > 0) || linkExists(b);
    updateFirewall(
      (m) => withoutBridges(withBridge(m, bridge, nat), (b) => !keep(b)),
      env,
    );
  });
}

/** Undo what a crashed launcher left: veth, --nat rules, files. */
function cleanUpStale(lease: Lease, env: FirewallEnv = {}): void {
  const r = lease.resources;
  if (r.hostVeth) deleteHostVeth(r.hostVeth);
  if (r.firewallTag) {
    // Its bridge's isolation rules stay until that bridge's next sync.
    const tag = r.firewallTag;
    updateFirewall((m) => withoutContainer(m, tag), env);
  }
  for (const f of r.files ?? []) {
    try {
      Deno.removeSync(f);
    } catch { /* gone */ }
  }
}

/** Where tinyc keeps network state; tests point it at a temporary directory. */
export interface NetworkEnv {
  /** Lease and hosts-file directory; default {@link DEFAULT_STATE_DIR}. */
  stateDir?: string;
  /**
   * The firewall's lock and forwarding record: host-wide like the iptables
   * chains, so {@link DEFAULT_STATE_DIR} even when `stateDir` is elsewhere.
   */
  firewall?: FirewallEnv;
}

/**
 * One container's network, from before the container starts until after it
 * ends. See the module comment for when the launcher calls what.
 */
export class ContainerNetwork {
  /** The applied plan. */
  readonly plan: NetworkPlan;
  /** The address lease (bridge mode). */
  readonly lease?: Lease;
  /** A file to bind-mount over the container's `/etc/hosts`, if any. */
  readonly hostsFile?: string;
  readonly #ipam?: Ipam;
  readonly #publisher?: PortPublisher;
  readonly #firewallEnv: FirewallEnv;
  #firewallTouched = false;
  #done = false;

  private constructor(
    plan: NetworkPlan,
    parts: {
      lease?: Lease;
      hostsFile?: string;
      ipam?: Ipam;
      publisher?: PortPublisher;
      firewallEnv?: FirewallEnv;
    },
  ) {
    this.plan = plan;
    this.lease = parts.lease;
    this.hostsFile = parts.hostsFile;
    this.#ipam = parts.ipam;
    this.#publisher = parts.publisher;
    this.#firewallEnv = parts.firewallEnv ?? {};
  }

  /**
   * Before the container exists: check options, lease an address (reclaiming
   * stale leases), write the hosts file and bind the published ports. Any
   * failure here is a one-line {@link TinycError} and leaves nothing behind.
   */
  static async prepare(
    opts: NetworkOptions,
    env: NetworkEnv = {},
  ): Promise<ContainerNetwork> {
    const subnet = checkNetworkOptions(opts);
    if (!subnet) return new ContainerNetwork(planNetwork(opts), {});
    if (Deno.uid() !== 0) {
      throw new TinycError(
        "--network bridge: requires root (use --network none or host)",
      );
    }
    const ipam = new Ipam(env.stateDir ?? DEFAULT_STATE_DIR);
    const veth = vethName(opts.containerId);
    // Named like the veth, so it is known before leasing and recorded in the
    // lease from the start: a crash at any point leaves nothing unknown.
    const hostsFile = opts.hostname ? `${ipam.dir}/hosts/${veth}` : undefined;
    const lease = ipam.allocate(subnet, opts.containerId, {
      resources: {
        hostVeth: veth,
        bridge: opts.bridge ?? DEFAULT_BRIDGE,
        firewallTag: opts.nat ? firewallTag(opts.containerId) : undefined,
        files: hostsFile ? [hostsFile] : undefined,
      },
      onStale: (l) => cleanUpStale(l, env.firewall),
    });
    let publisher: PortPublisher | undefined;
    try {
      const plan = planNetwork({ ...opts, address: lease.address });
      if (hostsFile && plan.hosts) {
        Deno.mkdirSync(`${ipam.dir}/hosts`, { recursive: true, mode: 0o755 });
        Deno.writeTextFileSync(hostsFile, plan.hosts, { mode: 0o644 });
      }
      if (plan.ports.length) {
        publisher = await PortPublisher.open(plan.ports, lease.address);
      }
      return new ContainerNetwork(plan, {
        lease,
        hostsFile,
        ipam,
        publisher,
        firewallEnv: env.firewall,
      });
    } catch (e) {
      if (hostsFile) {
        try {
          Deno.removeSync(hostsFile);
        } catch { /* not written */ }
      }
      ipam.release(lease);
      throw e;
    }
  }

  /** Published ports with the host ports actually bound. */
  get ports(): BoundPort[] {
    return this.#publisher?.ports ?? [];
  }

  /**
   * After spawning the init, before releasing it: the firewall first (so
   * the container's interface never exists without the rules around it,
   * and forwarding comes on only after them), then {@link setupNetwork}.
   * On failure, call {@link ContainerNetwork.teardown}.
   */
  setup(initPid: number): void {
    if (this.plan.firewall && this.#ipam) {
      this.#firewallTouched = true;
      syncBridgeFirewall(
        this.#ipam,
        this.plan.firewall.bridge,
        this.#firewallEnv,
      );
    }
    setupNetwork(this.plan, initPid);
  }

  /**
   * After the container ended (or setup failed): close listeners, delete the
   * host veth and firewall rules, remove the hosts file, release the lease.
   * Idempotent; every step runs even if an earlier one fails, and the first
   * error is thrown at the end.
   */
  async teardown(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    const errors: unknown[] = [];
    const step = async (fn: () => void | Promise<void>) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    await step(() => this.#publisher?.close());
    await step(() => teardownNetwork(this.plan));
    await step(() => {
      if (this.hostsFile) Deno.removeSync(this.hostsFile);
    });
    await step(() => {
      if (this.lease) {
        this.#ipam?.release(this.lease, () => dropGateway(this.plan));
      }
    });
    // After the release: the lease no longer counts, so the rules for this
    // container go (and forwarding, if it was the last --nat one and tinyc
    // turned it on).
    await step(() => {
      if (this.#firewallTouched && this.#ipam && this.plan.firewall) {
        syncBridgeFirewall(
          this.#ipam,
          this.plan.firewall.bridge,
          this.#firewallEnv,
        );
      }
    });
    if (errors.length) throw errors[0];
  }
}

/**
 * {@link ContainerNetwork.prepare} then {@link ContainerNetwork.setup} for
 * init `initPid`, undoing the first if the second fails. Meant for a launcher
 * host-setup step: run after the init is spawned, it overlaps the init's own
 * start-up, and a failure (port in use, no free address) still stops the
 * container before the user's command runs.
 */
export async function startNetwork(
  opts: NetworkOptions,
  initPid: number,
  env: NetworkEnv = {},
): Promise<ContainerNetwork> {
  const net = await ContainerNetwork.prepare(opts, env);
  try {
    net.setup(initPid);
  } catch (e) {
    await net.teardown().catch(() => {});
    throw e;
  }
  return net;
}

/** Shorthand for {@link ContainerNetwork.prepare}. */
export function prepareNetwork(
  opts: NetworkOptions,
  env: NetworkEnv = {},
): Promise<ContainerNetwork> {
  return ContainerNetwork.prepare(opts, env);
}

/**
 * Remove the firewall rules of bridges whose interface is gone (and the
 * tinyc chains with the last of them). Runs by itself at every bridge
 * container's start and end; for tests and a `prune`-like command.
 */
export function pruneFirewall(env: NetworkEnv = {}): void {
  updateFirewall(
    (m) => withoutBridges(m, (b) => !linkExists(b)),
    env.firewall,
  );
}

/**
 * Reclaim leases of dead launchers and what they left, --nat rules and
 * forwarding included (for a `tinyc prune`-like command).
 */
export function reclaimStaleNetworks(env: NetworkEnv = {}): Lease[] {
  return new Ipam(env.stateDir ?? DEFAULT_STATE_DIR).reclaimStale((l) =>
    cleanUpStale(l, env.firewall)
  );
}
