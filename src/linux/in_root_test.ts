import assert from "node:assert/strict";
import { openRoot } from "./in_root.ts";
import { SysError, TinycError } from "../errors.ts";

/** Each test runs with openat2 and with the fallback walk. */
function both(
  name: string,
  fn: (root: ReturnType<typeof openRoot>, dir: string, out: string) => void,
) {
  for (const forceWalk of [false, true]) {
    Deno.test(`in_root (${forceWalk ? "walk" : "openat2"}): ${name}`, () => {
      const base = Deno.makeTempDirSync({ prefix: "tinyc_in_root_" });
      const dir = `${base}/root`, out = `${base}/outside`;
      Deno.mkdirSync(dir);
      Deno.mkdirSync(out);
      const root = openRoot(dir, { forceWalk });
      try {
        fn(root, dir, out);
      } finally {
        root.close();
        Deno.removeSync(base, { recursive: true });
      }
    });
  }
}

const text = (s: string) => new TextEncoder().encode(s);
const ls = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();

both("absolute symlinks and .. resolve inside the root", (root, dir, out) => {
  Deno.mkdirSync(`${dir}/etc`);
  Deno.writeTextFileSync(`${dir}/etc/passwd`, "inside\n");
  Deno.writeTextFileSync(`${out}/passwd`, "host\n");
  Deno.symlinkSync(out, `${dir}/hostdir`); // absolute: means ROOT/<out>
  Deno.symlinkSync("../../../../etc", `${dir}/up`);
  assert.equal(root.readTextBounded("/up/passwd", 100), "inside\n");
  assert.equal(root.readTextBounded("/../../etc/passwd", 100), "inside\n");
  assert.equal(root.readTextBounded("/hostdir/passwd", 100), null);
  assert.equal(root.stat("/up")?.type, "dir");
  assert.equal(root.lstat("/up")?.type, "symlink");
  assert.equal(root.readlink("/up"), "../../../../etc");
  assert.equal(root.stat("/nothing"), null);
});

both(
  "writeFileAtomic replaces a planted symlink, never writes through it",
  (root, dir, out) => {
    Deno.mkdirSync(`${dir}/bin`);
    Deno.writeTextFileSync(`${out}/victim`, "precious");
    Deno.symlinkSync(`${out}/victim`, `${dir}/bin/bash`);
    root.writeFileAtomic("/bin/bash", text("bash"), 0o755);
    assert.equal(Deno.readTextFileSync(`${out}/victim`), "precious");
    assert.equal(Deno.readTextFileSync(`${dir}/bin/bash`), "bash");
    assert.equal(Deno.lstatSync(`${dir}/bin/bash`).mode! & 0o7777, 0o755);
    assert.deepEqual(ls(`${dir}/bin`), ["bash"]); // no temporary left
  },
);

both(
  "a symlinked parent directory is followed inside the root",
  (root, dir, out) => {
    Deno.symlinkSync(out, `${dir}/lib`); // /lib -> <out>, i.e. ROOT/<out>
    assert.throws(
      () => root.writeFileAtomic("/lib/libc.so.6", text("x"), 0o644),
      (e) => e instanceof SysError && e.code === "ENOENT",
    );
    root.mkdirAll(out); // the link's target, inside the root
    root.writeFileAtomic("/lib/libc.so.6", text("x"), 0o644);
    assert.deepEqual(ls(out), []);
    assert.equal(Deno.readTextFileSync(`${dir}${out}/libc.so.6`), "x");
  },
);

both("copies a host file, streaming", (root, dir, out) => {
  Deno.writeTextFileSync(`${out}/src`, "y".repeat(3 << 20));
  root.writeFileAtomic("/copy", { source: `${out}/src` }, 0o600);
  assert.equal(Deno.statSync(`${dir}/copy`).size, 3 << 20);
});

both("a directory in the way of a file is an error", (root, dir) => {
  Deno.mkdirSync(`${dir}/d`);
  assert.throws(
    () => root.writeFileAtomic("/d", text("x"), 0o644),
    /a directory is in the way/,
  );
  assert.deepEqual(ls(dir), ["d"]);
});

both(
  "mkdirAll follows symlinks inside and reports what it made",
  (root, dir, out) => {
    Deno.symlinkSync("/usr/lib", `${dir}/lib`);
    assert.deepEqual(root.mkdirAll("/usr/lib/x86_64"), [
      "/usr",
      "/usr/lib",
      "/usr/lib/x86_64",
    ]);
    assert.deepEqual(root.mkdirAll("/lib/x86_64/sub"), ["/lib/x86_64/sub"]);
    assert.ok(Deno.statSync(`${dir}/usr/lib/x86_64/sub`).isDirectory);
    // A dangling absolute symlink (a host path seen from the host) gets its
    // target made inside the root, never on the host.
    Deno.symlinkSync(out, `${dir}/dangling`);
    root.mkdirAll("/dangling/x");
    assert.deepEqual(ls(out), []);
    assert.ok(Deno.statSync(`${dir}${out}/x`).isDirectory);
    Deno.symlinkSync("loop", `${dir}/loop`);
    assert.throws(
      () => root.mkdirAll("/loop/x"),
      (e) => e instanceof SysError && e.code === "ELOOP",
    );
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(
      () => root.mkdirAll("/file/x"),
      (e) => e instanceof SysError && e.code === "ENOTDIR",
    );
  },
);

both("symlink loops end with ELOOP", (root, dir) => {
  Deno.symlinkSync("b", `${dir}/a`);
  Deno.symlinkSync("a", `${dir}/b`);
  assert.throws(
    () => root.stat("/a/x"),
    (e) => e instanceof SysError && e.code === "ELOOP",
  );
});

both(
  "remove takes the symlink, not its target; only empty dirs",
  (root, dir, out) => {
    Deno.writeTextFileSync(`${out}/keep`, "k");
    Deno.symlinkSync(`${out}/keep`, `${dir}/link`);
    assert.equal(root.remove("/link"), true);
    assert.equal(Deno.readTextFileSync(`${out}/keep`), "k");
    assert.equal(root.remove("/link"), false);
    Deno.mkdirSync(`${dir}/d/e`, { recursive: true });
    assert.throws(
      () => root.remove("/d"),
      (e) => e instanceof SysError && e.code === "ENOTEMPTY",
    );
    assert.equal(root.remove("/d/e"), true);
  },
);

both("createFile and replaceWithSymlink", (root, dir, out) => {
  Deno.symlinkSync(`${out}/new`, `${dir}/f`);
  // A dangling symlink is "something there": never created through.
  assert.equal(root.createFile("/f"), false);
  assert.deepEqual(ls(out), []);
  assert.equal(root.createFile("/g"), true);
  assert.equal(root.createFile("/g"), false);
  root.replaceWithSymlink("/g", "busybox");
  assert.equal(Deno.readLinkSync(`${dir}/g`), "busybox");
  assert.deepEqual(ls(dir), ["f", "g"]);
});

both("readFileBounded refuses a FIFO without blocking", (root, dir) => {
  Deno.mkdirSync(`${dir}/etc`);
  const mk = new Deno.Command("mkfifo", { args: [`${dir}/etc/passwd`] })
    .outputSync();
  assert.ok(mk.success);
  assert.throws(
    () => root.readFileBounded("/etc/passwd", 1 << 20),
    (e) => e instanceof TinycError && /not a regular file/.test(e.message),
  );
});

both(
  "readFileBounded refuses directories and caps the size (sparse 3 GB)",
  (root, dir) => {
    Deno.mkdirSync(`${dir}/etc/group`, { recursive: true });
    assert.throws(
      () => root.readFileBounded("/etc/group", 10),
      /not a regular/,
    );
    const f = Deno.openSync(`${dir}/etc/passwd`, { write: true, create: true });
    f.truncateSync(3 * 2 ** 30);
    f.close();
    assert.throws(
      () => root.readFileBounded("/etc/passwd", 1 << 20),
      /larger than 1048576 bytes/,
    );
    Deno.writeTextFileSync(`${dir}/small`, "12345");
    assert.throws(() => root.readFileBounded("/small", 4), /larger than 4/);
    assert.equal(root.readTextBounded("/small", 5), "12345");
  },
);

Deno.test("in_root: a device node is refused, never opened", () => {
  if (Deno.uid() !== 0) {
    console.log("in_root device test: skipped, mknod needs root");
    return;
  }
  const dir = Deno.makeTempDirSync({ prefix: "tinyc_in_root_" });
  const root = openRoot(dir);
  try {
    root.mknod("/dev-null", 0o020666, 1, 3);
    assert.equal(root.lstat("/dev-null")?.type, "char");
    assert.throws(() => root.readFileBounded("/dev-null", 10), /not a regular/);
  } finally {
    root.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("in_root: openRoot of a missing or non-directory path", () => {
  assert.throws(() => openRoot("/nonexistent-tinyc"), /no such directory/);
  const f = Deno.makeTempFileSync();
  try {
    assert.throws(() => openRoot(f), /not a directory/);
  } finally {
    Deno.removeSync(f);
  }
});
