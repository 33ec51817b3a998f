/**
 * How tinyc re-executes itself (`__init`, `__exec`, `__monitor`): this
 * Deno with this main.ts (or the build's dist/main.js), or the compiled
 * binary.
 *
 * @module
 */

import { moduleUrl } from "./lazy.ts";

/** The argv that runs tinyc's hidden command `cmd` (e.g. `__init`). */
export function tinycArgv(cmd: string): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), cmd];
  // The init and the exec init start from their own entry point, which
  // loads only the init's modules (src/init_main.ts).
  const entry = cmd === "__init" || cmd === "__exec"
    ? "src/init_main.ts"
    : "main.ts";
  const main = new URL(moduleUrl(entry)).pathname;
  return [Deno.execPath(), "run", "-A", "--no-config", "--quiet", main, cmd];
}
