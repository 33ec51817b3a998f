/**
 * Images in the store by reference: lookup (tag, ID prefix, digest),
 * removal with garbage collection, and the containers that use them.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { formatReference, parseReference, repoName } from "./reference.ts";
import {
  alive,
  hex,
  type ImageRecord,
  removeTree,
  type Store,
} from "./store.ts";

/** The image `ref` names: a tag, `name@digest`, an ID or ID prefix. */
export function findImage(
  images: readonly ImageRecord[],
  ref: string,
): ImageRecord | undefined {
  const idLike = ref.replace(/^sha256:/, "");
  if (/^[a-f0-9]{3,64}$/.test(idLike)) {
    const byId = images.filter((i) => hex(i.id).startsWith(idLike));
    if (byId.length === 1) return byId[0];
    if (byId.length > 1 && ref.length < 64) {
      throw new TinycError(`${ref}: ambiguous image ID prefix`);
    }
  }
  let r;
  try {
    r = parseReference(ref);
  } catch (e) {
    if (/^[a-f0-9]{3,64}$/.test(idLike)) return undefined;
    throw e;
  }
  if (r.digest) {
    const want = `${repoName(r)}@${r.digest}`;
    return images.find((i) =>
      i.repoDigests.includes(want) || i.manifest === r.digest
    );
  }
  const tag = formatReference(r);
  return images.find((i) => i.repoTags.includes(tag));
}

/** A container's record: who runs it, on which image. */
export interface ContainerOwner {
  pid: number;
  start: string;
  image: string;
  layers: string[];
}

/** Containers in the store: id -> owner (undefined if unreadable). */
export function containers(
  store: Store,
): Map<string, ContainerOwner | undefined> {
  const out = new Map<string, ContainerOwner | undefined>();
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(`${store.root}/containers`)];
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      out.set(
        e.name,
        JSON.parse(
          Deno.readTextFileSync(
            `${store.root}/containers/${e.name}/owner.json`,
          ),
        ),
      );
    } catch {
      out.set(e.name, undefined);
    }
  }
  return out;
}

/** Live containers' owners (their tinyc still runs). */
export function liveContainers(store: Store): Array<[string, ContainerOwner]> {
  return [...containers(store)].filter(
    (c): c is [string, ContainerOwner] =>
      c[1] !== undefined && alive(c[1].pid, c[1].start),
  );
}

/**
 * `tinyc rmi REF`: untag, and when no tag is left (or REF is an ID), remove
 * the image; refused while a running container uses it. Then collect layers
 * and blobs no image references. Returns docker's lines (Untagged/Deleted).
 */
export async function removeImage(
  store: Store,
  ref: string,
  force = false,
): Promise<string[]> {
  return await store.withLock("gc", "exclusive", async () => {
    const lines: string[] = [];
    const img = findImage(store.images(), ref);
    if (!img) throw new TinycError(`rmi ${ref}: no such image`);
    const byId = img.repoTags.length === 0 ||
      hex(img.id).startsWith(ref.replace(/^sha256:/, ""));
    let tag: string | undefined;
    if (!byId) tag = formatReference(parseReference(ref));
    const removesImage = byId || img.repoTags.length <= 1;
    if (removesImage) {
      const user = liveContainers(store).find(([, o]) => o.image === img.id);
      if (user) {
        throw new TinycError(
          `rmi ${ref}: image is in use by running container ${
            user[0]
          } (tinyc pid ${user[1].pid})`,
        );
      }
      if (byId && img.repoTags.length > 1 && !force) {
        throw new TinycError(
          `rmi ${ref}: image is referenced by ${img.repoTags.length} tags (${
            img.repoTags.join(", ")
          }); remove them by name or use --force`,
        );
      }
    }
    await store.updateImages((images) => {
      if (!removesImage) {
        return images.map((i) =>
          i.id === img.id
            ? { ...i, repoTags: i.repoTags.filter((t) => t !== tag) }
            : i
        );
      }
      return images.filter((i) => i.id !== img.id);
    });
    for (const t of removesImage ? img.repoTags : [tag!]) {
      lines.push(`Untagged: ${t}`);
    }
    if (removesImage) {
      lines.push(`Deleted: ${img.id}`);
      collectGarbage(store);
    }
    return lines;
  });
}

/**
 * Remove layers and blobs no image (and no live container) references.
 * The caller holds the gc lock exclusively.
 */
export function collectGarbage(store: Store): void {
  const images = store.images();
  const layers = new Set(images.flatMap((i) => i.layers.map(hex)));
  for (const [, o] of liveContainers(store)) {
    o.layers.forEach((l) => layers.add(hex(l)));
  }
  const blobs = new Set(
    images.flatMap((i) => [i.id, ...(i.manifest ? [i.manifest] : [])]).map(hex),
  );
  for (const e of Deno.readDirSync(`${store.root}/layers`)) {
    if (!layers.has(e.name)) removeTree(`${store.root}/layers/${e.name}`);
  }
  for (const e of Deno.readDirSync(`${store.root}/blobs/sha256`)) {
    if (!blobs.has(e.name)) removeTree(`${store.root}/blobs/sha256/${e.name}`);
  }
}
