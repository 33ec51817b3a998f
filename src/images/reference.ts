/**
 * Image references as docker normalises them: `alpine` is
 * `docker.io/library/alpine:latest`; `host[:port]/name[:tag|@digest]` names
 * another registry (the first component is a host when it has a `.` or a
 * `:`, or is `localhost`).
 *
 * @module
 */

import { TinycError } from "../errors.ts";

/** A parsed, normalised reference. */
export interface Reference {
  /** Registry host[:port], e.g. `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/alpine`. */
  repository: string;
  /** Tag (default `latest` unless a digest is given). */
  tag?: string;
  /** `sha256:<hex>` when pinned. */
  digest?: string;
}

/** The host Docker Hub's API lives on. */
export const DOCKER_HUB = "docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** Parse `ref`; throws a one-line {@link TinycError} when it is malformed. */
export function parseReference(ref: string): Reference {
  const bad = (why: string) =>
    new TinycError(`invalid reference format: ${ref}: ${why}`);
  if (ref === "" || ref.length > 512) throw bad("empty or too long");
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad("digest must be sha256:<64 hex>");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`bad tag ${tag}`);
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  if (
    parts.length > 1 &&
    (parts[0].includes(".") || parts[0].includes(":") ||
      parts[0] === "localhost")
  ) {
    registry = parts.shift()!;
    if (
      !/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(
        registry,
      )
    ) {
      throw bad(`bad registry host ${registry}`);
    }
  }
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw bad("repository names are lowercase letters, digits and separators");
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  return {
    registry,
    repository: parts.join("/"),
    tag: tag ?? (digest ? undefined : "latest"),
    digest,
  };
}

/** `docker.io/library/alpine` */
export function repoName(r: Reference): string {
  return `${r.registry}/${r.repository}`;
}

/** The full form: `docker.io/library/alpine:latest` (or `@sha256:...`). */
export function formatReference(r: Reference): string {
  return repoName(r) + (r.tag ? `:${r.tag}` : "") +
    (r.digest ? `@${r.digest}` : "");
}

/** docker's short display name: `alpine`, `user/app`, `127.0.0.1:5000/x`. */
export function shortRepo(full: string): string {
  if (full.startsWith(`${DOCKER_HUB}/library/`)) {
    return full.slice(DOCKER_HUB.length + 9);
  }
  if (full.startsWith(`${DOCKER_HUB}/`)) {
    return full.slice(DOCKER_HUB.length + 1);
  }
  return full;
}

/** The host (and port) to talk to for a registry name. */
export function registryEndpoint(registry: string): string {
  return registry === DOCKER_HUB ? "registry-1.docker.io" : registry;
}

/** Loopback registries may be plain HTTP (as docker allows). */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}
