/**
 * The build `deno task install` runs: tinyc's modules bundled with `deno
 * bundle --code-splitting` into `OUT/` (usually `dist/` next to the installed
 * sources): `main.js` (the CLI, tinyc-oci and the monitor),
 * `src/init_main.js` (the container's init) and one entry per lazily loaded
 * module (main.ts's LAZY_MODULES, at its path with `.js`), plus the chunks
 * they share, so every module has one instance however it is reached. The
 * init, which runs in a process of its own, is one file.
 *
 * Why: Deno reads, parses and links each module of a graph on every start,
 * and tinyc starts twice per container (the launcher and the init). From a
 * bundle, the init's modules load in ~1.5 ms instead of ~5, the launcher's
 * run path likewise (`deno task bench` times both, side by side with the
 * source tree). The sources stay the program: `./main.ts` runs them, the
 * build is made from them and never committed.
 *
 * Usage: deno run -A scripts/build.ts OUT
 *
 * @module
 */

import { LAZY_MODULES } from "../main.ts";

/** The build's entry points, relative to the repository's root. */
export const ENTRIES: readonly string[] = [
  "main.ts",
  "src/init_main.ts",
  ...LAZY_MODULES,
];

/** Where `entry` lands in the build (see src/lazy.ts's moduleUrl). */
export function builtPath(entry: string): string {
  return entry.replace(/\.ts$/, ".js");
}

/**
 * Bundle the checkout at `repo` into `out` (which must not exist yet).
 * Throws with deno bundle's own message when it fails or leaves out an
 * entry.
 */
export async function build(repo: string, out: string): Promise<void> {
  await bundle(repo, ["--code-splitting", "--outdir", out, ...ENTRIES]);
  // The init runs alone in its process: one file, not the 16 chunks its
  // share of the split build spans (~1.5 ms less of its start-up).
  await bundle(repo, ["--output", `${out}/${builtPath(INIT)}`, INIT]);
  for (const e of ENTRIES) {
    try {
      Deno.statSync(`${out}/${builtPath(e)}`);
    } catch {
      throw new Error(`deno bundle left out ${e} (${out}/${builtPath(e)})`);
    }
  }
}

const INIT = "src/init_main.ts";

/** `deno bundle ARGS` in `repo`; throws with its last line of error. */
async function bundle(repo: string, args: string[]): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--no-config",
      "--no-lock",
      "--platform",
      "deno",
      ...args,
    ],
    cwd: repo,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) {
    // Its first error line (a backtrace may follow).
    const lines = new TextDecoder().decode(r.stderr).split("\n")
      .map((l) => l.trim());
    const err = lines.find((l) => /error/i.test(l)) ?? lines.find((l) => l);
    throw new Error(`deno bundle failed: ${err ?? `exit ${r.code}`}`);
  }
}

if (import.meta.main) {
  const [out] = Deno.args;
  if (!out) {
    console.error("usage: deno run -A scripts/build.ts OUT");
    Deno.exit(2);
  }
  try {
    await build(new URL("..", import.meta.url).pathname, out);
  } catch (e) {
    console.error(`build: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
