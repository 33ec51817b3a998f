/**
 * The uid and gid maps of a rootless container's user namespace, planned as
 * plain data from the caller's ids, /etc/subuid, /etc/subgid and whether
 * shadow's `newuidmap`/`newgidmap` are installed.
 *
 * - Container root is always the caller (`0 <uid> 1`): an unprivileged
 *   process may write that one line itself (util-linux `unshare
 *   --map-root-user` does, after `setgroups deny`).
 * - Container ids 1..65535 come from the caller's subordinate range, when
 *   there is one of at least 65535 ids in both files and both tools are
 *   installed: only the setuid `newuidmap`/`newgidmap` may write lines that
 *   name ids other than the caller's own, after checking them against
 *   /etc/subuid and /etc/subgid. Then files owned by other users in an image
 *   (e.g. `nobody`) have owners inside the container, and `setgroups` stays
 *   allowed.
 * - Otherwise only root is mapped, and the caller is told once why.
 *
 * @module
 */

/** One line of `/proc/PID/uid_map`: `count` ids from `inside` map to `outside`. */
export interface IdRange {
  inside: number;
  outside: number;
  count: number;
}

/** The maps for a rootless container. */
export interface IdMaps {
  uid: IdRange[];
  gid: IdRange[];
  /**
   * Why only container root is mapped (one line, to print once), or absent
   * when the maps cover container ids 0..65535.
   */
  warning?: string;
}

/** Container ids 1..65535 come from the subordinate range. */
export const SUBORDINATE_IDS = 65535;

/** One entry of /etc/subuid or /etc/subgid for a user. */
export interface SubordinateRange {
  start: number;
  count: number;
}

/**
 * The ranges `/etc/subuid`-format `text` grants to the user named `name`
 * with id `id`: lines `NAME_OR_ID:START:COUNT`, in file order. Comments,
 * blank and malformed lines are skipped, as shadow's tools skip them.
 */
export function parseSubordinateIds(
  text: string,
  name: string,
  id: number,
): SubordinateRange[] {
  const out: SubordinateRange[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length !== 3 || !/^\d+$/.test(f[1]) || !/^\d+$/.test(f[2])) continue;
    if (f[0] !== name && f[0] !== String(id)) continue;
    const count = Number(f[2]);
    if (count > 0) out.push({ start: Number(f[1]), count });
  }
  return out;
}

/** The first range with room for container ids 1..65535 that leaves `own` out. */
function pickRange(
  ranges: readonly SubordinateRange[],
  own: number,
): SubordinateRange | undefined {
  return ranges.find((r) =>
    r.count >= SUBORDINATE_IDS &&
    // Overlapping the caller's own id would map it twice: newuidmap refuses.
    !(own >= r.start && own < r.start + SUBORDINATE_IDS)
  );
}

/**
 * Plan the maps for caller `uid`/`gid` named `username`, given the text of
 * /etc/subuid and /etc/subgid (null when missing) and whether both
 * `newuidmap` and `newgidmap` are installed.
 */
export function planIdMaps(
  uid: number,
  gid: number,
  subuidText: string | null,
  subgidText: string | null,
  username: string,
  haveNewidmap: boolean,
): IdMaps {
  const root = (own: number): IdRange[] => [
    { inside: 0, outside: own, count: 1 },
  ];
  const subuid = pickRange(
    parseSubordinateIds(subuidText ?? "", username, uid),
    uid,
  );
  // /etc/subgid is keyed by the user's name or uid too, not by the group.
  const subgid = pickRange(
    parseSubordinateIds(subgidText ?? "", username, uid),
    gid,
  );
  const missing: string[] = [];
  if (!subuid) missing.push(`/etc/subuid`);
  if (!subgid) missing.push(`/etc/subgid`);
  let why: string | undefined;
  if (missing.length > 0) {
    why = `${username} has no range of ${SUBORDINATE_IDS}+ ids in ${
      missing.join(" and ")
    } (add one as root: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${username})`;
  } else if (!haveNewidmap) {
    why =
      "newuidmap/newgidmap are not installed (apt-get install uidmap, as root)";
  }
  if (why !== undefined || !subuid || !subgid) {
    return {
      uid: root(uid),
      gid: root(gid),
      warning:
        `tinyc: rootless: only container root is mapped (to uid ${uid}, gid ${gid}): ${why}`,
    };
  }
  return {
    uid: [...root(uid), {
      inside: 1,
      outside: subuid.start,
      count: SUBORDINATE_IDS,
    }],
    gid: [...root(gid), {
      inside: 1,
      outside: subgid.start,
      count: SUBORDINATE_IDS,
    }],
  };
}

/** `ranges` as the kernel prints them in /proc/PID/uid_map (columns without padding). */
export function formatIdMap(ranges: readonly IdRange[]): string {
  return ranges.map((r) => `${r.inside} ${r.outside} ${r.count}\n`).join("");
}

/** Parse /proc/PID/uid_map or gid_map text. */
export function parseIdMap(text: string): IdRange[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").map(
    (l) => {
      const [inside, outside, count] = l.split(/\s+/).map(Number);
      return { inside, outside, count };
    },
  );
}
