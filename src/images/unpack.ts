/**
 * One layer blob -> a verified layer directory in the store, in a single
 * pass: the compressed bytes are hashed (blob digest), decompressed (gzip by
 * DecompressionStream, zstd by node:zlib, or none, sniffed from the magic
 * bytes), hashed again (diff ID) and extracted into a temporary directory,
 * which is renamed into `layers/` only when both digests match.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { TinycError } from "../errors.ts";
import { extractLayer } from "./extract.ts";
import { removeTree, type Store } from "./store.ts";

/** What {@link unpackLayer} checks and reports. */
export interface UnpackOptions {
  /** The blob digest to verify (compressed bytes), if known. */
  digest?: string;
  /** The diff ID the config names for this layer (uncompressed tar). */
  diffId: string;
  /** Names the layer in errors. */
  what: string;
  /** Called with each chunk's size of the blob as it is read. */
  onBytes?: (n: number) => void;
}

/** A pass-through stream that hashes (sha256) and counts what flows. */
export function hashing(
  onBytes?: (n: number) => void,
): { stream: TransformStream<Uint8Array, Uint8Array>; digest: () => string } {
  const h = createHash("sha256");
  let result: string | undefined;
  return {
    stream: new TransformStream({
      transform(chunk, ctl) {
        h.update(chunk);
        onBytes?.(chunk.length);
        ctl.enqueue(chunk);
      },
    }),
    digest: () => result ??= `sha256:${h.digest("hex")}`,
  };
}

/** Decompress by magic: gzip, zstd, or a plain tar passed through. */
export async function decompress(
  stream: ReadableStream<Uint8Array>,
  what: string,
): Promise<ReadableStream<Uint8Array>> {
  const reader = stream.getReader();
  let first = await reader.read();
  while (!first.done && first.value.length === 0) first = await reader.read();
  const head = first.done ? new Uint8Array(0) : first.value;
  const rest = new ReadableStream<Uint8Array>({
    start(ctl) {
      if (head.length) ctl.enqueue(head);
    },
    async pull(ctl) {
      const { value, done } = await reader.read();
      if (done) ctl.close();
      else ctl.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  if (head[0] === 0x1f && head[1] === 0x8b) {
    return rest.pipeThrough(
      new DecompressionStream("gzip") as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    );
  }
  if (
    head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f &&
    head[3] === 0xfd
  ) {
    return await zstd(rest, what);
  }
  return rest;
}

/** zstd through node:zlib, when this Deno has it; else a clear error. */
async function zstd(
  input: ReadableStream<Uint8Array>,
  what: string,
): Promise<ReadableStream<Uint8Array>> {
  const zlib = await import("node:zlib");
  const make = (zlib as unknown as {
    createZstdDecompress?: () => import("node:stream").Transform;
  }).createZstdDecompress;
  if (typeof make !== "function") {
    throw new TinycError(
      `${what}: zstd-compressed layers need a Deno with node:zlib zstd support`,
    );
  }
  const z = make();
  const out = new ReadableStream<Uint8Array>({
    start(ctl) {
      z.on("data", (d: Uint8Array) => ctl.enqueue(new Uint8Array(d)));
      z.on("end", () => ctl.close());
      z.on(
        "error",
        (e: Error) => ctl.error(new TinycError(`zstd: ${e.message}`)),
      );
    },
  });
  (async () => {
    try {
      for await (const chunk of input) {
        if (!z.write(chunk)) {
          await new Promise((r) => z.once("drain", r));
        }
      }
      z.end();
    } catch (e) {
      z.destroy(e as Error);
    }
  })();
  return out;
}

/**
 * Unpack `blob` as layer `opts.diffId` into the store (unless it is there).
 * Returns the bytes of file content. On any error nothing stays behind.
 */
export async function unpackLayer(
  store: Store,
  blob: ReadableStream<Uint8Array>,
  opts: UnpackOptions,
): Promise<number> {
  const tmp = store.tmpDir();
  try {
    const dir = `${tmp}/layer`;
    Deno.mkdirSync(dir, { mode: 0o755 });
    const compressed = hashing(opts.onBytes);
    const plain = hashing();
    const tar = (await decompress(
      blob.pipeThrough(compressed.stream),
      opts.what,
    )).pipeThrough(plain.stream);
    const { size } = await extractLayer(tar, dir, {
      privileged: Deno.uid() === 0,
      what: opts.what,
    });
    // (the tar reader drains the stream past the end marker, so both
    // digests cover every byte)
    if (opts.digest && compressed.digest() !== opts.digest) {
      throw new TinycError(
        `${opts.what}: digest mismatch: got ${compressed.digest()}, want ${opts.digest}`,
      );
    }
    if (plain.digest() !== opts.diffId) {
      throw new TinycError(
        `${opts.what}: diff ID mismatch: the uncompressed layer is ${plain.digest()}, the config says ${opts.diffId}`,
      );
    }
    Deno.chmodSync(dir, 0o755);
    store.commitLayer(dir, opts.diffId);
    return size;
  } finally {
    removeTree(tmp);
  }
}
