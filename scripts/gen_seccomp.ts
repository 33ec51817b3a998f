/**
 * `deno run -A scripts/gen_seccomp.ts`: regenerate
 * src/security/seccomp_default.generated.ts, the precompiled programs of
 * tinyc's default seccomp profile (docker's default capabilities) for each
 * architecture (see src/security/seccomp_cache.ts). Run it after changing
 * the default profile, the capability defaults or the compiler; the unit
 * tests fail until then.
 *
 * @module
 */

import { generatedModule } from "../src/security/seccomp_cache_gen.ts";

if (import.meta.main) {
  const path = new URL(
    "../src/security/seccomp_default.generated.ts",
    import.meta.url,
  ).pathname;
  await Deno.writeTextFile(path, generatedModule());
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
  }).output();
  if (!fmt.success) throw new Error(`deno fmt ${path} failed`);
  console.log(`wrote ${path}`);
}
