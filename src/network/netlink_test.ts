import assert from "node:assert/strict";
import {
  addAddress,
  addRoute,
  decodeError,
  decodeLink,
  deleteLink,
  encodeAttrs,
  encodeRequest,
  getLink,
  IFLA,
  NetlinkSocket,
  newBridge,
  newVeth,
  parseMessages,
  RTM,
  setLink,
} from "./netlink.ts";
import { SysError } from "../errors.ts";

// The bytes iproute2 6.1 sends, captured in a scratch netns with
// `strace -e trace=sendmsg -e write=3 ip ...` (tcA=4, tinyc0=2, eth0=3).
const IP_SENT = {
  bridge:
    "3c00000010000506dfe80b6b00000000000000000000000000000000000000000b00030074696e7963300000100012000a0001006272696467650000",
  veth:
    "5800000010000506dfe80b6b00000000000000000000000000000000000000000800030074634100300012000800010076657468240002002000010000000000000000000000000000000000090003006574683000000000",
  master:
    "2800000010000500dfe80b6b000000000000000004000000000000000000000008000a0002000000",
  up: "2000000010000500dfe80b6b0000000000000000040000000100000001000000",
  addr:
    "2800000014000506e0e80b6b000000000218000003000000080002000a0a0a02080001000a0a0a02",
  defaultRoute:
    "2c00000018000506e0e80b6b0000000002000000fe03000100000000080005000a0a0a010800040003000000",
  linkRoute:
    "2c00000018000506e0e80b6b0000000002100000fe03fd0100000000080001000a1400000800040003000000",
  down: "2000000010000500e0e80b6b0000000000000000020000000000000001000000",
  netnsPid:
    "2800000010000500e0e80b6b00000000000000000300000000000000000000000800130001000000",
  del: "2000000011000500e0e80b6b0000000000000000040000000000000000000000",
};
const SEQ1 = 0x6b0be8df, SEQ2 = 0x6b0be8e0;

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

Deno.test("encoding matches what ip(8) sends", () => {
  assert.equal(hex(encodeRequest(newBridge("tinyc0"), SEQ1)), IP_SENT.bridge);
  assert.equal(
    hex(encodeRequest(newVeth({ name: "tcA", peer: "eth0" }), SEQ1)),
    IP_SENT.veth,
  );
  assert.equal(
    hex(encodeRequest(setLink(4, "tcA", { master: 2 }), SEQ1)),
    IP_SENT.master,
  );
  assert.equal(
    hex(encodeRequest(setLink(4, "tcA", { up: true }), SEQ1)),
    IP_SENT.up,
  );
  assert.equal(
    hex(encodeRequest(addAddress(3, "eth0", "10.10.10.2", 24), SEQ2)),
    IP_SENT.addr,
  );
  assert.equal(
    hex(encodeRequest(
      addRoute({
        dst: "default",
        gateway: "10.10.10.1",
        oif: 3,
        device: "eth0",
      }),
      SEQ2,
    )),
    IP_SENT.defaultRoute,
  );
  assert.equal(
    hex(encodeRequest(
      addRoute({ dst: "10.20.0.0/16", oif: 3, device: "eth0" }),
      SEQ2,
    )),
    IP_SENT.linkRoute,
  );
  assert.equal(
    hex(encodeRequest(setLink(2, "tinyc0", { up: false }), SEQ2)),
    IP_SENT.down,
  );
  assert.equal(
    hex(encodeRequest(setLink(3, "eth0", { netns: { pid: 1 } }), SEQ2)),
    IP_SENT.netnsPid,
  );
  assert.equal(
    hex(encodeRequest(deleteLink({ index: 4 }), SEQ2)),
    IP_SENT.del,
  );
});

Deno.test("veth with peer netns, master and up: hand-derived layout", () => {
  const req = newVeth({
    name: "tcA",
    peer: "eth0",
    peerNetns: { fd: 7 },
    master: 2,
    up: true,
  });
  const b = encodeRequest(req, 1);
  const v = new DataView(b.buffer);
  // ifinfomsg of the host end: flags = change = IFF_UP
  assert.equal(v.getUint32(16 + 8, true), 1);
  assert.equal(v.getUint32(16 + 12, true), 1);
  const top = [...parseAttrsList(b.subarray(32))];
  assert.deepEqual(top.map(([t]) => t), [
    IFLA.IFNAME,
    IFLA.MASTER,
    IFLA.LINKINFO,
  ]);
  assert.equal(
    new DataView(top[1][1].buffer, top[1][1].byteOffset).getUint32(0, true),
    2,
  );
  const info = [...parseAttrsList(top[2][1])];
  assert.equal(new TextDecoder().decode(info[0][1]), "veth");
  const data = [...parseAttrsList(info[1][1])];
  const peer = data[0][1]; // VETH_INFO_PEER: ifinfomsg + attributes
  const pv = new DataView(peer.buffer, peer.byteOffset);
  assert.equal(pv.getUint32(8, true), 0, "peer flags untouched");
  const peerAttrs = [...parseAttrsList(peer.subarray(16))];
  assert.deepEqual(peerAttrs.map(([t]) => t), [IFLA.IFNAME, IFLA.NET_NS_FD]);
  assert.equal(
    new DataView(peerAttrs[1][1].buffer, peerAttrs[1][1].byteOffset).getUint32(
      0,
      true,
    ),
    7,
  );
  assert.equal(v.getUint32(0, true), b.length, "nlmsg_len covers the message");
});

function* parseAttrsList(buf: Uint8Array): Generator<[number, Uint8Array]> {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = v.getUint16(off, true);
    yield [v.getUint16(off + 2, true), buf.subarray(off + 4, off + len)];
    off += (len + 3) & ~3;
  }
}

Deno.test("nests count their children's padding, leaves do not", () => {
  const b = encodeAttrs([{
    type: 1,
    data: [{ type: 2, data: new Uint8Array([9]) }],
  }]);
  // outer: len 4+8 = 12; inner: len 5, padded to 8
  assert.equal(hex(b), "0c000100" + "05000200" + "09000000");
});

Deno.test("delete by name and get link carry IFLA_IFNAME", () => {
  const d = encodeRequest(deleteLink({ name: "tc1" }), 5);
  assert.equal(
    hex(d),
    "2800000011000500050000000000000000000000000000000000000000000000" +
      "08000300" + "74633100",
  );
  const g = encodeRequest(getLink("lo"), 5);
  assert.equal(new DataView(g.buffer).getUint16(4, true), RTM.GETLINK);
  assert.equal(hex(g.subarray(32)), "070003006c6f0000");
});

Deno.test("invalid IPv4 addresses are refused", () => {
  assert.throws(() => addAddress(1, "x", "10.0.0.256", 24), /not an IPv4/);
  assert.throws(() => addAddress(1, "x", "10.0.0", 24), /not an IPv4/);
});

Deno.test("decodeError reads errno and the extended-ack message", () => {
  // NLMSG_ERROR, flags NLM_F_CAPPED|NLM_F_ACK_TLVS, error -17, echoed header, NLMSGERR_ATTR_MSG
  const text = new TextEncoder().encode("Unknown device type\0");
  const attr = new Uint8Array(4 + ((text.length + 3) & ~3));
  new DataView(attr.buffer).setUint16(0, 4 + text.length, true);
  new DataView(attr.buffer).setUint16(2, 1, true);
  attr.set(text, 4);
  const payload = new Uint8Array(4 + 16 + attr.length);
  new DataView(payload.buffer).setInt32(0, -17, true);
  new DataView(payload.buffer).setUint32(4, 32, true);
  payload.set(attr, 20);
  const msg = new Uint8Array(16 + payload.length);
  const v = new DataView(msg.buffer);
  v.setUint32(0, msg.length, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 0x300, true);
  v.setUint32(8, 42, true);
  msg.set(payload, 16);
  const [m] = parseMessages(msg);
  assert.equal(m.seq, 42);
  assert.deepEqual(decodeError(m), {
    errno: 17,
    message: "Unknown device type",
  });
  // a plain ack
  v.setUint16(6, 0x100, true);
  new DataView(payload.buffer).setInt32(0, 0, true);
  msg.set(payload, 16);
  assert.deepEqual(decodeError(parseMessages(msg)[0]), { errno: 0 });
});

Deno.test("decodeLink reads index, flags, name and master", () => {
  const body = new Uint8Array(16);
  const v = new DataView(body.buffer);
  v.setInt32(4, 9, true);
  v.setUint32(8, 0x1003, true);
  const attrs = encodeAttrs([
    { type: IFLA.IFNAME, data: new TextEncoder().encode("tc1\0") },
    { type: IFLA.MASTER, data: new Uint8Array([5, 0, 0, 0]) },
  ]);
  const payload = new Uint8Array(16 + attrs.length);
  payload.set(body);
  payload.set(attrs, 16);
  assert.deepEqual(decodeLink(payload), {
    index: 9,
    flags: 0x1003,
    name: "tc1",
    master: 5,
  });
});

const root = Deno.uid() === 0;
if (!root) console.log("netlink socket tests skipped: they need root");

Deno.test({
  name:
    "netlink socket: errors name the request, a scratch netns gets a bridge and veth",
  ignore: !root,
  fn: async () => {
    // A netns of our own, held by `unshare --net sleep`, entered through openInNetns.
    const holder = new Deno.Command("unshare", {
      args: ["--net", "sleep", "30"],
    }).spawn();
    try {
      await waitForNetns(holder.pid);
      const { openNetns, closeFd } = await import("./netlink.ts");
      const nsFd = openNetns(holder.pid);
      const nl = NetlinkSocket.openInNetns(nsFd);
      closeFd(nsFd);
      try {
        assert.equal(nl.getLink("nope0"), undefined);
        nl.call(newBridge("tinyc9"));
        const err = (() => {
          try {
            nl.call(newBridge("tinyc9"));
          } catch (e) {
            return e;
          }
        })();
        assert.ok(err instanceof SysError);
        assert.equal(err.code, "EEXIST");
        assert.match(
          err.message,
          /^netlink RTM_NEWLINK bridge tinyc9: EEXIST \(file exists/,
        );
        const br = nl.getLink("tinyc9")!;
        nl.call(
          newVeth({ name: "tcx", peer: "tcy", master: br.index, up: true }),
        );
        const tcx = nl.getLink("tcx")!;
        assert.equal(tcx.master, br.index);
        assert.equal(tcx.flags & 1, 1);
        const out = new Deno.Command("nsenter", {
          args: ["-t", String(holder.pid), "-n", "ip", "-o", "link"],
        }).outputSync();
        const links = new TextDecoder().decode(out.stdout);
        assert.match(links, /tcx@tcy: .*master tinyc9/);
        // it is in the scratch netns, not ours
        const host = NetlinkSocket.open();
        assert.equal(host.getLink("tcx"), undefined);
        host.close();
        nl.call(deleteLink({ name: "tcx" }));
        assert.equal(
          nl.getLink("tcy"),
          undefined,
          "deleting one end removes both",
        );
      } finally {
        nl.close();
      }
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
    }
  },
});

async function waitForNetns(pid: number): Promise<void> {
  const mine = Deno.readLinkSync("/proc/self/ns/net");
  for (let i = 0; i < 200; i++) {
    try {
      if (Deno.readLinkSync(`/proc/${pid}/ns/net`) !== mine) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`pid ${pid} never entered a new netns`);
}
