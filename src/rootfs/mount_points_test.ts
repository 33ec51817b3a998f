import assert from "node:assert/strict";
import { join } from "node:path";
import {
  missingPaths,
  removeIfEmpty,
  trackMountPoints,
} from "./mount_points.ts";
import { withRoot } from "../linux/in_root.ts";

async function withTemp(fn: (dir: string) => void) {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_mp_" });
  try {
    fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("missingPaths: each missing destination and parent, once", async () => {
  await withTemp((dir) => {
    Deno.mkdirSync(join(dir, "etc"));
    Deno.symlinkSync("/srv", join(dir, "data"));
    const got = withRoot(
      dir,
      (r) =>
        missingPaths(r, [
          "/etc/hosts",
          "/a/b",
          "/a/c",
          "/etc",
          "/x/../y",
          "/data/v",
        ]),
    );
    // /data is a symlink (not a directory): what lies beyond is not ours to track.
    assert.deepEqual(got, ["/etc/hosts", "/a", "/a/b", "/a/c"]);
  });
});

Deno.test("removeIfEmpty: deepest first, only empty directories and files", async () => {
  await withTemp((dir) => {
    Deno.mkdirSync(join(dir, "a/b"), { recursive: true });
    Deno.mkdirSync(join(dir, "kept"));
    Deno.writeTextFileSync(join(dir, "kept/out"), "x");
    Deno.writeTextFileSync(join(dir, "empty"), "");
    Deno.writeTextFileSync(join(dir, "full"), "data");
    withRoot(
      dir,
      (r) =>
        removeIfEmpty(r, ["/a", "/a/b", "/kept", "/empty", "/full", "/gone"]),
    );
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
      ["full", "kept"],
    );
  });
});

Deno.test("trackMountPoints: only the last run on a rootfs removes", async () => {
  await withTemp((dir) => {
    const run = { mounts: [{ destination: "/vol" }], cwd: "/work" };
    const first = trackMountPoints(dir, run);
    const second = trackMountPoints(dir, run);
    Deno.mkdirSync(join(dir, "vol")); // the inits made them
    Deno.mkdirSync(join(dir, "work"));
    first(); // the second still runs: its mount points stay
    assert.ok(Deno.statSync(join(dir, "vol")).isDirectory);
    second();
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});
