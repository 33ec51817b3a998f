/**
 * The CLI: dispatches subcommands, prints errors as one line and picks the
 * exit code. The library below it only throws.
 *
 * @module
 */

import { oneLine, TinycError } from "./errors.ts";
import { parseRunArgs, runHelp, specFromOptions } from "./cli.ts";

/** Run `tinyc CMD ARGS...`; resolves to the process exit status. */
export async function runCli(
  cmd: string | undefined,
  args: string[],
  usage: string,
): Promise<number> {
  try {
    switch (cmd) {
      case "run":
        return await runCommand(args);
      case "start":
        return await startCommand(args);
      case "rootfs": {
        const { rootfsCommand } = await import("./rootfs/cli.ts");
        return await rootfsCommand(args);
      }
      case undefined:
      case "help":
      case "--help":
      case "-h":
        console.log(usage);
        return cmd === undefined ? 125 : 0;
      default:
        throw new TinycError(
          `tinyc: unknown command ${cmd} (see 'tinyc --help')`,
        );
    }
  } catch (err) {
    const msg = oneLine(err);
    console.error(msg.startsWith("tinyc") ? msg : `tinyc: ${msg}`);
    return err instanceof TinycError ? err.exitCode : 125;
  }
}

async function runCommand(args: string[]): Promise<number> {
  const opts = parseRunArgs(args, (k) => Deno.env.get(k));
  if (opts.help) {
    console.log(runHelp());
    return 0;
  }
  return await runWith(opts);
}

async function runWith(opts: ReturnType<typeof parseRunArgs>): Promise<number> {
  if (Deno.uid() !== 0) {
    throw new TinycError(
      "tinyc run: must be run as root (rootless mode is not supported yet)",
    );
  }
  const rootPath = resolveRootfs(opts.root);
  const spec = specFromOptions(opts, {
    rootPath,
    stdinIsTerminal: Deno.stdin.isTerminal(),
  });
  const { runContainer } = await import("./launcher.ts");
  return await runContainer({ spec });
}

/** The rootfs as an absolute real path; a clear error when it is unusable. */
export function resolveRootfs(root: string): string {
  let real: string;
  try {
    real = Deno.realPathSync(root);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new TinycError(`rootfs ${root}: no such directory`);
    }
    throw new TinycError(`rootfs ${root}: ${oneLine(e)}`);
  }
  if (!Deno.statSync(real).isDirectory) {
    throw new TinycError(`rootfs ${root}: not a directory`);
  }
  if (real === "/") {
    throw new TinycError(
      `rootfs ${root}: refusing to use the host's / as a rootfs`,
    );
  }
  return real;
}

async function startCommand(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    console.log(`Usage: tinyc start [RUN OPTIONS]

Build ./bb_root from the host's busybox if it is missing, then run /bin/sh in
it: the same as 'tinyc run --root=./bb_root --shell=/bin/sh'.`);
    return 0;
  }
  const { buildBusyboxRootfs, isRootfsReady } = await import(
    "./rootfs/busybox.ts"
  );
  if (!isRootfsReady("./bb_root")) {
    console.error("tinyc: building ./bb_root from the host's busybox");
    await buildBusyboxRootfs("./bb_root");
  }
  return await runCommand(["--root=./bb_root", "--shell=/bin/sh", ...args]);
}
