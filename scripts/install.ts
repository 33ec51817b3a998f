/**
 * `deno task install` / `deno task uninstall`: copy the runtime (main.ts
 * and src/, tests left out) to `$PREFIX/lib/tinyc` with its build
 * (scripts/build.ts: bundles in `dist/`, which start faster), readable by every user
 * (rootless engines and containers' mapped root run it too), and put
 * `tinyc` and `tinyc-oci` on PATH (`$PREFIX/bin`, PREFIX defaults to
 * /usr/local) as small shell wrappers that run the build with this Deno
 * binary, by absolute paths (engines run their runtime with a minimal
 * environment). Uninstall removes only what this script wrote (the wrappers
 * carry a marker, the copy a marker file).
 *
 * @module
 */

import { build } from "./build.ts";

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

function existsPath(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Is `path` a wrapper this script wrote? */
function ours(path: string): boolean {
  try {
    return Deno.readTextFileSync(path).split("\n")[1] === MARKER;
  } catch {
    return false;
  }
}

const LIB_MARKER = ".installed-by-tinyc";

/**
 * Copy main.ts and src/ (no tests) from `from` into a fresh `to` and build
 * them into `to/dist`, all world-readable. Returns the entry point the
 * wrappers run: the build's, or main.ts when the build failed (`deno bundle`
 * fetches esbuild from the npm registry the first time), with a warning.
 */
async function copyRuntime(from: string, to: string): Promise<string> {
  const tmp = `${to}.tmp-${crypto.randomUUID()}`;
  Deno.mkdirSync(tmp, { recursive: true, mode: 0o755 });
  const copyDir = (src: string, dst: string) => {
    Deno.mkdirSync(dst, { mode: 0o755 });
    Deno.chmodSync(dst, 0o755);
    for (const e of Deno.readDirSync(src)) {
      if (e.isDirectory) copyDir(`${src}/${e.name}`, `${dst}/${e.name}`);
      else if (
        e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")
      ) {
        Deno.copyFileSync(`${src}/${e.name}`, `${dst}/${e.name}`);
        Deno.chmodSync(`${dst}/${e.name}`, 0o644);
      }
    }
  };
  Deno.copyFileSync(`${from}/main.ts`, `${tmp}/main.ts`);
  Deno.chmodSync(`${tmp}/main.ts`, 0o755);
  copyDir(`${from}/src`, `${tmp}/src`);
  let entry = `${to}/dist/main.js`;
  try {
    await build(from, `${tmp}/dist`);
    openUp(`${tmp}/dist`);
  } catch (e) {
    try {
      Deno.removeSync(`${tmp}/dist`, { recursive: true });
    } catch {
      // not made
    }
    console.error(
      `install: warning: no build (${
        e instanceof Error ? e.message : e
      }); tinyc runs from its sources, which start ~10 ms slower`,
    );
    entry = `${to}/main.ts`;
  }
  Deno.writeTextFileSync(`${tmp}/${LIB_MARKER}`, "");
  removeRuntime(to);
  Deno.renameSync(tmp, to);
  return entry;
}

/** Directories 0755 and files 0644 under `dir` (whatever the umask was). */
function openUp(dir: string): void {
  Deno.chmodSync(dir, 0o755);
  for (const e of Deno.readDirSync(dir)) {
    if (e.isDirectory) openUp(`${dir}/${e.name}`);
    else Deno.chmodSync(`${dir}/${e.name}`, 0o644);
  }
}

/** Remove an earlier copy (only one this script made). */
function removeRuntime(dir: string): void {
  try {
    Deno.statSync(`${dir}/${LIB_MARKER}`);
  } catch {
    return;
  }
  Deno.removeSync(dir, { recursive: true });
}

async function main(args: string[]): Promise<number> {
  const prefix = Deno.env.get("PREFIX") || "/usr/local";
  const bin = `${prefix}/bin`;
  const lib = `${prefix}/lib/tinyc`;
  const uninstall = args.includes("--uninstall");
  let main = `${lib}/main.ts`;
  if (uninstall) removeRuntime(lib);
  else {
    try {
      Deno.lstatSync(lib);
      Deno.statSync(`${lib}/${LIB_MARKER}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound) || existsPath(lib)) {
        console.error(
          `install: ${lib} exists and was not written by tinyc; remove it first`,
        );
        return 1;
      }
    }
    const checkout = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
    Deno.mkdirSync(`${prefix}/lib`, { recursive: true });
    main = await copyRuntime(checkout, lib);
    console.log(`installed ${lib}`);
  }
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
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`install: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
