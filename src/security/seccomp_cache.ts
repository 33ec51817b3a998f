/**
 * Compiled seccomp filters, precomputed: compiling tinyc's default profile
 * costs the launcher ~2-3 ms of CPU (more on a busy machine) while the
 * init, on the other core, builds the container's filesystem. The programs
 * for the default profile with docker's default capabilities, for each
 * architecture, are generated ahead of time into
 * `seccomp_default.generated.ts` (`deno run -A scripts/gen_seccomp.ts`),
 * keyed by a SHA-256 of the profile and the architecture; any other
 * profile is compiled as before. A unit test checks that every stored
 * program equals a fresh compile of the profile its key names, so a change
 * to the profile or the compiler without regenerating fails the tests.
 *
 * @module
 */

import {
  compileSeccomp,
  nativeArch,
  type SeccompArch,
  type SeccompProfile,
} from "./seccomp.ts";
import { PRECOMPILED } from "./seccomp_default.generated.ts";

/** A stable text of `profile` for `arch` (BigInts as decimal strings). */
export function profileText(
  profile: SeccompProfile,
  arch: SeccompArch,
): string {
  return JSON.stringify(
    { arch, profile },
    (_k, v) => typeof v === "bigint" ? `${v}n` : v,
  );
}

/** The cache key of `profile` for `arch`: SHA-256 of its text, hex. */
export async function profileKey(
  profile: SeccompProfile,
  arch: SeccompArch,
): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(profileText(profile, arch)),
  );
  return Array.from(new Uint8Array(digest))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `profile` compiled for `arch`: the stored program when there is one. */
export async function compiledSeccomp(
  profile: SeccompProfile,
  arch: SeccompArch = nativeArch(),
): Promise<Uint8Array> {
  const stored = PRECOMPILED[await profileKey(profile, arch)];
  if (stored !== undefined) {
    return Uint8Array.from(atob(stored), (c) => c.charCodeAt(0));
  }
  return compileSeccomp(profile, arch);
}
