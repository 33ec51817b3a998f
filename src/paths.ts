/**
 * Resolving container paths on the host without escaping the rootfs.
 *
 * Mounts are made before `pivot_root`, while the host's `/` is still the
 * root. A rootfs may hold hostile symlinks (`dev -> /`), so every path inside
 * it is resolved component by component with symlinks interpreted relative to
 * the rootfs and `..` clamped at it, like a chroot would.
 *
 * @module
 */

const MAX_LINKS = 255;

/** What {@link secureJoin} needs from the filesystem (injectable for tests). */
export interface LinkReader {
  /** The link's target if `path` is a symlink, `null` if it is something else, `undefined` if missing. */
  readLink(path: string): string | null | undefined;
}

/** The real filesystem. */
export const hostLinks: LinkReader = {
  readLink(path) {
    try {
      const st = Deno.lstatSync(path);
      return st.isSymlink ? Deno.readLinkSync(path) : null;
    } catch {
      return undefined;
    }
  },
};

function split(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Join `path` (as seen inside the container) onto `root` (a host directory),
 * following symlinks as if `root` were `/`. The result is always `root` or
 * beneath it. Missing components are kept as they are (to be created).
 */
export function secureJoin(
  root: string,
  path: string,
  fs: LinkReader = hostLinks,
): string {
  root = root.replace(/\/+$/, "") || "/";
  const done: string[] = [];
  let todo = split(path);
  let links = 0;
  while (todo.length > 0) {
    const comp = todo.shift()!;
    if (comp === "..") {
      done.pop();
      continue;
    }
    const candidate = joinRoot(root, [...done, comp]);
    const link = fs.readLink(candidate);
    if (typeof link === "string") {
      if (++links > MAX_LINKS) {
        throw new Error(`too many levels of symbolic links in \`${path}\``);
      }
      if (link.startsWith("/")) done.length = 0;
      todo = [...split(link), ...todo];
      continue;
    }
    done.push(comp);
    if (link === undefined) {
      // The rest does not exist yet: nothing more to follow.
      done.push(...todo.filter((c) => c !== ".."));
      break;
    }
  }
  return joinRoot(root, done);
}

function joinRoot(root: string, comps: string[]): string {
  if (comps.length === 0) return root;
  return (root === "/" ? "" : root) + "/" + comps.join("/");
}
