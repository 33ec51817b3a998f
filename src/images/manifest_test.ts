import assert from "node:assert/strict";
import {
  hostPlatform,
  layerCompression,
  MEDIA,
  parseConfig,
  parseManifest,
  selectPlatform,
} from "./manifest.ts";

const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const dg = (c: string) => "sha256:" + c.repeat(64);

Deno.test("manifest: OCI and docker manifests and indexes", () => {
  const m = parseManifest(
    enc({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: dg("a"), size: 1 },
      layers: [{ mediaType: "x+gzip", digest: dg("b"), size: 2 }],
    }),
    null,
    "t",
  );
  assert.equal(m.kind, "manifest");
  // OCI manifests may omit mediaType: the response's Content-Type decides
  const o = parseManifest(
    enc({ schemaVersion: 2, config: { digest: dg("a"), size: 1 }, layers: [] }),
    MEDIA.ociManifest,
    "t",
  );
  assert.equal(o.kind, "manifest");
  const i = parseManifest(
    enc({ schemaVersion: 2, manifests: [{ digest: dg("c"), size: 3 }] }),
    MEDIA.ociIndex,
    "t",
  );
  assert.equal(i.kind, "index");
  assert.throws(
    () => parseManifest(enc({ schemaVersion: 1, fsLayers: [] }), null, "t"),
    /schema 1/,
  );
  assert.throws(
    () => parseManifest(new Uint8Array([1]), null, "t"),
    /not JSON/,
  );
  assert.throws(
    () =>
      parseManifest(
        enc({ config: { digest: "md5:x", size: 1 }, layers: [] }),
        null,
        "t",
      ),
    /sha256 only/,
  );
});

Deno.test("manifest: the host's platform is picked from an index", () => {
  const manifests = [
    {
      mediaType: "",
      digest: dg("1"),
      size: 1,
      platform: { os: "linux", architecture: "arm", variant: "v7" },
    },
    {
      mediaType: "",
      digest: dg("2"),
      size: 1,
      platform: { os: "linux", architecture: "arm64", variant: "v8" },
    },
    {
      mediaType: "",
      digest: dg("3"),
      size: 1,
      platform: { os: "linux", architecture: "amd64" },
    },
    {
      mediaType: "",
      digest: dg("4"),
      size: 1,
      platform: { os: "unknown", architecture: "unknown" },
    },
  ];
  assert.equal(
    selectPlatform(manifests, hostPlatform("x86_64"), "t").digest,
    dg("3"),
  );
  assert.equal(
    selectPlatform(manifests, hostPlatform("aarch64"), "t").digest,
    dg("2"),
  );
  assert.throws(
    () => selectPlatform(manifests.slice(0, 1), hostPlatform("x86_64"), "t"),
    /no image for linux\/amd64 \(the index has linux\/arm\/v7\)/,
  );
});

Deno.test("manifest: layer media types and configs", () => {
  assert.equal(
    layerCompression("application/vnd.oci.image.layer.v1.tar+gzip", "t"),
    "gzip",
  );
  assert.equal(
    layerCompression("application/vnd.docker.image.rootfs.diff.tar.gzip", "t"),
    "gzip",
  );
  assert.equal(
    layerCompression("application/vnd.oci.image.layer.v1.tar", "t"),
    "none",
  );
  assert.equal(
    layerCompression("application/vnd.oci.image.layer.v1.tar+zstd", "t"),
    "zstd",
  );
  assert.throws(() =>
    layerCompression(
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip.x",
      "t",
    )
  );
  assert.throws(
    () => parseConfig(enc({ rootfs: { diff_ids: ["x"] } }), "t"),
    /diff_ids/,
  );
  assert.equal(
    parseConfig(enc({ rootfs: { type: "layers", diff_ids: [dg("e")] } }), "t")
      .rootfs!.diff_ids.length,
    1,
  );
});
