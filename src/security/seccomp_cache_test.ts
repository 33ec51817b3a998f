import assert from "node:assert/strict";
import { compileSeccomp } from "./seccomp.ts";
import { compiledSeccomp, profileKey } from "./seccomp_cache.ts";
import { PRECOMPILED } from "./seccomp_default.generated.ts";
import { ARCHES, defaultRunProfile, precompiled } from "./seccomp_cache_gen.ts";

Deno.test("seccomp cache: the generated programs are today's compiles (else run scripts/gen_seccomp.ts)", async () => {
  assert.deepEqual(PRECOMPILED, await precompiled());
  assert.equal(Object.keys(PRECOMPILED).length, ARCHES.length);
});

Deno.test("seccomp cache: the default profile is served from the cache, equal to a fresh compile", async () => {
  const profile = defaultRunProfile();
  for (const arch of ARCHES) {
    assert.ok(PRECOMPILED[await profileKey(profile, arch)] !== undefined);
    assert.deepEqual(
      await compiledSeccomp(profile, arch),
      compileSeccomp(profile, arch),
    );
  }
});

Deno.test("seccomp cache: any other profile is compiled, never served a stored program", async () => {
  const profile = defaultRunProfile();
  const changed = [
    { ...profile, rules: profile.rules.slice(1) },
    { ...profile, flags: 1 },
    { ...profile, defaultAction: { kind: "errno" as const, data: 1 } },
    {
      ...profile,
      rules: [{
        ...profile.rules[0],
        args: [{ index: 0, op: "eq" as const, value: 1n, valueTwo: 0n }],
      }, ...profile.rules.slice(1)],
    },
  ];
  for (const p of changed) {
    const key = await profileKey(p, "x86_64");
    assert.equal(PRECOMPILED[key], undefined);
    assert.deepEqual(
      await compiledSeccomp(p, "x86_64"),
      compileSeccomp(p, "x86_64"),
    );
  }
  assert.notEqual(
    await profileKey(profile, "x86_64"),
    await profileKey(profile, "aarch64"),
  );
});
