import assert from "node:assert/strict";
import {
  applyMaskAndReadonly,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  keptMountFlags,
  type PathKind,
  planMaskAndReadonly,
} from "./paths.ts";
import { mountFlagNames, MS } from "../sys.ts";

/** What a typical container's /proc and /sys hold (no asound, no acpi). */
const TREE: Record<string, PathKind> = {
  "/proc/kcore": "file",
  "/proc/keys": "file",
  "/proc/latency_stats": "file",
  "/proc/timer_list": "file",
  "/proc/sched_debug": "file",
  "/proc/scsi": "dir",
  "/sys/firmware": "dir",
  "/sys/devices/virtual/powercap": "dir",
  "/proc/bus": "dir",
  "/proc/fs": "dir",
  "/proc/irq": "dir",
  "/proc/sys": "dir",
  "/proc/sysrq-trigger": "file",
  "/dev/weird": "other",
};
const kind = (p: string): PathKind => TREE[p] ?? "none";

Deno.test("default lists are docker's", () => {
  assert.equal(DEFAULT_MASKED_PATHS.length, 11);
  assert.ok(DEFAULT_MASKED_PATHS.includes("/proc/kcore"));
  assert.ok(DEFAULT_MASKED_PATHS.includes("/sys/devices/virtual/powercap"));
  assert.deepEqual([...DEFAULT_READONLY_PATHS].sort(), [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
  ]);
});

Deno.test("plan: read-only first, then masks by kind; missing paths skipped", () => {
  const ops = planMaskAndReadonly(
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    kind,
  );
  assert.deepEqual(ops, [
    { kind: "readonly", path: "/proc/bus" },
    { kind: "readonly", path: "/proc/fs" },
    { kind: "readonly", path: "/proc/irq" },
    { kind: "readonly", path: "/proc/sys" },
    { kind: "readonly", path: "/proc/sysrq-trigger" },
    { kind: "mask-file", path: "/proc/kcore" },
    { kind: "mask-file", path: "/proc/keys" },
    { kind: "mask-file", path: "/proc/latency_stats" },
    { kind: "mask-file", path: "/proc/timer_list" },
    { kind: "mask-file", path: "/proc/sched_debug" },
    { kind: "mask-dir", path: "/proc/scsi" },
    { kind: "mask-dir", path: "/sys/firmware" },
    { kind: "mask-dir", path: "/sys/devices/virtual/powercap" },
  ]);
});

Deno.test("plan: privileged (empty lists) does nothing; duplicates once; devices as files", () => {
  assert.deepEqual(planMaskAndReadonly([], [], kind), []);
  assert.deepEqual(
    planMaskAndReadonly(["/dev/weird", "/dev/weird"], [
      "/proc/sys",
      "/proc/sys",
    ], kind),
    [
      { kind: "readonly", path: "/proc/sys" },
      { kind: "mask-file", path: "/dev/weird" },
    ],
  );
});

const MOUNTINFO = [
  "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
  "23 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "24 22 0:6 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro",
  "25 22 0:7 / /my\\040dir rw,noatime - tmpfs tmpfs rw",
  "26 23 0:5 /sys /proc/sys rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "27 26 0:5 /sys /proc/sys rw,nosuid,nodev,relatime - proc proc rw",
].join("\n");

Deno.test("keptMountFlags: the innermost, topmost mount's lockable flags", () => {
  const proc = MS.MS_NOSUID | MS.MS_NODEV | MS.MS_NOEXEC | 0x200000;
  assert.equal(keptMountFlags("/proc/bus", MOUNTINFO), proc);
  // Stacked on /proc/sys: the last entry is the one on top.
  assert.equal(
    keptMountFlags("/proc/sys", MOUNTINFO),
    MS.MS_NOSUID | MS.MS_NODEV | 0x200000,
  );
  assert.equal(
    keptMountFlags("/proc/sys/kernel", MOUNTINFO),
    MS.MS_NOSUID | MS.MS_NODEV | 0x200000,
  );
  // /proc2 is not under /proc.
  assert.equal(keptMountFlags("/proc2/x", MOUNTINFO), 0x200000);
  assert.equal(keptMountFlags("/my dir/a", MOUNTINFO), MS.MS_NOATIME);
  assert.equal(keptMountFlags("/x", ""), 0);
});

Deno.test("apply: the mount calls of each operation", () => {
  const calls: string[] = [];
  const sys = {
    mount(src: string, dst: string, fstype: string, flags: number) {
      calls.push(`${src} ${dst} ${fstype || "-"} ${mountFlagNames(flags)}`);
    },
  };
  applyMaskAndReadonly(
    [
      { kind: "readonly", path: "/proc/sys" },
      { kind: "mask-file", path: "/proc/kcore" },
      { kind: "mask-dir", path: "/proc/scsi" },
    ],
    sys,
    () => MOUNTINFO,
  );
  assert.deepEqual(calls, [
    "/proc/sys /proc/sys - MS_BIND|MS_REC",
    "/proc/sys /proc/sys - MS_RDONLY|MS_NOSUID|MS_NODEV|MS_REMOUNT|MS_BIND|0x200000",
    "/dev/null /proc/kcore - MS_BIND",
    "tmpfs /proc/scsi tmpfs MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC",
  ]);
});

if (Deno.uid() !== 0) {
  console.log("paths_test: the real mount test is skipped (needs root)");
}

Deno.test({
  name: "apply the default plan for real in a private mount namespace (root)",
  ignore: Deno.uid() !== 0,
  fn() {
    // A child Deno in its own mount, UTS and PID namespaces with a fresh
    // /proc (util-linux unshare), so nothing here touches the host's mounts.
    const code = `
      import { LinuxSys } from "${new URL("../sys.ts", import.meta.url)}";
      import * as paths from "${new URL("./paths.ts", import.meta.url)}";
      const sys = new LinuxSys();
      const ops = paths.planMaskAndReadonly(
        paths.DEFAULT_MASKED_PATHS, paths.DEFAULT_READONLY_PATHS, (p) => sys.kind(p));
      paths.applyMaskAndReadonly(ops, sys);
      // What each masked path looks like now: files empty, dirs empty.
      const seen = ops.filter((op) => op.kind !== "readonly").map((op) =>
        op.kind === "mask-file"
          ? Deno.readFileSync(op.path).length
          : [...Deno.readDirSync(op.path)].length
      );
      const out = { ops: ops.length, masked: seen.length, seen };
      try {
        Deno.writeTextFileSync("/proc/sys/kernel/hostname", "masked");
        out.procSysWrite = "written";
      } catch (e) { out.procSysWrite = e.code ?? String(e); }
      out.procSys = Deno.readTextFileSync("/proc/thread-self/mountinfo").split("\\n")
        .filter((l) => l.split(" ")[4] === "/proc/sys")
        .map((l) => l.split(" ")[5]).at(-1);
      console.log(JSON.stringify(out));
    `;
    const r = new Deno.Command("unshare", {
      args: [
        "--mount",
        "--uts",
        "--pid",
        "--fork",
        "--mount-proc",
        Deno.execPath(),
        "eval",
        code,
      ],
    }).outputSync();
    const stderr = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, stderr);
    const out = JSON.parse(new TextDecoder().decode(r.stdout));
    console.log("  child saw", JSON.stringify(out));
    // Which masked paths exist depends on the kernel; /proc/keys and
    // /proc/timer_list are there on any kernel that builds them in.
    assert.ok(out.masked >= 1, `only ${out.ops} operations`);
    assert.deepEqual(out.seen, out.seen.map(() => 0));
    assert.equal(out.procSysWrite, "EROFS");
    // The read-only bind kept proc's nosuid,nodev,noexec.
    assert.match(out.procSys, /^ro,nosuid,nodev,noexec/);
  },
});
