/**
 * The entry point the launcher runs the container's init from (`__init`)
 * and `tinyc-oci exec`'s init (`__exec`). Deno loads every module reachable
 * from the script it runs, dynamic imports included, before the first line
 * executes: started through main.ts the init would load the whole CLI (~90
 * modules); from here it loads only the init's own (~6 ms less of the
 * start-up that every container waits for).
 *
 * A standalone binary (`deno task compile`) has one entry, main.ts, which
 * dispatches `__init` and `__exec` to the same functions.
 *
 * @module
 */

import { execInitMain, initMain } from "./init.ts";

if (import.meta.main) {
  if (Deno.args[0] === "__exec") execInitMain();
  initMain();
}
