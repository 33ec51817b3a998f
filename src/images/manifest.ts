/**
 * OCI and docker (v2 schema 2) manifests, indexes and image configs: media
 * types, parsing with shape checks, and picking the host's platform from a
 * multi-platform index. Pure.
 *
 * @module
 */

import { TinycError } from "../errors.ts";

/** Media types tinyc understands. */
export const MEDIA = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
} as const;

/** The Accept header for manifest requests. */
export const MANIFEST_ACCEPT = [
  MEDIA.ociIndex,
  MEDIA.ociManifest,
  MEDIA.dockerList,
  MEDIA.dockerManifest,
].join(", ");

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
}

/** os/architecture[/variant]. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** A parsed manifest or index. */
export type ManifestDoc =
  | { kind: "index"; manifests: Descriptor[] }
  | { kind: "manifest"; config: Descriptor; layers: Descriptor[] };

/** The parts of an image config tinyc uses (docker's names). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  created?: string;
  config?: {
    Env?: string[] | null;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    [k: string]: unknown;
  };
  rootfs?: { type: string; diff_ids: string[] };
  [k: string]: unknown;
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function descriptor(d: unknown, what: string): Descriptor {
  const o = d as Descriptor;
  if (
    typeof o !== "object" || o === null || typeof o.digest !== "string" ||
    typeof o.size !== "number"
  ) {
    throw new TinycError(`${what}: malformed descriptor`);
  }
  if (!DIGEST.test(o.digest)) {
    throw new TinycError(
      `${what}: unsupported digest ${o.digest} (sha256 only)`,
    );
  }
  return o;
}

/** Parse manifest or index JSON (`mediaType` from the response or the document). */
export function parseManifest(
  bytes: Uint8Array,
  mediaType: string | null,
  what: string,
): ManifestDoc {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new TinycError(`${what}: manifest is not JSON`);
  }
  const type = (doc.mediaType as string | undefined) ??
    mediaType?.split(";")[0].trim() ?? "";
  if (
    type === MEDIA.ociIndex || type === MEDIA.dockerList ||
    (type === "" && Array.isArray(doc.manifests))
  ) {
    if (!Array.isArray(doc.manifests)) {
      throw new TinycError(`${what}: index without manifests`);
    }
    return {
      kind: "index",
      manifests: doc.manifests.map((m) => descriptor(m, what)),
    };
  }
  if (
    type === MEDIA.ociManifest || type === MEDIA.dockerManifest ||
    (type === "" && doc.config !== undefined)
  ) {
    if (!Array.isArray(doc.layers)) {
      throw new TinycError(`${what}: manifest without layers`);
    }
    return {
      kind: "manifest",
      config: descriptor(doc.config, what),
      layers: doc.layers.map((l) => descriptor(l, what)),
    };
  }
  if (doc.schemaVersion === 1) {
    throw new TinycError(
      `${what}: docker schema 1 manifests are not supported`,
    );
  }
  throw new TinycError(
    `${what}: unsupported manifest type ${type || "(none)"}`,
  );
}

/** The host's platform in OCI terms. */
export function hostPlatform(arch: string = Deno.build.arch): Platform {
  return arch === "aarch64"
    ? { os: "linux", architecture: "arm64", variant: "v8" }
    : { os: "linux", architecture: "amd64" };
}

/**
 * The index entry for `want`: same os and architecture; for arm64 the
 * variant must be v8 or absent. Attestation manifests (`unknown/unknown`)
 * never match. Throws when nothing fits, listing what there is.
 */
export function selectPlatform(
  manifests: readonly Descriptor[],
  want: Platform,
  what: string,
): Descriptor {
  const fits = (p?: Platform) =>
    p !== undefined && p.os === want.os &&
    p.architecture === want.architecture &&
    (want.variant === undefined || p.variant === undefined ||
      p.variant === want.variant);
  const found = manifests.find((m) => fits(m.platform));
  if (found) return found;
  const have = manifests.map((m) =>
    m.platform
      ? `${m.platform.os}/${m.platform.architecture}${
        m.platform.variant ? "/" + m.platform.variant : ""
      }`
      : "?"
  ).filter((p) => p !== "unknown/unknown");
  throw new TinycError(
    `${what}: no image for ${want.os}/${want.architecture} (the index has ${
      have.join(", ") || "nothing"
    })`,
  );
}

/** How a layer blob is compressed, from its media type. */
export function layerCompression(
  mediaType: string,
  what: string,
): "gzip" | "zstd" | "none" {
  if (
    mediaType.endsWith("+gzip") || mediaType.endsWith(".tar.gzip") ||
    mediaType.endsWith("diff.tar.gzip")
  ) return "gzip";
  if (mediaType.endsWith("+zstd")) return "zstd";
  if (mediaType.endsWith(".tar") || mediaType.endsWith("layer.v1.tar")) {
    return "none";
  }
  if (mediaType.includes("foreign") || mediaType.includes("nondistributable")) {
    throw new TinycError(`${what}: foreign layers are not supported`);
  }
  throw new TinycError(`${what}: unsupported layer media type ${mediaType}`);
}

/** Parse and check an image config. */
export function parseConfig(bytes: Uint8Array, what: string): ImageConfig {
  let c: ImageConfig;
  try {
    c = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new TinycError(`${what}: image config is not JSON`);
  }
  if (
    typeof c !== "object" || c === null || !c.rootfs ||
    !Array.isArray(c.rootfs.diff_ids) ||
    c.rootfs.diff_ids.some((d) => typeof d !== "string" || !DIGEST.test(d))
  ) {
    throw new TinycError(`${what}: image config without valid rootfs.diff_ids`);
  }
  return c;
}
