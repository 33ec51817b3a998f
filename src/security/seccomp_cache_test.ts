import assert from "node:assert/strict";
import {
  assertExecAllowed,
  compileSeccomp,
  type SeccompProfile,
} from "./seccomp.ts";
import { compiledSeccomp, profileText } from "./seccomp_cache.ts";
import { PRECOMPILED } from "./seccomp_default.generated.ts";
import { ARCHES, defaultRunProfile, precompiled } from "./seccomp_cache_gen.ts";

Deno.test("seccomp cache: the generated programs are today's compiles (else run scripts/gen_seccomp.ts)", () => {
  assert.deepEqual(PRECOMPILED, precompiled());
  assert.deepEqual(Object.keys(PRECOMPILED.programs), [...ARCHES]);
});

Deno.test("seccomp cache: the default profile is served from the cache, equal to a fresh compile", () => {
  const profile = defaultRunProfile();
  assert.equal(profileText(profile), PRECOMPILED.profile);
  for (const arch of ARCHES) {
    assert.deepEqual(
      compiledSeccomp(profile, arch),
      compileSeccomp(profile, arch),
    );
  }
});

Deno.test("seccomp cache: any other profile is compiled, never served the stored program", () => {
  const profile = defaultRunProfile();
  const changed: SeccompProfile[] = [
    { ...profile, rules: profile.rules.slice(1) },
    { ...profile, flags: 1 },
    { ...profile, defaultAction: { kind: "errno", data: 1 } },
    {
      ...profile,
      rules: [
        {
          ...profile.rules[0],
          args: [{ index: 0, op: "eq", value: 1n }],
        },
        ...profile.rules.slice(1),
      ],
    },
  ];
  let served = 0;
  for (const p of changed) {
    assert.notEqual(profileText(p), PRECOMPILED.profile);
    const fresh = compileSeccomp(p, "x86_64");
    let startable = true;
    try {
      assertExecAllowed(fresh, "x86_64");
    } catch {
      startable = false;
    }
    if (!startable) {
      // (one that refuses execve is refused outright)
      assert.throws(() => compiledSeccomp(p, "x86_64"), /execve/);
      continue;
    }
    assert.deepEqual(compiledSeccomp(p, "x86_64"), fresh);
    // Serving the stored program for one that compiles otherwise is wrong.
    if (notEqual(fresh, compiledSeccomp(profile, "x86_64"))) served++;
  }
  assert.ok(served >= 1, "no variant compiled to a program of its own");
});

function notEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length !== b.length || a.some((x, i) => x !== b[i]);
}
