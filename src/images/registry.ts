/**
 * A minimal OCI distribution client: manifests and blobs over `fetch`,
 * with Docker Hub's anonymous token flow (a 401 naming a Bearer realm,
 * service and scope -> a token -> the request again). Plain HTTP only for
 * loopback registries or when the caller asks (`--tls-verify=false`).
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import {
  isLoopbackRegistry,
  type Reference,
  registryEndpoint,
} from "./reference.ts";
import { MANIFEST_ACCEPT } from "./manifest.ts";

/** Largest manifest or config accepted (held in memory). */
export const MAX_DOCUMENT = 8 << 20;

/** Parse `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(
  header: string,
): { scheme: string; params: Record<string, string> } {
  const m = header.match(/^\s*(\w+)\s*(.*)$/);
  const params: Record<string, string> = {};
  if (!m) return { scheme: "", params };
  const re = /(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (const p of m[2].matchAll(re)) {
    params[p[1].toLowerCase()] = (p[2] ?? p[3]).replace(/\\(.)/g, "$1");
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** A fetched document: its bytes, media type and the digest of the bytes. */
export interface Fetched {
  bytes: Uint8Array;
  mediaType: string | null;
  digest: string;
}

/** sha256 of bytes as `sha256:<hex>`. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest(
    "SHA-256",
    bytes as Uint8Array<ArrayBuffer>,
  );
  return "sha256:" +
    [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Read a response body, refusing more than `max` bytes. */
export async function readBounded(
  res: Response,
  max: number,
  what: string,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of res.body ?? new ReadableStream()) {
    n += c.length;
    if (n > max) {
      await res.body?.cancel().catch(() => {});
      throw new TinycError(`${what}: larger than ${max} bytes`);
    }
    chunks.push(c);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * The cause at the end of a fetch error's chain ("error sending request for
 * url (...): client error (Connect): tcp connect error: Connection refused
 * (os error 111)" -> "connection refused").
 */
export function fetchError(e: unknown): string {
  const err = e as Error & { cause?: Error };
  const text = (err.cause?.message ?? err.message ?? String(e)).split("\n")[0];
  const last = text.split(": ").at(-1)!.replace(/ \(os error \d+\)$/, "")
    .trim();
  return last ? last.charAt(0).toLowerCase() + last.slice(1) : text;
}

/** Talks to one repository of one registry. */
export class RegistryClient {
  private token: string | undefined;
  readonly base: string;

  constructor(
    private readonly ref: Reference,
    opts: { plainHttp?: boolean } = {},
  ) {
    const scheme = opts.plainHttp || isLoopbackRegistry(ref.registry)
      ? "http"
      : "https";
    this.base = `${scheme}://${
      registryEndpoint(ref.registry)
    }/v2/${ref.repository}`;
  }

  private async request(
    path: string,
    accept: string | undefined,
    what: string,
  ): Promise<Response> {
    for (let attempt = 0;; attempt++) {
      const headers: Record<string, string> = {};
      if (accept) headers.Accept = accept;
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
      let res: Response;
      try {
        res = await fetch(`${this.base}${path}`, {
          headers,
          redirect: "manual",
        });
        // Blobs are often redirected to a CDN or object store: follow
        // without our token when the origin changes (S3 refuses a second
        // kind of authentication, and the token is not theirs).
        for (let hops = 0; res.status >= 300 && res.status < 400; hops++) {
          const location = res.headers.get("location");
          await res.body?.cancel();
          if (!location || hops >= 5) {
            throw new Error(`bad redirect (HTTP ${res.status})`);
          }
          const next = new URL(location, res.url || this.base);
          const same = next.origin === new URL(this.base).origin;
          res = await fetch(next, {
            headers: same ? headers : accept ? { Accept: accept } : {},
            redirect: "manual",
          });
        }
      } catch (e) {
        throw new TinycError(
          `${what}: cannot reach ${this.ref.registry}: ${fetchError(e)}`,
        );
      }
      if (res.status === 401 && attempt === 0) {
        const challenge = res.headers.get("www-authenticate") ?? "";
        await res.body?.cancel();
        await this.authenticate(challenge, what);
        continue;
      }
      return res;
    }
  }

  private async authenticate(header: string, what: string): Promise<void> {
    const { scheme, params } = parseChallenge(header);
    if (scheme !== "bearer" || !params.realm) {
      throw new TinycError(
        `${what}: ${this.ref.registry} requires authentication (${
          scheme || "no challenge"
        }); only anonymous pulls are supported`,
      );
    }
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    url.searchParams.set(
      "scope",
      params.scope ?? `repository:${this.ref.repository}:pull`,
    );
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new TinycError(
        `${what}: token service ${url.host}: ${(e as Error).message}`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new TinycError(
        `${what}: token service ${url.host}: HTTP ${res.status}`,
      );
    }
    const body = JSON.parse(
      new TextDecoder().decode(await readBounded(res, 1 << 20, what)),
    );
    this.token = body.token ?? body.access_token;
    if (!this.token) {
      throw new TinycError(`${what}: the token service gave no token`);
    }
  }

  /** GET a manifest or index by tag or digest. */
  async manifest(reference: string, what: string): Promise<Fetched> {
    const res = await this.request(
      `/manifests/${reference}`,
      MANIFEST_ACCEPT,
      what,
    );
    if (res.status === 404) {
      await res.body?.cancel();
      throw new TinycError(`${what}: not found (manifest unknown)`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new TinycError(
        `${what}: access denied (the repository does not exist or needs a login)`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new TinycError(`${what}: registry answered HTTP ${res.status}`);
    }
    const bytes = await readBounded(res, MAX_DOCUMENT, what);
    const digest = await sha256(bytes);
    // By tag there is nothing else to check the bytes against.
    const claimed = res.headers.get("docker-content-digest");
    if (claimed?.startsWith("sha256:") && claimed !== digest) {
      throw new TinycError(
        `${what}: manifest digest mismatch: the registry says ${claimed}, the bytes are ${digest}`,
      );
    }
    return { bytes, mediaType: res.headers.get("content-type"), digest };
  }

  /** GET a blob; the caller verifies what it reads. */
  async blob(digest: string, what: string): Promise<Response> {
    const res = await this.request(`/blobs/${digest}`, undefined, what);
    if (!res.ok) {
      await res.body?.cancel();
      throw new TinycError(
        `${what}: ${
          res.status === 404 ? "blob not found" : `HTTP ${res.status}`
        }`,
      );
    }
    return res;
  }
}
