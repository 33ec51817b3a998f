import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkRemovable,
  claimForAdd,
  claimForBuild,
  isTinycRootfs,
  reachableByOthers,
  reachableWarning,
  ROOTFS_MARKER,
} from "./guard.ts";
import { removeRootfs, rootlessRemoveArgv } from "./remove.ts";
import { TinycError } from "../errors.ts";

async function withTemp(fn: (dir: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_guard_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const isRefusal = (re: RegExp) => (e: unknown) =>
  e instanceof TinycError && e.exitCode === 125 && re.test(e.message) &&
  !e.message.includes("\n");

Deno.test("claimForBuild: refuses a directory holding something else (usr/bin + bin -> usr/bin)", async () => {
  await withTemp((tmp) => {
    const dir = join(tmp, "distro");
    Deno.mkdirSync(join(dir, "usr/bin"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "usr/bin/ls"), "real ls");
    Deno.symlinkSync("usr/bin", join(dir, "bin"));
    assert.throws(
      () => claimForBuild(dir),
      isRefusal(/not empty and not a tinyc rootfs/),
    );
    assert.equal(Deno.readTextFileSync(join(dir, "usr/bin/ls")), "real ls");
    assert.throws(() => Deno.lstatSync(join(dir, ROOTFS_MARKER)));
  });
});

Deno.test("claimForBuild: refuses / and files; accepts new, empty and marked directories", async () => {
  await withTemp((tmp) => {
    assert.throws(() => claimForBuild("/"), isRefusal(/host's \//));
    assert.throws(() => claimForBuild("/usr/.."), isRefusal(/host's \//));
    Deno.writeTextFileSync(join(tmp, "f"), "");
    assert.throws(() => claimForBuild(join(tmp, "f")), /not a directory/);

    const fresh = join(tmp, "a/b");
    assert.equal(claimForBuild(fresh), true);
    assert.equal(Deno.statSync(fresh).mode! & 0o777, 0o755);
    assert.ok(isTinycRootfs(fresh));
    Deno.writeTextFileSync(join(fresh, "something"), "");
    assert.equal(claimForBuild(fresh), false); // marked: fine again

    const empty = join(tmp, "empty");
    Deno.mkdirSync(empty);
    assert.equal(claimForBuild(empty), false);
    assert.ok(Deno.lstatSync(join(empty, ROOTFS_MARKER)).isFile);
  });
});

Deno.test("claimForBuild: a busybox rootfs from before the marker is recognised", async () => {
  await withTemp((dir) => {
    Deno.mkdirSync(join(dir, "bin"));
    Deno.mkdirSync(join(dir, "etc"));
    Deno.writeTextFileSync(join(dir, "bin/busybox"), "");
    Deno.writeTextFileSync(join(dir, "etc/passwd"), "");
    claimForBuild(dir);
    assert.ok(Deno.lstatSync(join(dir, ROOTFS_MARKER)).isFile);
  });
});

Deno.test("claimForAdd: any directory but /; marks only new or empty ones", async () => {
  await withTemp((tmp) => {
    assert.throws(() => claimForAdd("/"), isRefusal(/host's \//));
    Deno.mkdirSync(join(tmp, "debian/usr"), { recursive: true });
    claimForAdd(join(tmp, "debian"));
    assert.equal(isTinycRootfs(join(tmp, "debian")), false);
    claimForAdd(join(tmp, "new"));
    assert.equal(isTinycRootfs(join(tmp, "new")), true);
  });
});

Deno.test("reachableByOthers: any directory on the way without o+x protects", () => {
  const modes: Record<string, number> = {
    "/": 0o755,
    "/home": 0o755,
    "/home/u": 0o755,
    "/home/u/r": 0o755,
  };
  const modeOf = (p: string) => modes[p];
  assert.equal(reachableByOthers("/home/u/r", modeOf), "/home/u");
  assert.match(
    reachableWarning("/home/u/r", modeOf)!,
    /chmod o-x \/home\/u\)$/,
  );
  modes["/home/u"] = 0o750;
  assert.equal(reachableByOthers("/home/u/r", modeOf), null);
  assert.equal(reachableWarning("/home/u/r", modeOf), null);
  modes["/home/u"] = 0o710; // docker's 0710: the group, never others
  assert.equal(reachableByOthers("/home/u/r", modeOf), null);
  modes["/home/u"] = 0o755;
  modes["/home/u/r"] = 0o700;
  assert.equal(reachableByOthers("/home/u/r", modeOf), null);
});

Deno.test("rootfs rm: refuses / and directories that are no tinyc rootfs", async () => {
  await withTemp(async (tmp) => {
    await assert.rejects(() => removeRootfs("/"), isRefusal(/host's \//));
    Deno.mkdirSync(join(tmp, "data"));
    Deno.writeTextFileSync(join(tmp, "data/x"), "keep");
    await assert.rejects(
      () => removeRootfs(join(tmp, "data")),
      isRefusal(/not a tinyc rootfs/),
    );
    assert.equal(Deno.readTextFileSync(join(tmp, "data/x")), "keep");
    assert.throws(() => checkRemovable(join(tmp, "nope")), /no such directory/);
  });
});

Deno.test("rootfs rm: removes a tinyc rootfs without following its symlinks", async () => {
  if (Deno.uid() !== 0) {
    console.log("rootfs rm as root: skipped (the rootless path is in tests/)");
    return;
  }
  await withTemp(async (tmp) => {
    const dir = join(tmp, "r"), outside = join(tmp, "outside");
    Deno.mkdirSync(outside);
    Deno.writeTextFileSync(join(outside, "keep"), "k");
    claimForBuild(dir);
    Deno.symlinkSync(outside, join(dir, "link"));
    Deno.symlinkSync("/", join(dir, "hostroot"));
    await removeRootfs(dir);
    assert.throws(() => Deno.lstatSync(dir));
    assert.equal(Deno.readTextFileSync(join(outside, "keep")), "k");
  });
});

Deno.test("rootfs rm: rootless removal runs rm in the containers' user namespace", () => {
  let asked: string[] = [];
  const argv = rootlessRemoveArgv("/home/u/r", (a) => {
    asked = a;
    return { argv: ["unshare", "--user", "--map-root-user", "--", ...a, "X"] };
  });
  assert.deepEqual(asked.slice(-2), ["sh", "/home/u/r"]);
  assert.equal(argv[0], "unshare");
  assert.match(asked[2], /rm -rf --one-file-system -- "\$1"/);
});
