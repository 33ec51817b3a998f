/**
 * Host-side safety (issue #9): nothing a container plants in its rootfs
 * reaches the host through tinyc's own writes and reads, `tinyc rootfs`
 * builds only where it may, and runs leave no mount points behind.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { busyboxRoot, skipUnlessRoot, tinyc } from "./helpers.ts";
import { addBinaries } from "../src/rootfs/add.ts";
import { claimForBuild } from "../src/rootfs/guard.ts";

const ignore = skipUnlessRoot("tests/host_safety_test.ts");

/** A copy of the busybox rootfs in a directory other users cannot reach. */
async function rootfsCopy(): Promise<{ dir: string; root: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-safety-" });
  const root = join(dir, "root");
  const cp = await new Deno.Command("cp", {
    args: ["-a", await busyboxRoot(), root],
  }).output();
  assert.ok(cp.success);
  return { dir, root };
}

const ls = (d: string) => [...Deno.readDirSync(d)].map((e) => e.name).sort();

Deno.test("rootfs add writes nothing outside the rootfs: planted temp-name symlinks and /lib, /lib64, /usr/lib symlinked to host dirs", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-safety-" });
  try {
    const root = join(dir, "root");
    Deno.mkdirSync(join(root, "usr/bin"), { recursive: true });
    const victim = join(dir, "victim");
    Deno.writeTextFileSync(victim, "precious");
    const hostDirs = ["lib", "lib64", "usrlib"].map((n) => join(dir, n));
    hostDirs.forEach((d) => Deno.mkdirSync(d));
    // What a container can plant: the old temporary names as links to a
    // host file, and the library directories as links to host directories.
    for (const p of ["/usr/bin/getconf", "/bin/getconf"]) {
      Deno.mkdirSync(join(root, p, ".."), { recursive: true });
      Deno.symlinkSync(victim, join(root, `${p}.tinyc-tmp-${Deno.pid}`));
    }
    Deno.symlinkSync(hostDirs[0], join(root, "lib"));
    Deno.symlinkSync(hostDirs[1], join(root, "lib64"));
    Deno.symlinkSync(hostDirs[2], join(root, "usr/lib"));
    const written = await addBinaries(root, ["/usr/bin/getconf"]);
    assert.ok(written.length >= 2, written.join(" "));
    assert.equal(Deno.readTextFileSync(victim), "precious");
    for (const d of hostDirs) assert.deepEqual(ls(d), [], d);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tinyc rootfs refuses a directory holding something else, and /", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-safety-" });
  try {
    // The case: usr/bin/{ls,tar} and bin -> usr/bin.
    Deno.mkdirSync(join(dir, "usr/bin"), { recursive: true });
    Deno.writeTextFileSync(join(dir, "usr/bin/ls"), "real ls");
    Deno.writeTextFileSync(join(dir, "usr/bin/tar"), "real tar");
    Deno.symlinkSync("usr/bin", join(dir, "bin"));
    const r = await tinyc(["rootfs", dir]);
    assert.equal(r.code, 125);
    assert.match(
      r.stderr,
      /^tinyc: rootfs .*: not empty and not a tinyc rootfs/,
    );
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.equal(Deno.readTextFileSync(join(dir, "usr/bin/ls")), "real ls");
    assert.deepEqual(ls(join(dir, "usr/bin")), ["ls", "tar"]);
    for (const d of ["/", "/usr/.."]) {
      const slash = await tinyc(["rootfs", d]);
      assert.equal(slash.code, 125);
      assert.match(slash.stderr, /refusing to use the host's \//);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "a new rootfs in a directory others can reach: a one-line warning at build and at run",
  {
    ignore,
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "tinyc-safety-" });
    try {
      Deno.chmodSync(dir, 0o755); // /tmp and this: reachable by others
      const root = join(dir, "root");
      const built = await tinyc(["rootfs", root]);
      assert.equal(built.code, 0, built.stderr);
      assert.match(
        built.stderr,
        /^tinyc: warning: rootfs .* is reachable by other users/,
      );
      const r = await tinyc(["run", "--root", root, "--", "true"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /chmod o-x /);
      // Closing the parent silences it; the container's non-root users still
      // reach its / (0755 on the rootfs itself).
      Deno.chmodSync(dir, 0o700);
      const quiet = await tinyc([
        "run",
        "--root",
        root,
        "-u",
        "65534",
        "--",
        "/bin/sh",
        "-c",
        "id -u; ls /etc/passwd",
      ]);
      assert.equal(quiet.code, 0, quiet.stderr);
      assert.equal(quiet.stderr, "");
      assert.equal(quiet.stdout, "65534\n/etc/passwd\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "-u: a FIFO /etc/passwd is refused at once, a 3 GB sparse one by size",
  {
    ignore,
  },
  async () => {
    const { dir, root } = await rootfsCopy();
    try {
      Deno.removeSync(join(root, "etc/passwd"));
      const mk = await new Deno.Command("mkfifo", {
        args: [join(root, "etc/passwd")],
      }).output();
      assert.ok(mk.success);
      const fifo = await tinyc([
        "run",
        "--root",
        root,
        "-u",
        "nobody",
        "--",
        "true",
      ]);
      assert.equal(fifo.code, 125);
      assert.equal(
        fifo.stderr,
        "tinyc: rootfs /etc/passwd: not a regular file\n",
      );

      Deno.removeSync(join(root, "etc/passwd"));
      const f = Deno.openSync(join(root, "etc/passwd"), {
        write: true,
        create: true,
      });
      f.truncateSync(3 * 2 ** 30);
      f.close();
      const big = await tinyc([
        "run",
        "--root",
        root,
        "-u",
        "nobody",
        "--",
        "true",
      ]);
      assert.equal(big.code, 125);
      assert.match(
        big.stderr,
        /^tinyc: rootfs \/etc\/passwd: larger than 1048576 bytes/,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("runs leave no mount points behind; --read-only -w /newdir works", {
  ignore,
}, async () => {
  const { dir, root } = await rootfsCopy();
  try {
    const before = ls(root);
    const vol = join(dir, "vol");
    Deno.mkdirSync(vol);
    const file = join(dir, "file");
    Deno.writeTextFileSync(file, "f\n");
    const r = await tinyc([
      "run",
      "--root",
      root,
      "--read-only",
      "-w",
      "/newdir/sub",
      "-v",
      `${vol}:/data/vol`,
      "-v",
      `${file}:/etc/extra.conf:ro`,
      "--tmpfs",
      "/scratch",
      "--",
      "/bin/sh",
      "-c",
      "pwd; cat /etc/extra.conf",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "/newdir/sub\nf\n");
    assert.deepEqual(ls(root), before);
    assert.equal(ls(join(root, "etc")).includes("extra.conf"), false);
    // What the command left in a directory tinyc made stays.
    const w = await tinyc([
      "run",
      "--root",
      root,
      "-w",
      "/work",
      "--",
      "touch",
      "out",
    ]);
    assert.equal(w.code, 0, w.stderr);
    assert.deepEqual(ls(join(root, "work")), ["out"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "--network bridge leaves no empty /etc/hosts in a rootfs that had none",
  {
    ignore,
  },
  async () => {
    const { dir, root } = await rootfsCopy();
    try {
      Deno.removeSync(join(root, "etc/hosts"));
      const r = await tinyc([
        "run",
        "--root",
        root,
        "--network",
        "bridge",
        "--",
        "cat",
        "/etc/hosts",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /tinyhost/);
      assert.equal(ls(join(root, "etc")).includes("hosts"), false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "mount points are made inside the rootfs: -v onto a planted absolute symlink",
  {
    ignore,
  },
  async () => {
    const { dir, root } = await rootfsCopy();
    try {
      const victim = join(dir, "victim");
      Deno.mkdirSync(victim);
      const vol = join(dir, "vol");
      Deno.mkdirSync(vol);
      Deno.symlinkSync(victim, join(root, "data")); // a host path from the host
      Deno.symlinkSync(join(dir, "hosts-victim"), join(root, "etc/x.conf"));
      Deno.writeTextFileSync(join(dir, "conf"), "c\n");
      const r = await tinyc([
        "run",
        "--root",
        root,
        "-v",
        `${vol}:/data/vol`,
        "-v",
        `${join(dir, "conf")}:/etc/x.conf`,
        "--",
        "/bin/sh",
        "-c",
        "ls -d /data/vol; cat /etc/x.conf",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "/data/vol\nc\n");
      assert.deepEqual(ls(victim), []);
      assert.throws(() => Deno.lstatSync(join(dir, "hosts-victim")));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("a rootfs whose /proc is a symlink: the error names /proc and why", {
  ignore,
}, async () => {
  const { dir, root } = await rootfsCopy();
  try {
    Deno.removeSync(join(root, "proc"));
    Deno.symlinkSync("dev", join(root, "proc"));
    const r = await tinyc(["run", "--root", root, "--", "true"]);
    assert.equal(r.code, 125);
    assert.equal(
      r.stderr,
      "tinyc: mount point /proc: a symlink (to dev) in the rootfs; proc must be mounted on a directory\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tinyc rootfs rm: removes a tinyc rootfs, refuses anything else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-safety-" });
  try {
    const other = join(dir, "other");
    Deno.mkdirSync(other);
    Deno.writeTextFileSync(join(other, "x"), "keep");
    const refused = await tinyc(["rootfs", "rm", other]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /^tinyc: rootfs .*: not a tinyc rootfs/);
    assert.equal(Deno.readTextFileSync(join(other, "x")), "keep");
    const slash = await tinyc(["rootfs", "rm", "/"]);
    assert.equal(slash.code, 125);

    const root = join(dir, "root");
    claimForBuild(root);
    Deno.symlinkSync(other, join(root, "link"));
    const r = await tinyc(["rootfs", "rm", root]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(ls(dir), ["other"]);
    assert.equal(Deno.readTextFileSync(join(other, "x")), "keep");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
