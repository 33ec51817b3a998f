/**
 * `-p/--publish [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]`: parsing, and
 * a userland proxy that lives in the launcher process.
 *
 * Why a proxy rather than iptables DNAT: DNAT in PREROUTING never sees
 * connections to 127.0.0.1 from the host itself (they go through OUTPUT and
 * would need `route_localnet`), while a listening socket answers on every
 * local address. And the listener is an fd of the launcher, so the kernel
 * closes it even when the launcher is SIGKILLed: nothing is left behind.
 *
 * The listeners are bound before the container starts, so a port in use is a
 * clear error (exit 125) and not a half-started container.
 *
 * @module
 */

import type dgram from "node:dgram";
import { TinycError } from "../errors.ts";
import { parseIPv4 } from "./ipam.ts";

// node:dgram is imported only when a UDP port is published: loading it costs
// ~25 ms, which a launcher without --publish must not pay.

/** 4 for a dotted quad, 6 for something shaped like an IPv6 address, else 0. */
function ipVersion(s: string): 0 | 4 | 6 {
  if (parseIPv4(s) !== undefined) return 4;
  return /^[0-9A-Fa-f:.]+$/.test(s) && s.includes(":") &&
      s.split("::").length <= 2
    ? 6
    : 0;
}

/** One published port. */
export interface PortMapping {
  /** Address to listen on: `0.0.0.0` (all IPv4) unless given. */
  hostIp: string;
  /** Host port; 0 picks a free one. */
  hostPort: number;
  /** Port inside the container. */
  containerPort: number;
  /** `tcp` or `udp`. */
  protocol: "tcp" | "udp";
  /** What the user wrote, for error messages. */
  spec: string;
}

function port(text: string, allowZero: boolean): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 && (n > 0 || allowZero) ? n : undefined;
}

/**
 * Parse one `--publish` value. Accepted, as docker does:
 * `80` (a free host port), `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`,
 * `[::1]:8080:80`, each optionally followed by `/tcp` or `/udp`.
 */
export function parsePublish(spec: string): PortMapping {
  const bad = (why: string) => new TinycError(`--publish ${spec}: ${why}`);
  let rest = spec;
  let protocol: "tcp" | "udp" = "tcp";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== "tcp" && p !== "udp") {
      throw bad("invalid protocol (use tcp or udp)");
    }
    protocol = p;
    rest = rest.slice(0, slash);
  }
  // [v6]:HOST_PORT:CONTAINER_PORT, or up to three ':'-separated fields.
  let hostIp = "0.0.0.0";
  let parts: string[];
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(rest);
  if (v6) {
    if (ipVersion(v6[1]) !== 6) throw bad("invalid host IP");
    hostIp = v6[1];
    parts = v6[2].split(":");
    if (parts.length !== 2) {
      throw bad("use [HOST_IP]:HOST_PORT:CONTAINER_PORT");
    }
  } else {
    parts = rest.split(":");
    if (parts.length > 3) {
      throw bad("too many fields (use [HOST_IP:]HOST_PORT:CONTAINER_PORT)");
    }
    if (parts.length === 3) {
      if (ipVersion(parts[0]) !== 4) throw bad("invalid host IP");
      hostIp = parts.shift()!;
    } else if (parts.length === 2 && parts[0] === "") {
      throw bad("invalid host port");
    }
  }
  const containerPort = port(parts[parts.length - 1], false);
  if (containerPort === undefined) throw bad("invalid container port");
  // An empty host port (`IP::80`) or none at all (`80`) means any free port.
  let hostPort = 0;
  if (parts.length === 2 && parts[0] !== "") {
    const h = port(parts[0], true);
    if (h === undefined) throw bad("invalid host port");
    hostPort = h;
  }
  return { hostIp, hostPort, containerPort, protocol, spec };
}

/** A published port that is listening. */
export interface BoundPort {
  /** The mapping as asked. */
  mapping: PortMapping;
  /** The port actually bound (differs from `mapping.hostPort` when that was 0). */
  hostPort: number;
}

interface Forwarder {
  bound: BoundPort;
  /** Resolves once the port is free again. */
  close(): Promise<void>;
}

function bindError(m: PortMapping, e: unknown): TinycError {
  const where = `${m.hostIp}:${m.hostPort}/${m.protocol}`;
  const code = (e as { code?: string }).code;
  if (e instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return new TinycError(`--publish ${m.spec}: port ${where} already in use`);
  }
  if (e instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
    return new TinycError(
      `--publish ${m.spec}: cannot listen on ${where}: address not available on this host`,
    );
  }
  return new TinycError(
    `--publish ${m.spec}: cannot listen on ${where}: ${(e as Error).message}`,
  );
}

/** Copy `src` to `dst` until EOF, then half-close `dst` so the peer sees EOF too. */
async function pump(src: Deno.TcpConn, dst: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await src.read(buf);
    if (n === null) break;
    let off = 0;
    while (off < n) off += await dst.write(buf.subarray(off, n));
  }
  await dst.closeWrite();
}

function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}

function tcpForwarder(m: PortMapping, target: string): Forwarder {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({ hostname: m.hostIp, port: m.hostPort });
  } catch (e) {
    throw bindError(m, e);
  }
  const open = new Set<Deno.TcpConn>();
  async function handle(client: Deno.TcpConn): Promise<void> {
    open.add(client);
    let upstream: Deno.TcpConn | undefined;
    try {
      upstream = await Deno.connect({
        hostname: target,
        port: m.containerPort,
      });
      open.add(upstream);
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      await Promise.all([pump(client, upstream), pump(upstream, client)]);
    } catch {
      // Refused, reset or torn down: the client sees its connection close.
    } finally {
      for (const c of [client, upstream]) {
        if (c) {
          open.delete(c);
          closeQuietly(c);
        }
      }
    }
  }
  const accepting = (async () => {
    try {
      for await (const conn of listener) handle(conn);
    } catch { /* listener closed */ }
  })();
  return {
    bound: { mapping: m, hostPort: (listener.addr as Deno.NetAddr).port },
    async close() {
      closeQuietly(listener);
      for (const c of open) closeQuietly(c);
      open.clear();
      // Deno frees the socket only when the pending accept is cancelled, a
      // tick later; until then the port is still bound.
      await accepting;
    },
  };
}

/** How long a UDP flow without traffic keeps its upstream socket. */
const UDP_IDLE_MS = 60_000;

async function udpForwarder(
  m: PortMapping,
  target: string,
): Promise<Forwarder> {
  const { createSocket } = await import("node:dgram");
  const front = createSocket(ipVersion(m.hostIp) === 6 ? "udp6" : "udp4");
  try {
    await new Promise<void>((resolve, reject) => {
      front.once("error", reject);
      front.bind(m.hostPort, m.hostIp, () => {
        front.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    closeQuietly(front);
    throw bindError(m, e);
  }
  // One upstream socket per client address, so replies find their way back.
  const flows = new Map<
    string,
    { sock: dgram.Socket; timer?: ReturnType<typeof setTimeout> }
  >();
  const endFlow = (key: string) => {
    const f = flows.get(key);
    if (!f) return;
    flows.delete(key);
    clearTimeout(f.timer);
    closeQuietly(f.sock);
  };
  front.on("message", (msg, client) => {
    const key = `${client.address}|${client.port}`;
    let flow = flows.get(key);
    if (!flow) {
      const sock = createSocket("udp4");
      sock.on("message", (reply, from) => {
        if (from.address !== target || from.port !== m.containerPort) return;
        front.send(reply, client.port, client.address);
      });
      sock.on("error", () => endFlow(key));
      flow = { sock };
      flows.set(key, flow);
    }
    clearTimeout(flow.timer);
    flow.timer = setTimeout(() => endFlow(key), UDP_IDLE_MS);
    flow.sock.send(msg, m.containerPort, target);
  });
  front.on(
    "error",
    () => {/* keep serving; per-datagram errors are not fatal */},
  );
  return {
    bound: { mapping: m, hostPort: front.address().port },
    async close() {
      for (const key of [...flows.keys()]) endFlow(key);
      await new Promise<void>((resolve) => {
        try {
          front.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    },
  };
}

/**
 * Listeners for every mapping, forwarding to `target` (the container's
 * address). Binds all of them before returning, and on any failure closes the
 * ones already bound and throws a one-line {@link TinycError}.
 */
export class PortPublisher {
  readonly #forwarders: Forwarder[];

  private constructor(forwarders: Forwarder[]) {
    this.#forwarders = forwarders;
  }

  /** Bind every mapping now; connections are forwarded to `target` from then on. */
  static async open(
    mappings: readonly PortMapping[],
    target: string,
  ): Promise<PortPublisher> {
    const done: Forwarder[] = [];
    try {
      for (const m of mappings) {
        done.push(
          m.protocol === "tcp"
            ? tcpForwarder(m, target)
            : await udpForwarder(m, target),
        );
      }
    } catch (e) {
      await Promise.all(done.map((f) => f.close()));
      throw e;
    }
    return new PortPublisher(done);
  }

  /** What is listening, with the host ports actually bound. */
  get ports(): BoundPort[] {
    return this.#forwarders.map((f) => f.bound);
  }

  /** Stop listening and drop every forwarded connection; resolves when the ports are free. */
  async close(): Promise<void> {
    const all = this.#forwarders.splice(0);
    await Promise.all(all.map((f) => f.close()));
  }
}
