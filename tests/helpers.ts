/**
 * Shared helpers for integration and end-to-end tests: a busybox rootfs built
 * once per test process, and a way to run the tinyc CLI like a user does.
 *
 * @module
 */

import { buildBusyboxRootfs } from "../src/rootfs/busybox.ts";

/** Are we root (needed to run real containers)? */
export const isRoot = Deno.uid() === 0;

/** Why root-only tests are skipped here, printed once per file. */
export function skipUnlessRoot(file: string): boolean {
  if (!isRoot) {
    console.log(`${file}: skipping container tests: they need root (uid 0)`);
  }
  return !isRoot;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

let rootPromise: Promise<string> | undefined;

/** A busybox rootfs in a temporary directory, built on first use. */
export function busyboxRoot(): Promise<string> {
  rootPromise ??= (async () => {
    // makeTempDir gives 0700: other host users cannot reach the rootfs
    // (so tinyc run does not warn); the rootfs itself gets 0755, as a
    // container's / must be traversable by any uid.
    const parent = await Deno.makeTempDir({ prefix: "tinyc-test-root-" });
    const dir = `${parent}/root`;
    await buildBusyboxRootfs(dir);
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(parent, { recursive: true });
      } catch {
        // best effort
      }
    });
    return dir;
  })();
  return rootPromise;
}

/** Result of a CLI run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `tinyc ARGS...` as a user would (through main.ts), capturing output. */
export async function tinyc(
  args: string[],
  opts: { stdin?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const child = new Deno.Command(MAIN, {
    args,
    stdin: opts.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  }).spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/** Start `tinyc ARGS...` in the background (stdout piped). */
export function tinycSpawn(args: string[]): Deno.ChildProcess {
  return new Deno.Command(MAIN, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Read lines from a stream until one matches, returning it. */
export async function readUntil(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${pattern}: ${buf}`);
      buf += value;
      const m = buf.match(pattern);
      if (m) return m[0];
    }
  } finally {
    reader.releaseLock();
  }
}

/** Pids of host processes whose command line is exactly `cmdline` (args joined by spaces). */
export function pidsWithCmdline(cmdline: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`)
        .split("\0").join(" ").trim();
      if (cmd === cmdline) pids.push(Number(e.name));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Poll `check` every 20 ms until it is true or `ms` passed; returns the last result. */
export async function waitFor(
  check: () => boolean,
  ms = 3000,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/** Run `/bin/sh -c SCRIPT` in a busybox container with extra run flags. */
export async function sh(
  script: string,
  extra: string[] = [],
): Promise<CliResult> {
  return await tinyc(await shArgs(script, extra));
}

/** `run --root <busybox> EXTRA... -- /bin/sh -c SCRIPT`. */
async function shArgs(script: string, extra: string[]): Promise<string[]> {
  const root = await busyboxRoot();
  return ["run", "--root", root, ...extra, "--", "/bin/sh", "-c", script];
}

/**
 * Start `/bin/sh -c SCRIPT` in a busybox container (extra run flags
 * first) and wait until it prints `ready`. Returns the running tinyc.
 */
export async function startSh(
  script: string,
  extra: string[] = [],
): Promise<Deno.ChildProcess> {
  const child = tinycSpawn(await shArgs(script, extra));
  await readUntil(child.stdout, /ready/);
  return child;
}
