/**
 * How tinyc re-executes itself (`__init`, `__exec`, `__monitor`): this
 * Deno with this main.ts, or the compiled binary.
 *
 * @module
 */

/** The argv that runs tinyc's hidden command `cmd` (e.g. `__init`). */
export function tinycArgv(cmd: string): string[] {
  if (Deno.build.standalone) return [Deno.execPath(), cmd];
  const main = new URL("../main.ts", import.meta.url).pathname;
  return [Deno.execPath(), "run", "-A", "--no-config", "--quiet", main, cmd];
}
