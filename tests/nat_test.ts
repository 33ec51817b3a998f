/**
 * The bridge firewall against another host (issue 9, item 9), through the CLI
 * as root. The "other host" is a network namespace of this test's own,
 * `tinyc-test-peer-<rand>`, joined to the host by a veth pair on a /30 that
 * overlaps none of the host's routes, with a route to the bridge subnet via
 * the host. All traffic goes to addresses inside namespaces this test made
 * (the peer, the containers) or to the host end of the test's veth.
 */

import assert from "node:assert/strict";
import {
  busyboxRoot,
  readUntil,
  sh,
  skipUnlessRoot,
  tinycSpawn,
} from "./helpers.ts";
import { parseSubnet, subnetConflict } from "../src/network/ipam.ts";

const ignore = skipUnlessRoot("tests/nat_test.ts") || !hasTools();

function hasTools(): boolean {
  for (const cmd of ["iptables-save", "busybox"]) {
    try {
      new Deno.Command(cmd, {
        args: ["--help"],
        stdout: "null",
        stderr: "null",
      })
        .outputSync();
    } catch {
      console.log(`tests/nat_test.ts: skipping: ${cmd} not installed`);
      return false;
    }
  }
  return true;
}

function run(cmd: string, ...args: string[]): { ok: boolean; out: string } {
  const o = new Deno.Command(cmd, { args, stdin: "null", stderr: "piped" })
    .outputSync();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

function must(cmd: string, ...args: string[]): string {
  const r = run(cmd, ...args);
  if (!r.ok) throw new Error(`${cmd} ${args.join(" ")}: ${r.out}`);
  return r.out;
}

/** The other host: a netns with a veth to the host and a route to `bridgeSubnet`. */
interface Peer {
  ns: string;
  hostVeth: string;
  hostAddress: string;
  address: string;
  /** Run a command inside it (bounded by the command's own timeouts). */
  exec(...args: string[]): { ok: boolean; out: string };
  remove(): void;
}

function makePeer(bridgeSubnet: string): Peer {
  const routes = Deno.readTextFileSync("/proc/net/route");
  // A /30 of 192.168.251-254 that is not on the host already.
  const third = [251, 252, 253, 254].find((n) =>
    !subnetConflict(parseSubnet(`192.168.${n}.0/30`), routes, "-")
  );
  if (third === undefined) throw new Error("no free 192.168.25x.0/30 here");
  const rand = crypto.getRandomValues(new Uint8Array(3))
    .reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
  const ns = `tinyc-test-peer-${rand}`;
  const hostVeth = `tnph${rand}`;
  const hostAddress = `192.168.${third}.1`;
  const address = `192.168.${third}.2`;
  const peer: Peer = {
    ns,
    hostVeth,
    hostAddress,
    address,
    exec: (...args) => run("ip", "netns", "exec", ns, ...args),
    remove: () => {
      run("ip", "link", "del", hostVeth); // takes the peer end with it
      run("ip", "netns", "del", ns);
    },
  };
  try {
    must("ip", "netns", "add", ns);
    must(
      "ip",
      "link",
      "add",
      hostVeth,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      ns,
    );
    must("ip", "addr", "add", `${hostAddress}/30`, "dev", hostVeth);
    must("ip", "link", "set", hostVeth, "up");
    must("ip", "-n", ns, "addr", "add", `${address}/30`, "dev", "eth0");
    must("ip", "-n", ns, "link", "set", "eth0", "up");
    must("ip", "-n", ns, "link", "set", "lo", "up");
    must(
      "ip",
      "-n",
      ns,
      "route",
      "add",
      bridgeSubnet,
      "via",
      hostAddress,
    );
  } catch (e) {
    peer.remove();
    throw e;
  }
  return peer;
}

/** A TCP server in the peer: answers `peer` and reports each client's address. */
const PEER_SERVER = `
const l = Deno.listen({ hostname: Deno.args[0], port: 0 });
console.log("port", l.addr.port);
for await (const c of l) {
  console.log("client", c.remoteAddr.hostname);
  await c.write(new TextEncoder().encode("peer\\n")).catch(() => {});
  c.close();
}
`;

function ipForward(): string {
  return Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward").trim();
}

function liveLeases(): number {
  try {
    return [...Deno.readDirSync("/run/tinyc/net/leases")].length;
  } catch {
    return 0;
  }
}

/** Stop a `trap 'exit 0' TERM` container the way a user would, and wait for tinyc. */
async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* ended */ }
  await child.status;
  await child.stdout.cancel().catch(() => {});
  await child.stderr.cancel().catch(() => {});
}

const LOOP = "while :; do sleep 0.2 & wait $!; done";

Deno.test({
  name:
    "bridge firewall: another host reaches only published ports, only --nat containers reach it, only the bridge's rules stay",
  ignore,
}, async () => {
  const root = await busyboxRoot();
  const forwardBefore = ipForward();
  const peer = makePeer("10.10.10.0/24");
  const children: Deno.ChildProcess[] = [];
  let server: Deno.ChildProcess | undefined;
  let natIp = "";
  try {
    // The peer's server, on its own address.
    server = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        peer.ns,
        Deno.execPath(),
        "eval",
        PEER_SERVER,
        peer.address,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const serverOut = server.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let serverLog = "";
    while (!/port \d+\n/.test(serverLog)) {
      const { value, done } = await serverOut.read();
      if (done) throw new Error(`peer server ended: ${serverLog}`);
      serverLog += value;
    }
    const peerPort = serverLog.match(/port (\d+)/)![1];

    // A plain container with a persistent nc server on an unpublished port
    // 8000, also published on the host end of the peer's link.
    const probe = Deno.listen({ hostname: peer.hostAddress, port: 0 });
    const published = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const plain = tinycSpawn([
      "run",
      "--root",
      root,
      "--network",
      "bridge",
      "-p",
      `${peer.hostAddress}:${published}:8000`,
      "--",
      "/bin/sh",
      "-c",
      `trap 'exit 0' TERM; ip -4 -o addr show eth0; nc -ll -p 8000 -e /bin/echo open & ${LOOP}`,
    ]);
    children.push(plain);
    const plainIp = (await readUntil(plain.stdout, /inet \d+\.\d+\.\d+\.\d+/))
      .split(" ")[1];
    // A --nat container: forwarding is on while it runs.
    const nat = tinycSpawn([
      "run",
      "--root",
      root,
      "--network",
      "bridge",
      "--nat",
      "--",
      "/bin/sh",
      "-c",
      `trap 'exit 0' TERM; ip -4 -o addr show eth0; ${LOOP}`,
    ]);
    children.push(nat);
    natIp = (await readUntil(nat.stdout, /inet \d+\.\d+\.\d+\.\d+/))
      .split(" ")[1];
    assert.equal(ipForward(), "1");

    // Controls: the server is up (from the host), the peer's route to the
    // bridge subnet works (the gateway answers it), a published port answers
    // the peer through tinyc's proxy.
    let fromHost = "";
    for (let i = 0; i < 50 && !fromHost.includes("open"); i++) {
      fromHost = run("busybox", "nc", "-w", "2", plainIp, "8000").out;
      if (!fromHost.includes("open")) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.match(fromHost, /open/);
    assert.ok(
      peer.exec("busybox", "ping", "-c", "1", "-W", "2", "10.10.10.1").ok,
    );
    assert.match(
      peer.exec("busybox", "nc", "-w", "2", peer.hostAddress, String(published))
        .out,
      /open/,
    );

    // (a) the peer cannot reach the unpublished port, forwarding on or not
    const direct = peer.exec("busybox", "nc", "-w", "2", plainIp, "8000");
    assert.ok(!direct.out.includes("open"), direct.out);
    // nor the --nat container (nothing comes in unasked)
    const toNat = peer.exec("busybox", "ping", "-c", "1", "-W", "1", natIp);
    assert.ok(!toNat.ok, toNat.out);

    // (b) a plain container cannot reach the peer
    const out = await sh(
      `nc -w 2 ${peer.address} ${peerPort} || echo blocked`,
      ["--network", "bridge"],
    );
    assert.equal(out.code, 0, out.stderr);
    assert.ok(!out.stdout.includes("peer"), out.stdout);
    assert.match(out.stdout, /blocked/);

    // (c) a --nat container can, masqueraded: the peer sees the host's address
    const natOut = await sh(
      `nc -w 3 ${peer.address} ${peerPort}`,
      ["--network", "bridge", "--nat"],
    );
    assert.equal(natOut.code, 0, natOut.stderr);
    assert.equal(natOut.stdout.trim(), "peer");
    while (!/client /.test(serverLog)) {
      const { value, done } = await serverOut.read();
      if (done) break;
      serverLog += value;
    }
    // exactly one client ever reached the peer: the --nat one
    assert.deepEqual(
      serverLog.split("\n").filter((l) => l.startsWith("client ")),
      [`client ${peer.hostAddress}`],
    );
    await serverOut.cancel();
  } finally {
    for (const c of children) await stop(c);
    if (server) {
      try {
        server.kill("SIGKILL");
      } catch { /* ended */ }
      await server.status;
    }
    peer.remove();
  }
  // (d) nothing of the test's stays: the peer, and tinyc's rules
  assert.ok(!run("ip", "netns", "list").out.includes(peer.ns));
  assert.ok(!run("ip", "-o", "link").out.includes(peer.hostVeth));
  const saved = must("iptables-save");
  assert.ok(!saved.includes(`${natIp}/32`), saved);
  if (liveLeases() === 0) {
    // No container left on this host: tinyc0 stays, and so do its four
    // isolation rules (README); nothing else, and forwarding as it was.
    assert.deepEqual(tinycRules(saved).filter((r) => r.includes("tinyc0")), [
      "-A TINYC-FORWARD -i tinyc0 -o tinyc0 -j ACCEPT",
      "-A TINYC-FORWARD -o tinyc0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      "-A TINYC-FORWARD -o tinyc0 -j DROP",
      "-A TINYC-FORWARD -i tinyc0 -j DROP",
    ]);
    assert.deepEqual(leftovers(saved), []);
    assert.equal(ipForward(), forwardBefore);
  }
});

/** The rules in tinyc's chains. */
function tinycRules(saved: string): string[] {
  return saved.split("\n").filter((l) => l.startsWith("-A TINYC-"));
}

/** Rules that must not outlive their containers: --nat ones, the catch-all DROP. */
function leftovers(saved: string): string[] {
  return tinycRules(saved).filter((r) =>
    r.includes("--comment") || r === "-A TINYC-FORWARD -j DROP"
  );
}

Deno.test({
  name: "a --nat run that fails leaves forwarding as it was and no --nat rule",
  ignore,
}, async () => {
  const before = ipForward();
  const rules = () => tinycRules(must("iptables-save"));
  const rulesBefore = rules();
  // before the network exists: a published port in use
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const r = await sh("echo should-not-run", [
      "--network",
      "bridge",
      "--nat",
      "-p",
      `127.0.0.1:${(busy.addr as Deno.NetAddr).port}:80`,
    ]);
    assert.equal(r.code, 125, r.stderr);
    assert.equal(ipForward(), before);
    assert.deepEqual(rules(), rulesBefore);
  } finally {
    busy.close();
  }
  // after it: the command cannot be run
  const r = await sh("exec /no/such/command", ["--network", "bridge", "--nat"]);
  assert.equal(r.code, 127, r.stderr);
  if (liveLeases() === 0) {
    // what stays is the bridge's, as after any bridge run
    assert.equal(ipForward(), before);
    assert.deepEqual(leftovers(must("iptables-save")), []);
  }
});
