import assert from "node:assert/strict";
import dgram from "node:dgram";
import { parsePublish, PortPublisher } from "./publish.ts";
import { TinycError } from "../errors.ts";

Deno.test("parsePublish: accepted forms", () => {
  const p = (s: string) => {
    const { spec: _, ...rest } = parsePublish(s);
    return rest;
  };
  assert.deepEqual(p("8080:80"), {
    hostIp: "0.0.0.0",
    hostPort: 8080,
    containerPort: 80,
    protocol: "tcp",
  });
  assert.deepEqual(p("127.0.0.1:8080:80/udp"), {
    hostIp: "127.0.0.1",
    hostPort: 8080,
    containerPort: 80,
    protocol: "udp",
  });
  assert.deepEqual(p("80"), {
    hostIp: "0.0.0.0",
    hostPort: 0,
    containerPort: 80,
    protocol: "tcp",
  });
  assert.deepEqual(p("127.0.0.1::53/UDP"), {
    hostIp: "127.0.0.1",
    hostPort: 0,
    containerPort: 53,
    protocol: "udp",
  });
  assert.deepEqual(p("[::1]:8443:443/tcp"), {
    hostIp: "::1",
    hostPort: 8443,
    containerPort: 443,
    protocol: "tcp",
  });
  assert.equal(parsePublish("1:65535").spec, "1:65535");
});

Deno.test("parsePublish: one-line errors naming the spec", () => {
  const cases: Array<[string, string]> = [
    ["80:x", "--publish 80:x: invalid container port"],
    ["80:0", "--publish 80:0: invalid container port"],
    ["80:65536", "--publish 80:65536: invalid container port"],
    ["x:80", "--publish x:80: invalid host port"],
    [":80", "--publish :80: invalid host port"],
    ["99999:80", "--publish 99999:80: invalid host port"],
    ["1.2.3:80:80", "--publish 1.2.3:80:80: invalid host IP"],
    ["80/sctp", "--publish 80/sctp: invalid protocol (use tcp or udp)"],
    ["", "--publish : invalid container port"],
    [
      "1:2:3:4",
      "--publish 1:2:3:4: too many fields (use [HOST_IP:]HOST_PORT:CONTAINER_PORT)",
    ],
    ["[::g]:1:2", "--publish [::g]:1:2: invalid host IP"],
    ["[::1]:80", "--publish [::1]:80: use [HOST_IP]:HOST_PORT:CONTAINER_PORT"],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => parsePublish(spec), (e: unknown) => {
      assert.ok(e instanceof TinycError, spec);
      assert.equal(e.message, message);
      assert.equal(e.exitCode, 125);
      return true;
    });
  }
});

/** An echo server that only answers after the client half-closes, so the proxy must pass EOF on. */
function halfCloseEcho(): { port: number; close(): void } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const c of l) {
      (async () => {
        const chunks: Uint8Array[] = [];
        const buf = new Uint8Array(4096);
        for (;;) {
          const n = await c.read(buf);
          if (n === null) break;
          chunks.push(buf.slice(0, n));
        }
        const text = new TextDecoder().decode(
          new Uint8Array(chunks.flatMap((x) => [...x])),
        );
        await c.write(new TextEncoder().encode(text.toUpperCase()));
        c.close();
      })();
    }
  })().catch(() => {});
  return { port: (l.addr as Deno.NetAddr).port, close: () => l.close() };
}

Deno.test("TCP proxy forwards both ways and passes a half-close through", async () => {
  const server = halfCloseEcho();
  const pub = await PortPublisher.open(
    [parsePublish(`127.0.0.1::${server.port}`)],
    "127.0.0.1",
  );
  try {
    const [bound] = pub.ports;
    assert.notEqual(bound.hostPort, 0);
    for (let i = 0; i < 3; i++) {
      const c = await Deno.connect({
        hostname: "127.0.0.1",
        port: bound.hostPort,
      });
      await c.write(new TextEncoder().encode(`hello ${i}`));
      await c.closeWrite();
      const reply = await new Response(c.readable).text();
      assert.equal(reply, `HELLO ${i}`);
    }
  } finally {
    await pub.close();
    server.close();
  }
});

Deno.test("a published port already in use is a one-line error and nothing stays bound", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (taken.addr as Deno.NetAddr).port;
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const freePort = (free.addr as Deno.NetAddr).port;
  free.close();
  try {
    await assert.rejects(
      PortPublisher.open(
        [
          parsePublish(`127.0.0.1:${freePort}:80`),
          parsePublish(`127.0.0.1:${port}:80`),
        ],
        "127.0.0.1",
      ),
      (e: unknown) => {
        assert.ok(e instanceof TinycError);
        assert.equal(
          e.message,
          `--publish 127.0.0.1:${port}:80: port 127.0.0.1:${port}/tcp already in use`,
        );
        return true;
      },
    );
    // the first mapping was released when the second failed
    Deno.listen({ hostname: "127.0.0.1", port: freePort }).close();
  } finally {
    taken.close();
  }
});

Deno.test("the listener is closed by close(): connections are refused afterwards", async () => {
  const server = halfCloseEcho();
  const pub = await PortPublisher.open(
    [parsePublish(`127.0.0.1::${server.port}`)],
    "127.0.0.1",
  );
  const port = pub.ports[0].hostPort;
  await pub.close();
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
  server.close();
});

Deno.test("UDP proxy relays datagrams and replies per client", async () => {
  const echo = dgram.createSocket("udp4");
  await new Promise<void>((r) => echo.bind(0, "127.0.0.1", r));
  echo.on("message", (msg, from) => {
    echo.send(`echo:${msg}`, from.port, from.address);
  });
  const pub = await PortPublisher.open(
    [parsePublish(`127.0.0.1::${echo.address().port}/udp`)],
    "127.0.0.1",
  );
  const clients = [dgram.createSocket("udp4"), dgram.createSocket("udp4")];
  try {
    const port = pub.ports[0].hostPort;
    const replies = await Promise.all(
      clients.map((c, i) =>
        new Promise<string>((resolve) => {
          c.on("message", (m) => resolve(String(m)));
          c.send(`ping${i}`, port, "127.0.0.1");
        })
      ),
    );
    assert.deepEqual(replies, ["echo:ping0", "echo:ping1"]);
    // in use for UDP too
    await assert.rejects(
      PortPublisher.open(
        [parsePublish(`127.0.0.1:${port}:9/udp`)],
        "127.0.0.1",
      ),
      /already in use/,
    );
  } finally {
    for (const c of clients) c.close();
    await pub.close();
    echo.close();
  }
});
