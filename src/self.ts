/**
 * How tinyc re-executes itself (`__init`, `__exec`, `__monitor`): this
 * Deno with this main.ts, or the compiled binary.
 *
 * @module
 */

/** The argv that runs tinyc's hidden command `cmd` (e.g. `__init`). */
export function tinycArgv(cmd: string): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), cmd];
  // The init and the exec init start from their own entry point, which
  // loads only the init's modules (src/init_main.ts).
  const entry = cmd === "__init" || cmd === "__exec"
    ? "./init_main.ts"
    : "../main.ts";
  const main = new URL(entry, import.meta.url).pathname;
  return [Deno.execPath(), "run", "-A", "--no-config", "--quiet", main, cmd];
}
