/**
 * rtnetlink over an `AF_NETLINK`/`NETLINK_ROUTE` socket, synchronously.
 *
 * Two halves: pure encoders that turn an operation ("create veth tc1a2b with
 * peer eth0 in that netns") into a {@link NetlinkRequest} and then into the
 * exact bytes `ip(8)` would send (the unit tests compare against bytes captured
 * with `strace -xx ip ...`), and {@link NetlinkSocket}, which sends a request
 * with `NLM_F_ACK` and turns the kernel's `NLMSG_ERROR` answer into a
 * {@link SysError} such as `netlink RTM_NEWLINK veth tc12345: EEXIST (file exists)`.
 *
 * A netlink socket acts on the network namespace it was created in, whatever
 * thread later uses it. {@link NetlinkSocket.openInNetns} uses that: it enters
 * the target namespace on the calling thread just long enough to create the
 * socket, so the container side is configured without running anything inside.
 *
 * @module
 */

import {
  addr,
  cstr,
  errno,
  errnoError,
  errnoName,
  errnoText,
  libc,
} from "../libc.ts";
import { SysError } from "../errors.ts";
import { writeAsync } from "./netlink_ffi.ts";

// ---------------------------------------------------------------------------
// Constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h)

/** rtnetlink message types. */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  NEWADDR: 20,
  DELADDR: 21,
  NEWROUTE: 24,
  DELROUTE: 25,
} as const;

/** `nlmsg_flags` bits. */
export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  REPLACE: 0x100,
  EXCL: 0x200,
  CREATE: 0x400,
  /** In an `NLMSG_ERROR` answer: extended-ack attributes follow. */
  ACK_TLVS: 0x200,
} as const;

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSG_HDRLEN = 16;

/** `IFLA_*` link attributes. */
export const IFLA = {
  ADDRESS: 1,
  IFNAME: 3,
  MTU: 4,
  MASTER: 10,
  LINKINFO: 18,
  NET_NS_PID: 19,
  NET_NS_FD: 28,
} as const;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const NLMSGERR_ATTR_MSG = 1;

/** `IFF_UP` (linux/if.h). */
export const IFF_UP = 0x1;

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_UNIVERSE = 0;
const RT_SCOPE_LINK = 253;
const RTN_UNICAST = 1;
const CLONE_NEWNET = 0x40000000;
const O_RDONLY_CLOEXEC = 0o2000000;

const TYPE_NAMES = new Map<number, string>(
  Object.entries(RTM).map(([k, v]) => [v, `RTM_${k}`]),
);

/** `RTM_NEWLINK veth tc1` for errors. */
function describe(req: NetlinkRequest): string {
  return `${messageTypeName(req.type)} ${req.what}`;
}

/** `RTM_NEWLINK` for 16. */
export function messageTypeName(type: number): string {
  return TYPE_NAMES.get(type) ?? `nlmsg type ${type}`;
}

// ---------------------------------------------------------------------------
// Encoding

/** A route attribute: raw payload bytes, or nested attributes. */
export interface Attr {
  /** `rta_type` / `nla_type`. */
  type: number;
  /** Payload bytes, or children for a nested attribute. */
  data: Uint8Array | readonly Attr[];
}

/** One request: header fields, the fixed family header, attributes, and a description for errors. */
export interface NetlinkRequest {
  /** `RTM_*`. */
  type: number;
  /** `NLM_F_*`, without `NLM_F_REQUEST|NLM_F_ACK` (always added). */
  flags: number;
  /** The family header: ifinfomsg, ifaddrmsg or rtmsg. */
  header: Uint8Array;
  /** Attributes after the header. */
  attrs: readonly Attr[];
  /** What the request does, for error messages: `veth tc12345`. */
  what: string;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Attributes as bytes, each padded to 4. Like iproute2's `addattr_nest_end`,
 * a nest's length covers its children including their padding, while a leaf's
 * length is its unpadded size.
 */
export function encodeAttrs(attrs: readonly Attr[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const a of attrs) {
    const payload = a.data instanceof Uint8Array ? a.data : encodeAttrs(a.data);
    const len = 4 + payload.length;
    const out = new Uint8Array(align4(len));
    const v = new DataView(out.buffer);
    v.setUint16(0, len, true);
    v.setUint16(2, a.type, true);
    out.set(payload, 4);
    parts.push(out);
  }
  return concat(parts);
}

const encoder = new TextEncoder();

/** A string attribute, NUL-terminated unless `nul` is false (iproute2 sends `IFLA_INFO_KIND` without). */
export function strAttr(type: number, s: string, nul = true): Attr {
  return { type, data: nul ? cstr(s) : encoder.encode(s) };
}

/** A native-endian u32 attribute. */
export function u32Attr(type: number, n: number): Attr {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, n >>> 0, true);
  return { type, data };
}

/** An IPv4 address attribute (network byte order). */
export function ipv4Attr(type: number, address: string): Attr {
  return { type, data: ipv4Bytes(address) };
}

/** `10.10.10.2` as its 4 network-order bytes. Throws on anything else. */
export function ipv4Bytes(address: string): Uint8Array {
  const parts = address.split(".");
  const bytes = parts.map((p) => /^\d{1,3}$/.test(p) ? Number(p) : NaN);
  if (bytes.length !== 4 || bytes.some((b) => !(b >= 0 && b <= 255))) {
    throw new TypeError(`not an IPv4 address: ${address}`);
  }
  return new Uint8Array(bytes);
}

/** `struct ifinfomsg` (16 bytes). */
export function ifinfomsg(
  o: { index?: number; flags?: number; change?: number } = {},
): Uint8Array {
  const out = new Uint8Array(16);
  const v = new DataView(out.buffer);
  v.setUint8(0, AF_UNSPEC);
  v.setUint16(2, 0, true); // ifi_type
  v.setInt32(4, o.index ?? 0, true);
  v.setUint32(8, o.flags ?? 0, true);
  v.setUint32(12, o.change ?? 0, true);
  return out;
}

/** `struct ifaddrmsg` (8 bytes), AF_INET, scope universe. */
export function ifaddrmsg(
  o: { prefixLength: number; index: number },
): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint8(0, AF_INET);
  v.setUint8(1, o.prefixLength);
  v.setUint8(2, 0); // ifa_flags
  v.setUint8(3, RT_SCOPE_UNIVERSE);
  v.setUint32(4, o.index, true);
  return out;
}

/**
 * `struct rtmsg` (12 bytes) for an IPv4 unicast route in the main table, as
 * `ip route add` sends it: scope link for a route without a gateway.
 */
export function rtmsg(o: { dstLength: number; scope?: number }): Uint8Array {
  return new Uint8Array([
    AF_INET,
    o.dstLength,
    0, // rtm_src_len
    0, // rtm_tos
    RT_TABLE_MAIN,
    RTPROT_BOOT,
    o.scope ?? RT_SCOPE_UNIVERSE,
    RTN_UNICAST,
    0,
    0,
    0,
    0, // rtm_flags
  ]);
}

/** The full message: `nlmsghdr` + family header + attributes, with `NLM_F_REQUEST|NLM_F_ACK` added. */
export function encodeRequest(req: NetlinkRequest, seq: number): Uint8Array {
  const body = concat([req.header, encodeAttrs(req.attrs)]);
  const out = new Uint8Array(align4(NLMSG_HDRLEN + body.length));
  const v = new DataView(out.buffer);
  v.setUint32(0, NLMSG_HDRLEN + body.length, true);
  v.setUint16(4, req.type, true);
  v.setUint16(6, req.flags | NLM_F.REQUEST | NLM_F.ACK, true);
  v.setUint32(8, seq >>> 0, true);
  v.setUint32(12, 0, true); // nlmsg_pid: the kernel fills it in
  out.set(body, NLMSG_HDRLEN);
  return out;
}

// ---------------------------------------------------------------------------
// Requests (pure)

/** Which network namespace a link goes to: by a process's pid or an open `/proc/PID/ns/net` fd. */
export type NetnsRef = { pid: number } | { fd: number };

function netnsAttr(ns: NetnsRef): Attr {
  return "pid" in ns
    ? u32Attr(IFLA.NET_NS_PID, ns.pid)
    : u32Attr(IFLA.NET_NS_FD, ns.fd);
}

function netnsText(ns: NetnsRef): string {
  return "pid" in ns ? `netns pid ${ns.pid}` : `netns fd ${ns.fd}`;
}

const CREATE_EXCL = NLM_F.CREATE | NLM_F.EXCL;

/** `ip link add NAME [address MAC] type bridge`. */
export function newBridge(name: string, mac?: Uint8Array): NetlinkRequest {
  const attrs: Attr[] = [strAttr(IFLA.IFNAME, name)];
  if (mac) attrs.push({ type: IFLA.ADDRESS, data: mac });
  return {
    type: RTM.NEWLINK,
    flags: CREATE_EXCL,
    header: ifinfomsg(),
    attrs: [
      ...attrs,
      {
        type: IFLA.LINKINFO,
        data: [strAttr(IFLA_INFO_KIND, "bridge", false)],
      },
    ],
    what: `bridge ${name}`,
  };
}

/** Options for {@link newVeth}. */
export interface VethOptions {
  /** The end that stays in the caller's namespace. */
  name: string;
  /** The other end's name (in its namespace). */
  peer: string;
  /** Create the peer directly in this namespace. */
  peerNetns?: NetnsRef;
  /** Attach `name` to this bridge (ifindex). */
  master?: number;
  /**
   * Bring `name` up. (The peer cannot be brought up in the same message: the
   * kernel configures it before the pair is linked, and veth_open() answers
   * ENOTCONN. Set it up afterwards with {@link setLink}.)
   */
  up?: boolean;
}

/**
 * `ip link add NAME [master M] [up] type veth peer name PEER [netns NS]`:
 * one message creates both ends, places the peer in the container's namespace
 * and enslaves the host end, so there is no moment with a half-made pair.
 */
export function newVeth(o: VethOptions): NetlinkRequest {
  const peerAttrs: Attr[] = [strAttr(IFLA.IFNAME, o.peer)];
  if (o.peerNetns) peerAttrs.push(netnsAttr(o.peerNetns));
  const attrs: Attr[] = [strAttr(IFLA.IFNAME, o.name)];
  if (o.master !== undefined) attrs.push(u32Attr(IFLA.MASTER, o.master));
  attrs.push({
    type: IFLA.LINKINFO,
    data: [
      strAttr(IFLA_INFO_KIND, "veth", false),
      {
        type: IFLA_INFO_DATA,
        data: [{
          type: VETH_INFO_PEER,
          // The peer is described like a link of its own: an ifinfomsg, then attributes.
          data: concat([ifinfomsg(), encodeAttrs(peerAttrs)]),
        }],
      },
    ],
  });
  return {
    type: RTM.NEWLINK,
    flags: CREATE_EXCL,
    header: ifinfomsg(o.up ? { flags: IFF_UP, change: IFF_UP } : {}),
    attrs,
    what: `veth ${o.name}`,
  };
}

/** Changes for {@link setLink}. */
export interface LinkChanges {
  /** Bring up (true) or down (false). */
  up?: boolean;
  /** New master (bridge ifindex); 0 detaches. */
  master?: number;
  /** Move to another network namespace. */
  netns?: NetnsRef;
  /** Rename. */
  name?: string;
}

/** `ip link set` on the link with ifindex `index`; `label` names it in errors. */
export function setLink(
  index: number,
  label: string,
  c: LinkChanges,
): NetlinkRequest {
  const attrs: Attr[] = [];
  const said: string[] = [];
  if (c.name !== undefined) {
    attrs.push(strAttr(IFLA.IFNAME, c.name));
    said.push(`name ${c.name}`);
  }
  if (c.master !== undefined) {
    attrs.push(u32Attr(IFLA.MASTER, c.master));
    said.push(`master ${c.master}`);
  }
  if (c.netns !== undefined) {
    attrs.push(netnsAttr(c.netns));
    said.push(netnsText(c.netns));
  }
  if (c.up !== undefined) said.push(c.up ? "up" : "down");
  return {
    type: RTM.NEWLINK,
    flags: 0,
    header: ifinfomsg({
      index,
      flags: c.up ? IFF_UP : 0,
      change: c.up === undefined ? 0 : IFF_UP,
    }),
    attrs,
    what: `link ${label} ${said.join(" ")}`.trimEnd(),
  };
}

/** `ip link del`, by ifindex or by name. */
export function deleteLink(
  link: { index: number } | { name: string },
): NetlinkRequest {
  return "index" in link
    ? {
      type: RTM.DELLINK,
      flags: 0,
      header: ifinfomsg({ index: link.index }),
      attrs: [],
      what: `link ${link.index}`,
    }
    : {
      type: RTM.DELLINK,
      flags: 0,
      header: ifinfomsg(),
      attrs: [strAttr(IFLA.IFNAME, link.name)],
      what: `link ${link.name}`,
    };
}

/** `ip link show NAME` (the answer is one RTM_NEWLINK message). */
export function getLink(name: string): NetlinkRequest {
  return {
    type: RTM.GETLINK,
    flags: 0,
    header: ifinfomsg(),
    attrs: [strAttr(IFLA.IFNAME, name)],
    what: `link ${name}`,
  };
}

/**
 * `ip addr add ADDRESS/PREFIX dev INDEX`, or with `replace` `ip addr replace`
 * (no EEXIST when it is there already); `label` names the device in errors.
 */
export function addAddress(
  index: number,
  label: string,
  address: string,
  prefixLength: number,
  replace = false,
): NetlinkRequest {
  return {
    type: RTM.NEWADDR,
    flags: replace ? NLM_F.CREATE | NLM_F.REPLACE : CREATE_EXCL,
    header: ifaddrmsg({ prefixLength, index }),
    attrs: [ipv4Attr(IFA_LOCAL, address), ipv4Attr(IFA_ADDRESS, address)],
    what: `addr ${address}/${prefixLength} dev ${label}`,
  };
}

/** `ip addr del ADDRESS/PREFIX dev INDEX`. */
export function deleteAddress(
  index: number,
  label: string,
  address: string,
  prefixLength: number,
): NetlinkRequest {
  return {
    type: RTM.DELADDR,
    flags: 0,
    header: ifaddrmsg({ prefixLength, index }),
    attrs: [ipv4Attr(IFA_LOCAL, address), ipv4Attr(IFA_ADDRESS, address)],
    what: `addr del ${address}/${prefixLength} dev ${label}`,
  };
}

/** A route to add: `dst` `default` or `A.B.C.D/N`. */
export interface RouteSpec {
  /** `default` or a CIDR. */
  dst: string;
  /** Next hop. */
  gateway?: string;
  /** Output device ifindex. */
  oif: number;
  /** Its name, for errors. */
  device: string;
}

/** `ip route add DST [via GATEWAY] dev DEVICE`. */
export function addRoute(r: RouteSpec): NetlinkRequest {
  const attrs: Attr[] = [];
  let dstLength = 0;
  if (r.dst !== "default") {
    const [ip, len] = r.dst.split("/");
    dstLength = Number(len ?? 32);
    attrs.push(ipv4Attr(RTA_DST, ip));
  }
  if (r.gateway) attrs.push(ipv4Attr(RTA_GATEWAY, r.gateway));
  attrs.push(u32Attr(RTA_OIF, r.oif));
  return {
    type: RTM.NEWROUTE,
    flags: CREATE_EXCL,
    header: rtmsg({
      dstLength,
      scope: r.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
    }),
    attrs,
    what: `route ${r.dst}${
      r.gateway ? ` via ${r.gateway}` : ""
    } dev ${r.device}`,
  };
}

// ---------------------------------------------------------------------------
// Decoding

/** One received netlink message. */
export interface Message {
  /** `nlmsg_type`. */
  type: number;
  /** `nlmsg_flags`. */
  flags: number;
  /** `nlmsg_seq`. */
  seq: number;
  /** Everything after the 16-byte header. */
  payload: Uint8Array;
}

/** Split a datagram into its messages. */
export function parseMessages(buf: Uint8Array): Message[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Message[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = v.getUint32(off, true);
    if (len < NLMSG_HDRLEN || off + len > buf.length) break;
    out.push({
      type: v.getUint16(off + 4, true),
      flags: v.getUint16(off + 6, true),
      seq: v.getUint32(off + 8, true),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes at the top level of `buf`, by type (the last one wins). */
export function parseAttrs(buf: Uint8Array): Map<number, Uint8Array> {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, Uint8Array>();
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = v.getUint16(off, true);
    if (len < 4 || off + len > buf.length) break;
    // Strip NLA_F_NESTED / NLA_F_NET_BYTEORDER.
    out.set(
      v.getUint16(off + 2, true) & 0x3fff,
      buf.subarray(off + 4, off + len),
    );
    off += align4(len);
  }
  return out;
}

const decoder = new TextDecoder();

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return decoder.decode(nul < 0 ? b : b.subarray(0, nul));
}

/** What {@link NetlinkSocket.getLink} reports. */
export interface LinkInfo {
  /** ifindex. */
  index: number;
  /** Interface name. */
  name: string;
  /** `IFF_*` flags. */
  flags: number;
  /** ifindex of the master (bridge), if enslaved. */
  master?: number;
}

/** Decode an RTM_NEWLINK payload. */
export function decodeLink(payload: Uint8Array): LinkInfo {
  const v = new DataView(
    payload.buffer,
    payload.byteOffset,
    payload.byteLength,
  );
  const attrs = parseAttrs(payload.subarray(16));
  const master = attrs.get(IFLA.MASTER);
  return {
    index: v.getInt32(4, true),
    flags: v.getUint32(8, true),
    name: cString(attrs.get(IFLA.IFNAME) ?? new Uint8Array()),
    master: master
      ? new DataView(master.buffer, master.byteOffset, 4).getUint32(0, true)
      : undefined,
  };
}

/**
 * Decode an `NLMSG_ERROR` payload: the (negated) errno, 0 for a plain ack, and
 * the kernel's extended-ack text when it sent one. With `NETLINK_CAP_ACK` the
 * echoed request is only its 16-byte header.
 */
export function decodeError(
  msg: Message,
): { errno: number; message?: string } {
  const v = new DataView(
    msg.payload.buffer,
    msg.payload.byteOffset,
    msg.payload.byteLength,
  );
  const errno = 0 - v.getInt32(0, true); // (not `-x`, which makes an ack -0)
  if (!(msg.flags & NLM_F.ACK_TLVS)) return { errno };
  const echoed = 4 + NLMSG_HDRLEN;
  // Without NLM_F_CAPPED (0x100) the whole request was echoed back.
  const skip = msg.flags & 0x100 ? echoed : 4 + align4(v.getUint32(4, true));
  const text = parseAttrs(msg.payload.subarray(skip)).get(NLMSGERR_ATTR_MSG);
  return { errno, message: text ? cString(text) : undefined };
}

// ---------------------------------------------------------------------------
// The socket

function fail(call: string, detail: string): never {
  throw errnoError(call, detail);
}

/**
 * socket and setsockopt go through libc's generic `syscall` entry: binding
 * each as an FFI symbol of its own costs ~0.3 ms on first use, on the
 * launcher's path to the user's command.
 */
const NR: Readonly<Record<"socket" | "setsockopt", bigint>> =
  Deno.build.arch === "aarch64"
    ? { socket: 198n, setsockopt: 208n }
    : { socket: 41n, setsockopt: 54n };

function sys(
  nr: bigint,
  a1: number | bigint,
  a2: number | bigint = 0n,
  a3: number | bigint = 0n,
  a4: number | bigint = 0n,
  a5: number | bigint = 0n,
): number {
  return Number(
    libc().syscall(
      nr,
      BigInt(a1),
      BigInt(a2),
      BigInt(a3),
      BigInt(a4),
      BigInt(a5),
    ),
  );
}

function setsockopt(
  fd: number,
  level: number,
  name: number,
  val: Uint8Array,
): number {
  return sys(NR.setsockopt, fd, level, name, addr(val), val.length);
}

/** A NETLINK_ROUTE socket bound to the namespace it was made in; every call is synchronous. */
export class NetlinkSocket {
  #fd: number;
  #seq = Math.floor(Date.now() / 1000) & 0x7fffffff;
  #buf = new Uint8Array(65536);

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * A socket in the calling thread's network namespace. It is not bound: the
   * kernel assigns a port id on the first send.
   */
  static open(): NetlinkSocket {
    const fd = sys(
      NR.socket,
      AF_NETLINK,
      SOCK_RAW | SOCK_CLOEXEC,
      NETLINK_ROUTE,
    );
    if (fd < 0) fail("socket", "AF_NETLINK NETLINK_ROUTE");
    const s = new NetlinkSocket(fd);
    try {
      // Best effort: the kernel's error text, and no echo of our request in errors.
      const one = new Uint8Array([1, 0, 0, 0]);
      setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, one);
      setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, one);
      // rtnetlink answers within sendto(); the timeout only turns a kernel bug into an error.
      const tv = new Uint8Array(new BigInt64Array([5n, 0n]).buffer);
      if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv) !== 0) {
        fail("setsockopt", "SO_RCVTIMEO");
      }
    } catch (e) {
      s.close();
      throw e;
    }
    return s;
  }

  /**
   * A socket in the network namespace of `nsFd` (an open `/proc/PID/ns/net`).
   * The calling thread enters that namespace only to create the socket and
   * returns at once; nothing else runs meanwhile because all of it is
   * synchronous on this thread.
   */
  static openInNetns(nsFd: number): NetlinkSocket {
    const c = libc();
    const self = c.open(cstr("/proc/thread-self/ns/net"), O_RDONLY_CLOEXEC, 0);
    if (self < 0) fail("open", "`/proc/thread-self/ns/net`");
    try {
      if (c.setns(nsFd, CLONE_NEWNET) !== 0) fail("setns", `netns fd ${nsFd}`);
      let sock: NetlinkSocket | undefined;
      let err: unknown;
      try {
        sock = NetlinkSocket.open();
      } catch (e) {
        err = e;
      }
      if (c.setns(self, CLONE_NEWNET) !== 0) {
        sock?.close();
        // The thread is stranded in the container's namespace: nothing sane can follow.
        fail("setns", "back to the launcher's netns");
      }
      if (err) throw err;
      return sock!;
    } finally {
      c.close(self);
    }
  }

  /** Send `req` and wait for its ack; returns the answer messages before the ack. */
  call(req: NetlinkRequest): Message[] {
    const seq = ++this.#seq;
    const msg = encodeRequest(req, seq);
    // Plain write/read: an unconnected netlink socket sends to the kernel
    // by default, and read/write are bound already for the sync pipe.
    for (;;) {
      const n = Number(libc().write(this.#fd, msg, BigInt(msg.length)));
      if (n >= 0) break;
      if (errno() !== 4 /* EINTR */) fail("netlink write", describe(req));
    }
    return this.#answers(seq, req);
  }

  /**
   * {@link call} with the send on a pool thread, for requests the kernel
   * takes long over (deleting a link waits for RCU): the event loop runs on.
   */
  async callAsync(req: NetlinkRequest): Promise<Message[]> {
    const seq = ++this.#seq;
    const msg = encodeRequest(req, seq);
    if (await writeAsync(this.#fd, msg) < 0) {
      // errno stayed on the pool thread.
      throw new SysError("netlink write", describe(req), 0, "EIO", "failed");
    }
    // The kernel handled the request inside write(): the ack is queued.
    return this.#answers(seq, req);
  }

  #answers(seq: number, req: NetlinkRequest): Message[] {
    const answers: Message[] = [];
    for (;;) {
      const n = Number(
        libc().read(this.#fd, this.#buf, BigInt(this.#buf.length)),
      );
      if (n < 0) {
        if (errno() === 4) continue;
        fail("netlink read", describe(req));
      }
      for (const m of parseMessages(this.#buf.slice(0, n))) {
        if (m.seq !== seq) continue; // a late answer to an earlier request
        if (m.type === NLMSG_ERROR) {
          const e = decodeError(m);
          if (e.errno === 0) return answers;
          const text = errnoText(e.errno) + (e.message ? `: ${e.message}` : "");
          throw new SysError(
            "netlink",
            describe(req),
            e.errno,
            errnoName(e.errno),
            text,
          );
        }
        if (m.type === NLMSG_DONE) return answers;
        answers.push(m);
      }
    }
  }

  /** The link called `name`, or undefined when there is none (ENODEV). */
  getLink(name: string): LinkInfo | undefined {
    try {
      const answers = this.call(getLink(name));
      const m = answers.find((a) => a.type === RTM.NEWLINK);
      return m ? decodeLink(m.payload) : undefined;
    } catch (e) {
      if (e instanceof SysError && e.code === "ENODEV") return undefined;
      throw e;
    }
  }

  /** Close the socket (idempotent). */
  close(): void {
    if (this.#fd >= 0) libc().close(this.#fd);
    this.#fd = -1;
  }
}

/** Open `/proc/PID/ns/net` (close with {@link closeFd}). */
export function openNetns(pid: number): number {
  const path = `/proc/${pid}/ns/net`;
  const fd = libc().open(cstr(path), O_RDONLY_CLOEXEC, 0);
  if (fd < 0) fail("open", `\`${path}\``);
  return fd;
}

/** `close(fd)`. */
export function closeFd(fd: number): void {
  libc().close(fd);
}
