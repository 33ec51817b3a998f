/**
 * `tinyc load`: images from a docker-archive (`docker save`, skopeo's
 * `docker-archive:`), an OCI archive (a tar of an OCI layout) or an OCI
 * layout directory. An archive is first unpacked (by the same safe
 * extractor as layers) into a private temporary directory; names inside it
 * are resolved within that directory. Every config and layer is verified:
 * configs by digest, layers by the config's diff IDs (and OCI blobs by
 * their descriptors' digests).
 *
 * @module
 */

import { osReason, TinycError } from "../errors.ts";
import { O, withRoot } from "../linux/in_root.ts";
import { libc } from "../libc.ts";
import { extractLayer } from "./extract.ts";
import {
  type Descriptor,
  hostPlatform,
  type ImageConfig,
  parseConfig,
  parseManifest,
  selectPlatform,
} from "./manifest.ts";
import { imageRecord, layerSizes } from "./pull.ts";
import { parseReference, type Reference } from "./reference.ts";
import { sha256 } from "./registry.ts";
import { type ImageRecord, removeTree, type Store } from "./store.ts";
import { unpackLayer } from "./unpack.ts";
import { Progress } from "./progress.ts";

const MAX_DOC = 8 << 20;

/** Load every image in `input`; resolves to their records. */
export async function loadArchive(
  store: Store,
  input: string,
  progress: Progress = new Progress(),
): Promise<ImageRecord[]> {
  const what = `load ${input === "-" ? "(stdin)" : input}`;
  let st: Deno.FileInfo | undefined;
  try {
    if (input !== "-") st = Deno.statSync(input);
  } catch (e) {
    throw new TinycError(`${what}: ${osReason(e)}`);
  }
  const tmp = store.tmpDir();
  try {
    let dir = input;
    if (!st?.isDirectory) {
      dir = `${tmp}/archive`;
      Deno.mkdirSync(dir, { mode: 0o700 });
      const { decompress } = await import("./unpack.ts");
      const f = input === "-" ? undefined : Deno.openSync(input);
      try {
        const bytes = f ? f.readable : Deno.stdin.readable;
        await extractLayer(await decompress(bytes, what), dir, {
          privileged: false,
          what,
        });
      } finally {
        try {
          f?.close();
        } catch {
          // the readable closed it
        }
      }
    }
    const has = (p: string) => {
      try {
        return withRoot(dir, (r) => r.stat(p)?.type === "file");
      } catch {
        return false;
      }
    };
    return await store.withLock("gc", "shared", async () => {
      try {
        if (has("manifest.json")) {
          return await loadDockerArchive(store, dir, progress, what);
        }
        if (has("index.json")) {
          return await loadOciLayout(store, dir, input, progress, what);
        }
      } finally {
        progress.finish();
      }
      throw new TinycError(
        `${what}: neither a docker-archive (manifest.json) nor an OCI layout (index.json)`,
      );
    });
  } finally {
    removeTree(tmp);
  }
}

function readBounded(dir: string, name: string, what: string): Uint8Array {
  let data: Uint8Array | null;
  try {
    data = withRoot(dir, (r) => r.readFileBounded(name, MAX_DOC));
  } catch {
    throw new TinycError(
      `${what}: ${name}: not a file of at most ${MAX_DOC} bytes`,
    );
  }
  if (data === null) {
    throw new TinycError(`${what}: ${name} is missing from the archive`);
  }
  return data;
}

/** Open regular file `name` inside the unpacked archive `dir` (never outside it). */
function openIn(dir: string, name: string, what: string): Deno.FsFile {
  try {
    const fd = withRoot(dir, (r) => {
      if (r.stat(name)?.type !== "file") throw new Error("not a file");
      return r.open(name, O.RDONLY | O.CLOEXEC);
    });
    // Hand the fd to Deno through /proc (Deno cannot adopt a raw fd).
    try {
      return Deno.openSync(`/proc/self/fd/${fd}`);
    } finally {
      libc().close(fd);
    }
  } catch {
    throw new TinycError(`${what}: ${name} is missing from the archive`);
  }
}

async function loadDockerArchive(
  store: Store,
  dir: string,
  progress: Progress,
  what: string,
): Promise<ImageRecord[]> {
  let entries: Array<
    { Config: string; RepoTags?: string[] | null; Layers: string[] }
  >;
  try {
    entries = JSON.parse(
      new TextDecoder().decode(readBounded(dir, "manifest.json", what)),
    );
    if (!Array.isArray(entries)) throw new Error();
  } catch (e) {
    if (e instanceof TinycError) throw e;
    throw new TinycError(
      `${what}: manifest.json is not a docker-archive manifest`,
    );
  }
  const out: ImageRecord[] = [];
  for (const e of entries) {
    if (typeof e?.Config !== "string" || !Array.isArray(e.Layers)) {
      throw new TinycError(`${what}: malformed manifest.json entry`);
    }
    const configBytes = readBounded(dir, e.Config, what);
    const id = await sha256(configBytes);
    const config = parseConfig(configBytes, what);
    const diffIds = config.rootfs!.diff_ids;
    if (diffIds.length !== e.Layers.length) {
      throw new TinycError(
        `${what}: ${e.Layers.length} layers but the config names ${diffIds.length}`,
      );
    }
    const sizes = await unpackAll(
      store,
      e.Layers.map((name, i) => ({ name, diffId: diffIds[i] })),
      (name) => openIn(dir, name, what).readable,
      progress,
      what,
    );
    store.putBlob(id, configBytes);
    const refs = (e.RepoTags ?? []).map((t) => parseReference(t));
    out.push(await record(store, refs, config, id, sizes));
  }
  return out;
}

async function unpackAll(
  store: Store,
  layers: Array<
    { name: string; diffId: string; digest?: string; size?: number }
  >,
  open: (name: string) => ReadableStream<Uint8Array>,
  progress: Progress,
  what: string,
): Promise<number[]> {
  const known = layerSizes(store);
  const sizes: number[] = [];
  for (const l of layers) {
    const line = progress.layer(l.digest ?? l.diffId, l.size ?? 0);
    if (store.hasLayer(l.diffId)) {
      sizes.push(known.get(l.diffId) ?? store.layerDiskSize(l.diffId));
      line.done("Already exists");
      continue;
    }
    sizes.push(
      await unpackLayer(store, open(l.name), {
        digest: l.digest,
        diffId: l.diffId,
        what: `${what}: layer ${l.diffId.slice(7, 19)}`,
        onBytes: (n) => line.add(n),
      }),
    );
    line.done("Loaded");
  }
  return sizes;
}

async function record(
  store: Store,
  refs: Reference[],
  config: ImageConfig,
  id: string,
  sizes: number[],
  manifest?: string,
): Promise<ImageRecord> {
  const rec = imageRecord(refs[0], config, id, sizes, { manifest });
  rec.repoTags = refs.filter((r) => r.tag).map((r) =>
    `${r.registry}/${r.repository}:${r.tag}`
  );
  await store.addImage(rec);
  return rec;
}

async function loadOciLayout(
  store: Store,
  dir: string,
  input: string,
  progress: Progress,
  what: string,
): Promise<ImageRecord[]> {
  const blob = async (d: Descriptor): Promise<Uint8Array> => {
    const bytes = readBounded(dir, `blobs/sha256/${d.digest.slice(7)}`, what);
    const got = await sha256(bytes);
    if (got !== d.digest) {
      throw new TinycError(
        `${what}: blob ${d.digest}: digest mismatch (got ${got})`,
      );
    }
    return bytes;
  };
  const index = parseManifest(readBounded(dir, "index.json", what), null, what);
  if (index.kind !== "index") {
    throw new TinycError(`${what}: index.json is not an index`);
  }
  const out: ImageRecord[] = [];
  for (const top of index.manifests) {
    let desc = top;
    let doc = parseManifest(await blob(desc), desc.mediaType, what);
    if (doc.kind === "index") {
      desc = selectPlatform(doc.manifests, hostPlatform(), what);
      doc = parseManifest(await blob(desc), desc.mediaType, what);
    }
    if (doc.kind !== "manifest") throw new TinycError(`${what}: nested index`);
    const configBytes = await blob(doc.config);
    const config = parseConfig(configBytes, what);
    const diffIds = config.rootfs!.diff_ids;
    if (diffIds.length !== doc.layers.length) {
      throw new TinycError(
        `${what}: manifest and config disagree on the layers`,
      );
    }
    const sizes = await unpackAll(
      store,
      doc.layers.map((l, i) => ({
        name: `blobs/sha256/${l.digest.slice(7)}`,
        diffId: diffIds[i],
        digest: l.digest,
        size: l.size,
      })),
      (name) => openIn(dir, name, what).readable,
      progress,
      what,
    );
    store.putBlob(doc.config.digest, configBytes);
    const manifestBytes = await blob(desc);
    store.putBlob(desc.digest, manifestBytes);
    const refs = ociNames(top, input);
    out.push(
      await record(store, refs, config, doc.config.digest, sizes, desc.digest),
    );
  }
  return out;
}

/**
 * An OCI layout names images by annotation: a full reference
 * (`io.containerd.image.name`, or a ref.name that parses as one), or only a
 * tag, which goes with a name made from the file name.
 */
export function ociNames(d: Descriptor, input: string): Reference[] {
  const a = d.annotations ?? {};
  const full = a["io.containerd.image.name"];
  const refName = a["org.opencontainers.image.ref.name"];
  for (const candidate of [full, refName]) {
    if (!candidate || !/[/:]/.test(candidate)) continue;
    try {
      return [parseReference(candidate)];
    } catch {
      // not a full reference
    }
  }
  if (refName && /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(refName)) {
    const base = input.replace(/\/+$/, "").split("/").pop()!
      .replace(/\.(tar|tar\.gz|tgz|oci)$/, "").toLowerCase()
      .replace(/[^a-z0-9._-]/g, "-").replace(/^[^a-z0-9]+/, "") || "image";
    try {
      return [parseReference(`localhost/${base}:${refName}`)];
    } catch {
      return [];
    }
  }
  return [];
}
