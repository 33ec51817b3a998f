/**
 * `tinyc rootfs`: build a busybox rootfs, or add host programs to a rootfs.
 *
 * ```
 * tinyc rootfs [DIR]            busybox rootfs in DIR (default ./bb_root)
 * tinyc rootfs add DIR BIN...   copy host programs and their libraries into DIR
 * tinyc rootfs rm DIR           remove a tinyc rootfs (rootless: in a user namespace)
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { TinycError } from "../errors.ts";
import { addBinaries } from "./add.ts";
import { buildBusyboxRootfs, DEFAULT_BUSYBOX } from "./busybox.ts";
import { reachableWarning, ROOTFS_MARKER } from "./guard.ts";
import { removeRootfs } from "./remove.ts";

/** Where `tinyc rootfs` builds when given no directory. */
export const DEFAULT_ROOTFS_DIR = "./bb_root";

/** `tinyc rootfs --help`. */
export const ROOTFS_HELP = `Usage: tinyc rootfs [DIR]
       tinyc rootfs add DIR BIN...
       tinyc rootfs rm DIR

Build a busybox rootfs in DIR (default ${DEFAULT_ROOTFS_DIR}) from the host's
static busybox (${DEFAULT_BUSYBOX}, Debian package busybox-static): bin/busybox
and a link per applet, /proc /sys /dev /tmp /etc /root, /etc/passwd, /etc/group
and /etc/hosts, and the marker /${ROOTFS_MARKER}. DIR must be new, empty or a
tinyc rootfs. Running it again refreshes the rootfs; edited /etc files and any
file or directory put where a link would go are kept.

Commands:
  add DIR BIN...   copy host programs into DIR (see tinyc rootfs add --help)
  rm DIR           remove the tinyc rootfs DIR, also files a rootless
                   container gave to subordinate ids

Options:
  --busybox PATH   the static busybox to use (default ${DEFAULT_BUSYBOX})
  -h, --help       show this help
`;

/** `tinyc rootfs add --help`. */
export const ROOTFS_ADD_HELP = `Usage: tinyc rootfs add DIR BIN...

Copy each host program BIN (a path, or a name looked up in PATH) into the
rootfs DIR at the same absolute path, together with its #! interpreter, its
ELF loader and every shared library ldd lists. The host's symlinks on those
paths (/lib -> usr/lib, /lib64/ld-linux-x86-64.so.2 -> ...) are recreated.

Options:
  -h, --help   show this help
`;

/** `tinyc rootfs rm --help`. */
export const ROOTFS_RM_HELP = `Usage: tinyc rootfs rm DIR

Remove the rootfs DIR: only a tinyc rootfs (one holding /${ROOTFS_MARKER}, or
a busybox rootfs tinyc built), never /. As an ordinary user the removal runs
as root of a user namespace with the same id mapping as rootless containers,
so files a container gave to subordinate ids go too.

Options:
  -h, --help   show this help
`;

/** Run a parseArgs call, turning its errors into usage errors. */
function parse<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    // parseArgs messages are one line already, e.g. "Unknown option '--x'".
    throw new TinycError(
      `rootfs: ${err instanceof Error ? err.message.split("\n")[0] : err}`,
    );
  }
}

/**
 * Run `tinyc rootfs ARGS...` (`args` excludes the word `rootfs`). Prints one
 * line of what was done and returns the exit status; bad usage throws
 * {@link TinycError} (exit 125).
 */
export async function rootfsCommand(args: string[]): Promise<number> {
  if (args[0] === "add") return await addCommand(args.slice(1));
  if (args[0] === "rm") return await rmCommand(args.slice(1));
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: {
        help: { type: "boolean", short: "h" },
        busybox: { type: "string" },
      },
    })
  );
  if (values.help) {
    console.log(ROOTFS_HELP.trimEnd());
    return 0;
  }
  if (positionals.length > 1) {
    throw new TinycError(
      `rootfs: expected at most one directory, got ${positionals.length} (see tinyc rootfs --help)`,
    );
  }
  const dir = positionals[0] ?? DEFAULT_ROOTFS_DIR;
  const busybox = typeof values.busybox === "string"
    ? values.busybox
    : undefined;
  const created = await buildBusyboxRootfs(dir, { busybox });
  if (created) warnIfReachable(dir);
  console.log(`busybox rootfs ready in ${dir}`);
  return 0;
}

function warnIfReachable(dir: string): void {
  const warning = reachableWarning(Deno.realPathSync(dir));
  if (warning) console.error(warning);
}

async function rmCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" } },
    })
  );
  if (values.help) {
    console.log(ROOTFS_RM_HELP.trimEnd());
    return 0;
  }
  if (positionals.length !== 1) {
    throw new TinycError(
      "rootfs rm: expected one directory (see tinyc rootfs rm --help)",
    );
  }
  await removeRootfs(positionals[0]);
  console.log(`removed ${positionals[0]}`);
  return 0;
}

async function addCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(() =>
    parseArgs({
      args,
      allowPositionals: true,
      options: { help: { type: "boolean", short: "h" } },
    })
  );
  if (values.help) {
    console.log(ROOTFS_ADD_HELP.trimEnd());
    return 0;
  }
  if (positionals.length < 2) {
    throw new TinycError(
      "rootfs add: expected a directory and at least one program (see tinyc rootfs add --help)",
    );
  }
  const [dir, ...binaries] = positionals;
  const existed = (() => {
    try {
      Deno.lstatSync(dir);
      return true;
    } catch {
      return false;
    }
  })();
  const written = await addBinaries(dir, binaries);
  if (!existed) warnIfReachable(dir);
  console.log(
    `added ${binaries.join(", ")} to ${dir} (${written.length} files)`,
  );
  return 0;
}
