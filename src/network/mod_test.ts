import assert from "node:assert/strict";
import {
  ContainerNetwork,
  hostsFileContent,
  type NetworkOptions,
  parsePublish,
  planNetwork,
  prepareNetwork,
  pruneFirewall,
  reclaimStaleNetworks,
  setupNetwork,
  vethName,
} from "./mod.ts";
import { TinycError } from "../errors.ts";

// ---------------------------------------------------------------------------
// Planning (pure)

Deno.test("plan: none has a netns with lo up and nothing else; host has no netns", () => {
  assert.deepEqual(planNetwork({ mode: "none", containerId: "a" }), {
    mode: "none",
    newNetns: true,
    loopbackUp: true,
    routes: [],
    ports: [],
  });
  const host = planNetwork({ mode: "host", containerId: "a" });
  assert.equal(host.newNetns, false);
  assert.equal(host.loopbackUp, false);
  assert.equal(host.veth, undefined);
});

Deno.test("plan: bridge with the book's defaults", () => {
  const plan = planNetwork({
    mode: "bridge",
    containerId: "0123456789abcdef0123",
    hostname: "box",
    address: "10.10.10.2",
    publish: [parsePublish("8080:80")],
  });
  assert.deepEqual(plan, {
    mode: "bridge",
    newNetns: true,
    loopbackUp: true,
    bridge: {
      name: "tinyc0",
      gateway: "10.10.10.1",
      prefixLength: 24,
      subnet: "10.10.10.0/24",
    },
    veth: { host: "tc0123456789ab", container: "eth0" },
    address: { address: "10.10.10.2", prefixLength: 24, device: "eth0" },
    routes: [{ dst: "default", gateway: "10.10.10.1", device: "eth0" }],
    ports: [{
      hostIp: "0.0.0.0",
      hostPort: 8080,
      containerPort: 80,
      protocol: "tcp",
      spec: "8080:80",
    }],
    firewall: {
      bridge: "tinyc0",
      address: "10.10.10.2",
      tag: "tinyc:0123456789abcdef0123",
      nat: false,
    },
    hosts:
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.10.10.2\tbox\n",
  });
});

Deno.test("plan: --nat marks the container for masquerade and forwarding", () => {
  const plan = planNetwork({
    mode: "bridge",
    containerId: "web1",
    subnet: "172.30.0.0/16",
    address: "172.30.0.9",
    nat: true,
  });
  assert.equal(plan.bridge?.gateway, "172.30.0.1");
  assert.equal(plan.address?.prefixLength, 16);
  assert.deepEqual(plan.firewall, {
    bridge: "tinyc0",
    address: "172.30.0.9",
    tag: "tinyc:web1",
    nat: true,
  });
});

Deno.test("plan: one-line errors for options that need bridge mode or make no sense", () => {
  const cases: Array<[NetworkOptions & { address?: string }, string]> = [
    [
      { mode: "none", containerId: "a", publish: [parsePublish("80:80")] },
      "--publish 80:80: requires --network bridge",
    ],
    [
      { mode: "host", containerId: "a", subnet: "10.0.0.0/24" },
      "--subnet 10.0.0.0/24: requires --network bridge",
    ],
    [
      { mode: "none", containerId: "a", nat: true },
      "--nat: requires --network bridge",
    ],
    [
      { mode: "overlay" as "none", containerId: "a" },
      "--network overlay: unknown mode (use none, host or bridge)",
    ],
    [
      {
        mode: "bridge",
        containerId: "a",
        subnet: "10.0.0.1/24",
        address: "10.0.0.2",
      },
      "--subnet 10.0.0.1/24: host bits set (did you mean 10.0.0.0/24?)",
    ],
    [
      { mode: "bridge", containerId: "a", address: "10.10.10.1" },
      "network: address 10.10.10.1 is not a container address in 10.10.10.0/24",
    ],
    [
      {
        mode: "bridge",
        containerId: "a",
        bridge: "a-very-long-bridge",
        address: "10.10.10.2",
      },
      "bridge a-very-long-bridge: invalid interface name (1-15 of A-Z a-z 0-9 _ . -)",
    ],
  ];
  for (const [opts, message] of cases) {
    assert.throws(() => planNetwork(opts), (e: unknown) => {
      assert.ok(e instanceof TinycError);
      assert.equal(e.message, message);
      assert.equal(e.exitCode, 125);
      return true;
    });
  }
});

Deno.test("vethName: short, stable, distinct, a hex id shows through", () => {
  assert.equal(vethName("deadbeef0123456789"), "tcdeadbeef0123");
  const names = ["web", "web1", "web10", "my container", "web".repeat(40)].map(
    vethName,
  );
  assert.equal(new Set(names).size, names.length);
  for (const n of names) assert.match(n, /^tc[0-9a-f]{12}$/);
  assert.equal(vethName("web"), vethName("web"));
});

Deno.test("hostsFileContent: localhost lines, the container's name, its short name", () => {
  assert.equal(
    hostsFileContent("db.example.test", "10.10.10.7"),
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.10.10.7\tdb.example.test db\n",
  );
  assert.throws(
    () => hostsFileContent("bad name\n", "10.10.10.7"),
    /hostname bad name\n: not valid in \/etc\/hosts/,
  );
});

// ---------------------------------------------------------------------------
// Applying it for real (root): namespaces held by `unshare --net sleep`

const root = Deno.uid() === 0;
if (!root) console.log("network integration tests skipped: they need root");
const hasBusybox = (() => {
  try {
    return new Deno.Command("busybox", { args: ["true"] }).outputSync().success;
  } catch {
    return false;
  }
})();
if (root && !hasBusybox) {
  console.log("network integration tests skipped: no busybox");
}
const canRun = root && hasBusybox;

interface Holder {
  pid: number;
  kill(): Promise<void>;
}

/** A process sitting in a fresh network namespace. */
async function netnsHolder(): Promise<Holder> {
  const child = new Deno.Command("unshare", {
    args: ["--net", "sleep", "120"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const mine = Deno.readLinkSync("/proc/self/ns/net");
  for (let i = 0; i < 300; i++) {
    try {
      if (Deno.readLinkSync(`/proc/${child.pid}/ns/net`) !== mine) {
        return {
          pid: child.pid,
          kill: async () => {
            try {
              child.kill("SIGKILL");
            } catch { /* gone */ }
            await child.status;
          },
        };
      }
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error("unshare --net never got its namespace");
}

function sh(...args: string[]): { ok: boolean; out: string } {
  const o = new Deno.Command(args[0], { args: args.slice(1), stderr: "piped" })
    .outputSync();
  const dec = new TextDecoder();
  return { ok: o.success, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

function inNs(pid: number, ...args: string[]): { ok: boolean; out: string } {
  return sh("nsenter", "-t", String(pid), "-n", ...args);
}

/** A bridge and subnet of the test's own, so nothing clashes with a real tinyc0. */
function scratch(): {
  bridge: string;
  subnet: string;
  prefix: string;
  stateDir: string;
} {
  const n = 1 + Math.floor(Math.random() * 250);
  return {
    bridge: `tinyct${n}`,
    subnet: `10.231.${n}.0/24`,
    prefix: `10.231.${n}.`,
    stateDir: Deno.makeTempDirSync({ prefix: "tinyc-net-" }),
  };
}

function hostLinks(): string {
  return sh("ip", "-o", "link").out;
}

/** Delete a scratch bridge, and with it its firewall rules. */
function dropBridge(name: string): void {
  sh("ip", "link", "del", name);
  if (hasIptables) pruneFirewall();
}

Deno.test({
  name: "none: the container's netns has only lo, up",
  ignore: !canRun,
  fn: async () => {
    const h = await netnsHolder();
    try {
      setupNetwork(planNetwork({ mode: "none", containerId: "n" }), h.pid);
      const links = inNs(h.pid, "ip", "-o", "link").out.trim().split("\n");
      assert.equal(links.length, 1, links.join("\n"));
      assert.match(links[0], /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
    } finally {
      await h.kill();
    }
  },
});

Deno.test({
  name:
    "bridge: two containers reach each other and the gateway; teardown leaves nothing",
  ignore: !canRun,
  fn: async () => {
    const s = scratch();
    const [ha, hb] = [await netnsHolder(), await netnsHolder()];
    const nets: ContainerNetwork[] = [];
    let httpd: Deno.ChildProcess | undefined;
    let www: string | undefined;
    try {
      for (const [id, h] of [["alpha", ha], ["beta", hb]] as const) {
        const net = await prepareNetwork({
          mode: "bridge",
          containerId: id,
          hostname: id,
          bridge: s.bridge,
          subnet: s.subnet,
        }, { stateDir: s.stateDir });
        nets.push(net);
        net.setup(h.pid);
      }
      const [a, b] = nets.map((n) => n.plan.address!.address);
      assert.deepEqual([a, b], [`${s.prefix}2`, `${s.prefix}3`]);
      const addrs = inNs(ha.pid, "ip", "-o", "-4", "addr").out;
      assert.match(
        addrs,
        new RegExp(`eth0\\s+inet ${a.replaceAll(".", "\\.")}/24`),
      );
      assert.match(
        inNs(ha.pid, "ip", "route").out,
        new RegExp(
          `^default via ${s.prefix.replaceAll(".", "\\.")}1 dev eth0`,
          "m",
        ),
      );
      assert.match(inNs(ha.pid, "ip", "-o", "link", "show", "lo").out, /UP/);
      // the host ends are on the bridge
      for (const n of nets) {
        assert.match(
          hostLinks(),
          new RegExp(`${n.plan.veth!.host}@if\\d+: .* master ${s.bridge} `),
        );
      }
      for (
        const [pid, to] of [[ha.pid, b], [hb.pid, a], [
          ha.pid,
          `${s.prefix}1`,
        ]] as const
      ) {
        const r = inNs(pid, "busybox", "ping", "-c", "1", "-W", "2", to);
        assert.ok(r.ok, `ping ${to}: ${r.out}`);
      }
      // HTTP from alpha to a busybox httpd in beta
      www = Deno.makeTempDirSync();
      Deno.writeTextFileSync(`${www}/index.html`, "hello from beta\n");
      httpd = new Deno.Command("nsenter", {
        args: [
          "-t",
          String(hb.pid),
          "-n",
          "busybox",
          "httpd",
          "-f",
          "-p",
          "80",
          "-h",
          www,
        ],
      }).spawn();
      let got = "";
      for (let i = 0; i < 100 && got !== "hello from beta\n"; i++) {
        got =
          inNs(ha.pid, "busybox", "wget", "-q", "-O", "-", `http://${b}/`).out;
        if (got !== "hello from beta\n") {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.equal(got, "hello from beta\n");
      // /etc/hosts material
      assert.ok(nets[0].hostsFile);
      assert.equal(
        Deno.readTextFileSync(nets[0].hostsFile!),
        hostsFileContent("alpha", a),
      );
      assert.equal([...Deno.readDirSync(`${s.stateDir}/leases`)].length, 2);
    } finally {
      httpd?.kill("SIGKILL");
      await httpd?.status;
      for (const n of nets) await n.teardown();
      await ha.kill();
      await hb.kill();
      if (www) Deno.removeSync(www, { recursive: true });
    }
    const links = hostLinks();
    for (const n of nets) assert.ok(!links.includes(n.plan.veth!.host), links);
    assert.deepEqual([...Deno.readDirSync(`${s.stateDir}/leases`)], []);
    assert.deepEqual([...Deno.readDirSync(`${s.stateDir}/hosts`)], []);
    dropBridge(s.bridge);
    Deno.removeSync(s.stateDir, { recursive: true });
  },
});

const UDP_ECHO = `
import dgram from "node:dgram";
const s = dgram.createSocket("udp4");
s.on("message", (m, r) => s.send("echo:" + m, r.port, r.address));
s.bind(5353, "0.0.0.0", () => console.log("ready"));
`;

Deno.test({
  name: "published tcp and udp ports answer on 127.0.0.1 and close on teardown",
  ignore: !canRun,
  fn: async () => {
    const s = scratch();
    const h = await netnsHolder();
    const www = Deno.makeTempDirSync();
    Deno.writeTextFileSync(`${www}/index.html`, "published\n");
    const echoFile = Deno.makeTempFileSync({ suffix: ".ts" });
    Deno.writeTextFileSync(echoFile, UDP_ECHO);
    const net = await prepareNetwork({
      mode: "bridge",
      containerId: "pub",
      bridge: s.bridge,
      subnet: s.subnet,
      publish: [
        parsePublish("127.0.0.1::80"),
        parsePublish("127.0.0.1::5353/udp"),
      ],
    }, { stateDir: s.stateDir });
    const servers: Deno.ChildProcess[] = [];
    let echoOut: ReadableStreamDefaultReader<string> | undefined;
    try {
      net.setup(h.pid);
      servers.push(
        new Deno.Command("nsenter", {
          args: [
            "-t",
            String(h.pid),
            "-n",
            "busybox",
            "httpd",
            "-f",
            "-p",
            "80",
            "-h",
            www,
          ],
        }).spawn(),
      );
      const echo = new Deno.Command("nsenter", {
        args: [
          "-t",
          String(h.pid),
          "-n",
          Deno.execPath(),
          "run",
          "-A",
          echoFile,
        ],
        stdout: "piped",
      }).spawn();
      servers.push(echo);
      const [tcp, udp] = net.ports;
      assert.notEqual(tcp.hostPort, 0);
      let body = "";
      for (let i = 0; i < 100 && body !== "published\n"; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${tcp.hostPort}/`);
          body = await r.text();
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      assert.equal(body, "published\n");
      echoOut = echo.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      assert.equal((await echoOut.read()).value?.trim(), "ready");
      const { createSocket } = await import("node:dgram");
      const client = createSocket("udp4");
      const reply = await new Promise<string>((resolve) => {
        client.on("message", (m) => resolve(String(m)));
        client.send("ping", udp.hostPort, "127.0.0.1");
      });
      client.close();
      assert.equal(reply, "echo:ping");
    } finally {
      for (const p of servers) {
        p.kill("SIGKILL");
        await p.status;
      }
      await echoOut?.cancel().catch(() => {});
      await net.teardown();
      await h.kill();
    }
    await assert.rejects(
      Deno.connect({
        hostname: "127.0.0.1",
        port: net.ports[0]?.hostPort ?? 1,
      }),
    );
    dropBridge(s.bridge);
    Deno.removeSync(s.stateDir, { recursive: true });
    Deno.removeSync(echoFile);
    Deno.removeSync(www, { recursive: true });
  },
});

Deno.test({
  name:
    "a published port in use fails before the container starts and leaves no lease",
  ignore: !canRun,
  fn: async () => {
    const s = scratch();
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (taken.addr as Deno.NetAddr).port;
    try {
      await assert.rejects(
        prepareNetwork({
          mode: "bridge",
          containerId: "busy",
          bridge: s.bridge,
          subnet: s.subnet,
          publish: [parsePublish(`127.0.0.1:${port}:80`)],
        }, { stateDir: s.stateDir }),
        (e: unknown) => {
          assert.ok(e instanceof TinycError);
          assert.equal(
            e.message,
            `--publish 127.0.0.1:${port}:80: port 127.0.0.1:${port}/tcp already in use`,
          );
          return true;
        },
      );
      assert.deepEqual([...Deno.readDirSync(`${s.stateDir}/leases`)], []);
    } finally {
      taken.close();
      Deno.removeSync(s.stateDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "five containers started at once get five addresses and all reach the gateway",
  ignore: !canRun,
  fn: async () => {
    const s = scratch();
    const holders = await Promise.all(Array.from({ length: 5 }, netnsHolder));
    const nets = await Promise.all(holders.map((_, i) =>
      prepareNetwork({
        mode: "bridge",
        containerId: `five${i}`,
        bridge: s.bridge,
        subnet: s.subnet,
      }, { stateDir: s.stateDir })
    ));
    try {
      nets.forEach((n, i) => n.setup(holders[i].pid));
      const addresses = nets.map((n) => n.plan.address!.address);
      assert.equal(new Set(addresses).size, 5);
      for (const h of holders) {
        const r = inNs(
          h.pid,
          "busybox",
          "ping",
          "-c",
          "1",
          "-W",
          "2",
          `${s.prefix}1`,
        );
        assert.ok(r.ok, r.out);
      }
    } finally {
      await Promise.all(nets.map((n) => n.teardown()));
      await Promise.all(holders.map((h) => h.kill()));
    }
    const links = hostLinks();
    for (const n of nets) assert.ok(!links.includes(n.plan.veth!.host));
    assert.deepEqual([...Deno.readDirSync(`${s.stateDir}/leases`)], []);
    dropBridge(s.bridge);
    Deno.removeSync(s.stateDir, { recursive: true });
  },
});

const hasIptables = root &&
  (() => {
    try {
      return new Deno.Command("iptables-save", {
        stdout: "null",
        stderr: "null",
      })
        .outputSync().success;
    } catch {
      return false;
    }
  })();
if (root && !hasIptables) console.log("--nat tests skipped: no iptables");

function taggedRules(tag: string): string[] {
  return sh("iptables-save").out.split("\n").filter((l) =>
    l.includes(`"${tag}"`)
  );
}

/** Rules in the tinyc chains that mention `bridge`. */
function bridgeRules(bridge: string): string[] {
  return sh("iptables-save").out.split("\n").filter((l) =>
    l.startsWith("-A TINYC-") && new RegExp(` ${bridge}( |$)`).test(l)
  );
}

function ipForward(): string {
  return Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward").trim();
}

Deno.test({
  name:
    "a SIGKILLed launcher's veth, NAT rules, hosts file and listener are reclaimed",
  ignore: !canRun || !hasIptables,
  fn: async () => {
    const s = scratch();
    const h = await netnsHolder();
    const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward");
    const mod = new URL("./mod.ts", import.meta.url).href;
    const code = `
      import { prepareNetwork, parsePublish } from ${JSON.stringify(mod)};
      const net = await prepareNetwork({
        mode: "bridge", containerId: "crash", hostname: "crash", nat: true,
        bridge: ${JSON.stringify(s.bridge)}, subnet: ${
      JSON.stringify(s.subnet)
    },
        publish: [parsePublish("127.0.0.1::80")],
      }, { stateDir: ${JSON.stringify(s.stateDir)} });
      net.setup(${h.pid});
      console.log(net.ports[0].hostPort, net.plan.veth.host, net.hostsFile);
      setInterval(() => {}, 1000);
    `;
    const launcher = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", code],
      stdout: "piped",
    }).spawn();
    try {
      const reader = launcher.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      const [port, veth, hostsFile] = ((await reader.read()).value ?? "").trim()
        .split(" ");
      await reader.cancel();
      assert.match(hostLinks(), new RegExp(`${veth}@`));
      assert.equal(taggedRules("tinyc:crash").length, 2);
      assert.equal(ipForward(), "1");
      launcher.kill("SIGKILL");
      await launcher.status;
      // the kernel closed its listener
      await assert.rejects(
        Deno.connect({ hostname: "127.0.0.1", port: Number(port) }),
      );
      // the netns (held by our sleeper) keeps the veth alive: only a reclaim removes it
      const reclaimed = reclaimStaleNetworks({ stateDir: s.stateDir });
      assert.deepEqual(reclaimed.map((l) => l.containerId), ["crash"]);
      assert.ok(!hostLinks().includes(veth));
      assert.deepEqual(taggedRules("tinyc:crash"), []);
      // the bridge stays, and so do its isolation rules (no --nat one)
      assert.equal(bridgeRules(s.bridge).length, 4);
      assert.ok(!bridgeRules(s.bridge).some((r) => r.includes(" -s ")));
      assert.equal(ipForward(), forward.trim());
      assert.throws(() => Deno.statSync(hostsFile), Deno.errors.NotFound);
    } finally {
      await h.kill();
      Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
      dropBridge(s.bridge);
      Deno.removeSync(s.stateDir, { recursive: true });
    }
    assert.deepEqual(bridgeRules(s.bridge), []);
  },
});

Deno.test({
  name:
    "--nat: rules exist while the container runs and are gone after teardown",
  ignore: !canRun || !hasIptables,
  fn: async () => {
    const s = scratch();
    const h = await netnsHolder();
    const forward = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_forward");
    const net = await prepareNetwork({
      mode: "bridge",
      containerId: "natted",
      bridge: s.bridge,
      subnet: s.subnet,
      nat: true,
    }, { stateDir: s.stateDir });
    try {
      net.setup(h.pid);
      const rules = taggedRules("tinyc:natted");
      assert.equal(rules.length, 2, rules.join("\n"));
      assert.ok(
        rules.some((r) =>
          r.includes("-j MASQUERADE") && r.includes(`! -o ${s.bridge}`)
        ),
      );
      assert.equal(ipForward(), "1");
    } finally {
      await net.teardown();
      await h.kill();
    }
    assert.deepEqual(taggedRules("tinyc:natted"), []);
    assert.equal(bridgeRules(s.bridge).length, 4);
    // tinyc turned forwarding on only if it was off, and back off at the end
    assert.equal(ipForward(), forward.trim());
    Deno.writeTextFileSync("/proc/sys/net/ipv4/ip_forward", forward);
    dropBridge(s.bridge);
    Deno.removeSync(s.stateDir, { recursive: true });
    assert.deepEqual(bridgeRules(s.bridge), []);
  },
});
