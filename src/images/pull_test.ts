/**
 * pullImage against an in-process fake registry on 127.0.0.1: Docker Hub's
 * token flow, a multi-platform index, gzip layers, digest checks, and two
 * concurrent pulls of one image.
 */

import assert from "node:assert/strict";
import { pullImage } from "./pull.ts";
import { Store } from "./store.ts";
import { buildTar } from "./tar.ts";
import { fetchError, sha256 } from "./registry.ts";
import { Progress } from "./progress.ts";
import { MEDIA } from "./manifest.ts";

const enc = new TextEncoder();

async function gzip(b: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await new Response(
      new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new CompressionStream("gzip") as unknown as TransformStream<
          Uint8Array,
          Uint8Array
        >,
      ),
    ).arrayBuffer(),
  );
}

interface Fake {
  host: string;
  blobs: Map<string, Uint8Array>;
  requests: string[];
  /** Corrupt what is served for this digest. */
  corrupt?: string;
  /** Claim this Docker-Content-Digest for everything. */
  lyingDigest?: string;
  /** Redirect blobs to the "CDN" (another origin: localhost). */
  redirect?: boolean;
  cdnHost: string;
  close(): Promise<void>;
}

/** An index (amd64 + arm64) -> manifest -> config + one gzip layer, behind a token. */
async function fakeRegistry(): Promise<Fake & { index: string }> {
  const blobs = new Map<string, Uint8Array>();
  const put = async (b: Uint8Array) => {
    const d = await sha256(b);
    blobs.set(d, b);
    return d;
  };
  const tar = buildTar([
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/hello", data: "hello\n" },
  ]);
  const layer = await gzip(tar);
  const layerDigest = await put(layer);
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created: "2026-01-01T00:00:00Z",
    config: { Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: [await sha256(tar)] },
  }));
  const configDigest = await put(config);
  const manifest = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociManifest,
    config: {
      mediaType: MEDIA.ociConfig,
      digest: configDigest,
      size: config.length,
    },
    layers: [{
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: layerDigest,
      size: layer.length,
    }],
  }));
  const manifestDigest = await put(manifest);
  const other = enc.encode("{}");
  const index = enc.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: [
      {
        mediaType: MEDIA.ociManifest,
        digest: await put(other),
        size: 2,
        platform: {
          os: "linux",
          architecture: Deno.build.arch === "aarch64" ? "amd64" : "arm64",
        },
      },
      {
        mediaType: MEDIA.ociManifest,
        digest: manifestDigest,
        size: manifest.length,
        platform: {
          os: "linux",
          architecture: Deno.build.arch === "aarch64" ? "arm64" : "amd64",
        },
      },
    ],
  }));
  const indexDigest = await put(index);
  const requests: string[] = [];
  const fake = {} as Fake & { index: string };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const url = new URL(req.url);
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (url.pathname === "/token") {
        return Response.json({ token: "tok" });
      }
      const cdn = url.pathname.match(/^\/cdn\/(.+)$/);
      if (cdn) {
        // a "CDN" that refuses the registry's token
        if (req.headers.get("authorization")) {
          return new Response("", { status: 400 });
        }
        return new Response(blobs.get(cdn[1]) as Uint8Array<ArrayBuffer>);
      }
      if (req.headers.get("authorization") !== "Bearer tok") {
        return new Response("", {
          status: 401,
          headers: {
            "www-authenticate":
              `Bearer realm="http://${fake.host}/token",service="fake",scope="repository:library/img:pull"`,
          },
        });
      }
      const m = url.pathname.match(
        /^\/v2\/library\/img\/(manifests|blobs)\/(.+)$/,
      );
      if (m && m[1] === "blobs" && fake.redirect) {
        return new Response("", {
          status: 307,
          headers: { location: `http://${fake.cdnHost}/cdn/${m[2]}` },
        });
      }
      if (!m) return new Response("", { status: 404 });
      const key = m[2] === "latest" ? indexDigest : m[2];
      let body = blobs.get(key);
      if (!body) return new Response("", { status: 404 });
      if (fake.corrupt === key) {
        body = body.slice();
        body[body.length - 1] ^= 1;
      }
      const type = key === indexDigest
        ? MEDIA.ociIndex
        : key === manifestDigest
        ? MEDIA.ociManifest
        : "application/octet-stream";
      return new Response(body as Uint8Array<ArrayBuffer>, {
        headers: {
          "content-type": type,
          "docker-content-digest": fake.lyingDigest ?? key,
        },
      });
    },
  );
  fake.host = `127.0.0.1:${server.addr.port}`;
  fake.cdnHost = `localhost:${server.addr.port}`;
  fake.blobs = blobs;
  fake.requests = requests;
  fake.index = layerDigest;
  fake.close = () => server.shutdown();
  return fake;
}

const quiet = () => new Progress(false, () => {}, true);

Deno.test("pull: token flow, host platform from the index, verified layers", async () => {
  const fake = await fakeRegistry();
  const dir = await Deno.makeTempDir();
  try {
    const store = Store.open(dir);
    const rec = await pullImage(store, `${fake.host}/library/img`, {
      progress: quiet(),
    });
    assert.deepEqual(rec.repoTags, [`${fake.host}/library/img:latest`]);
    assert.ok(fake.requests.some((r) => r.startsWith("GET /token?")));
    assert.ok(
      fake.requests.some((r) =>
        r.includes("scope=repository%3Alibrary%2Fimg%3Apull")
      ),
    );
    assert.equal(
      Deno.readTextFileSync(`${store.layerPath(rec.layers[0])}/etc/hello`),
      "hello\n",
    );
    assert.equal(rec.size, 6);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pull: blobs redirected to another origin are fetched without the token", async () => {
  const fake = await fakeRegistry();
  fake.redirect = true;
  const dir = await Deno.makeTempDir();
  try {
    const rec = await pullImage(Store.open(dir), `${fake.host}/library/img`, {
      progress: quiet(),
    });
    assert.equal(rec.layers.length, 1);
    assert.ok(fake.requests.some((r) => r.startsWith("GET /cdn/")));
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pull: a manifest that does not match Docker-Content-Digest is refused", async () => {
  const fake = await fakeRegistry();
  fake.lyingDigest = "sha256:" + "0".repeat(64);
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      pullImage(Store.open(dir), `${fake.host}/library/img`, {
        progress: quiet(),
      }),
      /manifest digest mismatch: the registry says sha256:0+/,
    );
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pull: a corrupted layer is refused and nothing stays", async () => {
  const fake = await fakeRegistry();
  fake.corrupt = fake.index; // the layer's digest
  const dir = await Deno.makeTempDir();
  try {
    const store = Store.open(dir);
    await assert.rejects(
      pullImage(store, `${fake.host}/library/img`, { progress: quiet() }),
      /pull .*layer .*(digest mismatch|gzip|checksum)/,
    );
    assert.deepEqual([...Deno.readDirSync(`${dir}/layers`)], []);
    assert.deepEqual([...Deno.readDirSync(`${dir}/tmp`)], []);
    assert.deepEqual(store.images(), []);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pull: two pulls of one image at once both succeed, one layer dir", async () => {
  const fake = await fakeRegistry();
  const dir = await Deno.makeTempDir();
  try {
    const ref = `${fake.host}/library/img:latest`;
    const [a, b] = await Promise.all([
      pullImage(Store.open(dir), ref, { progress: quiet() }),
      pullImage(Store.open(dir), ref, { progress: quiet() }),
    ]);
    assert.equal(a.id, b.id);
    assert.equal([...Deno.readDirSync(`${dir}/layers`)].length, 1);
    assert.equal(Store.open(dir).images().length, 1);
  } finally {
    await fake.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fetchError: the cause at the end of the chain, without Deno's suffix", () => {
  const err = new TypeError(
    "error sending request for url (http://127.0.0.1:5099/v2/): client error (Connect): tcp connect error: Connection refused (os error 111)",
  );
  assert.equal(fetchError(err), "connection refused");
  assert.equal(
    fetchError(
      new TypeError(
        "error sending request for url (https://x.invalid/v2/): client error (Connect): dns error: failed to lookup address information: Name or service not known",
      ),
    ),
    "name or service not known",
  );
  assert.equal(fetchError("odd"), "odd");
});
