/**
 * `tinyc pull`: reference -> manifest (through an index for the host's
 * platform) -> config -> layers, each verified, unpacked once and shared,
 * then the image record. Pulls hold the store's gc lock shared, so `rmi`
 * cannot collect a layer between its unpacking and the record naming it.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import {
  formatReference,
  parseReference,
  type Reference,
  repoName,
} from "./reference.ts";
import {
  type Descriptor,
  hostPlatform,
  type ImageConfig,
  layerCompression,
  parseConfig,
  parseManifest,
  type Platform,
  selectPlatform,
} from "./manifest.ts";
import {
  MAX_DOCUMENT,
  readBounded,
  RegistryClient,
  sha256,
} from "./registry.ts";
import type { ImageRecord, Store } from "./store.ts";
import { unpackLayer } from "./unpack.ts";
import { Progress } from "./progress.ts";

/** Options of {@link pullImage}. */
export interface PullOptions {
  /** Plain HTTP to a non-loopback registry (`--tls-verify=false`). */
  plainHttp?: boolean;
  platform?: Platform;
  /** Where progress goes (default: stderr, redrawn on a terminal). */
  progress?: Progress;
}

/** How many layers download at once. */
const PARALLEL = 3;

/** Pull `refText` into `store`; resolves to the image record. */
export async function pullImage(
  store: Store,
  refText: string,
  opts: PullOptions = {},
): Promise<ImageRecord> {
  const ref = parseReference(refText);
  const what = `pull ${refText}`;
  const client = new RegistryClient(ref, { plainHttp: opts.plainHttp });
  const top = await client.manifest(ref.digest ?? ref.tag!, what);
  if (ref.digest && top.digest !== ref.digest) {
    throw new TinycError(
      `${what}: manifest digest mismatch: got ${top.digest}`,
    );
  }
  let doc = parseManifest(top.bytes, top.mediaType, what);
  let manifestBytes = top.bytes;
  let manifestDigest = top.digest;
  if (doc.kind === "index") {
    const d = selectPlatform(
      doc.manifests,
      opts.platform ?? hostPlatform(),
      what,
    );
    const m = await client.manifest(d.digest, what);
    if (m.digest !== d.digest) {
      throw new TinycError(
        `${what}: manifest digest mismatch for ${d.digest}: got ${m.digest}`,
      );
    }
    doc = parseManifest(m.bytes, m.mediaType ?? d.mediaType, what);
    if (doc.kind !== "manifest") {
      throw new TinycError(
        `${what}: an index inside an index is not supported`,
      );
    }
    manifestBytes = m.bytes;
    manifestDigest = m.digest;
  }
  const { config: configDesc, layers } = doc;
  const configRes = await client.blob(configDesc.digest, what);
  const configBytes = await readBounded(configRes, MAX_DOCUMENT, what);
  const got = await sha256(configBytes);
  if (got !== configDesc.digest) {
    throw new TinycError(
      `${what}: config digest mismatch: got ${got}, want ${configDesc.digest}`,
    );
  }
  const config = parseConfig(configBytes, what);
  const diffIds = config.rootfs!.diff_ids;
  if (diffIds.length !== layers.length) {
    throw new TinycError(
      `${what}: the manifest has ${layers.length} layers, the config ${diffIds.length}`,
    );
  }
  const progress = opts.progress ?? new Progress();
  try {
    return await store.withLock("gc", "shared", async () => {
      const sizes = await fetchLayers(
        store,
        client,
        layers,
        diffIds,
        progress,
        what,
      );
      store.putBlob(manifestDigest, manifestBytes);
      store.putBlob(configDesc.digest, configBytes);
      const record = imageRecord(ref, config, configDesc.digest, sizes, {
        manifest: manifestDigest,
        repoDigest: `${repoName(ref)}@${top.digest}`,
      });
      await store.addImage(record);
      return record;
    });
  } finally {
    progress.finish();
  }
}

async function fetchLayers(
  store: Store,
  client: RegistryClient,
  layers: readonly Descriptor[],
  diffIds: readonly string[],
  progress: Progress,
  what: string,
): Promise<number[]> {
  const sizes = layers.map(() => 0);
  const known = layerSizes(store);
  let next = 0;
  const worker = async () => {
    while (next < layers.length) {
      const i = next++;
      const layer = layers[i];
      const diffId = diffIds[i];
      const line = progress.layer(layer.digest, layer.size);
      if (store.hasLayer(diffId)) {
        sizes[i] = known.get(diffId) ?? store.layerDiskSize(diffId);
        line.done("Already exists");
        continue;
      }
      const lwhat = `${what}: layer ${layer.digest.slice(7, 19)}`;
      layerCompression(layer.mediaType, lwhat); // unsupported types fail early
      const res = await client.blob(layer.digest, lwhat);
      sizes[i] = await unpackLayer(store, res.body!, {
        digest: layer.digest,
        diffId,
        what: lwhat,
        onBytes: (n) => line.add(n),
      });
      line.done("Pull complete");
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL, layers.length) }, worker),
  );
  return sizes;
}

/** Sizes of layers already in the store, from the records that hold them. */
export function layerSizes(store: Store): Map<string, number> {
  const m = new Map<string, number>();
  for (const img of store.images()) {
    img.layers.forEach((l, i) => {
      if (img.layerSizes?.[i] !== undefined) m.set(l, img.layerSizes[i]);
    });
  }
  return m;
}

/** The record for an image built from its parts. */
export function imageRecord(
  ref: Reference | undefined,
  config: ImageConfig,
  configDigest: string,
  sizes: number[],
  extra: { manifest?: string; repoDigest?: string } = {},
): ImageRecord {
  return {
    id: configDigest,
    repoTags: ref?.tag ? [formatReference({ ...ref, digest: undefined })] : [],
    repoDigests: extra.repoDigest ? [extra.repoDigest] : [],
    manifest: extra.manifest,
    layers: [...config.rootfs!.diff_ids],
    layerSizes: sizes,
    created: config.created,
    architecture: config.architecture,
    os: config.os,
    size: sizes.reduce((a, b) => a + b, 0),
  };
}
