import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildBusyboxRootfs,
  checkStaticBusybox,
  DEFAULT_BUSYBOX,
  isRootfsReady,
  planBusyboxRootfs,
} from "./busybox.ts";
import { TinycError } from "../errors.ts";
import type { LayoutOp } from "./layout.ts";

const haveBusybox = (() => {
  try {
    checkStaticBusybox(DEFAULT_BUSYBOX);
    return true;
  } catch {
    console.log(`busybox tests: no static busybox at ${DEFAULT_BUSYBOX}`);
    return false;
  }
})();
const isRoot = Deno.uid() === 0;

Deno.test("planBusyboxRootfs: links in /bin and at each applet's own place", () => {
  const ops = planBusyboxRootfs("/host/busybox", [
    "bin/sh",
    "sbin/ifconfig",
    "usr/bin/env",
    "usr/bin/[",
    "linuxrc",
    "bin/busybox",
    "etc/weird",
  ]);
  const links = Object.fromEntries(
    ops.filter((o) => o.kind === "symlink").map((o) => [o.path, o.target]),
  );
  assert.deepEqual(links, {
    "/bin/sh": "busybox",
    "/bin/ifconfig": "busybox",
    "/sbin/ifconfig": "../bin/busybox",
    "/bin/env": "busybox",
    "/usr/bin/env": "../../bin/busybox",
    "/bin/[": "busybox",
    "/usr/bin/[": "../../bin/busybox",
  });
  assert.deepEqual(ops.find((o) => o.kind === "copy"), {
    kind: "copy",
    path: "/bin/busybox",
    source: "/host/busybox",
  });
});

Deno.test("planBusyboxRootfs: directories first, then the binary, then links", () => {
  const ops = planBusyboxRootfs("/b", ["bin/sh"]);
  const index = (pred: (o: LayoutOp) => boolean) => ops.findIndex(pred);
  const usrBin = index((o) => o.kind === "dir" && o.path === "/usr/bin");
  const copy = index((o) => o.kind === "copy");
  const sh = index((o) => o.kind === "symlink" && o.path === "/bin/sh");
  assert.ok(usrBin >= 0 && usrBin < copy && copy < sh);
  const tmp = ops.find((o) => o.path === "/tmp");
  assert.deepEqual(tmp, { kind: "dir", path: "/tmp", mode: 0o1777 });
  const passwd = ops.find((o) => o.path === "/etc/passwd");
  assert.ok(passwd?.kind === "file");
  assert.match(passwd.content, /^root:x:0:0:root:\/root:\/bin\/sh$/m);
  assert.match(passwd.content, /^nobody:x:65534:65534:/m);
});

Deno.test("checkStaticBusybox: missing, dynamic and non-ELF files are refused", () => {
  const hint = /apt-get install busybox-static/;
  assert.throws(
    () => checkStaticBusybox("/nonexistent/busybox"),
    (e: unknown) =>
      e instanceof TinycError && hint.test(e.message) &&
      /not found/.test(e.message),
  );
  const script = Deno.makeTempFileSync();
  try {
    Deno.writeTextFileSync(script, "#!/bin/sh\n");
    assert.throws(
      () => checkStaticBusybox(script),
      (e: unknown) => e instanceof TinycError && /not an ELF/.test(e.message),
    );
  } finally {
    Deno.removeSync(script);
  }
  // Any dynamic executable stands in for a dynamic busybox.
  assert.throws(
    () => checkStaticBusybox(Deno.execPath()),
    (e: unknown) =>
      e instanceof TinycError && /dynamically linked/.test(e.message) &&
      hint.test(e.message),
  );
});

Deno.test({
  name: "buildBusyboxRootfs: builds, rebuilds, keeps edits, runs busybox",
  ignore: !haveBusybox,
  async fn() {
    const dir = join(await Deno.makeTempDir(), "bb root");
    try {
      assert.equal(isRootfsReady(dir), false);
      await buildBusyboxRootfs(dir);
      assert.equal(isRootfsReady(dir), true);
      assert.equal(Deno.readLinkSync(join(dir, "bin/sh")), "busybox");
      assert.equal(
        Deno.readLinkSync(join(dir, "usr/bin/env")),
        "../../bin/busybox",
      );
      assert.equal(Deno.statSync(join(dir, "tmp")).mode! & 0o7777, 0o1777);
      for (const d of ["proc", "sys", "dev", "etc", "root"]) {
        assert.ok(Deno.statSync(join(dir, d)).isDirectory, d);
      }
      assert.match(Deno.readTextFileSync(join(dir, "etc/group")), /^root:x:0:/);
      assert.match(Deno.readTextFileSync(join(dir, "etc/hosts")), /localhost/);

      // The applet links work on the host too (relative targets).
      const out = await new Deno.Command(join(dir, "usr/bin/env"), {
        args: ["sh", "-c", "echo ok"],
        env: { PATH: join(dir, "bin") },
        clearEnv: true,
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(out.stdout), "ok\n");

      // Again: nothing fails because it exists, and edits to /etc survive.
      Deno.writeTextFileSync(
        join(dir, "etc/passwd"),
        "root:x:0:0::/:/bin/sh\n",
      );
      Deno.removeSync(join(dir, "bin/ls"));
      await buildBusyboxRootfs(dir);
      assert.equal(
        Deno.readTextFileSync(join(dir, "etc/passwd")),
        "root:x:0:0::/:/bin/sh\n",
      );
      assert.equal(Deno.readLinkSync(join(dir, "bin/ls")), "busybox");
    } finally {
      await Deno.remove(join(dir, ".."), { recursive: true });
    }
  },
});

Deno.test({
  name:
    "buildBusyboxRootfs: never writes through an absolute symlink to the host",
  ignore: !haveBusybox,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      // The issue's attack: a container deleted /bin/sh (so `deno task
      // start` rebuilds), planted the old temporary names as symlinks to a
      // host file, and turned /etc into an absolute symlink to a host
      // directory. The rebuild must write nothing outside the rootfs.
      const root = join(tmp, "root");
      await buildBusyboxRootfs(root);
      const victim = join(tmp, "victim"), hostEtc = join(tmp, "hostetc");
      Deno.writeTextFileSync(victim, "precious");
      Deno.mkdirSync(hostEtc);
      Deno.removeSync(join(root, "bin/sh"));
      for (let n = 1; n < 200; n++) {
        for (const f of ["bin/busybox", "etc/passwd", "bin/sh"]) {
          Deno.symlinkSync(victim, join(root, `${f}.tinyc-tmp-${n}`));
        }
      }
      Deno.symlinkSync(victim, join(root, `bin/busybox.tinyc-tmp-${Deno.pid}`));
      Deno.removeSync(join(root, "etc"), { recursive: true });
      Deno.symlinkSync(hostEtc, join(root, "etc"));
      await buildBusyboxRootfs(root);
      assert.equal(Deno.readTextFileSync(victim), "precious");
      assert.deepEqual([...Deno.readDirSync(hostEtc)], []);
      assert.equal(Deno.readLinkSync(join(root, "bin/sh")), "busybox");
      // /etc still means ROOT/<hostEtc> inside the rootfs: files went there.
      assert.ok(Deno.statSync(join(root, hostEtc, "passwd")).isFile);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

if (!isRoot) console.log("busybox chroot test skipped: needs root for chroot");
Deno.test({
  name: "buildBusyboxRootfs: the result works as a chroot (root)",
  ignore: !haveBusybox || !isRoot,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await buildBusyboxRootfs(dir);
      const out = await new Deno.Command("chroot", {
        args: [dir, "/bin/sh", "-c", "id -un; ls -d /tmp /proc; echo done"],
        clearEnv: true,
        env: { PATH: "/bin:/sbin:/usr/bin:/usr/sbin" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(
        new TextDecoder().decode(out.stdout),
        "root\n/proc\n/tmp\ndone\n",
        new TextDecoder().decode(out.stderr),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
