import assert from "node:assert/strict";
import { join } from "node:path";
import { walkInRoot, type WalkOptions } from "./mirror.ts";
import { withRoot } from "../linux/in_root.ts";

const resolveInRoot = (root: string, path: string, opts?: WalkOptions) =>
  withRoot(root, (r) => walkInRoot(r, path, opts));
import { TinycError } from "../errors.ts";

function withTemp(fn: (dir: string) => void): () => void {
  return () => {
    const dir = Deno.makeTempDirSync({ prefix: "tinyc_in_root_" });
    try {
      fn(dir);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  };
}

Deno.test(
  "walkInRoot: absolute symlinks resolve inside the root, not on the host",
  withTemp((root) => {
    Deno.mkdirSync(join(root, "inner"));
    Deno.symlinkSync("/inner", join(root, "etc"));
    const r = resolveInRoot(root, "/etc/passwd");
    assert.equal(r.path, "/inner/passwd");
    assert.equal(r.stat, null);
  }),
);

Deno.test(
  "walkInRoot: relative symlinks and .. stop at the root",
  withTemp((root) => {
    Deno.mkdirSync(join(root, "usr/bin"), { recursive: true });
    Deno.symlinkSync("usr/bin", join(root, "bin"));
    Deno.symlinkSync("../../../../usr", join(root, "usr/bin/up"));
    assert.equal(resolveInRoot(root, "/bin/x").path, "/usr/bin/x");
    assert.equal(resolveInRoot(root, "/bin/up/bin").path, "/usr/bin");
    assert.equal(resolveInRoot(root, "/../../etc").path, "/etc");
    assert.equal(resolveInRoot(root, "/").path, "/");
  }),
);

Deno.test(
  "walkInRoot: missing directories fail unless create is set",
  withTemp((root) => {
    assert.throws(
      () => resolveInRoot(root, "/a/b/c"),
      (e: unknown) =>
        e instanceof TinycError && /\/a does not exist/.test(e.message),
    );
    const r = resolveInRoot(root, "/a/b/c", { create: true });
    assert.equal(r.path, "/a/b/c");
    assert.ok(Deno.statSync(join(root, "a/b")).isDirectory);
    assert.equal(r.stat, null);
  }),
);

Deno.test(
  "walkInRoot: a file in the middle of a path is not a directory",
  withTemp((root) => {
    Deno.writeTextFileSync(join(root, "f"), "x");
    assert.throws(
      () => resolveInRoot(root, "/f/g", { create: true }),
      (e: unknown) =>
        e instanceof TinycError && /\/f is not a directory/.test(e.message),
    );
  }),
);

Deno.test(
  "walkInRoot: symlink loops end with an error",
  withTemp((root) => {
    Deno.symlinkSync("/b", join(root, "a"));
    Deno.symlinkSync("/a", join(root, "b"));
    assert.throws(
      () => resolveInRoot(root, "/a/x"),
      (e: unknown) =>
        e instanceof TinycError && /too many levels/.test(e.message),
    );
  }),
);

Deno.test(
  "walkInRoot: noFollowLast stops at the symlink itself",
  withTemp((root) => {
    Deno.symlinkSync("busybox", join(root, "sh"));
    const r = resolveInRoot(root, "/sh", { noFollowLast: true });
    assert.equal(r.path, "/sh");
    assert.equal(r.stat?.type, "symlink");
    assert.equal(resolveInRoot(root, "/sh").path, "/busybox");
  }),
);

Deno.test(
  "walkInRoot: mirror copies the host's symlinks for missing parts",
  withTemp((tmp) => {
    // A merged-/usr host: /lib -> usr/lib, /lib64/ld.so -> /lib/x/ld.so.
    const host = join(tmp, "host"), root = join(tmp, "root");
    Deno.mkdirSync(join(host, "usr/lib/x"), { recursive: true });
    Deno.mkdirSync(join(host, "lib64"));
    Deno.mkdirSync(root);
    Deno.symlinkSync("usr/lib", join(host, "lib"));
    Deno.writeTextFileSync(join(host, "usr/lib/x/ld.so"), "loader");
    Deno.symlinkSync("/lib/x/ld.so", join(host, "lib64/ld.so"));

    const r = resolveInRoot(root, "/lib64/ld.so", { mirror: host });
    assert.equal(r.path, "/usr/lib/x/ld.so");
    assert.equal(r.stat, null);
    assert.ok(Deno.lstatSync(join(root, "lib64")).isDirectory);
    assert.equal(Deno.readLinkSync(join(root, "lib64/ld.so")), "/lib/x/ld.so");
    assert.equal(Deno.readLinkSync(join(root, "lib")), "usr/lib");

    // An existing real directory in the root wins over the host's symlink.
    const root2 = join(tmp, "root2");
    Deno.mkdirSync(join(root2, "lib"), { recursive: true });
    const r2 = resolveInRoot(root2, "/lib/x/libc.so", { mirror: host });
    assert.equal(r2.path, "/lib/x/libc.so");
  }),
);
