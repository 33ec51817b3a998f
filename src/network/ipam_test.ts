import assert from "node:assert/strict";
import {
  formatIPv4,
  Ipam,
  type Lease,
  parseIPv4,
  parseSubnet,
  processStartTime,
} from "./ipam.ts";
import { TinycError } from "../errors.ts";

Deno.test("parseSubnet: the book's default and its derived addresses", () => {
  const s = parseSubnet("10.10.10.0/24");
  assert.equal(s.cidr, "10.10.10.0/24");
  assert.equal(formatIPv4(s.gateway), "10.10.10.1");
  assert.equal(formatIPv4(s.first), "10.10.10.2");
  assert.equal(formatIPv4(s.last), "10.10.10.254");
  const big = parseSubnet("172.20.0.0/16");
  assert.equal(formatIPv4(big.last), "172.20.255.254");
  const tiny = parseSubnet("192.168.7.4/30");
  assert.equal(formatIPv4(tiny.first), "192.168.7.6");
  assert.equal(tiny.first, tiny.last);
});

Deno.test("parseSubnet: one-line errors", () => {
  const cases: Array<[string, RegExp]> = [
    ["10.10.10.0", /^--subnet 10\.10\.10\.0: invalid CIDR/],
    ["10.10.10.0/33", /prefix length must be between 8 and 30/],
    ["10.10.10.0/31", /prefix length/],
    ["10.10.300.0/24", /^--subnet 10\.10\.300\.0\/24: invalid IPv4 address$/],
    ["10.10.10.5/24", /host bits set \(did you mean 10\.10\.10\.0\/24\?\)/],
    ["abc", /invalid CIDR/],
  ];
  for (const [cidr, re] of cases) {
    assert.throws(() => parseSubnet(cidr), (e: unknown) => {
      assert.ok(e instanceof TinycError);
      assert.equal(e.exitCode, 125);
      assert.match(e.message, re);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("parseIPv4 / formatIPv4 round trip and refusals", () => {
  assert.equal(parseIPv4("255.255.255.255"), 0xffffffff);
  assert.equal(formatIPv4(parseIPv4("10.0.0.1")!), "10.0.0.1");
  for (
    const bad of ["1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "a.b.c.d"]
  ) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
});

function tempIpam(): Ipam {
  return new Ipam(Deno.makeTempDirSync({ prefix: "tinyc-ipam-" }));
}

Deno.test("allocate hands out distinct addresses, lowest first, and release frees them", () => {
  const ipam = tempIpam();
  const s = parseSubnet("10.10.10.0/24");
  const a = ipam.allocate(s, "a");
  const b = ipam.allocate(s, "b");
  const c = ipam.allocate(s, "c");
  assert.deepEqual([a, b, c].map((l) => l.address), [
    "10.10.10.2",
    "10.10.10.3",
    "10.10.10.4",
  ]);
  assert.equal(a.pid, Deno.pid);
  ipam.release(b);
  assert.equal(ipam.allocate(s, "d").address, "10.10.10.3");
  assert.deepEqual(
    ipam.list().map((l) => l.containerId).sort(),
    ["a", "c", "d"],
  );
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("a full subnet is a one-line error", () => {
  const ipam = tempIpam();
  const s = parseSubnet("10.1.0.0/30"); // one container address
  ipam.allocate(s, "a");
  assert.throws(
    () => ipam.allocate(s, "b"),
    /: --subnet 10\.1\.0\.0\/30: no free address \(1 in use\)$/,
  );
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("overlapping subnets never share an address", () => {
  const ipam = tempIpam();
  const a = ipam.allocate(parseSubnet("10.2.0.0/16"), "a");
  const b = ipam.allocate(parseSubnet("10.2.0.0/24"), "b");
  assert.notEqual(a.address, b.address);
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("a lease whose launcher died is reclaimed, with its resources handed to the handler", async () => {
  const ipam = tempIpam();
  const s = parseSubnet("10.10.10.0/24");
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  const dead = ipam.allocate(s, "crashed", {
    pid: child.pid,
    resources: { hostVeth: "tcdead", files: ["/x"] },
  });
  assert.equal(dead.address, "10.10.10.2");
  // While its owner lives, the address stays taken.
  assert.equal(ipam.allocate(s, "live").address, "10.10.10.3");
  child.kill("SIGKILL");
  await child.status;
  assert.equal(processStartTime(child.pid), undefined);
  const seen: Lease[] = [];
  const next = ipam.allocate(s, "new", { onStale: (l) => seen.push(l) });
  assert.equal(next.address, "10.10.10.2");
  assert.deepEqual(seen.map((l) => [l.containerId, l.resources.hostVeth]), [
    ["crashed", "tcdead"],
  ]);
  // releasing the old lease object must not free the new owner's address
  ipam.release(dead);
  assert.ok(ipam.list().some((l) => l.address === "10.10.10.2"));
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("a lease file torn by a crash frees its address; a failing stale handler does not block allocation", () => {
  const ipam = tempIpam();
  const s = parseSubnet("10.10.10.0/24");
  const first = ipam.allocate(s, "x");
  Deno.writeTextFileSync(`${ipam.dir}/leases/${first.address}`, '{"addr');
  assert.equal(ipam.allocate(s, "y").address, first.address);
  Deno.writeTextFileSync(
    `${ipam.dir}/leases/${first.address}`,
    JSON.stringify({ ...first, pidStart: "1" }),
  );
  const next = ipam.allocate(s, "z", {
    onStale: () => {
      throw new Error("iptables went away");
    },
  });
  assert.equal(next.address, first.address);
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("a reused pid does not keep a stale lease alive", () => {
  const ipam = tempIpam();
  const s = parseSubnet("10.10.10.0/24");
  const lease = ipam.allocate(s, "x");
  // Same pid, different start time: what a recycled pid looks like.
  const path = `${ipam.dir}/leases/${lease.address}`;
  Deno.writeTextFileSync(
    path,
    JSON.stringify({ ...lease, pidStart: "1" }),
  );
  assert.deepEqual(ipam.reclaimStale().map((l) => l.address), [lease.address]);
  assert.deepEqual(ipam.list(), []);
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("five processes allocating at once get five distinct addresses", async () => {
  const ipam = tempIpam();
  const url = new URL("./ipam.ts", import.meta.url).href;
  // Each child loads the module, says "ready", waits for "go" so that all five
  // allocate at the same moment, prints its address and holds the lease until
  // its stdin closes.
  const code = `
    import { Ipam, parseSubnet } from ${JSON.stringify(url)};
    const buf = new Uint8Array(16);
    console.log("ready");
    await Deno.stdin.read(buf);
    const l = new Ipam(${JSON.stringify(ipam.dir)})
      .allocate(parseSubnet("10.10.10.0/24"), "c" + Deno.pid);
    console.log(l.address);
    while (await Deno.stdin.read(buf) !== null);
  `;
  const children = Array.from({ length: 5 }, () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", code],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    return {
      child,
      lines: child.stdout.pipeThrough(new TextDecoderStream()).getReader(),
      stdin: child.stdin.getWriter(),
    };
  });
  async function line(r: ReadableStreamDefaultReader<string>): Promise<string> {
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await r.read();
      if (done) break;
      text += value;
    }
    return text.trim();
  }
  for (const c of children) assert.equal(await line(c.lines), "ready");
  const go = new TextEncoder().encode("go\n");
  await Promise.all(children.map((c) => c.stdin.write(go)));
  const addresses = await Promise.all(children.map((c) => line(c.lines)));
  assert.equal(new Set(addresses).size, 5, addresses.join(" "));
  for (const a of addresses) assert.match(a, /^10\.10\.10\.[2-6]$/);
  assert.equal(ipam.list().length, 5);
  for (const c of children) {
    await c.stdin.close();
    await c.lines.cancel();
    await c.child.status;
  }
  // Their owners are gone now: all five are stale.
  assert.equal(ipam.reclaimStale().length, 5);
  Deno.removeSync(ipam.dir, { recursive: true });
});

Deno.test("subnets: reserved ranges and host conflicts are refused", async () => {
  const { parseSubnet, subnetConflict } = await import("./ipam.ts");
  assert.throws(
    () => parseSubnet("127.0.0.0/24"),
    /--subnet 127\.0\.0\.0\/24: overlaps 127\.0\.0\.0\/8 \(loopback\)/,
  );
  assert.throws(() => parseSubnet("169.254.1.0/24"), /link-local/);
  assert.throws(() => parseSubnet("224.0.0.0/24"), /multicast/);
  assert.throws(() => parseSubnet("0.0.0.0/8"), /this network/);
  assert.throws(() => parseSubnet("8.8.8.0/24"), /not a private range/);
  assert.throws(() => parseSubnet("100.64.0.0/24"), /not a private range/);
  assert.ok(parseSubnet("172.20.0.0/16") && parseSubnet("192.168.5.0/24"));
  const routes = [
    "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT",
    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0",
    "eth0\t004DA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
    "tinyc0\t000A0A0A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0",
  ].join("\n");
  assert.equal(
    subnetConflict(parseSubnet("10.10.10.0/24"), routes, "tinyc0"),
    undefined,
  );
  assert.equal(
    subnetConflict(parseSubnet("10.77.0.0/24"), routes, "tinyc0"),
    undefined,
  );
  assert.match(
    subnetConflict(parseSubnet("192.168.77.0/25"), routes, "tinyc0")!,
    /overlaps the host's network 192\.168\.77\.0\/24 on eth0/,
  );
  assert.match(
    subnetConflict(parseSubnet("10.10.0.0/16"), routes, "tinyc0")!,
    /overlaps 10\.10\.10\.0\/24, already used on bridge tinyc0/,
  );
});

Deno.test("release reports the last lease of a subnet (only then)", () => {
  const ipam = tempIpam();
  const s1 = parseSubnet("10.10.10.0/24");
  const s2 = parseSubnet("10.20.0.0/24");
  const a = ipam.allocate(s1, "a");
  const b = ipam.allocate(s1, "b");
  const c = ipam.allocate(s2, "c");
  const last: string[] = [];
  ipam.release(a, (subnet) => last.push(subnet));
  assert.equal(last.length, 0);
  ipam.release(c, (subnet) => last.push(subnet));
  assert.deepEqual(last, ["10.20.0.0/24"]);
  ipam.release(b, (subnet) => last.push(subnet));
  assert.deepEqual(last, ["10.20.0.0/24", "10.10.10.0/24"]);
  Deno.removeSync(ipam.dir, { recursive: true });
});
