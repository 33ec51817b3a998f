/**
 * A busybox rootfs built from the host's static busybox (Debian's
 * `busybox-static`): `/bin/busybox`, a symlink per applet in `/bin` (and at
 * the applet's usual place in `/sbin`, `/usr/bin`, `/usr/sbin`, so
 * `#!/usr/bin/env` scripts work), plus the {@link planBaseLayout} directories
 * and `/etc` files. A static busybox needs no shared libraries, which is what
 * makes a 2 MB rootfs possible.
 *
 * @module
 */

import { posix } from "node:path";
import { TinycError } from "../errors.ts";
import { readElf } from "./elf.ts";
import { withRoot } from "../linux/in_root.ts";
import { claimForBuild } from "./guard.ts";
import { applyLayout, type LayoutOp, planBaseLayout } from "./layout.ts";

/** Where Debian's busybox-static puts busybox. */
export const DEFAULT_BUSYBOX = "/bin/busybox";

const INSTALL_HINT = "install it with `apt-get install busybox-static`";

/** Directories busybox applets live in (`busybox --list-full`). */
const APPLET_DIRS = ["bin", "sbin", "usr/bin", "usr/sbin"];

/**
 * Throw unless `path` is a statically linked executable: a dynamic busybox
 * would need the host's libc inside the rootfs.
 */
export function checkStaticBusybox(path: string): void {
  let info;
  try {
    info = readElf(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new TinycError(
        `busybox-static not found at ${path}: ${INSTALL_HINT}`,
      );
    }
    throw err;
  }
  if (info === null) {
    throw new TinycError(
      `${path} is not an ELF executable: ${INSTALL_HINT}`,
    );
  }
  if (info.interpreter !== undefined) {
    throw new TinycError(
      `${path} is dynamically linked (loader ${info.interpreter}), not busybox-static: ${INSTALL_HINT}`,
    );
  }
}

/**
 * Applets as `busybox --list-full` prints them (`bin/sh`, `usr/bin/env`);
 * busybox builds without `--list-full` fall back to `--list`, all in `bin/`.
 */
export async function busyboxApplets(busybox: string): Promise<string[]> {
  for (const flag of ["--list-full", "--list"]) {
    const out = await new Deno.Command(busybox, {
      args: [flag],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) continue;
    const lines = new TextDecoder().decode(out.stdout).split("\n")
      .map((l) => l.trim()).filter((l) => l !== "");
    return flag === "--list" ? lines.map((l) => `bin/${l}`) : lines;
  }
  throw new TinycError(`${busybox} --list failed: not a usable busybox`);
}

/**
 * The rootfs plan: directories, the busybox binary copied from `busybox`,
 * links for each applet path in `applets` (from {@link busyboxApplets}),
 * then the base layout. Applets outside the usual directories (`linuxrc`) and
 * names that are not plain file names are skipped.
 */
export function planBusyboxRootfs(
  busybox: string,
  applets: readonly string[],
): LayoutOp[] {
  const ops: LayoutOp[] = APPLET_DIRS.map((d) => ({
    kind: "dir",
    path: `/${d}`,
    mode: 0o755,
  }));
  ops.push({ kind: "copy", path: "/bin/busybox", source: busybox });
  const links = new Map<string, string>();
  for (const applet of applets) {
    const name = posix.basename(applet);
    const dir = posix.dirname(applet);
    if (
      !APPLET_DIRS.includes(dir) || name === "busybox" || name === "." ||
      name === ".."
    ) {
      continue;
    }
    links.set(`/bin/${name}`, "busybox");
    if (dir !== "bin") {
      // Relative targets work both in the container and when browsing the host copy.
      links.set(`/${applet}`, posix.relative(`/${dir}`, "/bin/busybox"));
    }
  }
  for (const [path, target] of links) {
    ops.push({ kind: "symlink", path, target });
  }
  ops.push(...planBaseLayout({ shell: "/bin/sh" }));
  return ops;
}

/** Options for {@link buildBusyboxRootfs}. */
export interface BusyboxOptions {
  /** The static busybox to copy; default {@link DEFAULT_BUSYBOX}. */
  busybox?: string;
}

/**
 * Build (or refresh) a busybox rootfs in `dir`. Idempotent, and works as an
 * unprivileged user (files are owned by the caller). `dir` must be new,
 * empty or a tinyc rootfs (see `guard.ts`); returns whether it was created.
 */
export async function buildBusyboxRootfs(
  dir: string,
  opts: BusyboxOptions = {},
): Promise<boolean> {
  const busybox = opts.busybox ?? DEFAULT_BUSYBOX;
  checkStaticBusybox(busybox);
  const applets = await busyboxApplets(busybox);
  const created = claimForBuild(dir);
  applyLayout(dir, planBusyboxRootfs(busybox, applets));
  return created;
}

/** True when `dir` looks like a built rootfs: `/bin/sh` resolves to an executable file in it. */
export function isRootfsReady(dir: string): boolean {
  try {
    const st = withRoot(dir, (r) => r.stat("/bin/sh"));
    return st !== null && st.type === "file" && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
