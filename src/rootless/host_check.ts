/**
 * Can this host run a rootless container, and which requests can it not
 * serve without root? Each check returns one line naming the setting or the
 * missing piece and how to change it, or null; the functions take readers so
 * tests run them against any host.
 *
 * @module
 */

/** Reads a file's text, or null when it does not exist or cannot be read. */
export type ReadText = (path: string) => string | null;

/** The real {@link ReadText}. */
export function readTextOrNull(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** The sysctls that can forbid unprivileged user namespaces, and the value that forbids. */
const USERNS_SYSCTLS: Array<
  { name: string; file: string; forbids: (v: string) => boolean; fix: string }
> = [
  {
    // Debian's and Ubuntu's kernel patch; missing on mainline kernels.
    name: "kernel.unprivileged_userns_clone",
    file: "/proc/sys/kernel/unprivileged_userns_clone",
    forbids: (v) => v === "0",
    fix: "sysctl -w kernel.unprivileged_userns_clone=1",
  },
  {
    name: "user.max_user_namespaces",
    file: "/proc/sys/user/max_user_namespaces",
    forbids: (v) => v === "0",
    fix: "sysctl -w user.max_user_namespaces=28633",
  },
  {
    // Ubuntu 23.10+: the namespace is created, but without capabilities in
    // it, so the first mount fails with EPERM. Say so before that.
    name: "kernel.apparmor_restrict_unprivileged_userns",
    file: "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    forbids: (v) => v === "1",
    fix:
      "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing `userns` for /usr/bin/unshare",
  },
];

/**
 * Why this kernel will not give an unprivileged user a usable user
 * namespace, as one line, or null when nothing forbids it.
 */
export function checkUserNamespaces(
  read: ReadText = readTextOrNull,
): string | null {
  for (const s of USERNS_SYSCTLS) {
    const v = read(s.file)?.trim();
    if (v !== undefined && s.forbids(v)) {
      return `rootless: the kernel forbids unprivileged user namespaces: ${s.name} is ${v} (as root: ${s.fix})`;
    }
  }
  return null;
}

/** Is `path` an executable regular file? */
export function isExecutableFile(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The first `dir/name` in `pathEnv` (a `PATH` value) that `isExecutable`
 * accepts, or null. The standard system directories are searched after
 * `PATH`: runuser and sudo may leave a PATH without /usr/sbin or /sbin.
 */
export function findTool(
  name: string,
  pathEnv: string | undefined,
  isExecutable: (path: string) => boolean = isExecutableFile,
): string | null {
  const dirs = [
    ...(pathEnv ?? "").split(":").filter((d) => d.startsWith("/")),
    "/usr/bin",
    "/bin",
    "/usr/sbin",
    "/sbin",
  ];
  for (const d of dirs) {
    const p = `${d.replace(/\/+$/, "")}/${name}`;
    if (isExecutable(p)) return p;
  }
  return null;
}

/** What a `run` asks for that rootless mode may not be able to give. */
export interface RootlessRequest {
  /** `--network` mode (`none`, `bridge`, `host`, ...); absent = the default. */
  network?: string;
  /** Number of `-p/--publish` ports. */
  publish?: number;
  /** cgroup controllers the resource flags need (`memory`, `cpu`, `pids`). */
  controllers?: string[];
  /** `--cgroup-parent`, if given. */
  cgroupParent?: string;
}

/** What rootless mode can do on this host for {@link RootlessRequest}. */
export interface RootlessHost {
  /**
   * Controllers delegated to the caller (see {@link delegatedControllers});
   * empty when the caller's cgroup is not theirs to manage.
   */
  delegated: readonly string[];
}

/**
 * The first thing in `req` rootless mode cannot do, as one line (exit 125),
 * or null. A bridge network needs root to create and wire veth devices,
 * bridges and NAT rules on the host (`none` and `host` need nothing from
 * it); limits need a cgroup the
 * caller may write, which only a delegated cgroup v2 subtree gives.
 */
export function checkRootlessRequest(
  req: RootlessRequest,
  host: RootlessHost,
): string | null {
  if (
    req.network !== undefined && req.network !== "none" &&
    req.network !== "host"
  ) {
    return `--network ${req.network}: needs root (rootless, use --network none, a loopback of its own, or host)`;
  }
  if ((req.publish ?? 0) > 0) {
    return `--publish: needs root (a rootless container has no network to publish from)`;
  }
  if (req.cgroupParent !== undefined && host.delegated.length === 0) {
    return `--cgroup-parent ${req.cgroupParent}: needs root, or a cgroup v2 subtree delegated to you (e.g. run tinyc under \`systemd-run --user --scope -p Delegate=yes\`)`;
  }
  const missing = (req.controllers ?? []).filter((c) =>
    !host.delegated.includes(c)
  );
  if (missing.length > 0) {
    const flags = missing.map((c) => CONTROLLER_FLAGS[c] ?? c).join(", ");
    return `${flags}: needs root, or a cgroup v2 subtree delegated to you with the ${
      missing.join(", ")
    } controller${
      missing.length > 1 ? "s" : ""
    } (e.g. run tinyc under \`systemd-run --user --scope -p Delegate=yes\`)`;
  }
  return null;
}

/** The cgroup controllers OCI `linux.resources` needs (v2 names). */
export function controllersFor(
  resources: {
    memory?: { limit?: number; swap?: number };
    cpu?: { quota?: number; period?: number };
    pids?: { limit?: number };
  } | undefined,
): string[] {
  const out: string[] = [];
  if (resources?.memory?.limit !== undefined) out.push("memory");
  if (resources?.cpu?.quota !== undefined) out.push("cpu");
  if (resources?.pids?.limit !== undefined) out.push("pids");
  return out;
}

const CONTROLLER_FLAGS: Record<string, string> = {
  memory: "--memory",
  cpu: "--cpus",
  pids: "--pids-limit",
};

/**
 * The cgroup v2 controllers the caller may use beneath its own cgroup: the
 * ones in `cgroup.controllers` of that cgroup when the caller owns the
 * directory and its `cgroup.procs` and `cgroup.subtree_control` (which is
 * what systemd's `Delegate=yes` grants), else none. `procCgroup` is
 * /proc/self/cgroup; only a pure cgroup v2 host (`cgroup.controllers` at
 * `root`) can delegate: cgroup v1 directories are root's.
 */
export function delegatedControllers(
  uid: number,
  procCgroup: string,
  root = "/sys/fs/cgroup",
  read: ReadText = readTextOrNull,
  owner: (path: string) => number | null = ownerOf,
): string[] {
  if (read(`${root}/cgroup.controllers`) === null) return [];
  const line = procCgroup.split("\n").find((l) => l.startsWith("0::"));
  if (line === undefined) return [];
  const dir = `${root}${line.slice(3).replace(/\/$/, "")}`;
  for (const f of ["", "/cgroup.procs", "/cgroup.subtree_control"]) {
    if (owner(dir + f) !== uid) return [];
  }
  return (read(`${dir}/cgroup.controllers`) ?? "").trim().split(/\s+/)
    .filter((c) => c !== "");
}

function ownerOf(path: string): number | null {
  try {
    return Deno.statSync(path).uid;
  } catch {
    return null;
  }
}
