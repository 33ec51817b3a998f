/**
 * `deno task compile`: build the standalone executables `dist/tinyc` (from
 * main.ts) and `dist/ts` (the tiny shell) with `deno compile`.
 *
 * `deno compile` glues the program onto a `denort` base binary that it
 * downloads from dl.deno.land on first use and caches in
 * `DENO_DIR/dl/release/vVERSION/denort-TARGET.zip`; `DENORT_BIN` can name one
 * instead. Where neither a cached copy nor the network is there, the download
 * would fail (or, behind a firewall that drops packets, hang), so this script
 * checks first and stops with one line saying why.
 *
 * @module
 */

import { join } from "node:path";
import { TinycError } from "../src/errors.ts";
import { LAZY_MODULES } from "../main.ts";

/** Where deno caches the denort base binary for `version` and `target`. */
export function denortCachePath(
  denoDir: string,
  version: string = Deno.version.deno,
  target: string = Deno.build.target,
): string {
  return join(denoDir, "dl", "release", `v${version}`, `denort-${target}.zip`);
}

/** The DENO_DIR deno uses here, as `deno info --json` reports it. */
export async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  if (out.success) {
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    if (typeof info.denoDir === "string") return info.denoDir;
  }
  throw new TinycError("`deno info --json` did not report the DENO_DIR");
}

/** Whether a TCP connection to `host:port` opens within `timeoutMs` (DNS included). */
export async function canConnect(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const connecting = Deno.connect({ hostname: host, port });
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
  });
  try {
    const conn = await Promise.race([connecting, timeout]);
    if (conn === null) {
      // Close it should it open after all.
      connecting.then((c) => c.close(), () => {});
      return false;
    }
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `deno compile` can get its base binary, and how (or why not). */
export interface DenortStatus {
  available: boolean;
  /** `DENORT_BIN=/x`, `cached at /x`, `download from dl.deno.land`, or the reason it is unavailable. */
  detail: string;
  /** Whether compiling will download (so allow minutes, not seconds). */
  download: boolean;
}

/** What {@link findDenort} looks at; tests pass fakes. */
export interface DenortProbe {
  env: (name: string) => string | undefined;
  denoDir: () => Promise<string>;
  reachable: () => Promise<boolean>;
}

const realProbe: DenortProbe = {
  env: (name) => Deno.env.get(name),
  denoDir,
  reachable: () => canConnect("dl.deno.land", 443, 3000),
};

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Find the denort base binary `deno compile` will use: `DENORT_BIN`, else the
 * cached download, else a download if dl.deno.land answers within 3 s (or a
 * proxy is configured, which deno would use and we cannot probe).
 */
export async function findDenort(
  probe: DenortProbe = realProbe,
): Promise<DenortStatus> {
  const bin = probe.env("DENORT_BIN");
  if (bin) {
    return isFile(bin)
      ? { available: true, detail: `DENORT_BIN=${bin}`, download: false }
      : {
        available: false,
        detail: `DENORT_BIN=${bin} does not exist`,
        download: false,
      };
  }
  const cached = denortCachePath(await probe.denoDir());
  if (isFile(cached)) {
    return { available: true, detail: `cached at ${cached}`, download: false };
  }
  const proxy = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    .some((v) => probe.env(v));
  if (proxy || await probe.reachable()) {
    return {
      available: true,
      detail: "download from dl.deno.land",
      download: true,
    };
  }
  return {
    available: false,
    detail:
      `the denort base binary is not cached (${cached}) and dl.deno.land cannot be reached to download it; set DENORT_BIN to a denort binary or compile where the network is up`,
    download: false,
  };
}

/** The first useful line of `deno compile`'s error output. */
export function compileError(stderr: string): string {
  // deno prints "error: <what>" then "Caused by:" and a numbered chain; the
  // last cause is the most specific ("dns error: ...").
  // deno-lint-ignore no-control-regex
  const lines = stderr.replace(/\x1b\[[0-9;]*m/g, "")
    .split("Stack backtrace:")[0].split("\n")
    .map((l) => l.trim()).filter((l) => l !== "");
  const head = lines.find((l) => l.startsWith("error:")) ?? lines[0] ?? "";
  const causes = lines.filter((l) => /^\d+: /.test(l))
    .map((l) => l.replace(/^\d+: /, ""));
  const last = causes.at(-1);
  return last && !head.includes(last) ? `${head} (${last})` : head;
}

/**
 * `deno compile -A [--include MODULE...] --output OUTPUT ENTRY`, killed
 * after `timeoutMs`. `include`: modules the entry imports by a computed
 * specifier (main.ts's LAZY_MODULES), which deno cannot find on its own.
 * Throws {@link TinycError} with deno's error line on failure.
 */
export async function compileProgram(
  entry: string,
  output: string,
  timeoutMs: number,
  include: readonly string[] = [],
): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "-A",
      ...include.flatMap((m) => ["--include", m]),
      "--output",
      output,
      entry,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  if (out.signal !== null) {
    throw new TinycError(
      `deno compile ${entry}: killed after ${
        timeoutMs / 1000
      } s (${out.signal})`,
    );
  }
  if (!out.success) {
    throw new TinycError(
      `deno compile ${entry}: ${
        compileError(new TextDecoder().decode(out.stderr))
      }`,
    );
  }
}

/**
 * Whether `command` behaves as the tiny shell: fed `quit`, it prints the
 * banner and ends. Catches a `deno compile` whose base binary ignored the
 * embedded program (a plain deno as DENORT_BIN starts a REPL instead).
 */
export async function behavesAsShell(
  command: string,
  args: string[] = [],
): Promise<boolean> {
  try {
    const child = new Deno.Command(command, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(20_000),
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode("quit\n"));
    await w.close();
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    return out.success && text.startsWith("Tiny shell started\n") &&
      text.endsWith("Tiny shell ended\n");
  } catch {
    return false;
  }
}

/** Compile timeout: compiling alone takes seconds; a download may take minutes. */
export function compileTimeout(status: DenortStatus): number {
  return status.download ? 300_000 : 120_000;
}

/**
 * The programs `deno task compile` builds: [entry, output], relative to the
 * repo. The shell goes first: it is the one we can check runs as itself, so
 * a base binary that ignores the embedded program fails before dist/tinyc.
 */
export const TARGETS: ReadonlyArray<readonly [string, string]> = [
  ["shell/ts.ts", "dist/ts"],
  ["main.ts", "dist/tinyc"],
];

/** `deno task compile`; returns the exit status. Messages go to stdout/stderr. */
export async function compileMain(
  repo: string,
  probe: DenortProbe = realProbe,
): Promise<number> {
  const status = await findDenort(probe);
  if (!status.available) {
    console.error(`compile: cannot run deno compile: ${status.detail}`);
    return 1;
  }
  const dist = join(repo, "dist");
  await Deno.mkdir(dist, { recursive: true });
  for (const [entry, output] of TARGETS) {
    // Compile next to the target and rename: deno compile will not overwrite
    // a file it did not make, and a failed run must not leave half a binary.
    const tmpDir = await Deno.makeTempDir({ dir: dist, prefix: ".compile-" });
    try {
      const tmp = join(tmpDir, "out");
      const include = entry === "main.ts"
        ? LAZY_MODULES.map((m) => join(repo, m))
        : [];
      await compileProgram(
        join(repo, entry),
        tmp,
        compileTimeout(status),
        include,
      );
      if (output === "dist/ts" && !await behavesAsShell(tmp)) {
        throw new TinycError(
          `${output} does not run as the shell: the denort base binary (${status.detail}) ignored the embedded program`,
        );
      }
      await Deno.rename(tmp, join(repo, output));
    } catch (err) {
      if (!(err instanceof TinycError)) throw err;
      console.error(`compile: ${err.message}`);
      return 1;
    } finally {
      await Deno.remove(tmpDir, { recursive: true }).catch(() => {});
    }
    console.log(`compiled ${output} (denort ${status.detail})`);
  }
  return 0;
}

if (import.meta.main) {
  Deno.exit(await compileMain(new URL("..", import.meta.url).pathname));
}
