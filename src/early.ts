/**
 * The head start: as root, the CLI spawns the container's init and starts
 * its cgroup right after a cheap first pass over the flags, so the init's
 * ~20 ms Deno start-up and the slow cgroup move overlap the rest of the
 * CLI's loading and validation. The init waits for its config; if anything
 * fails before the launcher takes over, {@link abandonEarly} undoes it.
 *
 * @module
 */

import type { Parsed } from "./flags.ts";
import type { EarlyInit } from "./spawn_init.ts";
import type { StartedCgroup } from "./cgroup_setup.ts";
import type { DeviceRule } from "./security/devices.ts";
import { defaultNamespaces } from "./spec.ts";
import { trace } from "./trace.ts";

/** What {@link startEarly} started. */
export interface EarlyStart {
  early?: EarlyInit;
  cgroup?: Promise<StartedCgroup>;
}

/**
 * Start the init (unless main.ts did: `early`) and its cgroup for run
 * flags `values` from the first pass. Flags it cannot use are left for the
 * full parse to report.
 */
export async function startEarly(
  values: Parsed["values"],
  early?: EarlyInit,
): Promise<EarlyStart> {
  const started: EarlyStart = {};
  if (early) started.early = early;
  else {
    const { spawnEarlyInit } = await import("./spawn_init.ts");
    started.early = spawnEarlyInit(
      defaultNamespaces().filter((n) =>
        n.type !== "network" || values.network !== "host"
      ),
    );
    trace("early init spawned");
  }
  try {
    const { startCgroup } = await import("./cgroup_setup.ts");
    const { parseCgroupParent, resourcesFromFlags } = await import(
      "./cgroups/resources.ts"
    );
    const resources = resourcesFromFlags({
      memory: values.memory as string | undefined,
      cpus: values.cpus as string | undefined,
      pidsLimit: values["pids-limit"] as string | undefined,
    });
    const parent = parseCgroupParent(
      values["cgroup-parent"] as string | undefined,
    );
    started.cgroup = startCgroup(
      {
        resources,
        parent,
        devices: await deviceRules(values),
        deferFilter: true,
      },
      started.early.pid,
    );
    started.cgroup.catch(() => undefined); // awaited (and reported) later
  } catch {
    // A bad limit or parent: the full parse reports it, and the caller
    // abandons the init.
  }
  return started;
}

/** docker's device allow-list, unless --privileged (then no filter). */
async function deviceRules(
  values: { privileged?: unknown },
): Promise<readonly DeviceRule[] | undefined> {
  return values.privileged === true
    ? undefined
    : (await import("./security/devices.ts")).DEFAULT_DEVICE_RULES;
}

/** Undo {@link startEarly}: kill the init, remove its cgroup. */
export async function abandonEarly(started: EarlyStart): Promise<void> {
  if (started.early) {
    const { discardEarlyInit } = await import("./spawn_init.ts");
    discardEarlyInit(started.early);
  }
  (await started.cgroup?.catch(() => undefined))?.cg.destroy();
}
