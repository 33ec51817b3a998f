#!/usr/bin/env -S deno run -A --quiet
/**
 * tinyc: a small Linux container runtime.
 *
 * `tinyc run [OPTIONS] --root DIR [-- CMD...]`, `tinyc rootfs ...`,
 * `tinyc start`. The launcher re-executes this file as `tinyc __init`, the
 * container's init; that path imports only what the init needs.
 *
 * @module
 */

const USAGE = `Usage: tinyc COMMAND [ARGS...]

Commands:
  run [OPTIONS] IMAGE [CMD [ARGS...]]           run a command in a new container on an image
  run [OPTIONS] --root DIR [-- CMD [ARGS...]]   ... or on a directory
  pull NAME[:TAG|@DIGEST]                       pull an image from a registry
  load [-i FILE]                                load a docker-archive or OCI archive/layout
  images                                        list images
  rmi IMAGE...                                  remove images
  image inspect IMAGE...                        show images as JSON
      -d [--name N] [--rm] [--restart P]        ... detached: prints its id, returns
  ps [-a] [-q]                                  list detached containers
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
  start [OPTIONS]                               build ./bb_root if missing, run /bin/sh in it

Run 'tinyc COMMAND --help' for more on a command.
Exit status: 125 tinyc failed, 126 command cannot be invoked, 127 command not
found, otherwise the container's status (128+N when killed by signal N).`;

async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === "__init") {
    const { initMain } = await import("./src/init.ts");
    initMain();
  }
  if (cmd === "__exec") {
    const { execInitMain } = await import("./src/init.ts");
    execInitMain();
  }
  if (cmd === "__monitor") {
    const { monitorMain } = await import("./src/detached/monitor.ts");
    return await monitorMain();
  }
  if (cmd === "oci") {
    const { ociMain } = await import("./src/oci/cli.ts");
    return await ociMain(args.slice(1));
  }
  // No stack trace ever reaches a user: see src/stray.ts.
  const { catchStrayErrors } = await import("./src/stray.ts");
  catchStrayErrors();
  const { runCli } = await import("./src/main_cli.ts");
  return await runCli(cmd, rest, USAGE);
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
