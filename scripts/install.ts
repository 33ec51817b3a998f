/**
 * `deno task install` / `deno task uninstall`: put `tinyc` and `tinyc-oci`
 * on PATH (`$PREFIX/bin`, PREFIX defaults to /usr/local) as small shell
 * wrappers that run this checkout's main.ts with this Deno binary, by
 * absolute paths (engines run their runtime with a minimal environment).
 * Uninstall removes only files this script wrote (they carry a marker).
 *
 * @module
 */

const MARKER = "# installed by tinyc's scripts/install.ts";

/** The wrapper script for `name` (`tinyc` or `tinyc-oci`). */
export function wrapper(deno: string, main: string, name: string): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return [
    "#!/bin/sh",
    MARKER,
    // Deno needs a cache directory; engines may run us without HOME.
    'export DENO_DIR="${DENO_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/deno}"',
    "export DENO_NO_UPDATE_CHECK=1",
    `exec ${q(deno)} run -A --no-config --quiet ${q(main)}${
      name === "tinyc-oci" ? " oci" : ""
    } "$@"`,
    "",
  ].join("\n");
}

/** Is `path` a wrapper this script wrote? */
function ours(path: string): boolean {
  try {
    return Deno.readTextFileSync(path).split("\n")[1] === MARKER;
  } catch {
    return false;
  }
}

function main(args: string[]): number {
  const prefix = Deno.env.get("PREFIX") || "/usr/local";
  const bin = `${prefix}/bin`;
  const uninstall = args.includes("--uninstall");
  const main = new URL("../main.ts", import.meta.url).pathname;
  for (const name of ["tinyc", "tinyc-oci"]) {
    const path = `${bin}/${name}`;
    let exists = false;
    try {
      Deno.lstatSync(path);
      exists = true;
    } catch {
      // not there
    }
    if (uninstall) {
      if (exists && ours(path)) {
        Deno.removeSync(path);
        console.log(`removed ${path}`);
      } else if (exists) {
        console.error(`install: ${path}: not written by tinyc, left alone`);
      }
      continue;
    }
    if (exists && !ours(path)) {
      console.error(
        `install: ${path} exists and was not written by tinyc; remove it first`,
      );
      return 1;
    }
    Deno.mkdirSync(bin, { recursive: true });
    const tmp = `${path}.tmp-${crypto.randomUUID()}`;
    Deno.writeTextFileSync(tmp, wrapper(Deno.execPath(), main, name), {
      mode: 0o755,
    });
    Deno.chmodSync(tmp, 0o755);
    Deno.renameSync(tmp, path);
    console.log(`installed ${path}`);
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(main(Deno.args));
  } catch (e) {
    console.error(`install: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
