/**
 * The CLI: dispatches subcommands, prints errors as one line and picks the
 * exit code. The library below it only throws.
 *
 * @module
 */

import { lazyImport } from "./lazy.ts";
import { oneLine, TinycError } from "./errors.ts";
import { trace } from "./trace.ts";
import type { EarlyStart } from "./early.ts";
import type { EarlyInit } from "./spawn_init.ts";
import { parseFlags } from "./flags.ts";
import { RUN_FLAGS } from "./run_flags.ts";
import { strayError } from "./stray.ts";
import { DETACHED_RUN_HELP, splitRunArgs } from "./detached/logic.ts";

const RUN_VALUE_FLAGS = new Set(
  RUN_FLAGS.filter((f) => f.type === "string").flatMap((f) =>
    f.short ? [f.name, f.short] : [f.name]
  ),
);
const RUN_SHORT_BOOLEANS = new Set(
  RUN_FLAGS.filter((f) => f.type === "boolean" && f.short).map((f) => f.short!),
);

/**
 * Run `tinyc CMD ARGS...`; resolves to the process exit status. `early`:
 * the init main.ts spawned for `run` (src/spawn_init.ts), handed to the
 * launcher, or discarded here.
 */
export async function runCli(
  cmd: string | undefined,
  args: string[],
  usage: string,
  early?: EarlyInit,
): Promise<number> {
  const code = await runCliCommand(cmd, args, usage, early);
  // An error nobody awaited ended the run (after its cleanup): it is the cause.
  const stray = strayError();
  if (stray === undefined) return code;
  const msg = oneLine(stray.error);
  console.error(msg.startsWith("tinyc") ? msg : `tinyc: ${msg}`);
  return stray.error instanceof TinycError ? stray.error.exitCode : 125;
}

async function runCliCommand(
  cmd: string | undefined,
  args: string[],
  usage: string,
  early?: EarlyInit,
): Promise<number> {
  try {
    switch (cmd) {
      case "run":
        return await runCommand(args, early);
      case "start":
        return await startCommand(args);
      case "pull":
      case "load":
      case "images":
      case "rmi":
      case "image": {
        const cli = await lazyImport<typeof import("./cli/images.ts")>(
          "src/cli/images.ts",
        );
        if (cmd === "pull") return await cli.pullCommand(args);
        if (cmd === "load") return await cli.loadCommand(args);
        if (cmd === "images") return cli.imagesCommand(args);
        if (cmd === "rmi") return await cli.rmiCommand(args);
        return await cli.imageCommand(args);
      }
      case "ps":
      case "logs":
      case "exec":
      case "stop":
      case "kill":
      case "wait":
      case "inspect":
      case "rm":
      case "attach":
        return await detachedVerb(cmd, args);
      case "rootfs": {
        const { rootfsCommand } = await lazyImport<
          typeof import("./rootfs/cli.ts")
        >(
          "src/rootfs/cli.ts",
        );
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
    if (strayError()) return 125; // the cause is printed by runCli
    // Our stdout was closed by its reader (`tinyc logs -f C | head`): done,
    // quietly, as a program killed by SIGPIPE in a pipeline.
    if (err instanceof Deno.errors.BrokenPipe) return 0;
    const msg = oneLine(err);
    console.error(msg.startsWith("tinyc") ? msg : `tinyc: ${msg}`);
    return err instanceof TinycError ? err.exitCode : 125;
  }
}

/** ps, logs, exec, stop, kill, wait, inspect, rm: src/detached/cli.ts. */
async function detachedVerb(cmd: string, args: string[]): Promise<number> {
  const d = await lazyImport<typeof import("./detached/cli.ts")>(
    "src/detached/cli.ts",
  );
  const verbs: Record<string, (a: string[]) => number | Promise<number>> = {
    ps: d.psCommand,
    logs: d.logsCommand,
    exec: d.execCommand,
    stop: d.stopCommand,
    kill: d.killCommand,
    wait: d.waitCommand,
    inspect: d.inspectCommand,
    rm: d.rmCommand,
    attach: d.attachCommand,
  };
  return await verbs[cmd](args);
}

async function runCommand(
  allArgs: string[],
  early?: EarlyInit,
): Promise<number> {
  trace("cli loaded");
  let started: EarlyStart = early ? { early } : {};
  let run: typeof import("./run_command.ts") | undefined;
  try {
    // -d, --name, --rm, --restart are run's own (src/detached).
    const { flags: detached, rest: args } = splitRunArgs(
      allArgs,
      RUN_VALUE_FLAGS,
      RUN_SHORT_BOOLEANS,
    );
    if (detached.detach) {
      // main.ts does not spawn for -d; an init it spawned anyway is unused.
      if (early) await (await import("./early.ts")).abandonEarly(started);
      started = {};
      const { values } = parseFlags(RUN_FLAGS, args, "tinyc run");
      if (values.help === true) {
        const { runHelp } = await import("./cli.ts");
        console.log(`${runHelp()}\n\n${DETACHED_RUN_HELP}`);
        return 0;
      }
      const { runDetached } = await lazyImport<
        typeof import("./detached/cli.ts")
      >(
        "src/detached/cli.ts",
      );
      return await runDetached(args, detached);
    }
    if (detached.restart !== undefined) {
      throw new TinycError("tinyc run: --restart needs -d");
    }
    // A cheap first pass over the flags' shape; full validation follows.
    const { values } = parseFlags(RUN_FLAGS, args, "tinyc run");
    if (values.help === true) {
      const { runHelp } = await import("./cli.ts");
      console.log(`${runHelp()}\n\n${DETACHED_RUN_HELP}`);
      if (early) await (await import("./early.ts")).abandonEarly(started);
      return 0;
    }
    // As root, start the init (unless main.ts did) and its cgroup now: see
    // src/early.ts.
    if (Deno.uid() === 0) {
      started = await (await import("./early.ts")).startEarly(values, early);
    }
    run = await import("./run_command.ts");
    return await run.runContainerCommand(args, started);
  } catch (e) {
    // Not handed over to the launcher yet: undo here.
    if (started.early && !run?.handedOver.has(started.early)) {
      await (await import("./early.ts")).abandonEarly(started);
    }
    throw e;
  }
}

async function startCommand(args: string[]): Promise<number> {
  if (args.includes("--help")) {
    console.log(`Usage: tinyc start [RUN OPTIONS]

Build ./bb_root from the host's busybox if it is missing, then run /bin/sh in
it: the same as 'tinyc run --root=./bb_root --shell=/bin/sh'.`);
    return 0;
  }
  const { buildBusyboxRootfs, isRootfsReady } = await lazyImport<
    typeof import("./rootfs/busybox.ts")
  >("src/rootfs/busybox.ts");
  if (!isRootfsReady("./bb_root")) {
    console.error("tinyc: building ./bb_root from the host's busybox");
    await buildBusyboxRootfs("./bb_root");
  }
  return await runCommand(startArgs(args));
}

/**
 * The `tinyc run` arguments of `tinyc start ARGS`: the rootfs is ./bb_root
 * and the command the user's (`start -- ls`, `start --shell /bin/ash`), else
 * run's default /bin/sh.
 */
export function startArgs(args: readonly string[]): string[] {
  return ["--root=./bb_root", ...args];
}
