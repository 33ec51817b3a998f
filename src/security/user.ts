/**
 * `-u/--user` resolved against the rootfs's /etc/passwd and /etc/group, the
 * way runc's `user.GetExecUser` does for docker:
 * - `NAME` must exist in /etc/passwd; a numeric `UID` need not (then gid 0,
 *   home `/`). A numeric value is always a uid, never a name.
 * - no user (`""` or `:GROUP`) means uid 0, looked up like `0`.
 * - `:GROUP` by name must exist in /etc/group; a numeric GID need not.
 *   Without `:GROUP` the gid is the passwd entry's.
 * - supplementary groups: only when no group was given and the user was found
 *   in /etc/passwd, every /etc/group entry listing the user's name.
 *
 * The functions take file contents (null for a missing file) so they run
 * without a rootfs; the init reads the files before pivot_root or after.
 *
 * @module
 */

import { TinycError } from "../errors.ts";

/** The identity the container process runs as. */
export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  /** The passwd entry's home, or `/`; for `HOME` when the image sets none. */
  home: string;
}

/** One /etc/passwd line. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** One /etc/group line. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Largest uid/gid runc accepts (it refuses the 32-bit "-1"). */
const MAX_ID = 2 ** 31 - 1;

function numeric(s: string): number | undefined {
  if (!/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/** Parse /etc/passwd; comments, blank and malformed lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4) continue;
    const uid = numeric(f[2]), gid = numeric(f[3]);
    if (uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] || "/" });
  }
  return out;
}

/** Parse /etc/group; comments, blank and malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 3) continue;
    const gid = numeric(f[2]);
    if (gid === undefined) continue;
    const members = (f[3] ?? "").split(",").map((m) => m.trim()).filter(
      Boolean,
    );
    out.push({ name: f[0], gid, members });
  }
  return out;
}

/**
 * Resolve `spec` (`UID[:GID]` or `NAME[:GROUP]`, names and numbers mixed
 * freely) against the rootfs's /etc/passwd and /etc/group contents. Throws
 * {@link TinycError}, e.g. `--user bob: no such user in /etc/passwd of the rootfs`.
 */
export function resolveUser(
  spec: string,
  passwdText: string | null,
  groupText: string | null,
  flag = "--user",
): ExecUser {
  const parts = spec.split(":");
  if (parts.length > 2) {
    throw new TinycError(
      `${flag} ${spec}: invalid user (use UID[:GID] or NAME[:GROUP])`,
    );
  }
  const [userArg, groupArg = ""] = parts;
  const passwd = passwdText === null ? [] : parsePasswd(passwdText);
  const uidArg = userArg === "" ? 0 : numeric(userArg);
  if (/^\d+$/.test(userArg) && uidArg === undefined) {
    throw new TinycError(`${flag} ${spec}: uid out of range 0..${MAX_ID}`);
  }
  const entry = passwd.find((u) =>
    uidArg !== undefined ? u.uid === uidArg : u.name === userArg
  );
  if (entry === undefined && uidArg === undefined) {
    throw new TinycError(
      `${flag} ${spec}: no such user in /etc/passwd of the rootfs`,
    );
  }
  const user: ExecUser = {
    uid: entry?.uid ?? uidArg!,
    gid: entry?.gid ?? 0,
    additionalGids: [],
    home: entry?.home ?? "/",
  };

  const groups = groupText === null ? [] : parseGroup(groupText);
  if (groupArg !== "") {
    const gidArg = numeric(groupArg);
    if (/^\d+$/.test(groupArg) && gidArg === undefined) {
      throw new TinycError(`${flag} ${spec}: gid out of range 0..${MAX_ID}`);
    }
    const g = groups.find((g) =>
      gidArg !== undefined ? g.gid === gidArg : g.name === groupArg
    );
    if (g === undefined && gidArg === undefined) {
      throw new TinycError(
        `${flag} ${spec}: no such group in /etc/group of the rootfs`,
      );
    }
    user.gid = g?.gid ?? gidArg!;
  } else if (entry !== undefined) {
    const seen = new Set<number>();
    for (const g of groups) {
      if (g.members.includes(entry.name) && !seen.has(g.gid)) {
        seen.add(g.gid);
        user.additionalGids.push(g.gid);
      }
    }
  }
  return user;
}
