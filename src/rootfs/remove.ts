/**
 * `tinyc rootfs rm DIR`: remove a tinyc rootfs.
 *
 * As root, a recursive removal that never follows symlinks. As an ordinary
 * user, a rootless container may have given files to subordinate ids
 * (`chown 1000 /x` inside is some 10xxxx outside) that the user cannot
 * remove; so the removal runs as root of a user namespace with the same id
 * mapping the containers get (util-linux `unshare`, as rootless runs do, see
 * `src/rootless/mod.ts`), where those files are the user's to remove, like
 * `podman unshare rm -rf`.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { checkRemovable } from "./guard.ts";

/** Options for {@link removeRootfs} (replaceable in tests). */
export interface RemoveOptions {
  /** The caller's uid (default: the real one). */
  uid?: number;
}

/**
 * The command that removes `dir` (a real path) in a user namespace mapped
 * like a rootless container's: `launch` is `prepareRootless` from
 * `src/rootless/mod.ts`. GNU rm neither follows symlinks nor crosses into
 * other filesystems with `--one-file-system`.
 */
export function rootlessRemoveArgv(
  dir: string,
  launch: (argv: string[]) => { argv: string[] },
): string[] {
  // The launcher appends its init marker argument: `sh -c` takes it as $2
  // and ignores it.
  return launch([
    "/bin/sh",
    "-c",
    'exec rm -rf --one-file-system -- "$1"',
    "sh",
    dir,
  ]).argv;
}

/** Remove the tinyc rootfs `dir` (see the module doc); throws {@link TinycError}. */
export async function removeRootfs(
  dir: string,
  opts: RemoveOptions = {},
): Promise<void> {
  const real = checkRemovable(dir);
  const uid = opts.uid ?? Deno.uid() ?? 0;
  if (uid === 0) {
    Deno.removeSync(real, { recursive: true });
    return;
  }
  const { prepareRootless } = await import("../rootless/mod.ts");
  const argv = rootlessRemoveArgv(real, (a) => prepareRootless(a, []));
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
  let gone = false;
  try {
    Deno.lstatSync(real);
  } catch (e) {
    gone = e instanceof Deno.errors.NotFound;
  }
  if (!out.success || !gone) {
    throw new TinycError(
      `rootfs rm ${dir}: ${err || `removal failed (exit ${out.code})`}`,
    );
  }
}
