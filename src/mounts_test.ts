import assert from "node:assert/strict";
import {
  applyMounts,
  parseMountOptions,
  planMounts,
  sysMountRoot,
} from "./mounts.ts";
import { MS } from "./sys.ts";
import { RecordingSys } from "./sys_fake.ts";
import { parseRunArgs, specFromOptions } from "./cli.ts";
import { SysError } from "./errors.ts";
import { planNamespaces } from "./launcher.ts";

function spec(root = "/r", extra: string[] = []) {
  return specFromOptions(parseRunArgs(["--root", root, ...extra]), {
    rootPath: root,
    stdinIsTerminal: false,
  });
}
/** Mount points joined as strings on the fake (the real one is tested in tests/). */
const joined = (sys: RecordingSys) => (root: string) => sysMountRoot(sys, root);

Deno.test("mount options: flags, data and propagation", () => {
  assert.deepEqual(parseMountOptions(["nosuid", "noexec", "mode=755", "ro"]), {
    flags: MS.MS_NOSUID | MS.MS_NOEXEC | MS.MS_RDONLY,
    data: "mode=755",
    propagation: 0,
  });
  assert.deepEqual(parseMountOptions(["rbind", "rw", "rprivate"]), {
    flags: MS.MS_BIND | MS.MS_REC,
    data: "",
    propagation: MS.MS_PRIVATE | MS.MS_REC,
  });
  assert.deepEqual(parseMountOptions(["ro", "rw"]).flags, 0);
  // Propagation never reaches the filesystem's data (tmpfs refuses it).
  assert.deepEqual(parseMountOptions(["mode=755", "size=1k", "shared"]), {
    flags: 0,
    data: "mode=755,size=1k",
    propagation: 0x100000,
  });
  assert.deepEqual(
    parseMountOptions(["relatime", "nodiratime", "tmpcopyup", "rslave"]),
    {
      flags: 0x200000 | 0x800,
      data: "",
      propagation: MS.MS_SLAVE | MS.MS_REC,
    },
  );
});

Deno.test("mount plan: OCI rootfsPropagation applies to / after the pivot", () => {
  const s = spec();
  s.linux.rootfsPropagation = "shared";
  const ops = planMounts(s);
  const pivot = ops.findIndex((o) => o.op === "pivot");
  assert.deepEqual(ops.at(-1), { op: "root-propagation", flags: 0x100000 });
  assert.ok(pivot < ops.length - 1);
});

Deno.test("mount plan: private /, rootfs bind, /proc, /dev with nodes, /sys ro, pivot", () => {
  const ops = planMounts(spec());
  assert.deepEqual(ops[0], { op: "make-private" });
  assert.deepEqual(ops[1], { op: "bind-root", root: "/r", nodev: true });
  const kinds = ops.map((o) => o.op + ("dest" in o ? " " + o.dest : ""));
  // Device nodes sit on /dev's tmpfs, before devpts is mounted on /dev/pts.
  assert.ok(kinds.indexOf("mknod /dev/null") > kinds.indexOf("mount /dev"));
  assert.ok(kinds.indexOf("mknod /dev/tty") < kinds.indexOf("mount /dev/pts"));
  assert.equal(ops.at(-1)!.op, "pivot");
  const sys = ops.find((o) => o.op === "mount" && o.dest === "/sys");
  assert.ok(sys && sys.op === "mount" && (sys.flags & MS.MS_RDONLY) !== 0);
});

Deno.test("mount plan: read-only root remounts / after the pivot", () => {
  const s = spec();
  s.root.readonly = true;
  assert.equal(planMounts(s).at(-1)!.op, "readonly-root");
});

Deno.test("apply: the exact syscall sequence on the fake", () => {
  const sys = new RecordingSys();
  applyMounts(sys, planMounts(spec()), joined(sys));
  const c = sys.calls;
  assert.equal(c[0], "mount none / - MS_REC|MS_PRIVATE");
  assert.equal(c[1], "mount /r /r - MS_BIND|MS_REC");
  assert.ok(c.includes("mount proc /r/proc proc MS_NOSUID|MS_NODEV|MS_NOEXEC"));
  assert.ok(c.includes("mknod /r/dev/null 020666 1:3"));
  assert.equal(
    c[c.indexOf("mknod /r/dev/null 020666 1:3") - 1],
    "mkdir /r/dev",
  );
  assert.ok(c.includes("symlink /r/dev/ptmx -> pts/ptmx"));
  assert.deepEqual(c.slice(-4), [
    "chdir /r",
    "pivot_root . .",
    "umount . 2",
    "chdir /",
  ]);
});

Deno.test("apply: bind mounts make a file or directory target and remount read-only", () => {
  const sys = new RecordingSys();
  sys.files.set("/host/file", "file");
  sys.files.set("/host/dir", "dir");
  applyMounts(
    sys,
    [
      { op: "bind-root", root: "/r" },
      {
        op: "bind",
        dest: "/f",
        source: "/host/file",
        flags: MS.MS_BIND,
        readonly: true,
      },
      {
        op: "bind",
        dest: "/d",
        source: "/host/dir",
        flags: MS.MS_BIND | MS.MS_REC,
        readonly: false,
      },
    ],
    joined(sys),
    () => "",
  );
  assert.deepEqual(sys.calls.slice(1), [
    "mkdir /r",
    "touch /r/f",
    "mount /host/file /r/f - MS_BIND",
    "mount none /r/f - MS_RDONLY|MS_REMOUNT|MS_BIND",
    "mkdir /r/d",
    "mount /host/dir /r/d - MS_BIND|MS_REC",
  ]);
});

Deno.test("apply: read-only remounts keep the mount's locked nosuid/nodev/noexec/atime flags", () => {
  const sys = new RecordingSys();
  sys.files.set("/host/dir", "dir");
  // What the init sees after binding: /r on a nosuid,nodev tmpfs, /r/d from a noexec one.
  const mountinfo = [
    "40 1 0:30 / / rw,relatime - ext4 /dev/vda rw",
    "50 40 0:31 / /r rw,nosuid,nodev,noatime - tmpfs tmpfs rw",
    "51 50 0:32 / /r/d rw,noexec,relatime - tmpfs tmpfs rw",
  ].join("\n");
  applyMounts(
    sys,
    [
      { op: "bind-root", root: "/r" },
      {
        op: "bind",
        dest: "/d",
        source: "/host/dir",
        flags: MS.MS_BIND | MS.MS_REC,
        readonly: true,
      },
      { op: "pivot", root: "/r" },
      { op: "readonly-root" },
    ],
    joined(sys),
    () => mountinfo,
  );
  assert.ok(
    sys.calls.includes(
      "mount none /r/d - MS_RDONLY|MS_NOEXEC|MS_REMOUNT|MS_BIND|MS_REC|0x200000",
    ),
    sys.calls.join("\n"),
  );
  // After the pivot "/" is matched against the mountinfo as given.
  assert.equal(
    sys.calls.at(-1),
    "mount none / - MS_RDONLY|MS_REMOUNT|MS_BIND|0x200000",
  );
});

Deno.test("apply: a failing mount stops the sequence with the syscall error", () => {
  const sys = new RecordingSys();
  sys.failOn = [{ prefix: "mount proc", code: "EPERM" }];
  assert.throws(
    () => applyMounts(sys, planMounts(spec()), joined(sys)),
    (e: unknown) => e instanceof SysError && e.code === "EPERM",
  );
  assert.ok(!sys.calls.some((c) => c.startsWith("pivot_root")));
});

Deno.test("namespaces: the launcher unshares all but cgroup (the init's own)", () => {
  const ns = planNamespaces(spec().linux.namespaces);
  assert.deepEqual(ns.files, ["mnt", "uts", "ipc", "net", "pid_for_children"]);
  const s = spec();
  s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== "network");
  assert.ok(!planNamespaces(s.linux.namespaces).files.includes("net"));
});

Deno.test("mount plan: a user's bind at /dev or /sys replaces tinyc's there", () => {
  const s = spec();
  s.mounts.push({
    destination: "/dev",
    type: "bind",
    source: "/host/dev",
    options: ["rbind"],
  });
  const ops = planMounts(s);
  const devOps = ops.filter((o) =>
    "dest" in o && (o.dest === "/dev" || o.dest.startsWith("/dev/"))
  );
  assert.deepEqual(devOps.map((o) => o.op), ["bind"]);
  const s2 = spec();
  s2.mounts.push({
    destination: "/sys",
    type: "bind",
    source: "/host/sys",
    options: ["rbind"],
  });
  assert.ok(!planMounts(s2).some((o) => o.op === "mount" && o.dest === "/sys"));
});

Deno.test("apply: nodev rootfs and restricted binds are remounted with the flags", () => {
  const sys = new RecordingSys();
  sys.files.set("/host/dir", "dir");
  applyMounts(
    sys,
    [
      { op: "bind-root", root: "/r", nodev: true },
      {
        op: "bind",
        dest: "/d",
        source: "/host/dir",
        flags: MS.MS_BIND,
        readonly: false,
        restrict: MS.MS_NODEV,
      },
    ],
    joined(sys),
    () => "",
  );
  assert.ok(
    sys.calls.includes("mount none /r - MS_NODEV|MS_REMOUNT|MS_BIND"),
    sys.calls.join("\n"),
  );
  assert.ok(
    sys.calls.includes("mount none /r/d - MS_NODEV|MS_REMOUNT|MS_BIND"),
    sys.calls.join("\n"),
  );
});

Deno.test("mount plan: the workdir is made before the pivot (a read-only root still gets it)", () => {
  const s = spec("/r", ["--read-only", "-w", "/new/dir", "--tmpfs", "/new"]);
  const ops = planMounts(s).map((o) =>
    o.op + ("dest" in o ? " " + o.dest : "")
  );
  assert.ok(ops.indexOf("workdir /new/dir") > ops.indexOf("mount /new"));
  assert.ok(ops.indexOf("workdir /new/dir") < ops.indexOf("pivot"));
  assert.equal(ops.at(-1), "readonly-root");
  assert.equal(planMounts(spec()).some((o) => o.op === "workdir"), false);
});

Deno.test("apply: proc on a symlinked /proc is refused, naming /proc and the link", () => {
  const sys = new RecordingSys();
  const root = sysMountRoot(sys, "/r");
  const withLink = (_: string) => ({
    ...root,
    lstat: (dest: string) =>
      dest === "/proc" ? { kind: "symlink" as const, link: "/dev" } : null,
  });
  assert.throws(
    () => applyMounts(sys, planMounts(spec()), withLink),
    (e: unknown) =>
      e instanceof Error &&
      e.message ===
        "mount point /proc: a symlink (to /dev) in the rootfs; proc must be mounted on a directory",
  );
  assert.equal(sys.calls.some((c) => c.includes("proc")), false);
});
