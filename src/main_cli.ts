/**
 * The CLI: dispatches subcommands, prints errors as one line and picks the
 * exit code. The library below it only throws.
 *
 * @module
 */

import { oneLine, TinycError } from "./errors.ts";
import { trace } from "./trace.ts";
import type { EarlyInit } from "./launcher.ts";
import type { StartedCgroup } from "./cgroup_setup.ts";
import { defaultNamespaces } from "./spec.ts";
import { parseFlags } from "./flags.ts";
import { RUN_FLAGS } from "./run_flags.ts";

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
  trace("cli loaded");
  // A cheap first pass over the flags' shape; full validation follows.
  const { values } = parseFlags(RUN_FLAGS, args, "tinyc run");
  if (values.help === true) {
    const { runHelp } = await import("./cli.ts");
    console.log(runHelp());
    return 0;
  }
  // As root, start the init first: its ~20 ms start-up then overlaps the
  // loading, validation and host-side work below. It waits for its config;
  // if anything fails before it is handed over, it is discarded.
  let early: EarlyInit | undefined;
  let launcher: typeof import("./launcher.ts") | undefined;
  let cgroup: Promise<StartedCgroup> | undefined;
  const run = async () => {
    if (Deno.uid() === 0) {
      launcher = await import("./launcher.ts");
      early = launcher.spawnEarlyInit(
        defaultNamespaces().filter((n) =>
          n.type !== "network" || values.network !== "host"
        ),
      );
      trace("early init spawned");
      // Its cgroup too: moving a process into a cgroup is slow (see
      // startCgroup), so that runs in the background from now on.
      const { startCgroup } = await import("./cgroup_setup.ts");
      const { resourcesFromFlags } = await import("./cgroups/resources.ts");
      const given = values["cgroup-parent"] as string | undefined;
      const comps = given?.split("/").filter((c) => c !== "" && c !== ".");
      const parent = comps?.join("/");
      // A bad parent is left to the full parse to report.
      if (
        given === undefined || (comps!.length > 0 && !comps!.includes(".."))
      ) {
        cgroup = startCgroup({
          resources: resourcesFromFlags({
            memory: values.memory as string | undefined,
            cpus: values.cpus as string | undefined,
            pidsLimit: values["pids-limit"] as string | undefined,
          }),
          parent,
          // docker's device allow-list, unless --privileged.
          devices: values.privileged === true
            ? undefined
            : (await import("./security/devices.ts")).DEFAULT_DEVICE_RULES,
        }, early.pid);
        cgroup.catch(() => undefined); // awaited (and reported) later
      }
    }
    const { runContainerCommand } = await import("./run_command.ts");
    return await runContainerCommand(args, { early, cgroup });
  };
  try {
    return await run();
  } catch (e) {
    // Not handed over to the launcher yet: undo here.
    const { handedOver } = await import("./run_command.ts");
    if (early && !handedOver.has(early)) {
      launcher!.discardEarlyInit(early);
      (await cgroup?.catch(() => undefined))?.cg.destroy();
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
  const { buildBusyboxRootfs, isRootfsReady } = await import(
    "./rootfs/busybox.ts"
  );
  if (!isRootfsReady("./bb_root")) {
    console.error("tinyc: building ./bb_root from the host's busybox");
    await buildBusyboxRootfs("./bb_root");
  }
  return await runCommand(["--root=./bb_root", "--shell=/bin/sh", ...args]);
}
