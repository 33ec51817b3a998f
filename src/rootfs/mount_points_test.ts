import assert from "node:assert/strict";
import { join } from "node:path";
import {
  missingPaths,
  reclaimStaleMountPoints,
  removeIfEmpty,
  trackMountPoints,
} from "./mount_points.ts";
import { lockRootShared, withRoot } from "../linux/in_root.ts";
import { processStartTime } from "../engine/state.ts";

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
    // /data -> /srv, dangling: the init makes /srv/v (inside the root).
    assert.deepEqual(got, [
      "/etc/hosts",
      "/a",
      "/a/b",
      "/a/c",
      "/srv",
      "/srv/v",
    ]);
  });
});

Deno.test("missingPaths: through symlinks, where the mount point will be", async () => {
  await withTemp((dir) => {
    Deno.mkdirSync(join(dir, "run"));
    Deno.mkdirSync(join(dir, "var"));
    Deno.symlinkSync("/run", join(dir, "var/run")); // absolute
    Deno.symlinkSync("../run", join(dir, "var/rel")); // relative
    Deno.symlinkSync("../../../../run", join(dir, "up")); // clamped at the root
    Deno.symlinkSync("loop", join(dir, "loop"));
    Deno.writeTextFileSync(join(dir, "file"), "");
    Deno.symlinkSync("/file", join(dir, "tofile"));
    const got = withRoot(
      dir,
      (r) =>
        missingPaths(r, [
          "/var/run/foo",
          "/var/rel/wd/deep",
          "/up/x",
          "/loop/x",
          "/tofile/x",
          "/run",
        ]),
    );
    assert.deepEqual(got, ["/run/foo", "/run/wd", "/run/wd/deep", "/run/x"]);
  });
});

Deno.test("trackMountPoints: mount points made through a symlink are removed", async () => {
  await withTemp((dir) => {
    Deno.mkdirSync(join(dir, "run"));
    Deno.mkdirSync(join(dir, "var"));
    Deno.symlinkSync("/run", join(dir, "var/run"));
    const done = trackMountPoints(dir, {
      mounts: [{ destination: "/var/run/foo" }],
      cwd: "/var/run/wd",
    });
    Deno.mkdirSync(join(dir, "run/foo")); // the init made them
    Deno.mkdirSync(join(dir, "run/wd"));
    done();
    assert.deepEqual([...Deno.readDirSync(join(dir, "run"))], []);
    assert.ok(Deno.lstatSync(join(dir, "var/run")).isSymlink);
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

Deno.test("trackMountPoints: a record while the run lasts, kept when others hold the rootfs", async () => {
  await withTemp((dir) => {
    const root = join(dir, "root");
    const records = join(dir, "records");
    Deno.mkdirSync(root);
    const run = { mounts: [{ destination: "/vol" }] };
    const done = trackMountPoints(root, run, () => records);
    const [name] = [...Deno.readDirSync(records)].map((e) => e.name);
    assert.equal(name, `${Deno.pid}-${processStartTime(Deno.pid)}.json`);
    const rec = JSON.parse(Deno.readTextFileSync(join(records, name)));
    assert.deepEqual(rec.paths, ["/vol"]);
    assert.equal(rec.root, Deno.realPathSync(root));
    Deno.mkdirSync(join(root, "vol"));
    done();
    assert.deepEqual([...Deno.readDirSync(records)], []);
    assert.deepEqual([...Deno.readDirSync(root)], []);
    // Another run holds the rootfs: nothing removed, the record stays.
    const other = lockRootShared(root);
    const again = trackMountPoints(root, run, () => records);
    Deno.mkdirSync(join(root, "vol"));
    again();
    other.release();
    assert.ok(Deno.statSync(join(root, "vol")).isDirectory);
    assert.equal([...Deno.readDirSync(records)].length, 1);
  });
});

Deno.test("reclaimStaleMountPoints: a gone run's empty mount points, once the rootfs is free", async () => {
  await withTemp((dir) => {
    const root = join(dir, "root");
    const records = join(dir, "records");
    Deno.mkdirSync(join(root, "kv"), { recursive: true });
    Deno.mkdirSync(join(root, "kw/deep"), { recursive: true });
    Deno.mkdirSync(join(root, "kept"));
    Deno.writeTextFileSync(join(root, "kept/data"), "x");
    Deno.mkdirSync(records);
    const write = (name: string, rec: unknown) =>
      Deno.writeTextFileSync(join(records, name), JSON.stringify(rec));
    const paths = ["/kw", "/kw/deep", "/kept"];
    // No such process: its run is over.
    write("dead.json", { root, paths, pid: 999999999, start: "1" });
    // This process: its run goes on.
    const me = { pid: Deno.pid, start: processStartTime(Deno.pid) };
    write("alive.json", { root, paths: ["/kv"], ...me });
    write("junk.json", { root: "relative", paths: [], pid: 1, start: "" });
    write("noroot.json", { ...me, root: join(dir, "gone"), pid: 999999999 });
    // While another run holds the rootfs, nothing is touched.
    const other = lockRootShared(root);
    reclaimStaleMountPoints(records);
    other.release();
    assert.ok(Deno.statSync(join(root, "kw/deep")).isDirectory);
    const left = () => [...Deno.readDirSync(records)].map((e) => e.name).sort();
    assert.deepEqual(left(), ["alive.json", "dead.json"]);
    reclaimStaleMountPoints(records);
    assert.deepEqual(left(), ["alive.json"]);
    assert.deepEqual(
      [...Deno.readDirSync(root)].map((e) => e.name).sort(),
      ["kept", "kv"], // kept: not empty; kv: the living run's record
    );
    reclaimStaleMountPoints(join(dir, "none")); // no records yet: nothing to do
  });
});
