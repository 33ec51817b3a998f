/**
 * Compiled seccomp filters, precomputed: compiling tinyc's default profile
 * costs the launcher ~2-3 ms of CPU (more on a busy machine) while the
 * init, on the other core, builds the container's filesystem. The programs
 * for the default profile with docker's default capabilities, for each
 * architecture, are generated ahead of time into
 * `seccomp_default.generated.ts` (`deno run -A scripts/gen_seccomp.ts`),
 * together with the profile's text: a profile whose text is exactly that
 * gets the stored program, any other is compiled as before and checked to
 * let a command start at all (no hashing:
 * nothing to collide, and no crypto code paged in). A unit test checks that
 * every stored program equals a fresh compile of the stored profile, so a
 * change to the profile or the compiler without regenerating fails the
 * tests.
 *
 * @module
 */

import {
  assertExecAllowed,
  compileSeccomp,
  nativeArch,
  type SeccompArch,
  type SeccompProfile,
} from "./seccomp.ts";
import { PRECOMPILED } from "./seccomp_default.generated.ts";

/** A stable text of `profile` (BigInts as `123n`). */
export function profileText(profile: SeccompProfile): string {
  return JSON.stringify(
    profile,
    (_k, v) => typeof v === "bigint" ? `${v}n` : v,
  );
}

/** `profile` compiled for `arch`: the stored program when there is one. */
export function compiledSeccomp(
  profile: SeccompProfile,
  arch: SeccompArch = nativeArch(),
): Uint8Array {
  const stored = PRECOMPILED.programs[arch];
  // The whole text is compared: a stored program is used only for exactly
  // the profile it was compiled from.
  if (stored !== undefined && profileText(profile) === PRECOMPILED.profile) {
    return Uint8Array.from(atob(stored), (c) => c.charCodeAt(0));
  }
  const program = compileSeccomp(profile, arch);
  assertExecAllowed(program, arch);
  return program;
}
