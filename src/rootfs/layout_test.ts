import assert from "node:assert/strict";
import { join } from "node:path";
import { applyLayout, copyIntoRoot, planBaseLayout } from "./layout.ts";
import { TinycError } from "../errors.ts";

async function withTemp(fn: (dir: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_layout_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("planBaseLayout: mount points, sticky /tmp, /etc files kept if edited", () => {
  const ops = planBaseLayout({ shell: "/bin/ts" });
  const dirs = ops.filter((o) => o.kind === "dir").map((o) => o.path);
  assert.deepEqual(dirs, ["/proc", "/sys", "/dev", "/etc", "/root", "/tmp"]);
  const files = ops.filter((o) => o.kind === "file");
  assert.deepEqual(files.map((f) => f.path), [
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
  ]);
  assert.ok(files.every((f) => f.kind === "file" && f.keep));
  const passwd = files[0];
  assert.ok(passwd.kind === "file");
  assert.match(passwd.content, /^root:x:0:0:root:\/root:\/bin\/ts$/m);
});

Deno.test("applyLayout: modes are exact despite the umask, and rerunning is fine", async () => {
  await withTemp((root) => {
    const ops = [
      { kind: "dir", path: "/tmp", mode: 0o1777 },
      { kind: "dir", path: "/a/b", mode: 0o700 },
      { kind: "file", path: "/a/b/f", content: "hi", mode: 0o640 },
      { kind: "symlink", path: "/l", target: "a/b/f" },
    ] as const;
    applyLayout(root, ops);
    applyLayout(root, ops);
    assert.equal(Deno.statSync(join(root, "tmp")).mode! & 0o7777, 0o1777);
    assert.equal(Deno.statSync(join(root, "a/b")).mode! & 0o7777, 0o700);
    assert.equal(Deno.statSync(join(root, "a/b/f")).mode! & 0o7777, 0o640);
    assert.equal(Deno.readTextFileSync(join(root, "l")), "hi");
    assert.deepEqual(
      [...Deno.readDirSync(join(root, "a/b"))].map((e) => e.name),
      ["f"],
      "no temporary files left behind",
    );
  });
});

Deno.test("applyLayout: symlinks are re-pointed, a file where a link goes is kept", async () => {
  await withTemp((root) => {
    Deno.writeTextFileSync(join(root, "ls"), "the user's own ls");
    Deno.symlinkSync("elsewhere", join(root, "sh"));
    Deno.writeTextFileSync(join(root, "kept"), "mine");
    Deno.writeTextFileSync(join(root, "replaced"), "mine");
    applyLayout(root, [
      { kind: "symlink", path: "/sh", target: "busybox" },
      { kind: "symlink", path: "/ls", target: "busybox" },
      { kind: "file", path: "/kept", content: "new", mode: 0o644, keep: true },
      { kind: "file", path: "/replaced", content: "new", mode: 0o644 },
    ]);
    assert.equal(Deno.readLinkSync(join(root, "sh")), "busybox");
    assert.equal(Deno.readTextFileSync(join(root, "ls")), "the user's own ls");
    assert.equal(Deno.readTextFileSync(join(root, "kept")), "mine");
    assert.equal(Deno.readTextFileSync(join(root, "replaced")), "new");
  });
});

Deno.test("applyLayout: a directory in the way is an error naming the path", async () => {
  await withTemp((root) => {
    Deno.mkdirSync(join(root, "etc/passwd"), { recursive: true });
    assert.throws(
      () =>
        applyLayout(root, [
          { kind: "file", path: "/etc/passwd", content: "", mode: 0o644 },
        ]),
      (e: unknown) =>
        e instanceof TinycError && e.message.includes("/etc/passwd") &&
        /directory is in the way/.test(e.message),
    );
    Deno.writeTextFileSync(join(root, "tmp"), "");
    assert.throws(
      () => applyLayout(root, [{ kind: "dir", path: "/tmp", mode: 0o1777 }]),
      (e: unknown) =>
        e instanceof TinycError && /not a directory/.test(e.message),
    );
  });
});

Deno.test("copyIntoRoot: keeps the mode, and copying a file onto itself is a no-op", async () => {
  await withTemp((dir) => {
    const src = join(dir, "prog");
    Deno.writeTextFileSync(src, "#!/bin/sh\necho hi\n");
    Deno.chmodSync(src, 0o751);
    const root = join(dir, "root");
    Deno.mkdirSync(root);
    assert.equal(copyIntoRoot(root, src, "/usr/bin/prog"), "/usr/bin/prog");
    assert.equal(
      Deno.statSync(join(root, "usr/bin/prog")).mode! & 0o777,
      0o751,
    );
    // root = dir: the destination is the source itself.
    assert.equal(copyIntoRoot(dir, src, "/prog"), "/prog");
    assert.equal(Deno.readTextFileSync(src), "#!/bin/sh\necho hi\n");
  });
});

Deno.test("copyIntoRoot: a foreign symlink at the destination is replaced, not written through", async () => {
  await withTemp((dir) => {
    const host = join(dir, "host"), root = join(dir, "root");
    Deno.mkdirSync(join(host, "usr/bin"), { recursive: true });
    Deno.writeTextFileSync(join(host, "usr/bin/env"), "gnu env");
    Deno.mkdirSync(join(root, "usr/bin"), { recursive: true });
    Deno.mkdirSync(join(root, "bin"));
    Deno.writeTextFileSync(join(root, "bin/busybox"), "busybox");
    Deno.symlinkSync("../../bin/busybox", join(root, "usr/bin/env"));

    const at = copyIntoRoot(
      root,
      join(host, "usr/bin/env"),
      "/usr/bin/env",
      { mirror: host },
    );
    assert.equal(at, "/usr/bin/env");
    assert.equal(Deno.readTextFileSync(join(root, "bin/busybox")), "busybox");
    assert.ok(Deno.lstatSync(join(root, "usr/bin/env")).isFile);
    assert.equal(Deno.readTextFileSync(join(root, "usr/bin/env")), "gnu env");
  });
});

Deno.test("copyIntoRoot: the host's symlinks are mirrored and followed on the next run", async () => {
  await withTemp((dir) => {
    const host = join(dir, "host"), root = join(dir, "root");
    Deno.mkdirSync(join(host, "usr/lib/x"), { recursive: true });
    Deno.mkdirSync(join(host, "lib64"));
    Deno.symlinkSync("usr/lib", join(host, "lib"));
    Deno.writeTextFileSync(join(host, "usr/lib/x/ld.so"), "loader v1");
    Deno.symlinkSync("/lib/x/ld.so", join(host, "lib64/ld.so"));
    Deno.mkdirSync(root);

    // The fake host's absolute link would resolve on the real host: copy from the real file.
    const src = join(host, "usr/lib/x/ld.so");
    assert.equal(
      copyIntoRoot(root, src, "/lib64/ld.so", { mirror: host }),
      "/usr/lib/x/ld.so",
    );
    Deno.writeTextFileSync(join(host, "usr/lib/x/ld.so"), "loader v2");
    assert.equal(
      copyIntoRoot(root, src, "/lib64/ld.so", { mirror: host }),
      "/usr/lib/x/ld.so",
    );
    assert.equal(Deno.readLinkSync(join(root, "lib64/ld.so")), "/lib/x/ld.so");
    assert.equal(
      Deno.readTextFileSync(join(root, "usr/lib/x/ld.so")),
      "loader v2",
    );
  });
});

Deno.test("copyIntoRoot: mirrorLast false installs under a name the host uses differently", async () => {
  await withTemp((dir) => {
    const host = join(dir, "host"), root = join(dir, "root");
    Deno.mkdirSync(join(host, "bin"), { recursive: true });
    Deno.symlinkSync("../opt/deno", join(host, "bin/deno"));
    Deno.mkdirSync(root);
    const src = join(dir, "deno-binary");
    Deno.writeTextFileSync(src, "ELF");
    const opts = { mirror: host, mirrorLast: false };
    assert.equal(copyIntoRoot(root, src, "/bin/deno", opts), "/bin/deno");
    assert.ok(Deno.lstatSync(join(root, "bin/deno")).isFile);
  });
});
