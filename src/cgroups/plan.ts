/**
 * Planning the container's cgroup: which hierarchies, where (placement and
 * cgroup v2's no-internal-process rule, explained in mod.ts), which
 * directories to create and which control files to write, as plain data.
 *
 * @module
 */

import * as posix from "../posix_path.ts";
import { TinycError } from "../errors.ts";
import { type CgroupKernel, LinuxCgroupKernel, words } from "./kernel.ts";
import {
  cgroupDir,
  type CgroupLayout,
  cgroupVisible,
  detectLayout,
  type Hierarchy,
} from "./layout.ts";
import type { LinuxResources } from "./resources.ts";

/** Inputs of {@link planCgroup}. Everything but `id` and `resources` defaults to the real host. */
export interface CgroupOptions {
  /** Cgroup name suffix: the cgroup is `tinyc-<id>`. Use {@link cgroupId} so stale cleanup can find the owner. */
  id: string;
  /** The cgroup's exact name (OCI `cgroupsPath`'s last element), instead of `tinyc-<id>`. */
  name?: string;
  /** A parent relative to our own cgroup in each hierarchy (OCI relative `cgroupsPath`). */
  relativeParent?: string;
  /** Limits to write (OCI `linux.resources`). */
  resources: LinuxResources;
  /** `--cgroup-parent`: a cgroup path relative to each hierarchy's root. */
  parent?: string;
  /** The cgroup root. Default `/sys/fs/cgroup`. */
  root?: string;
  /** Contents of `/proc/self/cgroup`. Default: read it. */
  procSelfCgroup?: string;
  /** Contents of `/proc/self/mountinfo`. Default: read it. */
  mountinfo?: string;
  /** The launcher's pid (for the v2 leaf move). Default `Deno.pid`. */
  pid?: number;
  /**
   * Processes the launcher started that may still sit in its cgroup (the
   * init, when the cgroup is created after spawning it): with the launcher,
   * they may be moved into the v2 leaf. Default none.
   */
  children?: number[];
  /** Used to read the current state while planning; never written. */
  kernel?: CgroupKernel;
}

/** One step of a plan, applied in order by {@link createCgroup}. */
export type CgroupStep =
  | {
    op: "mkdir";
    /** Directory to create. */
    path: string;
    /** A missing `--cgroup-parent` directory: left in place by `destroy()`. */
    keep?: true;
  }
  | {
    op: "write";
    /** Control file to write. */
    path: string;
    /** Value, written in one write(2). */
    value: string;
    /** Skip when the file does not exist (swap accounting is a kernel option). */
    optional?: true;
  };

/** The container's cgroup in one hierarchy. */
export interface PlannedCgroup {
  /** 1 or 2. */
  version: 1 | 2;
  /** Directory of the container's cgroup. */
  dir: string;
  /** Its path within the hierarchy, e.g. `/user.slice/tinyc-123-ab`. */
  path: string;
  /** Controllers whose limits are written here (v1: those of the hierarchy that are used). */
  controllers: string[];
  /** Base name of the host's mountpoint (`memory`, `cpu,cpuacct`, `unified`): the target inside the container. */
  mountName: string;
  /** v1 mount data selecting this hierarchy (`cpu,cpuacct`, `memory`); `""` for v2. */
  mountData: string;
}

/** The plan: plain data, serialisable to pass on, unit-tested, applied by {@link createCgroup}. */
export interface CgroupPlan {
  /** `tinyc-<id>`. */
  name: string;
  /** Layout of the host. */
  mode: CgroupLayout["mode"];
  /** The container's cgroups, one per hierarchy used. */
  cgroups: PlannedCgroup[];
  /** What to do, in order. */
  steps: CgroupStep[];
  /** v2: the leaf the launcher moves itself into (no-internal-process rule), if any. */
  launcherLeaf?: string;
}

/** The flag a controller serves, for error messages. */
export const FLAG: Record<string, string> = {
  memory: "--memory",
  cpu: "--cpus",
  pids: "--pids-limit",
  cpuset: "linux.resources.cpu.cpus/mems",
  devices: "linux.resources.devices",
};

/** Controllers needed to apply `r`, in a fixed order. */
function neededControllers(r: LinuxResources): string[] {
  const needed: string[] = [];
  if (
    r.cpu &&
    (r.cpu.quota !== undefined || r.cpu.period !== undefined ||
      r.cpu.shares !== undefined)
  ) {
    needed.push("cpu");
  }
  if (
    r.memory &&
    (r.memory.limit !== undefined || r.memory.swap !== undefined ||
      r.memory.reservation !== undefined)
  ) {
    needed.push("memory");
  }
  if (r.pids?.limit !== undefined) needed.push("pids");
  if (r.cpu?.cpus || r.cpu?.mems) needed.push("cpuset");
  if (r.devices?.length) needed.push("devices");
  return needed;
}

/** The limit files for `controller` in cgroup `dir`, in the order they must be written. */
export function limitSteps(
  version: 1 | 2,
  controller: string,
  dir: string,
  r: LinuxResources,
): CgroupStep[] {
  const w = (file: string, value: string | number, optional = false) => ({
    op: "write" as const,
    path: posix.join(dir, file),
    value: String(value),
    ...(optional ? { optional: true as const } : {}),
  });
  const steps: CgroupStep[] = [];
  if (controller === "memory" && r.memory) {
    const { limit, swap } = r.memory;
    if (
      swap !== undefined && swap >= 0 && (limit ?? -1) >= 0 && swap < limit!
    ) {
      throw new TinycError(
        `cgroups: memory+swap limit ${swap} is below the memory limit ${limit}`,
      );
    }
    if (version === 2) {
      if (limit !== undefined) {
        steps.push(w("memory.max", limit < 0 ? "max" : limit));
      }
      // OCI swap is memory+swap; v2's memory.swap.max is swap alone. Only
      // present with swap accounting (CONFIG_MEMCG_SWAP, swapaccount=1).
      if (swap !== undefined) {
        const swapOnly = swap < 0 || limit === undefined || limit < 0
          ? "max"
          : swap - limit;
        steps.push(w("memory.swap.max", swapOnly, true));
      }
    } else {
      // Fresh cgroup: both unlimited, so limit first, then memsw (which must
      // stay >= limit). memsw exists only with swap accounting (swapaccount=1).
      if (limit !== undefined) steps.push(w("memory.limit_in_bytes", limit));
      if (swap !== undefined) {
        steps.push(w("memory.memsw.limit_in_bytes", swap, true));
      }
    }
    const low = r.memory.reservation;
    if (low !== undefined) {
      steps.push(
        version === 2
          ? w("memory.low", low < 0 ? "max" : low)
          : w("memory.soft_limit_in_bytes", low),
      );
    }
  } else if (controller === "cpu" && r.cpu) {
    const { quota, period } = r.cpu;
    if (version === 2) {
      const q = quota === undefined || quota < 0 ? "max" : quota;
      steps.push(w("cpu.max", period === undefined ? q : `${q} ${period}`));
    } else {
      // The kernel checks quota against the period in effect: period first.
      if (period !== undefined) steps.push(w("cpu.cfs_period_us", period));
      if (quota !== undefined) steps.push(w("cpu.cfs_quota_us", quota));
    }
    const shares = r.cpu.shares;
    if (shares !== undefined && shares > 0) {
      // runc's conversion: shares 2..262144 -> weight 1..10000.
      steps.push(
        version === 2
          ? w(
            "cpu.weight",
            Math.max(
              1,
              Math.min(10000, Math.round(1 + ((shares - 2) * 9999) / 262142)),
            ),
          )
          : w("cpu.shares", shares),
      );
    }
  } else if (controller === "pids" && r.pids?.limit !== undefined) {
    steps.push(w("pids.max", r.pids.limit > 0 ? r.pids.limit : "max"));
  } else if (controller === "cpuset" && r.cpu) {
    if (r.cpu.cpus) steps.push(w("cpuset.cpus", r.cpu.cpus));
    if (r.cpu.mems) steps.push(w("cpuset.mems", r.cpu.mems));
  } else if (controller === "devices" && version === 1 && r.devices) {
    // v1: the rules in order (v2 has no files: the device program does it).
    for (const d of r.devices) {
      const num = (n: number | null | undefined) =>
        n === undefined || n === null || n < 0 ? "*" : String(n);
      const rule = `${d.type ?? "a"} ${num(d.major)}:${num(d.minor)} ${
        d.access || "rwm"
      }`;
      steps.push(w(d.allow ? "devices.allow" : "devices.deny", rule));
    }
  }
  return steps;
}

/** `--cgroup-parent` as an absolute cgroup path. */
export function normalizeParent(parent: string): string {
  const parts = parent.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..") || parent.includes("\0")) {
    throw new TinycError(
      `--cgroup-parent ${parent}: must be a cgroup path without ..`,
    );
  }
  return "/" + parts.join("/");
}

/** Where the container goes in the v2 hierarchy, and what must happen first. */
interface Placement {
  parent: string;
  steps: CgroupStep[];
  leaf?: string;
}

function placeV2(
  h: Hierarchy,
  needed: string[],
  opts: CgroupOptions,
  k: CgroupKernel,
): Placement {
  const dir = (p: string) => cgroupDir(h, p);
  const missing = (p: string) => {
    const on = words(k, posix.join(dir(p), "cgroup.subtree_control"));
    return needed.filter((c) => !on.includes(c));
  };
  // Only the real root lacks cgroup.type; a cgroup-namespace root has it and
  // is bound by the no-internal-process rule like any other cgroup.
  const isRealRoot = (p: string) =>
    !k.exists(posix.join(dir(p), "cgroup.type"));
  const procs = (p: string) => words(k, posix.join(dir(p), "cgroup.procs"));
  const holds = (p: string) =>
    missing(p).length === 0 || isRealRoot(p) || procs(p).length === 0;
  const enable = (p: string, cs: string[]): CgroupStep[] =>
    cs.length
      ? [{
        op: "write",
        path: posix.join(dir(p), "cgroup.subtree_control"),
        value: cs.map((c) => `+${c}`).join(" "),
      }]
      : [];
  const requireAvailable = (p: string) => {
    const avail = words(k, posix.join(dir(p), "cgroup.controllers"));
    const lacking = missing(p).filter((c) => !avail.includes(c));
    if (lacking.length) {
      throw new TinycError(
        `cgroups: the ${lacking.join(", ")} controller is not available in \`${
          dir(p)
        }\` (not delegated by its parent; needed for ${
          lacking.map((c) => FLAG[c]).join(", ")
        })`,
      );
    }
  };
  const rule =
    `cgroup v2 allows no processes in a cgroup that delegates controllers`;

  if (opts.parent !== undefined) {
    const target = normalizeParent(opts.parent);
    const create: string[] = [];
    let a = target;
    while (a !== "/" && !k.exists(dir(a))) {
      create.unshift(a);
      a = posix.dirname(a);
    }
    if (needed.length && !holds(a)) {
      throw new TinycError(
        `--cgroup-parent ${opts.parent}: \`${
          dir(a)
        }\` has processes and does not delegate ${
          missing(a).join(", ")
        } (${rule})`,
      );
    }
    requireAvailable(a);
    const steps = enable(a, missing(a));
    for (const p of create) {
      steps.push(
        { op: "mkdir", path: dir(p), keep: true },
        ...enable(p, needed),
      );
    }
    return { parent: target, steps };
  }

  const own = h.own;
  if (needed.length === 0) return { parent: own, steps: [] };
  if (holds(own)) {
    requireAvailable(own);
    return { parent: own, steps: enable(own, missing(own)) };
  }
  const pid = opts.pid ?? Deno.pid;
  const ours = new Set([pid, ...(opts.children ?? [])].map(String));
  const ownProcs = procs(own);
  if (ownProcs.includes(String(pid)) && ownProcs.every((p) => ours.has(p))) {
    requireAvailable(own);
    const leaf = posix.join(dir(own), `tinyc-launcher-${pid}`);
    const steps: CgroupStep[] = k.exists(leaf)
      ? []
      : [{ op: "mkdir", path: leaf }];
    for (const p of ownProcs) {
      steps.push({
        op: "write",
        path: posix.join(leaf, "cgroup.procs"),
        value: p,
      });
    }
    steps.push(...enable(own, missing(own)));
    return { parent: own, steps, leaf };
  }
  for (
    let a = posix.dirname(own);
    a !== own && cgroupVisible(h, a);
    a = posix.dirname(a)
  ) {
    if (holds(a)) {
      requireAvailable(a);
      return { parent: a, steps: enable(a, missing(a)) };
    }
    if (a === "/") break;
  }
  throw new TinycError(
    `cgroups: cannot enable ${needed.join(", ")} below \`${
      dir(own)
    }\`: it has other processes (${rule}); run tinyc in a cgroup of its own (e.g. systemd-run --scope) or pass --cgroup-parent`,
  );
}

/** Parent cgroup in a hierarchy without placement rules (v1, or v2 without controllers). */
function placeSimple(
  h: Hierarchy,
  opts: CgroupOptions,
  k: CgroupKernel,
): Placement {
  if (opts.parent === undefined) return { parent: h.own, steps: [] };
  const target = normalizeParent(opts.parent);
  const steps: CgroupStep[] = [];
  for (let p = target; p !== "/" && !k.exists(cgroupDir(h, p));) {
    steps.unshift({ op: "mkdir", path: cgroupDir(h, p), keep: true });
    p = posix.dirname(p);
  }
  return { parent: target, steps };
}

/** The nearest existing ancestor's value of cpuset file `f`. */
function inheritCpuset(k: CgroupKernel, dir: string, f: string): string {
  for (let d = dir; d !== "/" && d !== "."; d = posix.dirname(d)) {
    try {
      const v = k.read(posix.join(d, f)).trim();
      if (v) return v;
    } catch {
      // not there yet
    }
  }
  return "";
}

/**
 * Plan the container's cgroup: which directories to create and which files
 * to write, in order. Reads the host's state (mountinfo, `/proc/self/cgroup`,
 * `cgroup.procs`/`cgroup.subtree_control` of the candidate parents) and never
 * writes. With the three texts and a kernel over a temporary directory given,
 * it touches nothing of the host.
 *
 * Hierarchies used: v2 always (one cgroup, even without limits: it gives the
 * container a cgroup namespace root and `cgroup.kill`); v1 those carrying a
 * needed controller, plus in hybrid layouts the (controller-less) cgroup2
 * mount, for `cgroup.kill` and so that the container's cgroup namespace shows
 * only itself there too. Pure v1 without limits: no cgroups at all.
 *
 * @throws {TinycError} when a controller is missing or no valid placement exists
 */
export function planCgroup(opts: CgroupOptions): CgroupPlan {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(opts.name ?? opts.id)) {
    throw new TinycError(
      `cgroups: invalid ${opts.name !== undefined ? "cgroup name" : "id"} \`${
        opts.name ?? opts.id
      }\``,
    );
  }
  const k = opts.kernel ?? new LinuxCgroupKernel();
  const layout = detectLayout(
    opts.root ?? "/sys/fs/cgroup",
    opts.mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo"),
    opts.procSelfCgroup ?? Deno.readTextFileSync("/proc/self/cgroup"),
  );
  const name = opts.name ?? `tinyc-${opts.id}`;
  // Device rules go to a v1 devices hierarchy; on v2 the device program
  // (src/security/devices.ts) enforces them, with no controller involved.
  const needed = neededControllers(opts.resources).filter((c) =>
    c !== "devices" ||
    layout.hierarchies.some((h) =>
      h.version === 1 && h.controllers.includes("devices")
    )
  );
  const v2 = layout.hierarchies.find((h) => h.version === 2);

  // Each needed controller goes to the v1 hierarchy carrying it, else to v2.
  const assigned = new Map<Hierarchy, string[]>();
  for (const c of needed) {
    const h = layout.hierarchies.find((h) => h.controllers.includes(c)) ?? v2;
    if (!h) {
      throw new TinycError(
        `cgroups: no ${c} controller is mounted under \`${layout.root}\` (needed for ${
          FLAG[c]
        })`,
      );
    }
    assigned.set(h, [...(assigned.get(h) ?? []), c]);
  }
  if (v2 && !assigned.has(v2)) assigned.set(v2, []);

  const plan: CgroupPlan = { name, mode: layout.mode, cgroups: [], steps: [] };
  for (const h of layout.hierarchies.filter((h) => assigned.has(h))) {
    const controllers = assigned.get(h)!;
    const hopts = opts.relativeParent !== undefined
      ? { ...opts, parent: posix.join(h.own, opts.relativeParent) }
      : opts;
    const place = h.version === 2
      ? placeV2(h, controllers, hopts, k)
      : placeSimple(h, hopts, k);
    const path = posix.join(place.parent, name);
    const dir = cgroupDir(h, path);
    plan.steps.push(...place.steps, { op: "mkdir", path: dir });
    if (h.version === 1 && h.controllers.includes("cpuset")) {
      // A new v1 cpuset starts with no CPUs and no memory nodes (and takes
      // no process so): give each directory made here its parent's.
      for (const s of [...place.steps, { op: "mkdir" as const, path: dir }]) {
        if (s.op !== "mkdir") continue;
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          let value = "";
          try {
            value = k.read(posix.join(posix.dirname(s.path), f)).trim();
          } catch {
            // the parent is made by this plan too: read from its own parent
            value = inheritCpuset(k, posix.dirname(s.path), f);
          }
          plan.steps.push({
            op: "write",
            path: posix.join(s.path, f),
            value: value || inheritCpuset(k, posix.dirname(s.path), f),
          });
        }
      }
    }
    for (const c of controllers) {
      plan.steps.push(...limitSteps(h.version, c, dir, opts.resources));
    }
    if (place.leaf) plan.launcherLeaf = place.leaf;
    plan.cgroups.push({
      version: h.version,
      dir,
      path,
      controllers,
      mountName: posix.basename(h.mountpoint),
      mountData: h.version === 2
        ? ""
        : [...h.controllers, ...(h.name ? [`name=${h.name}`] : [])].join(","),
    });
  }
  return plan;
}
