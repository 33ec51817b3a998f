/**
 * Which cgroup hierarchies are mounted under the cgroup root, and where the
 * calling process sits in each: parsed from `/proc/self/mountinfo` and
 * `/proc/self/cgroup` (text passed in, so tests use any layout).
 *
 * - v2 ("unified"): one cgroup2 mount at the root (`cgroup.controllers` there).
 * - v1: one cgroup mount per hierarchy (`memory`, `cpu,cpuacct`, `pids`, ...).
 * - hybrid: v1 hierarchies plus an (often controller-less) cgroup2 mount,
 *   usually at `<root>/unified`, as on this project's build machines.
 *
 * @module
 */

import * as posix from "../posix_path.ts";
import { TinycError } from "../errors.ts";

/** Controllers a cgroup v1 mount can carry (the other super options are not controllers). */
const V1_CONTROLLERS = new Set([
  "blkio",
  "cpu",
  "cpuacct",
  "cpuset",
  "devices",
  "freezer",
  "hugetlb",
  "memory",
  "misc",
  "net_cls",
  "net_prio",
  "perf_event",
  "pids",
  "rdma",
]);

/** One mounted cgroup hierarchy. */
export interface Hierarchy {
  /** 1 for a `cgroup` mount, 2 for `cgroup2`. */
  version: 1 | 2;
  /** Where it is mounted (a directory under the cgroup root). */
  mountpoint: string;
  /** The cgroup the mount shows at its top (mountinfo field 4, usually `/`). */
  mountRoot: string;
  /** v1: the controllers bound to it (`["cpu","cpuacct"]`); v2: `[]` (read `cgroup.controllers`). */
  controllers: string[];
  /** v1: the hierarchy's `name=` option, e.g. `systemd`. */
  name?: string;
  /** The calling process's cgroup in this hierarchy, e.g. `/user.slice/session-2.scope`. */
  own: string;
}

/** The cgroup layout of the host, as seen from the calling process. */
export interface CgroupLayout {
  /** `v2`: unified only; `v1`: v1 only; `hybrid`: v1 plus a cgroup2 mount. */
  mode: "v2" | "v1" | "hybrid";
  /** The cgroup root, e.g. `/sys/fs/cgroup`. */
  root: string;
  /** v1 hierarchies, then the cgroup2 one (if any). */
  hierarchies: Hierarchy[];
}

/** `\040` etc. in mountinfo fields back to the characters. */
function unescapeMountField(s: string): string {
  return s.replace(
    /\\([0-7]{3})/g,
    (_, oct: string) => String.fromCharCode(parseInt(oct, 8)),
  );
}

/** One cgroup/cgroup2 line of mountinfo. */
interface CgroupMount {
  fstype: "cgroup" | "cgroup2";
  root: string;
  mountpoint: string;
  superOptions: string[];
}

function parseMountinfo(text: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of text.split("\n")) {
    const fields = line.split(" ");
    // id parent maj:min root mountpoint options [optional...] - fstype source superopts
    const sep = fields.indexOf("-", 6);
    if (sep < 0 || fields.length < sep + 4) continue;
    const fstype = fields[sep + 1];
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    mounts.push({
      fstype,
      root: unescapeMountField(fields[3]),
      mountpoint: unescapeMountField(fields[4]),
      superOptions: fields[sep + 3].split(","),
    });
  }
  return mounts;
}

/**
 * `/proc/self/cgroup` as a map: `""` for the v2 line (`0::/path`), otherwise
 * the sorted, comma-joined controllers or `name=` of a v1 line.
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const key = m[1] === "0" && m[2] === "" ? "" : m[2].split(",").sort().join(
      ",",
    );
    map.set(key, m[3]);
  }
  return map;
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root === "/" ? "/" : root + "/");
}

/**
 * Find the cgroup hierarchies mounted at or below `root` and the caller's
 * cgroup in each.
 *
 * @param root the cgroup root, e.g. `/sys/fs/cgroup`
 * @param mountinfo contents of `/proc/self/mountinfo`
 * @param procSelfCgroup contents of `/proc/self/cgroup`
 * @throws {TinycError} when no cgroup filesystem is mounted there
 */
export function detectLayout(
  root: string,
  mountinfo: string,
  procSelfCgroup: string,
): CgroupLayout {
  root = posix.resolve(root);
  const own = parseProcCgroup(procSelfCgroup);
  const mounts = parseMountinfo(mountinfo).filter((m) =>
    under(m.mountpoint, root)
  );
  const v1: Hierarchy[] = [];
  const seen = new Set<string>();
  let v2: Hierarchy | undefined;
  for (const m of mounts) {
    if (m.fstype === "cgroup2") {
      // Prefer the mount at the root itself (pure v2) over e.g. root/unified.
      if (!v2 || m.mountpoint === root) {
        v2 = {
          version: 2,
          mountpoint: m.mountpoint,
          mountRoot: m.root,
          controllers: [],
          own: own.get("") ?? "/",
        };
      }
      continue;
    }
    const controllers = m.superOptions.filter((o) => V1_CONTROLLERS.has(o));
    const name = m.superOptions.find((o) => o.startsWith("name="))?.slice(5);
    const key = [...controllers, ...(name ? [`name=${name}`] : [])].sort()
      .join(",");
    // The same hierarchy may be mounted twice (bind mounts): the first wins.
    if (!key || seen.has(key)) continue;
    seen.add(key);
    v1.push({
      version: 1,
      mountpoint: m.mountpoint,
      mountRoot: m.root,
      controllers,
      ...(name ? { name } : {}),
      own: own.get(key) ?? "/",
    });
  }
  if (v2 && v2.mountpoint === root) {
    return { mode: "v2", root, hierarchies: [v2] };
  }
  if (v1.length === 0) {
    throw new TinycError(
      `cgroups: no cgroup filesystem is mounted at \`${root}\``,
    );
  }
  return {
    mode: v2 ? "hybrid" : "v1",
    root,
    hierarchies: v2 ? [...v1, v2] : v1,
  };
}

/**
 * The directory of cgroup `path` (e.g. `/a/b`) in hierarchy `h`, mapping it
 * through the mount's root (a container's `/sys/fs/cgroup/memory` may show
 * only `/docker/abc` of the host's hierarchy).
 *
 * @throws {TinycError} when that cgroup is not visible through the mount
 */
export function cgroupDir(h: Hierarchy, path: string): string {
  const join = (rest: string) =>
    posix.join(h.mountpoint, rest).replace(/(.)\/$/, "$1");
  if (h.mountRoot === "/") return join(path);
  if (under(path, h.mountRoot)) return join(path.slice(h.mountRoot.length));
  throw new TinycError(
    `cgroups: cgroup \`${path}\` is not visible under \`${h.mountpoint}\` (it shows \`${h.mountRoot}\`)`,
  );
}

/** Whether cgroup `path` can be reached through the mount of `h`. */
export function cgroupVisible(h: Hierarchy, path: string): boolean {
  try {
    cgroupDir(h, path);
    return true;
  } catch {
    return false;
  }
}
