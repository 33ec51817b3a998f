/**
 * Masked and read-only paths: docker's defaults for OCI `linux.maskedPaths`
 * and `linux.readonlyPaths`, a plan of plain mount operations for them, and
 * the loop that applies the plan.
 *
 * The init applies them after pivot_root, with /proc and /sys of the
 * container mounted, using paths as the container sees them. Like runc:
 * read-only paths first, then masks; a path that does not exist is skipped
 * (a kernel without /proc/timer_stats, a host without /sys/firmware).
 * `--privileged` passes empty lists.
 *
 * @module
 */

import { MS, type Sys } from "../sys.ts";

/** docker's default `linux.maskedPaths` (moby `oci.DefaultLinuxSpec`). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];

/** docker's default `linux.readonlyPaths`. */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** One step of hiding or protecting a path. */
export type PathOp =
  /** An empty read-only tmpfs over a directory. */
  | { kind: "mask-dir"; path: string }
  /** /dev/null bind-mounted over a file: reads are empty, writes vanish. */
  | { kind: "mask-file"; path: string }
  /** Bind the path onto itself, then remount that bind read-only. */
  | { kind: "readonly"; path: string };

/** What is at a path: as `Sys.kind` answers, following symlinks. */
export type PathKind = "dir" | "file" | "other" | "none";

/**
 * Turn masked and read-only path lists into mount operations: read-only ones
 * first, then masks (runc's order); missing paths are left out; a path listed
 * twice in a list yields one operation.
 */
export function planMaskAndReadonly(
  masked: readonly string[],
  readonly: readonly string[],
  kind: (path: string) => PathKind,
): PathOp[] {
  const ops: PathOp[] = [];
  for (const path of new Set(readonly)) {
    if (kind(path) !== "none") ops.push({ kind: "readonly", path });
  }
  for (const path of new Set(masked)) {
    const k = kind(path);
    if (k === "none") continue;
    // Devices and other non-directories are hidden the same way as files.
    ops.push({ kind: k === "dir" ? "mask-dir" : "mask-file", path });
  }
  return ops;
}

const MS_NODIRATIME = 0x800;
const MS_RELATIME = 0x200000;

/** Per-mount options a read-only remount must keep (all of them are lockable). */
const KEPT_OPTIONS: Record<string, number> = {
  nosuid: MS.MS_NOSUID,
  nodev: MS.MS_NODEV,
  noexec: MS.MS_NOEXEC,
  noatime: MS.MS_NOATIME,
  nodiratime: MS_NODIRATIME,
  relatime: MS_RELATIME,
};

/** `\040` → space, as mountinfo escapes mount points. */
function unescapeMountinfo(s: string): string {
  return s.replace(
    /\\([0-7]{3})/g,
    (_, oct: string) => String.fromCharCode(parseInt(oct, 8)),
  );
}

/**
 * The flags (nosuid, nodev, noexec and atime ones) of the mount `path` is
 * on, from /proc/.../mountinfo text: the entry with the longest mount point
 * containing `path`, the last one when mounts are stacked.
 */
export function keptMountFlags(path: string, mountinfo: string): number {
  let best: { len: number; opts: string } | undefined;
  for (const line of mountinfo.split("\n")) {
    const f = line.split(" ");
    if (f.length < 6) continue;
    const point = unescapeMountinfo(f[4]);
    const inside = point === "/" || path === point ||
      path.startsWith(point + "/");
    if (!inside) continue;
    if (best === undefined || point.length >= best.len) {
      best = { len: point.length, opts: f[5] };
    }
  }
  let flags = 0;
  for (const opt of best?.opts.split(",") ?? []) {
    flags |= KEPT_OPTIONS[opt] ?? 0;
  }
  return flags;
}

/**
 * Apply `ops` with `sys`. A read-only remount must repeat the flags the
 * mount already has, or the kernel refuses it (EPERM) where they are locked,
 * and would otherwise drop nosuid/nodev/noexec; they are read from
 * `readMountinfo()` after the bind.
 */
export function applyMaskAndReadonly(
  ops: readonly PathOp[],
  sys: Pick<Sys, "mount">,
  readMountinfo: () => string = () =>
    Deno.readTextFileSync("/proc/thread-self/mountinfo"),
): void {
  for (const op of ops) {
    try {
      applyOne(op);
    } catch (e) {
      // A path an earlier mask hid (a masked directory's masked child) is
      // gone from the container's view: nothing left to hide, as runc does.
      if ((e as { code?: string }).code === "ENOENT") continue;
      throw e;
    }
  }

  function applyOne(op: PathOp): void {
    switch (op.kind) {
      case "mask-dir":
        sys.mount(
          "tmpfs",
          op.path,
          "tmpfs",
          MS.MS_RDONLY | MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC,
        );
        break;
      case "mask-file":
        sys.mount("/dev/null", op.path, "", MS.MS_BIND);
        break;
      case "readonly": {
        sys.mount(op.path, op.path, "", MS.MS_BIND | MS.MS_REC);
        const keep = keptMountFlags(op.path, readMountinfo());
        sys.mount(
          op.path,
          op.path,
          "",
          MS.MS_BIND | MS.MS_REMOUNT | MS.MS_RDONLY | keep,
        );
        break;
      }
    }
  }
}
