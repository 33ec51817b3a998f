/**
 * The container's filesystem: spec mounts -> a plan of plain operations ->
 * a loop that applies them through {@link Sys}.
 *
 * Everything is mounted beneath the rootfs before `pivot_root`, then the root
 * is pivoted and the old one detached. Until the pivot the rootfs is still a
 * directory of the host's, and it may hold hostile symlinks (`dev -> /`): mount
 * points are made and found through `src/linux/in_root.ts` (resolved by the
 * kernel inside the rootfs), and each mount goes onto `/proc/self/fd/N` of an
 * `O_PATH` fd of the resolved target, as runc does, so nothing can swap the
 * path between the check and the mount.
 *
 * @module
 */

import { MS, type Sys } from "./sys.ts";
import { SysError, TinycError } from "./errors.ts";
import type { Device, Mount, RootOverlay, Spec } from "./spec.ts";
import { keptMountFlags } from "./security/paths.ts";
import { O, openRoot } from "./linux/in_root.ts";
import { libc } from "./libc.ts";

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
    /** MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), set after mounting. */
    propagation?: number;
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
    /** MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (| MS_REC), set after mounting. */
    propagation?: number;
  }
  | {
    op: "mknod";
    dest: string;
    mode: number;
    major: number;
    minor: number;
    uid?: number;
    gid?: number;
  }
  | { op: "symlink"; dest: string; target: string }
  | { op: "mkdir"; dest: string }
  /**
   * The working directory, made if missing before the pivot (so it also
   * works with a read-only root); an existing non-directory is left for the
   * init to report.
   */
  | { op: "workdir"; dest: string }
  /** chdir(root); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/"). */
  | { op: "pivot"; root: string }
  /** Remount `/` read-only (after pivot). */
  | { op: "readonly-root" }
  /** Set the propagation of `/` (after pivot): OCI `linux.rootfsPropagation`. */
  | { op: "root-propagation"; flags: number };

const MS_SYNCHRONOUS = 0x10;
const MS_MANDLOCK = 0x40;
const MS_DIRSYNC = 0x80;
const MS_NODIRATIME = 0x800;
const MS_UNBINDABLE = 0x20000;
const MS_SHARED = 0x100000;
const MS_RELATIME = 0x200000;

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
  atime: [false, MS.MS_NOATIME],
  nostrictatime: [false, MS.MS_STRICTATIME],
  relatime: [true, MS_RELATIME],
  norelatime: [false, MS_RELATIME],
  nodiratime: [true, MS_NODIRATIME],
  diratime: [false, MS_NODIRATIME],
  sync: [true, MS_SYNCHRONOUS],
  async: [false, MS_SYNCHRONOUS],
  dirsync: [true, MS_DIRSYNC],
  mand: [true, MS_MANDLOCK],
  nomand: [false, MS_MANDLOCK],
};

/** Propagation options -> the flags of the mount(2) call that sets them. */
const PROPAGATION: Record<string, number> = {
  private: MS.MS_PRIVATE,
  rprivate: MS.MS_PRIVATE | MS.MS_REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | MS.MS_REC,
  slave: MS.MS_SLAVE,
  rslave: MS.MS_SLAVE | MS.MS_REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | MS.MS_REC,
};

/** Propagation flags for an OCI propagation name (`rslave`), or 0. */
export function propagationFlags(name: string | undefined): number {
  return name ? PROPAGATION[name] ?? 0 : 0;
}

/**
 * OCI mount options -> mount(2) flags, the filesystem's data string, and a
 * propagation to set afterwards (a separate mount(2) call).
 */
export function parseMountOptions(
  options: readonly string[] = [],
): { flags: number; data: string; propagation: number } {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAG_OPTIONS[o];
    if (f) flags = f[0] ? flags | f[1] : flags & ~f[1];
    else if (o in PROPAGATION) propagation = PROPAGATION[o];
    // runc's own options with nothing for the kernel here.
    else if (o === "defaults" || o === "tmpcopyup" || o === "remount") continue;
    else data.push(o);
  }
  return { flags, data: data.join(","), propagation };
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
  const cwd = spec.process.cwd || "/";
  if (cwd !== "/") ops.push({ op: "workdir", dest: cwd });
  ops.push({ op: "pivot", root });
  if (spec.root.readonly) ops.push({ op: "readonly-root" });
  // After the pivot (pivot_root refuses a shared parent): `/` of the
  // container as asked; everything stays private to the host either way.
  const rootProp = propagationFlags(spec.linux.rootfsPropagation);
  if (rootProp) ops.push({ op: "root-propagation", flags: rootProp });
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
  const { flags, data, propagation } = parseMountOptions(m.options);
  const prop = propagation ? { propagation } : {};
  if (m.type === "bind" || (flags & MS.MS_BIND) !== 0) {
    return {
      op: "bind",
      dest: m.destination,
      source: m.source,
      flags: MS.MS_BIND | (flags & MS.MS_REC) |
        (m.options?.includes("bind") ? 0 : MS.MS_REC),
      readonly: (flags & MS.MS_RDONLY) !== 0,
      restrict: flags & (MS.MS_NODEV | MS.MS_NOSUID | MS.MS_NOEXEC),
      ...prop,
    };
  }
  return {
    op: "mount",
    dest: m.destination,
    source: m.source,
    fstype: m.type,
    flags,
    data,
    ...prop,
  };
}

function deviceOps(devs: readonly Device[], mode: DeviceMode): MountOp[] {
  return devs.map((d): MountOp =>
    // A FIFO needs no privilege to make, rootless too.
    mode === "mknod" || d.type === "p"
      ? {
        op: "mknod",
        dest: d.path,
        mode:
          (d.type === "c" ? 0o020000 : d.type === "p" ? 0o010000 : 0o060000) |
          d.fileMode,
        ...(d.uid !== undefined ? { uid: d.uid } : {}),
        ...(d.gid !== undefined ? { gid: d.gid } : {}),
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
 * How the apply loop makes and finds mount points, by container path.
 * Before the pivot it is {@link rootfsMountRoot} (inside the rootfs); after
 * it, and in tests, {@link sysMountRoot} (paths joined as strings, via Sys).
 */
export interface MountRoot {
  /** Make directory `dest` and missing parents. */
  mkdirAll(dest: string): void;
  /** Make an empty file at `dest` (and missing parents) unless something is there. */
  touch(dest: string): void;
  mknod(dest: string, mode: number, major: number, minor: number): void;
  /** Owner of `dest` itself (device nodes with an OCI uid/gid). */
  chown(dest: string, uid: number, gid: number): void;
  symlink(dest: string, target: string): void;
  /** What is at `dest` itself (a symlink there is not followed). */
  lstat(
    dest: string,
  ): { kind: "dir" | "symlink" | "other"; link?: string } | null;
  /**
   * A path for mount(2) that names exactly `dest`'s object now, and the
   * host path it is at (for mountinfo and messages); `done()` after the call.
   */
  target(dest: string): { path: string; shown(): string; done(): void };
  /** Let go of the rootfs (before the pivot). */
  close(): void;
}

/** A {@link MountRoot} that joins `root` and the path as strings, through `sys`. */
export function sysMountRoot(sys: Sys, root: string): MountRoot {
  const at = (dest: string) => root + dest;
  return {
    mkdirAll: (dest) => sys.mkdirAll(at(dest)),
    touch: (dest) => {
      sys.mkdirAll(parentOf(at(dest)));
      sys.touch(at(dest));
    },
    chown: (dest, uid, gid) => Deno.chownSync(at(dest), uid, gid),
    mknod: (dest, mode, major, minor) => {
      sys.mkdirAll(parentOf(at(dest)));
      sys.mknod(at(dest), mode, major, minor);
    },
    symlink: (dest, target) => sys.symlink(target, at(dest)),
    lstat: (dest) => {
      const k = sys.kind(at(dest));
      return k === "none" ? null : { kind: k === "dir" ? "dir" : "other" };
    },
    target: (dest) => ({
      path: at(dest),
      shown: () => at(dest),
      done: () => {},
    }),
    close: () => {},
  };
}

/** The real {@link MountRoot} before the pivot: everything resolved inside `root`. */
export function rootfsMountRoot(root: string): MountRoot {
  const r = openRoot(root);
  const parent = (dest: string) => r.mkdirAll(parentOf(dest));
  return {
    mkdirAll: (dest) => void r.mkdirAll(dest),
    touch: (dest) => {
      // A dangling symlink there gets its target made, inside the rootfs.
      for (let hops = 0; hops <= 40; hops++) {
        parent(dest);
        if (r.createFile(dest) || r.stat(dest) !== null) return;
        const link = r.readlink(dest);
        if (link === null) return;
        dest = link.startsWith("/") ? link : `${parentOf(dest)}/${link}`;
      }
    },
    chown: (dest, uid, gid) => r.chown(dest, uid, gid),
    mknod: (dest, mode, major, minor) => {
      parent(dest);
      r.mknod(dest, mode, major, minor);
    },
    symlink: (dest, target) => r.symlink(dest, target),
    lstat: (dest) => {
      const st = r.lstat(dest);
      if (st === null) return null;
      if (st.type === "symlink") {
        return { kind: "symlink", link: r.readlink(dest) ?? "" };
      }
      return { kind: st.type === "dir" ? "dir" : "other" };
    },
    target: (dest) => {
      const fd = r.open(dest, O.PATH);
      const path = `/proc/self/fd/${fd}`;
      // Where it is, for mountinfo and messages: asked only when needed.
      const shown = () => {
        try {
          return Deno.readLinkSync(path);
        } catch {
          return root + dest;
        }
      };
      return { path, shown, done: () => void libc().close(fd) };
    },
    close: () => r.close(),
  };
}

/**
 * Apply a plan. Until `bind-root`, and after `pivot`, paths are used as
 * they are; in between, `rootfs(root)` makes and finds mount points inside
 * the rootfs (default {@link rootfsMountRoot}). `readMountinfo` is read
 * before each read-only remount, for the flags it must keep.
 */
export function applyMounts(
  sys: Sys,
  ops: readonly MountOp[],
  rootfs: (root: string) => MountRoot = rootfsMountRoot,
  readMountinfo: () => string = () =>
    Deno.readTextFileSync("/proc/thread-self/mountinfo"),
): void {
  let at: MountRoot = sysMountRoot(sys, "");
  try {
    for (const o of ops) {
      try {
        applyOne(o);
      } catch (e) {
        // Filesystem errors (creating a mount point) come without the
        // container path; syscall errors already name theirs.
        if (e instanceof SysError || !("dest" in o)) throw e;
        throw new TinycError(
          `mount point ${o.dest}: ${(e as Error).message.split("\n")[0]}`,
        );
      }
    }
  } finally {
    at.close();
  }

  /** mount(2) onto `dest` as `at` finds it, naming the real path in errors. */
  function mountOn(
    dest: string,
    call: (target: string, shown: () => string) => void,
  ): void {
    const t = at.target(dest);
    try {
      call(t.path, t.shown);
    } catch (e) {
      if (e instanceof SysError && t.path !== t.shown()) {
        e.message = e.message.replace(t.path, t.shown());
      }
      throw e;
    } finally {
      t.done();
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
        sys.mount(o.root, o.root, "", MS.MS_BIND | MS.MS_REC);
        // Opened after the bind, so mount points are found in the new mount.
        at.close();
        at = rootfs(o.root);
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
        if (o.fstype === "proc" || o.fstype === "sysfs") {
          // As runc: the kernel's own filesystems go on a real directory,
          // never where a symlink in the rootfs points.
          const st = at.lstat(o.dest);
          if (st?.kind === "symlink") {
            throw new TinycError(
              `a symlink (to ${st.link}) in the rootfs; ${o.fstype} must be mounted on a directory`,
            );
          }
          if (st !== null && st.kind !== "dir") {
            throw new TinycError(
              `not a directory in the rootfs; ${o.fstype} must be mounted on a directory`,
            );
          }
        }
        at.mkdirAll(o.dest);
        mountOn(
          o.dest,
          (t) => sys.mount(o.source, t, o.fstype, o.flags, o.data),
        );
        if (o.propagation) {
          mountOn(o.dest, (t) => sys.mount("", t, "", o.propagation!));
        }
        break;
      }
      case "bind": {
        if (sys.kind(o.source) === "dir") at.mkdirAll(o.dest);
        else at.touch(o.dest);
        mountOn(o.dest, (t) => sys.mount(o.source, t, "", o.flags));
        if (o.readonly || o.restrict) {
          // Found again: now the path leads into the new mount.
          mountOn(o.dest, (t, shown) =>
            sys.mount(
              "",
              t,
              "",
              MS.MS_REMOUNT | MS.MS_BIND | (o.readonly ? MS.MS_RDONLY : 0) |
                (o.restrict ?? 0) | (o.flags & MS.MS_REC) |
                // Repeat the mount's nosuid/nodev/noexec/atime flags: in a
                // user namespace they are locked (EPERM when dropped), and as
                // root dropping them would quietly weaken the host's options.
                keptMountFlags(shown(), readMountinfo()),
            ));
        }
        if (o.propagation) {
          mountOn(o.dest, (t) => sys.mount("", t, "", o.propagation!));
        }
        break;
      }
      case "mknod":
        at.mknod(o.dest, o.mode, o.major, o.minor);
        if (o.uid !== undefined || o.gid !== undefined) {
          at.chown(o.dest, o.uid ?? 0, o.gid ?? 0);
        }
        break;
      case "symlink":
        at.symlink(o.dest, o.target);
        break;
      case "mkdir":
        at.mkdirAll(o.dest);
        break;
      case "workdir":
        try {
          if (at.lstat(o.dest) === null) at.mkdirAll(o.dest);
        } catch {
          // not a directory on the way...: the init says so after the pivot
        }
        break;
      case "pivot":
        at.close();
        at = sysMountRoot(sys, "");
        // pivot_root(".", ".") stacks the old root on top of the new one at
        // "/"; detaching it leaves only the rootfs (no put_old directory needed).
        sys.chdir(o.root);
        sys.pivotRoot(".", ".");
        sys.umount(".", MNT_DETACH);
        sys.chdir("/");
        break;
      case "root-propagation":
        sys.mount("", "/", "", o.flags);
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
