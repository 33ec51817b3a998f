/**
 * The container's filesystem: spec mounts -> a plan of plain operations ->
 * a loop that applies them through {@link Sys}.
 *
 * Everything is mounted beneath the rootfs before `pivot_root` (paths joined
 * with {@link secureJoin}, so hostile symlinks in the rootfs cannot point a
 * mount at the host), then the root is pivoted and the old one detached.
 *
 * @module
 */

import { MS, type Sys } from "./sys.ts";
import { SysError, TinycError } from "./errors.ts";
import type { Device, Mount, RootOverlay, Spec } from "./spec.ts";
import { keptMountFlags } from "./security/paths.ts";

/** One step of the filesystem setup. Paths are inside the container unless noted. */
export type MountOp =
  /** Make `/` and everything below private: without it pivot_root fails on a shared `/`, and mounts would propagate to the host. */
  | { op: "make-private" }
  /** Mount an image's overlay (lower/upper/work) on the rootfs directory. */
  | { op: "overlay"; root: string; data: string }
  /** Bind the rootfs (host path) onto itself so it is a mount point for pivot_root. */
  | { op: "bind-root"; root: string; nodev?: boolean }
  /** Mount a filesystem at `dest`, creating the directory. */
  | {
    op: "mount";
    dest: string;
    source: string;
    fstype: string;
    flags: number;
    data: string;
  }
  /**
   * Bind a host path at `dest` (dir or file target created to match);
   * `readonly` and `restrict` (MS_NODEV|MS_NOSUID|MS_NOEXEC) are applied by
   * a remount of the bind.
   */
  | {
    op: "bind";
    dest: string;
    source: string;
    flags: number;
    readonly: boolean;
    restrict?: number;
  }
  | { op: "mknod"; dest: string; mode: number; major: number; minor: number }
  | { op: "symlink"; dest: string; target: string }
  | { op: "mkdir"; dest: string }
  /** chdir(root); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/"). */
  | { op: "pivot"; root: string }
  /** Remount `/` read-only (after pivot). */
  | { op: "readonly-root" };

const FLAG_OPTIONS: Record<string, [set: boolean, flag: number]> = {
  ro: [true, MS.MS_RDONLY],
  rw: [false, MS.MS_RDONLY],
  nosuid: [true, MS.MS_NOSUID],
  suid: [false, MS.MS_NOSUID],
  nodev: [true, MS.MS_NODEV],
  dev: [false, MS.MS_NODEV],
  noexec: [true, MS.MS_NOEXEC],
  exec: [false, MS.MS_NOEXEC],
  noatime: [true, MS.MS_NOATIME],
  strictatime: [true, MS.MS_STRICTATIME],
  bind: [true, MS.MS_BIND],
  rbind: [true, MS.MS_BIND | MS.MS_REC],
};

/** OCI mount options -> mount(2) flags and the filesystem's data string. */
export function parseMountOptions(
  options: readonly string[] = [],
): { flags: number; data: string } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) flags = f[0] ? flags | f[1] : flags & ~f[1];
    else if (o === "private" || o === "rprivate" || o === "defaults") continue;
    else data.push(o);
  }
  return { flags, data: data.join(",") };
}

/** Symlinks every /dev has (as runc makes them). */
const DEV_SYMLINKS: Array<[dest: string, target: string]> = [
  ["/dev/fd", "/proc/self/fd"],
  ["/dev/stdin", "/proc/self/fd/0"],
  ["/dev/stdout", "/proc/self/fd/1"],
  ["/dev/stderr", "/proc/self/fd/2"],
  ["/dev/ptmx", "pts/ptmx"],
];

/** How device nodes are made: `mknod` as root, bind from the host's /dev when rootless. */
export type DeviceMode = "mknod" | "bind";

/** Plan the whole filesystem setup for `spec`, rootfs at host path `root`. */
export function planMounts(
  spec: Spec,
  devices: DeviceMode = "mknod",
  extra: readonly MountOp[] = [],
): MountOp[] {
  const root = spec.root.path;
  const ops: MountOp[] = [{ op: "make-private" }];
  // After make-private: the overlay must not propagate to the host, and it
  // goes away with the container's mount namespace.
  if (spec.root.overlay) {
    ops.push({ op: "overlay", root, data: overlayData(spec.root.overlay) });
  }
  ops.push({
    op: "bind-root",
    root,
    nodev: spec.root.nodev ?? false,
  });
  // A user's mount at /dev or /sys replaces tinyc's (as runc does), so
  // nothing of ours is written into the user's directory.
  const userOwns = (dir: string) =>
    spec.mounts.some((m) => m.destination === dir && isBind(m));
  const skipped = (m: Mount) =>
    !isBind(m) && (
      (userOwns("/dev") &&
        (m.destination === "/dev" || m.destination.startsWith("/dev/"))) ||
      (userOwns("/sys") && m.destination === "/sys")
    );
  let devDone = false;
  for (const m of spec.mounts) {
    if (skipped(m)) continue;
    ops.push(mountOp(m));
    // Device nodes and links go in right after /dev's tmpfs, before
    // /dev/pts and friends, and before any user mount could cover /dev.
    if (m.destination === "/dev" && !isBind(m) && !devDone) {
      devDone = true;
      ops.push(...deviceOps(spec.linux.devices, devices));
      for (const [dest, target] of DEV_SYMLINKS) {
        ops.push({ op: "symlink", dest, target });
      }
    }
  }
  ops.push(...extra);
  ops.push({ op: "pivot", root });
  if (spec.root.readonly) ops.push({ op: "readonly-root" });
  return ops;
}

/** The overlay mount's data string; mount(2) takes at most a page of it. */
export function overlayData(o: RootOverlay): string {
  for (const p of [...o.lower, o.upper, o.work]) {
    if (/[:,\\]/.test(p)) {
      throw new TinycError(`overlay: path ${p} has a ':' ',' or '\\'`);
    }
  }
  const data =
    `lowerdir=${o.lower.join(":")},upperdir=${o.upper},workdir=${o.work}` +
    (o.userxattr ? ",userxattr" : "");
  if (data.length > 4095) {
    throw new TinycError(
      `overlay: too many layers (${o.lower.length}) for one mount`,
    );
  }
  return data;
}

function isBind(m: Mount): boolean {
  return m.type === "bind" ||
    (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

function mountOp(m: Mount): MountOp {
  const { flags, data } = parseMountOptions(m.options);
  if (m.type === "bind" || (flags & MS.MS_BIND) !== 0) {
    return {
      op: "bind",
      dest: m.destination,
      source: m.source,
      flags: MS.MS_BIND | (flags & MS.MS_REC) |
        (m.options?.includes("bind") ? 0 : MS.MS_REC),
      readonly: (flags & MS.MS_RDONLY) !== 0,
      restrict: flags & (MS.MS_NODEV | MS.MS_NOSUID | MS.MS_NOEXEC),
    };
  }
  return {
    op: "mount",
    dest: m.destination,
    source: m.source,
    fstype: m.type,
    flags,
    data,
  };
}

function deviceOps(devs: readonly Device[], mode: DeviceMode): MountOp[] {
  return devs.map((d): MountOp =>
    mode === "mknod"
      ? {
        op: "mknod",
        dest: d.path,
        mode: (d.type === "c" ? 0o020000 : 0o060000) | d.fileMode,
        major: d.major,
        minor: d.minor,
      }
      : {
        op: "bind",
        dest: d.path,
        source: d.path,
        flags: MS.MS_BIND,
        readonly: false,
      }
  );
}

const MNT_DETACH = 2;

/**
 * Apply a plan. `resolve(root, dest)` maps a container path to the host path
 * beneath the rootfs (see {@link secureJoin}); after `pivot` paths are used as is.
 * `readMountinfo` is read before each read-only remount, for the flags it must keep.
 */
export function applyMounts(
  sys: Sys,
  ops: readonly MountOp[],
  resolve: (root: string, dest: string) => string,
  readMountinfo: () => string = () =>
    Deno.readTextFileSync("/proc/thread-self/mountinfo"),
): void {
  let root = "";
  const at = (dest: string) => root ? resolve(root, dest) : dest;
  for (const o of ops) {
    try {
      applyOne(o);
    } catch (e) {
      // Filesystem errors (creating a mount point) come from Deno without
      // the container path; syscall errors already name theirs.
      if (e instanceof SysError || !("dest" in o)) throw e;
      throw new TinycError(
        `mount point ${o.dest}: ${(e as Error).message.split("\n")[0]}`,
      );
    }
  }

  function applyOne(o: MountOp): void {
    switch (o.op) {
      case "make-private":
        sys.mount("", "/", "", MS.MS_REC | MS.MS_PRIVATE);
        break;
      case "overlay":
        sys.mount("overlay", o.root, "overlay", 0, o.data);
        break;
      case "bind-root":
        root = o.root;
        sys.mount(o.root, o.root, "", MS.MS_BIND | MS.MS_REC);
        // Device nodes a rootfs carries (outside our /dev) must not open
        // host devices.
        if (o.nodev) {
          sys.mount(
            "",
            o.root,
            "",
            MS.MS_REMOUNT | MS.MS_BIND | MS.MS_NODEV |
              keptMountFlags(o.root, readMountinfo()),
          );
        }
        break;
      case "mount": {
        const target = at(o.dest);
        sys.mkdirAll(target);
        sys.mount(o.source, target, o.fstype, o.flags, o.data);
        break;
      }
      case "bind": {
        const target = at(o.dest);
        if (sys.kind(o.source) === "dir") sys.mkdirAll(target);
        else {
          sys.mkdirAll(parentOf(target));
          sys.touch(target);
        }
        sys.mount(o.source, target, "", o.flags);
        if (o.readonly || o.restrict) {
          sys.mount(
            "",
            target,
            "",
            MS.MS_REMOUNT | MS.MS_BIND | (o.readonly ? MS.MS_RDONLY : 0) |
              (o.restrict ?? 0) | (o.flags & MS.MS_REC) |
              // Repeat the mount's nosuid/nodev/noexec/atime flags: in a
              // user namespace they are locked (EPERM when dropped), and as
              // root dropping them would quietly weaken the host's options.
              keptMountFlags(target, readMountinfo()),
          );
        }
        break;
      }
      case "mknod": {
        const target = at(o.dest);
        sys.mkdirAll(parentOf(target));
        sys.mknod(target, o.mode, o.major, o.minor);
        break;
      }
      case "symlink":
        sys.symlink(o.target, at(o.dest));
        break;
      case "mkdir":
        sys.mkdirAll(at(o.dest));
        break;
      case "pivot":
        // pivot_root(".", ".") stacks the old root on top of the new one at
        // "/"; detaching it leaves only the rootfs (no put_old directory needed).
        sys.chdir(o.root);
        sys.pivotRoot(".", ".");
        sys.umount(".", MNT_DETACH);
        sys.chdir("/");
        root = "";
        break;
      case "readonly-root":
        sys.mount(
          "",
          "/",
          "",
          MS.MS_REMOUNT | MS.MS_BIND | MS.MS_RDONLY |
            keptMountFlags("/", readMountinfo()),
        );
        break;
    }
  }
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}
