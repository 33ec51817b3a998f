#!/usr/bin/env -S deno run -A --no-config --quiet
/**
 * tinyc: a small Linux container runtime.
 *
 * `tinyc run [OPTIONS] --root DIR [-- CMD...]`, `tinyc rootfs ...`,
 * `tinyc start`. The launcher re-executes this file as `tinyc __init`, the
 * container's init; that path imports only what the init needs.
 *
 * @module
 */

import { lazyImport } from "./src/lazy.ts";

const USAGE = `Usage: tinyc COMMAND [ARGS...]

Commands:
  run [OPTIONS] IMAGE [CMD [ARGS...]]           run a command in a new container on an image
  run [OPTIONS] --root DIR [-- CMD [ARGS...]]   ... or on a directory
      -d [--name N] [--rm] [--restart P]        ... detached: prints its id, returns
  pull NAME[:TAG|@DIGEST]                       pull an image from a registry
  load [-i FILE]                                load a docker-archive or OCI archive/layout
  images [-q] [--no-trunc]                      list images
  rmi [-f] IMAGE...                             remove images
  image inspect IMAGE...                        show images as JSON
  ps [-a] [-q] [--no-trunc]                     list detached containers
  logs [-f] [--tail N] [-t] CONTAINER           a detached container's output
  exec [-it] [-e] [-w] [-u] CONTAINER CMD...    run a command in a running container
  stop [-t SECONDS] CONTAINER...                SIGTERM, SIGKILL after the grace period
  kill [-s SIGNAL] CONTAINER...                 signal a container's PID 1
  wait CONTAINER...                             wait for containers, print exit codes
  inspect CONTAINER...                          a container's state and config (JSON)
  rm [-f] CONTAINER...                          remove containers (-f: running ones too)
  attach CONTAINER                              follow a container's output until it ends
  rootfs [DIR]                                  build a busybox rootfs (default ./bb_root)
  rootfs add DIR BINARY...                      copy host binaries and their libraries into DIR
  rootfs rm DIR                                 remove a rootfs tinyc built
  start [OPTIONS]                               build ./bb_root if missing, run /bin/sh in it
  oci VERB ...                                  the OCI runtime (what tinyc-oci runs; see 'tinyc oci --help')

Run 'tinyc COMMAND --help' for more on a command.
Exit status: 125 tinyc failed, 126 command cannot be invoked, 127 command not
found, otherwise the container's status (128+N when killed by signal N).`;

/**
 * Modules loaded only when a command needs them (src/lazy.ts): every path
 * any module gives `lazyImport`, relative to the repository's root. Deno
 * loads every module a script can reach, dynamic imports with a literal
 * specifier included, before its first line runs (~5 ms for the whole CLI
 * here); a computed specifier is loaded when it is imported, so `tinyc run`
 * can spawn the init (src/spawn_init.ts) before the rest of the CLI is even
 * read. `deno task install`'s build makes each an entry point
 * (scripts/build.ts); `deno task compile` embeds each with `--include`.
 */
export const LAZY_MODULES = [
  "src/init.ts",
  "src/oci/cli.ts",
  "src/stray.ts",
  "src/main_cli.ts",
  "src/detached/monitor.ts",
  // tinyc-oci's verbs (src/oci/cli.ts) and what only create needs
  "src/engine/container.ts",
  "src/engine/exec.ts",
  "src/engine/devices.ts",
  "src/oci/features.ts",
  "src/oci/config.ts",
  "src/security/seccomp.ts",
  "src/security/devices.ts",
  "src/cgroups/mod.ts",
  "src/cgroups/plan.ts",
  "src/cgroup_setup.ts",
  "src/launcher.ts",
  "src/libc.ts",
  // tinyc's verbs other than run, and what only some runs need
  "src/cli/images.ts",
  "src/rootfs/cli.ts",
  "src/detached/cli.ts",
  "src/images/run.ts",
  "src/rootless/mod.ts",
  "src/engine/adopt.ts",
  "src/rootfs/busybox.ts",
  "src/network/mod.ts",
  "src/network/ipam.ts",
] as const;

async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  // The init normally starts from src/init_main.ts; a standalone binary
  // (one entry point) gets here.
  if (cmd === "__init") {
    (await lazyImport<typeof import("./src/init.ts")>("src/init.ts"))
      .initMain();
  }
  if (cmd === "__exec") {
    (await lazyImport<typeof import("./src/init.ts")>("src/init.ts"))
      .execInitMain();
  }
  if (cmd === "__monitor") {
    const { monitorMain } = await lazyImport<
      typeof import("./src/detached/monitor.ts")
    >("src/detached/monitor.ts");
    return await monitorMain();
  }
  if (cmd === "oci") {
    const { ociMain } = await lazyImport<typeof import("./src/oci/cli.ts")>(
      "src/oci/cli.ts",
    );
    return await ociMain(args.slice(1));
  }
  // As root, `run` spawns the container's init first of all: its Deno
  // start-up overlaps everything below (src/spawn_init.ts).
  const early = cmd === "run" && Deno.uid() === 0
    ? (await import("./src/spawn_init.ts")).spawnEarlyFromArgs(rest)
    : undefined;
  // No stack trace ever reaches a user: see src/stray.ts.
  const { catchStrayErrors } = await lazyImport<
    typeof import("./src/stray.ts")
  >(
    "src/stray.ts",
  );
  catchStrayErrors();
  const { runCli } = await lazyImport<typeof import("./src/main_cli.ts")>(
    "src/main_cli.ts",
  );
  return await runCli(cmd, rest, USAGE, early);
}

if (import.meta.main) {
  let code = 125;
  try {
    code = await main(Deno.args);
  } catch (e) {
    console.error(`tinyc: ${e instanceof Error ? e.message : String(e)}`);
  }
  Deno.exit(code);
}
