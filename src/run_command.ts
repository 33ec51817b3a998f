/**
 * `tinyc run` after the first pass: full validation, host facts, the spec,
 * and the launcher with its host-side steps (cgroup, network, rootless).
 *
 * @module
 */

import { lazyImport } from "./lazy.ts";
import { oneLine, osReason, TinycError } from "./errors.ts";
import type { EarlyInit, HostSetup, LaunchOptions } from "./launcher.ts";
import { consumedCgroups, type StartedCgroup } from "./cgroup_setup.ts";
import {
  type HostFacts,
  parseRunArgs,
  type RunOptions,
  specFromOptions,
} from "./cli.ts";
import type { Device, Spec } from "./spec.ts";
import type { ContainerNetwork } from "./network/mod.ts";
import { withRoot } from "./linux/in_root.ts";
import { reachableWarning } from "./rootfs/guard.ts";
import {
  mountPointRecordsDir,
  reclaimStaleMountPoints,
  trackMountPoints,
} from "./rootfs/mount_points.ts";
import { ensureStateDir, stateBase } from "./detached/record.ts";
import { hostCapabilities } from "./security/capabilities.ts";
import { resolveUser } from "./security/user.ts";
import { trace } from "./trace.ts";

/**
 * `tinyc run ARGS`, given the init the CLI may already have spawned. Throws
 * {@link TinycError}s for the CLI to print.
 */
export async function runContainerCommand(
  args: string[],
  started: { early?: EarlyInit; cgroup?: Promise<StartedCgroup> } = {},
): Promise<number> {
  trace("run modules loaded");
  const opts = parseRunArgs(args, (k) => Deno.env.get(k));
  return await prepareAndRun(opts, await import("./launcher.ts"), started);
}

/** What a detached run (src/detached/monitor.ts) adds to a run. */
export interface RunHooks {
  /** The container's id: names its network lease, veth and cgroup. */
  id: string;
  /** The init's stdin, stdout, stderr. */
  stdio: [number, number, number];
  /** -t: the pty master (the launcher closes its own copy afterwards). */
  takePty?: (master: number) => void;
  /** The command runs: what a record of it needs. */
  onStarted: (info: StartedRun) => void;
}

/** A detached container once its command runs. */
export interface StartedRun {
  pid: number;
  spec: Spec;
  cgroupPaths: string[];
  oomKilled: () => boolean;
  ports: Array<
    { hostIp: string; hostPort: number; port: number; proto: string }
  >;
  address?: string;
}

/**
 * A detached container's run, given its arguments as `tinyc run` takes
 * them: resolves to its exit status once it ends.
 */
export async function runDetachedContainer(
  args: string[],
  hostEnv: (k: string) => string | undefined,
  hooks: RunHooks,
): Promise<number> {
  const opts = parseRunArgs(args, hostEnv);
  return await prepareAndRun(opts, await import("./launcher.ts"), {}, hooks);
}

/** Early inits that runContainer owns (and will clean up) by now. */
export const handedOver: WeakSet<EarlyInit> = new WeakSet<EarlyInit>();

async function prepareAndRun(
  opts: RunOptions,
  launcher: typeof import("./launcher.ts"),
  started: { early?: EarlyInit; cgroup?: Promise<StartedCgroup> },
  hooks?: RunHooks,
): Promise<number> {
  // `run IMAGE`: the image (pulled if missing) and a container directory.
  const image = opts.image
    ? await (await lazyImport<typeof import("./images/run.ts")>(
      "src/images/run.ts",
    )).prepareImageRun(opts, hooks?.id)
    : undefined;
  try {
    return await prepareAndRunOn(
      image?.opts ?? opts,
      launcher,
      started,
      image,
      hooks,
    );
  } finally {
    await image?.cleanup();
  }
}

async function prepareAndRunOn(
  opts: RunOptions,
  launcher: typeof import("./launcher.ts"),
  started: { early?: EarlyInit; cgroup?: Promise<StartedCgroup> },
  image: import("./images/run.ts").ImageRun | undefined,
  hooks?: RunHooks,
): Promise<number> {
  const { early } = started;
  const { runContainer, initArgv } = launcher;
  const rootPath = image?.rootPath ?? resolveRootfs(opts.root);
  let spec = specFromOptions(
    opts,
    gatherHostFacts(opts, rootPath, image?.readFile),
  );
  if (image) spec.root.overlay = image.overlay;
  trace("spec ready");
  const { cgroupStep, formatBytes } = await import("./cgroup_setup.ts");
  let rootless: LaunchOptions["rootless"];
  let wantCgroup = true;
  if (Deno.uid() !== 0) {
    const r = await lazyImport<typeof import("./rootless/mod.ts")>(
      "src/rootless/mod.ts",
    );
    const controllers = r.controllersFor(spec.linux.resources);
    const problem = r.checkRootlessRequest({
      network: opts.network.mode,
      publish: opts.network.publish.length,
      controllers,
      cgroupParent: spec.linux.cgroupParent,
    }, {
      delegated: r.delegatedControllers(
        Deno.uid() ?? 0,
        Deno.readTextFileSync("/proc/self/cgroup"),
      ),
    });
    if (problem) throw new TinycError(problem);
    const launch = r.prepareRootless(
      initArgv(),
      spec.linux.namespaces.filter((n) => !n.path).map((n) => n.type),
    );
    if (launch.warning) console.error(launch.warning);
    spec = r.rootlessSpec(spec, launch.maps);
    rootless = {
      argv: launch.argv,
      setgroups: r.rootlessSetgroups(launch.maps),
    };
    // A cgroup of its own only when limits ask for one (and it is delegated).
    wantCgroup = controllers.length > 0 ||
      spec.linux.cgroupParent !== undefined;
  }
  let cgroup: { oomKilled(): boolean; paths: string[] } | undefined;
  const id = hooks?.id ?? crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  let net: ContainerNetwork | undefined;
  // The network step may add a mount (/etc/hosts): before the config. The
  // cgroup must be complete before the init makes its cgroup namespace.
  const setup: HostSetup[] = opts.network.mode === "bridge"
    ? [bridgeStep(opts, id, rootPath, (n) => net = n, image?.hasDir)]
    : [];
  // Last: mount points the init will make (bridge: /etc/hosts) are removed
  // again after the run.
  setup.push((_pid, cfg) =>
    trackMountPoints(rootPath, {
      mounts: cfg.spec.mounts,
      cwd: cfg.spec.process.cwd,
    }, recordsDir)
  );
  // What the config does not depend on runs after it is sent, while the
  // init builds the filesystem: the cgroup (unless the CLI started it
  // early for limits; src/early.ts), housekeeping, the rootfs warning.
  const setupBeforeExec: HostSetup[] = wantCgroup
    ? [cgroupStep(spec, (cg) => cgroup = cg, started.cgroup, hooks?.id)]
    : [];
  if (Deno.uid() === 0 && opts.network.mode !== "bridge") {
    setupBeforeExec.push(() => reclaimStaleNetworkState());
  }
  // Mount points that killed runs left in their rootfs (see trackMountPoints).
  setupBeforeExec.push(() => {
    const dir = recordsDir();
    if (dir) reclaimStaleMountPoints(dir);
  });
  // (Detached runs, with hooks: `run -d` warned on the user's terminal.)
  if (!image && !hooks) {
    setupBeforeExec.push(() => {
      const reachable = reachableWarning(rootPath);
      if (reachable) console.error(reachable);
    });
  }
  if (early) handedOver.add(early);
  try {
    return await runContainerWith();
  } catch (e) {
    // A cgroup started early but never taken over by the cgroup step.
    if (started.cgroup && !consumedCgroups.has(started.cgroup)) {
      (await started.cgroup.catch(() => undefined))?.cg.destroy();
    }
    throw e;
  }
  function runContainerWith() {
    return runContainer({
      spec,
      rootless,
      early,
      setup,
      setupBeforeExec,
      ...(hooks && {
        stdio: hooks.stdio,
        takePty: hooks.takePty,
        onStarted: (pid: number) =>
          hooks.onStarted({
            pid,
            spec,
            cgroupPaths: cgroup?.paths ?? [],
            oomKilled: () => cgroup?.oomKilled() ?? false,
            ports: (net?.ports ?? []).map((p) => ({
              hostIp: p.mapping.hostIp,
              hostPort: p.hostPort,
              port: p.mapping.containerPort,
              proto: p.mapping.protocol,
            })),
            address: net?.lease?.address,
          }),
      }),
      explain: [(code) => {
        if (code !== 137 || !cgroup?.oomKilled()) return undefined;
        const limit = spec.linux.resources?.memory?.limit;
        return `tinyc: container killed: out of memory${
          limit ? ` (--memory ${formatBytes(limit)})` : ""
        }`;
      }],
    });
  }
}

/**
 * Leases, rules and files of bridge containers whose tinyc was killed are
 * reclaimed by the next bridge run anyway; plain runs do it too, so that
 * nothing lingers until then. Cheap when there are no leases.
 */
async function reclaimStaleNetworkState(): Promise<void> {
  const { DEFAULT_STATE_DIR } = await lazyImport<
    typeof import("./network/ipam.ts")
  >("src/network/ipam.ts");
  try {
    if ([...Deno.readDirSync(`${DEFAULT_STATE_DIR}/leases`)].length === 0) {
      return;
    }
  } catch {
    return; // no bridge container ever ran here
  }
  const { reclaimStaleNetworks } = await lazyImport<
    typeof import("./network/mod.ts")
  >("src/network/mod.ts");
  reclaimStaleNetworks();
}

/**
 * `--network bridge`: after the init exists, lease an address, bind published
 * ports, wire the veth into its namespace, and bind-mount an /etc/hosts.
 */
function bridgeStep(
  opts: RunOptions,
  id: string,
  rootPath: string,
  onNetwork: (net: ContainerNetwork) => void,
  hasDir?: (path: string) => boolean,
): HostSetup {
  return async (pid, cfg) => {
    const { checkNetworkOptions, DEFAULT_BRIDGE, startNetwork } =
      await lazyImport<typeof import("./network/mod.ts")>(
        "src/network/mod.ts",
      );
    const netOpts = {
      mode: "bridge" as const,
      containerId: id,
      hostname: opts.hostname,
      subnet: opts.network.subnet,
      publish: opts.network.publish,
      nat: opts.network.nat,
    };
    const subnet = checkNetworkOptions(netOpts)!;
    const { subnetConflict } = await lazyImport<
      typeof import("./network/ipam.ts")
    >("src/network/ipam.ts");
    const conflict = subnetConflict(
      subnet,
      Deno.readTextFileSync("/proc/net/route"),
      DEFAULT_BRIDGE,
    );
    if (conflict) throw new TinycError(conflict);
    const net = await startNetwork(netOpts, pid);
    onNetwork(net);
    // Ports tinyc picked are only useful if the user learns them.
    for (const p of net.ports) {
      if (p.mapping.hostPort === 0) {
        console.error(
          `tinyc: publishing ${p.mapping.hostIp}:${p.hostPort} -> ${p.mapping.containerPort}/${p.mapping.protocol}`,
        );
      }
    }
    let hasEtc = false;
    try {
      // an image's overlay is not mounted yet: look into its layers
      hasEtc = hasDir?.("/etc") ??
        withRoot(rootPath, (r) => r.stat("/etc")?.type === "dir");
    } catch {
      // no usable /etc: no hosts file
    }
    if (net.hostsFile && hasEtc) {
      cfg.spec.mounts.push({
        destination: "/etc/hosts",
        type: "bind",
        source: net.hostsFile,
        options: ["rbind", "ro"],
      });
    }
    return () => net.teardown();
  };
}

/** The most of a rootfs's /etc/passwd or /etc/group `-u` reads (glibc has no limit; 1 MiB is ~20,000 users). */
const MAX_ID_FILE = 1 << 20;

/** Read what the spec depends on from the host and the rootfs. */
function gatherHostFacts(
  opts: RunOptions,
  rootPath: string,
  readRootFile?: (path: string) => string | null,
): HostFacts {
  const facts: HostFacts = {
    rootPath,
    stdinIsTerminal: Deno.stdin.isTerminal(),
    availableCaps: hostCapabilities().bounding,
    kernel: Deno.osRelease(),
  };
  if (opts.user !== undefined) {
    // Bounded, regular files only: the rootfs may hold a FIFO or a huge
    // sparse file there (an image's layers are read likewise).
    const read = readRootFile ??
      ((p: string) =>
        withRoot(rootPath, (r) => r.readTextBounded(p, MAX_ID_FILE)));
    facts.user = resolveUser(
      opts.user,
      read("/etc/passwd"),
      read("/etc/group"),
    );
  }
  if (!["default", "unconfined"].includes(opts.seccomp) && !opts.privileged) {
    try {
      facts.seccompProfileText = Deno.readTextFileSync(opts.seccomp);
    } catch (e) {
      throw new TinycError(
        `--security-opt seccomp=${opts.seccomp}: ${osReason(e)}`,
      );
    }
  }
  facts.volumes = opts.volumes.map((v) => {
    let source: string;
    try {
      source = Deno.realPathSync(v.source);
    } catch (e) {
      throw new TinycError(
        `--volume ${v.source}:${v.destination}: ${v.source}: ${
          e instanceof Deno.errors.NotFound
            ? "no such file or directory"
            : oneLine(e)
        }`,
      );
    }
    return {
      destination: v.destination,
      type: "bind",
      source,
      // nodev: device nodes in a volume must not open host devices.
      options: [
        "rbind",
        v.readonly ? "ro" : "rw",
        ...(opts.privileged ? [] : ["nodev"]),
      ],
    };
  });
  if (opts.privileged) facts.hostDevices = hostDevices();
  return facts;
}

/** The host's device nodes under /dev (not /dev/pts: the container has its own). */
function hostDevices(dir = "/dev"): Device[] {
  const out: Device[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (
      ["/dev/pts", "/dev/shm", "/dev/mqueue", "/dev/ptmx"].includes(path)
    ) {
      continue;
    }
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(path);
    } catch {
      continue;
    }
    if (st.isDirectory) out.push(...hostDevices(path));
    else if (st.isCharDevice || st.isBlockDevice) {
      const rdev = st.rdev ?? 0;
      out.push({
        path,
        type: st.isCharDevice ? "c" : "b",
        // glibc's major()/minor() for the encoded dev_t
        major: ((rdev >> 8) & 0xfff) | ((rdev / 2 ** 32) & ~0xfff),
        minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
        fileMode: (st.mode ?? 0o600) & 0o7777,
        uid: st.uid ?? 0,
        gid: st.gid ?? 0,
      });
    }
  }
  return out;
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

/**
 * Where this user's runs note the mount points they make (under the state
 * directory of detached containers), or undefined when it cannot be made:
 * then a killed run's mount points stay, as they did before records.
 */
function recordsDir(): string | undefined {
  try {
    const base = stateBase();
    ensureStateDir(base);
    return mountPointRecordsDir(base);
  } catch {
    return undefined;
  }
}
