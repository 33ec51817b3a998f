/**
 * `deno task shell [DIR]`: a rootfs (default ./rootfs) whose only program is
 * the tiny shell, at `/bin/ts`.
 *
 * Preferred: `deno compile` the shell into one executable (plus the few glibc
 * libraries it links). That needs deno's `denort` base binary, which is
 * downloaded on first use; where it cannot be had (see scripts/compile.ts),
 * the rootfs gets the portable layout instead:
 *
 * - `/bin/deno`: the host's deno binary, with its loader and libraries at the
 *   paths ldd prints (`/lib/x86_64-linux-gnu/libc.so.6`, ...);
 * - `/bin/ts`: shell/ts.ts bundled into one JavaScript file whose first line
 *   is `#!/bin/deno -A`. The kernel passes everything after the interpreter
 *   path as ONE argument, so `#!/bin/deno run -A` would hand deno the
 *   subcommand "run -A" and fail; `deno -A FILE` runs FILE.
 *
 * Deno refuses to start unless it can name a cache directory: `DENO_DIR`,
 * else `$XDG_CACHE_HOME/deno`, else `$HOME/.cache/deno`, else the home
 * directory of the user's /etc/passwd entry. The directory itself may be
 * missing or read-only. The rootfs's /etc/passwd has root (/root) and
 * nobody (/nonexistent), so `/bin/ts` starts with an empty environment as uid
 * 0 or 65534; any other uid needs HOME or DENO_DIR set in the container.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { TinycError } from "../src/errors.ts";
import { installProgram } from "../src/rootfs/add.ts";
import { applyLayout, planBaseLayout } from "../src/rootfs/layout.ts";
import {
  behavesAsShell,
  compileProgram,
  compileTimeout,
  type DenortStatus,
  findDenort,
} from "./compile.ts";

/** The first line of the portable `/bin/ts`. */
export const SHEBANG = "#!/bin/deno -A";

/** Where `deno task shell` builds when given no directory. */
export const DEFAULT_DIR = "./rootfs";

const SHELL_ENTRY = new URL("../shell/ts.ts", import.meta.url).pathname;

/** The portable `/bin/ts`: {@link SHEBANG}, then `js` without any `#!` line of its own. */
export function shellScript(js: string): string {
  const body = js.startsWith("#!") ? js.slice(js.indexOf("\n") + 1) : js;
  return `${SHEBANG}\n${body}`;
}

/** `deno bundle` `entry` into one JavaScript text (works offline). */
export async function bundle(entry: string): Promise<string> {
  const tmp = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "--output", tmp, entry],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n")
        .find((l) => l.startsWith("error")) ?? "failed";
      throw new TinycError(`deno bundle ${entry}: ${err}`);
    }
    return await Deno.readTextFile(tmp);
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Options for {@link buildShellRootfs}. */
export interface ShellRootfsOptions {
  /** Try `deno compile` (default true). */
  compile?: boolean;
  /** How to find denort; tests pass a fake. */
  denort?: () => Promise<DenortStatus>;
}

/** What {@link buildShellRootfs} made. */
export interface ShellRootfsResult {
  /** `compiled`: /bin/ts is a standalone executable; `script`: a JS file run by /bin/deno. */
  kind: "compiled" | "script";
  /** Container paths of the program files written. */
  written: string[];
  /** Why the compiled form was not used (empty when it was). */
  fallbackReason: string;
}

async function tryCompiled(
  dir: string,
  opts: ShellRootfsOptions,
): Promise<string[] | string> {
  if (opts.compile === false) return "--no-compile";
  const status = await (opts.denort ?? findDenort)();
  if (!status.available) return status.detail;
  // A directory, not a temporary file: deno compile refuses to overwrite a
  // file it did not make.
  const tmpDir = await Deno.makeTempDir({ prefix: "tinyc_ts_" });
  const tmp = join(tmpDir, "ts");
  try {
    await compileProgram(SHELL_ENTRY, tmp, compileTimeout(status));
    if (!await behavesAsShell(tmp)) {
      return `the compiled shell does not run as the shell (denort ${status.detail} ignored the program?)`;
    }
    return await installProgram(dir, tmp, "/bin/ts");
  } catch (err) {
    if (err instanceof TinycError) return err.message;
    throw err;
  } finally {
    await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
  }
}

/** Build (or refresh) the tiny-shell rootfs in `dir`. */
export async function buildShellRootfs(
  dir: string,
  opts: ShellRootfsOptions = {},
): Promise<ShellRootfsResult> {
  applyLayout(dir, [
    { kind: "dir", path: "/bin", mode: 0o755 },
    ...planBaseLayout({ shell: "/bin/ts" }),
  ]);
  const compiled = await tryCompiled(dir, opts);
  if (typeof compiled !== "string") {
    return { kind: "compiled", written: compiled, fallbackReason: "" };
  }
  const script = shellScript(await bundle(SHELL_ENTRY));
  const written = await installProgram(dir, Deno.execPath(), "/bin/deno");
  applyLayout(dir, [
    { kind: "file", path: "/bin/ts", content: script, mode: 0o755 },
  ]);
  written.push("/bin/ts");
  return { kind: "script", written, fallbackReason: compiled };
}

const HELP = `Usage: deno task shell [DIR] [--no-compile]

Build a rootfs in DIR (default ${DEFAULT_DIR}) whose program is the tiny shell,
/bin/ts: compiled with deno compile when its denort base binary is available,
else the bundled shell run by a copy of deno at /bin/deno.`;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      "no-compile": { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) {
    console.error("shell: expected at most one directory");
    return 125;
  }
  const dir = positionals[0] ?? DEFAULT_DIR;
  const started = performance.now();
  const r = await buildShellRootfs(dir, { compile: !values["no-compile"] });
  const ms = Math.round(performance.now() - started);
  if (r.kind === "compiled") {
    console.log(
      `shell rootfs ready in ${dir} (${ms} ms): /bin/ts compiled with deno compile, ${r.written.length} files`,
    );
  } else {
    console.log(
      `shell rootfs ready in ${dir} (${ms} ms): /bin/ts is the bundled shell run by /bin/deno, ${r.written.length} files (no deno compile: ${r.fallbackReason})`,
    );
  }
  console.log(`run it: deno task run --root=${join(dir)} --shell=/bin/ts`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(
      `shell: ${err instanceof Error ? err.message.split("\n")[0] : err}`,
    );
    Deno.exit(err instanceof TinycError ? err.exitCode : 1);
  }
}
