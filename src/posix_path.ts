/**
 * The few POSIX path operations the start-up path needs. `node:path` would
 * do, but importing any `node:` module costs several milliseconds of
 * start-up (Node compatibility layer), on the path from launch to the
 * user's command.
 *
 * @module
 */

/** Normalize `.`/`..`/duplicate slashes (lexically, like node's posix.normalize). */
export function normalize(p: string): string {
  const abs = p.startsWith("/");
  const out: string[] = [];
  for (const c of p.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") {
      if (out.length && out[out.length - 1] !== "..") out.pop();
      else if (!abs) out.push("..");
    } else out.push(c);
  }
  const s = out.join("/");
  return abs ? "/" + s : s || ".";
}

/** Join segments and normalize. */
export function join(...parts: string[]): string {
  return normalize(parts.filter((p) => p !== "").join("/") || ".");
}

/** The directory part of `p`. */
export function dirname(p: string): string {
  const n = normalize(p);
  const i = n.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : n.slice(0, i);
}

/** The last component of `p`. */
export function basename(p: string): string {
  const n = normalize(p);
  return n === "/" ? "" : n.slice(n.lastIndexOf("/") + 1);
}

/** An absolute, normalized path (relative ones against the cwd). */
export function resolve(p: string): string {
  return normalize(p.startsWith("/") ? p : `${Deno.cwd()}/${p}`);
}
