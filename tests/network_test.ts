/**
 * Integration tests for --network none|host|bridge and --publish, through the
 * CLI as root. All traffic stays on loopback or between the tests' own
 * container namespaces and the tinyc0 bridge.
 */

import assert from "node:assert/strict";
import {
  busyboxRoot,
  readUntil,
  sh,
  skipUnlessRoot,
  tinycSpawn,
} from "./helpers.ts";

const ignore = skipUnlessRoot("tests/network_test.ts");

/** Veths of containers that other runs (not these tests) have up now. */
const othersVeths = new Set<string>();
if (!ignore) (await allVeths()).forEach((n) => othersVeths.add(n));

/**
 * Host interfaces tinyc made for this file's containers (veths are named
 * tc + hex); those that were there before the tests started are not ours.
 */
async function containerVeths(): Promise<string[]> {
  return (await allVeths()).filter((n) => !othersVeths.has(n));
}

async function allVeths(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["-o", "link"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0])
    .filter((n): n is string => !!n && /^tc[0-9a-f]{12}$/.test(n));
}

/** A free TCP port on 127.0.0.1. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Start a container serving `text` with busybox httpd on port 80; resolves to [child, ip]. */
async function server(text: string, extra: string[] = []) {
  const root = await busyboxRoot();
  const child = tinycSpawn([
    "run",
    "--root",
    root,
    "--network",
    "bridge",
    ...extra,
    "--",
    "/bin/sh",
    "-c",
    `mkdir -p /www && echo ${text} > /www/index.html && ip -4 -o addr show eth0 && exec httpd -f -p 80 -h /www`,
  ]);
  const line = await readUntil(child.stdout, /inet (\d+\.\d+\.\d+\.\d+)/);
  return { child, ip: line.split(" ")[1] };
}

/** SIGKILL a server's launcher: the container dies with it, and its veth with its namespace. */
async function stop(child: Deno.ChildProcess) {
  child.kill("SIGKILL");
  await child.status;
  await child.stderr.cancel();
  // The kernel tears the namespace down asynchronously after the last process.
  for (let i = 0; i < 100 && (await containerVeths()).length > 0; i++) {
    await new Promise((r) => setTimeout(r, 30));
  }
}

Deno.test({
  name: "--network host shares the host's network namespace",
  ignore,
}, async () => {
  const r = await sh("readlink /proc/self/ns/net", ["--network", "host"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), Deno.readLinkSync("/proc/self/ns/net"));
});

Deno.test({
  name:
    "bridge: eth0 with an address, default route, /etc/hosts, the gateway answers",
  ignore,
}, async () => {
  const r = await sh(
    "ip -4 -o addr show eth0; ip route; cat /etc/hosts; ping -c1 -W2 10.10.10.1 >/dev/null && echo gw-ok",
    ["--network", "bridge", "--hostname", "web1"],
  );
  assert.equal(r.code, 0, r.stderr);
  const ip = r.stdout.match(/inet (10\.10\.10\.\d+)\/24/)?.[1];
  assert.ok(ip, r.stdout);
  assert.match(r.stdout, /default via 10\.10\.10\.1 dev eth0/);
  assert.match(r.stdout, new RegExp(`${ip.replaceAll(".", "\\.")}\\s+web1`));
  assert.match(r.stdout, /gw-ok/);
  assert.deepEqual(await containerVeths(), []);
});

Deno.test(
  { name: "bridge: two containers reach each other", ignore },
  async () => {
    const a = await server("hello-from-a");
    try {
      // httpd starts right after the address is printed: retry briefly.
      // (Static busybox wget crashes resolving through NSS; nc speaks HTTP.)
      const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${a.ip} 80`;
      const r = await sh(
        `for i in 1 2 3 4 5 6 7 8 9 10; do ${get} | tail -n 1 | grep . && exit 0; sleep 0.2; done; exit 1`,
        ["--network", "bridge"],
      );
      assert.equal(
        r.stdout.trim().split("\n").at(-1),
        "hello-from-a",
        r.stderr,
      );
    } finally {
      await stop(a.child);
    }
    assert.deepEqual(await containerVeths(), []);
  },
);

Deno.test({
  name: "-p publishes a container port on 127.0.0.1 and releases it at the end",
  ignore,
}, async () => {
  const port = freePort();
  const a = await server("published", ["-p", `127.0.0.1:${port}:80`]);
  try {
    // httpd starts right after the address is printed: retry briefly.
    let body = "";
    for (let i = 0; i < 20 && body === ""; i++) {
      try {
        body = (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(body, "published");
    // The same port again is a clear error before the container starts.
    const busy = await sh("echo should-not-run", [
      "--network",
      "bridge",
      "-p",
      `127.0.0.1:${port}:80`,
    ]);
    assert.equal(busy.code, 125);
    assert.ok(!busy.stdout.includes("should-not-run"));
    assert.equal(busy.stderr.trim().split("\n").length, 1, busy.stderr);
    assert.match(busy.stderr, new RegExp(`${port}`));
  } finally {
    await stop(a.child);
  }
  await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
});

Deno.test({
  name: "five containers started at once get five distinct addresses",
  ignore,
}, async () => {
  const runs = await Promise.all(
    Array.from(
      { length: 5 },
      () => sh("sleep 0.5; ip -4 -o addr show eth0", ["--network", "bridge"]),
    ),
  );
  const ips = runs.map((r) => r.stdout.match(/inet (\S+)\//)?.[1]);
  assert.equal(new Set(ips).size, 5, ips.join(" "));
  assert.deepEqual(await containerVeths(), []);
});

Deno.test(
  { name: "network flag errors are one line with exit 125", ignore },
  async () => {
    const cases: Array<[string[], RegExp]> = [
      [["-p", "8080:80"], /--publish 8080:80: requires --network bridge/],
      [["--network", "wifi"], /--network wifi: unknown mode/],
      [["--network", "bridge", "--subnet", "10.0.0.0/33"], /10\.0\.0\.0\/33/],
      [["--network", "bridge", "-p", "80:x"], /--publish 80:x/],
    ];
    for (const [flags, re] of cases) {
      const r = await sh("true", flags);
      assert.equal(r.code, 125, flags.join(" "));
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  },
);

Deno.test({
  name: "--subnet gives addresses and a gateway from that subnet",
  ignore,
}, async () => {
  const r = await sh(
    "ip -4 -o addr show eth0; ip route; ping -c1 -W2 10.77.0.1 >/dev/null && echo gw-ok",
    ["--network", "bridge", "--subnet", "10.77.0.0/24"],
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /inet 10\.77\.0\.\d+\/24/);
  assert.match(r.stdout, /default via 10\.77\.0\.1/);
  assert.match(r.stdout, /gw-ok/);
});

Deno.test({
  name: "a subnet's gateway address leaves the bridge with its last container",
  ignore,
}, async () => {
  const r = await sh("true", [
    "--network",
    "bridge",
    "--subnet",
    "10.98.0.0/24",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = await new Deno.Command("ip", {
    args: ["-4", "-o", "addr", "show", "dev", "tinyc0"],
  }).output();
  assert.ok(!new TextDecoder().decode(out.stdout).includes("10.98.0.1"));
});
