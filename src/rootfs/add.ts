/**
 * Copying host programs into a rootfs with everything they need to start: the
 * program, the interpreter named by a `#!` line, the ELF loader and the whole
 * shared-library closure as glibc's `ldd` reports it.
 *
 * Each file lands at the path the program will look for it, and the host's
 * symlinks on the way are reproduced (see {@link copyIntoRoot}): on a
 * merged-/usr host `/lib64/ld-linux-x86-64.so.2` is a symlink to
 * `/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2` and `/lib` one to `usr/lib`,
 * so the rootfs gets those same links and one real copy of each file.
 *
 * @module
 */

import { delimiter, isAbsolute, join, resolve } from "node:path";
import { TinycError } from "../errors.ts";
import { readElf } from "./elf.ts";
import { copyIntoRoot } from "./layout.ts";
import { withRoot } from "../linux/in_root.ts";
import { claimForAdd } from "./guard.ts";

/** What {@link parseLdd} finds in `ldd` output. */
export interface LddResult {
  /** Absolute paths of the libraries and the loader, in ldd's order. */
  libraries: string[];
  /** Sonames ldd printed as `=> not found`. */
  missing: string[];
  /** ldd said `not a dynamic executable` or `statically linked`. */
  notDynamic: boolean;
}

/**
 * Parse glibc `ldd` output. The line shapes are:
 * `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)`,
 * `/lib64/ld-linux-x86-64.so.2 (0x...)` (the loader, or a library named by
 * path), `linux-vdso.so.1 (0x...)` (in the kernel, no file),
 * `libfoo.so.1 => not found`, and `not a dynamic executable` or
 * `statically linked`.
 */
export function parseLdd(output: string): LddResult {
  const result: LddResult = { libraries: [], missing: [], notDynamic: false };
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("ldd:")) continue;
    if (line === "not a dynamic executable" || line === "statically linked") {
      result.notDynamic = true;
      continue;
    }
    const arrow = line.indexOf(" => ");
    const rest = arrow >= 0 ? line.slice(arrow + 4).trim() : line;
    if (arrow >= 0 && rest === "not found") {
      result.missing.push(line.slice(0, arrow).trim());
      continue;
    }
    // Strip the load address; what is left is a path or a bare soname (vdso).
    const path = rest.replace(/\s*\(0x[0-9a-fA-F]+\)$/, "");
    if (path.startsWith("/") && !result.libraries.includes(path)) {
      result.libraries.push(path);
    }
  }
  return result;
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * The absolute host path of program `name`: a path (anything with a `/`) is
 * taken as is, a bare name is looked up in `searchPath` like a shell would.
 */
export function findProgram(
  name: string,
  searchPath: string = Deno.env.get("PATH") ?? "/usr/bin:/bin",
): string {
  if (name === "") throw new TinycError("empty program name");
  if (name.includes("/")) {
    const path = resolve(name);
    let st;
    try {
      st = statOrNull(path);
    } catch (err) {
      if (err instanceof Deno.errors.PermissionDenied) {
        throw new TinycError(`${name}: permission denied`);
      }
      throw err;
    }
    if (st === null) throw new TinycError(`${name}: no such file`);
    if (!st.isFile) throw new TinycError(`${name}: not a regular file`);
    return path;
  }
  for (const dir of searchPath.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const path = join(dir, name);
    let st;
    try {
      st = statOrNull(path);
    } catch {
      continue; // an unreadable PATH entry is skipped, as shells do
    }
    if (st?.isFile && ((st.mode ?? 0) & 0o111) !== 0) return path;
  }
  throw new TinycError(`${name}: not found in PATH`);
}

/** The interpreter of a `#!` script, or null for anything else. */
export function shebangInterpreter(head: Uint8Array): string | null {
  if (head[0] !== 0x23 || head[1] !== 0x21) return null;
  const nl = head.indexOf(0x0a);
  const line = new TextDecoder().decode(
    head.subarray(2, nl >= 0 ? nl : undefined),
  );
  const interp = line.trim().split(/\s+/)[0];
  return interp ? interp : null;
}

function readHead(path: string): Uint8Array {
  const file = Deno.openSync(path);
  try {
    const buf = new Uint8Array(256);
    const n = file.readSync(buf) ?? 0;
    return buf.subarray(0, n);
  } finally {
    file.close();
  }
}

/**
 * The shared libraries and loader `binary` needs, as absolute host paths
 * (empty for static executables and scripts). Runs `ldd`, which runs the
 * binary's loader in trace mode: only use it on programs you would run.
 */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const elf = readElf(binary);
  if (elf === null || elf.interpreter === undefined) return [];
  let out;
  try {
    out = await new Deno.Command("ldd", {
      args: ["--", binary],
      env: { LC_ALL: "C" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new TinycError(
        `${binary}: ldd not found (it comes with glibc, Debian package libc-bin)`,
      );
    }
    throw err;
  }
  const text = new TextDecoder().decode(out.stdout);
  const parsed = parseLdd(text + new TextDecoder().decode(out.stderr));
  if (parsed.missing.length > 0) {
    throw new TinycError(
      `${binary}: shared ${
        parsed.missing.length > 1 ? "libraries" : "library"
      } ${parsed.missing.join(", ")} not found (ldd)`,
    );
  }
  if (!out.success || parsed.notDynamic) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0] ||
      text.trim().split("\n")[0];
    throw new TinycError(`ldd ${binary} failed: ${why}`);
  }
  // The loader may be missing from the list on some ldd versions; it is in PT_INTERP.
  const libs = parsed.libraries;
  if (!libs.includes(elf.interpreter)) libs.push(elf.interpreter);
  return libs;
}

/** One file to put into a rootfs: host `source` at container path `path`. */
export interface InstallStep {
  path: string;
  source: string;
}

/** How many `#!` interpreters in a row we follow (the kernel allows 4 too). */
const MAX_INTERPRETERS = 4;

/**
 * The files that make host program `source` runnable as container path
 * `path`: itself, its `#!` interpreter chain, and each one's libraries.
 */
export async function planProgram(
  source: string,
  path: string,
): Promise<InstallStep[]> {
  const steps: InstallStep[] = [];
  const seen = new Set<string>();
  const add = (step: InstallStep) => {
    if (seen.has(step.path)) return;
    seen.add(step.path);
    steps.push(step);
  };
  let current: InstallStep | null = { path, source };
  for (let depth = 0; current !== null; depth++) {
    if (depth > MAX_INTERPRETERS) {
      throw new TinycError(`${source}: too many levels of #! interpreters`);
    }
    if (statOrNull(current.source) === null) {
      throw new TinycError(
        depth === 0
          ? `${current.source}: no such file`
          : `${source}: interpreter ${current.source} not found on the host`,
      );
    }
    add(current);
    for (const lib of await sharedLibraries(current.source)) {
      add({ path: lib, source: lib });
    }
    const interp = shebangInterpreter(readHead(current.source));
    current = interp === null ? null : { path: interp, source: interp };
  }
  return steps;
}

/**
 * Copy host program `source` into `root` as container path `path`, with its
 * libraries and interpreters. Returns the container paths of the files
 * written (after symlinks), without repeats.
 */
export async function installProgram(
  root: string,
  source: string,
  path: string,
): Promise<string[]> {
  return applySteps(root, await planProgram(source, path));
}

/** Copy each step into `root`, mirroring the host's symlinks; the container paths written, once each. */
function applySteps(root: string, steps: readonly InstallStep[]): string[] {
  return withRoot(root, (r) => {
    const written: string[] = [];
    for (const step of steps) {
      const at = copyIntoRoot(r, step.source, step.path, {
        mirror: "/",
        mirrorLast: step.source === step.path,
      });
      if (!written.includes(at)) written.push(at);
    }
    return written;
  });
}

/**
 * `tinyc rootfs add`: copy each of `binaries` (paths, or names looked up in
 * PATH) into `root` at the same absolute path, with its shared-library
 * closure, creating `root` if needed. Returns the container paths of the
 * files written, without repeats.
 */
export async function addBinaries(
  root: string,
  binaries: string[],
): Promise<string[]> {
  const plan: InstallStep[] = [];
  for (const name of binaries) {
    const path = findProgram(name);
    plan.push(...await planProgram(path, path));
  }
  // Only now: a bad program name must not leave an empty rootfs behind.
  claimForAdd(root);
  return applySteps(root, plan);
}
