/**
 * The container spec, shaped after the OCI runtime spec's `config.json`
 * (only the fields tinyc uses), and the defaults tinyc fills in.
 *
 * Flags become a {@link Spec}; the engine runs specs. That keeps later
 * front ends (an OCI `create/start` CLI for podman) on the same engine.
 *
 * @module
 */

import type { SeccompProfile } from "./security/seccomp.ts";
import type { OciCapabilities } from "./security/capabilities.ts";

/** An OCI mount: `{destination, type, source, options}`. */
export interface Mount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** An OCI device node to create in the container's /dev. */
export interface Device {
  path: string;
  /** Character, block, or (OCI) a FIFO. */
  type: "c" | "b" | "p";
  major: number;
  minor: number;
  fileMode: number;
  uid?: number;
  gid?: number;
}

/** OCI namespace entry. */
export interface Namespace {
  type: "pid" | "network" | "ipc" | "uts" | "mount" | "cgroup" | "user";
  path?: string;
}

/** OCI process capabilities. */
export type Capabilities = OciCapabilities;

/** OCI `linux.resources` (the parts tinyc applies). */
export interface LinuxResources {
  memory?: { limit?: number; swap?: number; reservation?: number };
  cpu?: {
    quota?: number;
    period?: number;
    shares?: number;
    cpus?: string;
    mems?: string;
  };
  pids?: { limit?: number };
  /** OCI device cgroup rules (allow/deny), applied as the device program. */
  devices?: DeviceCgroupRule[];
  /** cgroup v2 files to write as is (`unified`). */
  unified?: Record<string, string>;
}

/** OCI `linux.resources.devices[]`. */
export interface DeviceCgroupRule {
  allow: boolean;
  type?: "a" | "c" | "b";
  major?: number | null;
  minor?: number | null;
  access?: string;
}

/** OCI `process.rlimits[]`. */
export interface Rlimit {
  type: string;
  hard: number;
  soft: number;
}

/** OCI hook. */
export interface Hook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

/** OCI `hooks`. */
export interface Hooks {
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

/** OCI `linux.uidMappings[]` / `gidMappings[]`. */
export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/** An image's layers (top first) under a per-container upper directory. */
export interface RootOverlay {
  lower: string[];
  upper: string;
  work: string;
  /** Rootless: overlay xattrs in the `user.` namespace (mount option `userxattr`). */
  userxattr?: boolean;
}

/** The container spec. */
export interface Spec {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities?: Capabilities;
    noNewPrivileges?: boolean;
    rlimits?: Rlimit[];
    oomScoreAdj?: number;
    /** `process.user.umask` (default 0022). */
    umask?: number;
    consoleSize?: { height: number; width: number };
  };
  /**
   * `nodev` (tinyc's): device nodes in the rootfs do not open devices.
   * `overlay` (tinyc's, `run IMAGE`): the init mounts an overlay of these
   * directories on `path` in the container's mount namespace first.
   */
  root: {
    path: string;
    readonly: boolean;
    nodev?: boolean;
    overlay?: RootOverlay;
  };
  hostname: string;
  domainname?: string;
  mounts: Mount[];
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux: {
    namespaces: Namespace[];
    devices: Device[];
    resources?: LinuxResources;
    /** `tinyc run --cgroup-parent`: the container's cgroup goes beneath it. */
    cgroupParent?: string;
    /** OCI `cgroupsPath`: the container's own cgroup (absolute, or relative to tinyc's). */
    cgroupsPath?: string;
    /**
     * Where the container's cgroupfs view goes (a `cgroup`/`cgroup2` mount in
     * the OCI config; `tinyc run`: /sys/fs/cgroup, read-only). Unset: default.
     */
    cgroupMount?: { destination: string; readonly: boolean } | null;
    sysctl?: Record<string, string>;
    rootfsPropagation?: string;
    uidMappings?: IdMapping[];
    gidMappings?: IdMapping[];
    personality?: { domain: string };
    /** tinyc's parsed profile (from docker/OCI JSON or the default table); none = unconfined. */
    seccomp?: SeccompProfile;
    maskedPaths?: string[];
    readonlyPaths?: string[];
  };
}

/** The PATH a container gets unless the user sets one (docker's). */
export const DEFAULT_PATH =
  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The seed's demo variable, kept as a visible sign the env is ours. */
export const DEMO_ENV = "tiny_demo=something tiny";

/** Mounts every container gets, in order (as `runc spec` lays them out). */
export function defaultMounts(): Mount[] {
  return [
    {
      destination: "/proc",
      type: "proc",
      source: "proc",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5",
      ],
    },
    {
      destination: "/dev/shm",
      type: "tmpfs",
      source: "shm",
      options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
    },
    {
      destination: "/dev/mqueue",
      type: "mqueue",
      source: "mqueue",
      options: ["nosuid", "noexec", "nodev"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", "ro"],
    },
  ];
}

/** The minimal /dev every container gets. */
export function defaultDevices(): Device[] {
  const c = (path: string, major: number, minor: number): Device => ({
    path,
    type: "c",
    major,
    minor,
    fileMode: 0o666,
  });
  return [
    c("/dev/null", 1, 3),
    c("/dev/zero", 1, 5),
    c("/dev/full", 1, 7),
    c("/dev/random", 1, 8),
    c("/dev/urandom", 1, 9),
    c("/dev/tty", 5, 0),
  ];
}

/** All namespaces a default container gets (the user ns only when rootless). */
export function defaultNamespaces(): Namespace[] {
  return [
    { type: "pid" },
    { type: "network" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
    { type: "cgroup" },
  ];
}

/** Does the spec ask for a new namespace of this type? */
export function hasNamespace(spec: Spec, type: Namespace["type"]): boolean {
  return spec.linux.namespaces.some((n) => n.type === type && !n.path);
}

/** Value of `KEY` in a KEY=VALUE list, or undefined. */
export function envGet(
  env: readonly string[],
  key: string,
): string | undefined {
  const prefix = key + "=";
  for (let i = env.length - 1; i >= 0; i--) {
    if (env[i].startsWith(prefix)) return env[i].slice(prefix.length);
  }
  return undefined;
}

/** Set KEY=VALUE in an env list, replacing an earlier entry for KEY. */
export function envSet(env: string[], entry: string): string[] {
  const key = entry.slice(0, entry.indexOf("="));
  return [...env.filter((e) => !e.startsWith(key + "=")), entry];
}
