import assert from "node:assert/strict";
import {
  formatReference,
  isLoopbackRegistry,
  parseReference,
  registryEndpoint,
  shortRepo,
} from "./reference.ts";
import { parseChallenge } from "./registry.ts";

Deno.test("reference: docker's normalisation", () => {
  assert.deepEqual(parseReference("alpine"), {
    registry: "docker.io",
    repository: "library/alpine",
    tag: "latest",
    digest: undefined,
  });
  assert.equal(
    formatReference(parseReference("user/app:1.2")),
    "docker.io/user/app:1.2",
  );
  assert.equal(
    formatReference(parseReference("127.0.0.1:5000/a/b")),
    "127.0.0.1:5000/a/b:latest",
  );
  assert.equal(parseReference("localhost/x").registry, "localhost");
  assert.equal(parseReference("quay.io/x/y:t").registry, "quay.io");
  const d = "sha256:" + "a".repeat(64);
  const r = parseReference(`alpine@${d}`);
  assert.equal(r.digest, d);
  assert.equal(r.tag, undefined);
  assert.equal(parseReference(`localhost:5000/x:1@${d}`).tag, "1");
});

Deno.test("reference: malformed references are one-line errors", () => {
  for (const bad of ["", "UPPER", "a//b", "x:", "a@sha256:12", "a:b c", "-x"]) {
    assert.throws(() => parseReference(bad), /invalid reference format/, bad);
  }
});

Deno.test("reference: display, endpoint, loopback", () => {
  assert.equal(shortRepo("docker.io/library/alpine"), "alpine");
  assert.equal(shortRepo("docker.io/user/app"), "user/app");
  assert.equal(shortRepo("127.0.0.1:5000/a"), "127.0.0.1:5000/a");
  assert.equal(registryEndpoint("docker.io"), "registry-1.docker.io");
  assert.ok(isLoopbackRegistry("127.0.0.1:5000"));
  assert.ok(isLoopbackRegistry("localhost:1"));
  assert.ok(isLoopbackRegistry("[::1]:5000"));
  assert.ok(!isLoopbackRegistry("example.com:5000"));
  assert.ok(!isLoopbackRegistry("127.0.0.1.evil.com"));
});

Deno.test("registry: Bearer challenges parse", () => {
  const c = parseChallenge(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
  );
  assert.equal(c.scheme, "bearer");
  assert.equal(c.params.realm, "https://auth.docker.io/token");
  assert.equal(c.params.service, "registry.docker.io");
  assert.equal(c.params.scope, "repository:library/alpine:pull");
  assert.equal(parseChallenge('Basic realm="x"').scheme, "basic");
});
