import assert from "node:assert/strict";
import { join } from "node:path";
import {
  addBinaries,
  findProgram,
  parseLdd,
  planProgram,
  sharedLibraries,
  shebangInterpreter,
} from "./add.ts";
import { buildBusyboxRootfs, checkStaticBusybox } from "./busybox.ts";
import { TinycError } from "../errors.ts";

const isRoot = Deno.uid() === 0;
if (!isRoot) console.log("add.ts chroot tests skipped: chroot needs root");

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_add_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("parseLdd: libraries, the loader, vdso skipped", () => {
  const out = [
    "\tlinux-vdso.so.1 (0x00007ffc5e3f2000)",
    "\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007f1ba24f6000)",
    "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f1b9c41e000)",
    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f1ba250e000)",
    "",
  ].join("\n");
  assert.deepEqual(parseLdd(out), {
    libraries: [
      "/lib/x86_64-linux-gnu/libdl.so.2",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2",
    ],
    missing: [],
    notDynamic: false,
  });
});

Deno.test("parseLdd: old vdso arrows, absolute deps, repeats", () => {
  const out = [
    "\tlinux-vdso.so.1 =>  (0x00007ffd1c3fe000)",
    "\t/usr/lib/libfoo.so (0x00007f0000000000)",
    "\tlibm.so.6 => /lib/libm.so.6 (0x00007f0000001000)",
    "\tlibm.so.6 => /lib/libm.so.6 (0x00007f0000001000)",
  ].join("\n");
  assert.deepEqual(parseLdd(out).libraries, [
    "/usr/lib/libfoo.so",
    "/lib/libm.so.6",
  ]);
});

Deno.test("parseLdd: not found and static", () => {
  const missing = parseLdd(
    "\tlibfoo.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n",
  );
  assert.deepEqual(missing.missing, ["libfoo.so.1"]);
  assert.deepEqual(missing.libraries, ["/lib/libc.so.6"]);
  assert.equal(parseLdd("\tnot a dynamic executable\n").notDynamic, true);
  assert.equal(parseLdd("\tstatically linked\n").notDynamic, true);
  assert.deepEqual(parseLdd("ldd: ./x: No such file or directory\n"), {
    libraries: [],
    missing: [],
    notDynamic: false,
  });
});

Deno.test("shebangInterpreter: the first word after #!", () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(shebangInterpreter(enc("#!/bin/sh\necho\n")), "/bin/sh");
  assert.equal(
    shebangInterpreter(enc("#! /usr/bin/env -S deno run\n")),
    "/usr/bin/env",
  );
  assert.equal(shebangInterpreter(enc("#!/bin/deno -A")), "/bin/deno");
  assert.equal(shebangInterpreter(enc("#!\n")), null);
  assert.equal(shebangInterpreter(enc("\x7fELF")), null);
});

Deno.test("findProgram: PATH lookup, paths, and errors naming the program", async () => {
  await withTemp(async (dir) => {
    await Deno.writeTextFile(join(dir, "tool"), "#!/bin/sh\n", { mode: 0o755 });
    await Deno.writeTextFile(join(dir, "data"), "x", { mode: 0o644 });
    assert.equal(findProgram("tool", `relative:${dir}`), join(dir, "tool"));
    assert.throws(
      () => findProgram("data", dir),
      (e: unknown) =>
        e instanceof TinycError && /^data: not found in PATH/.test(e.message),
    );
    assert.equal(findProgram(join(dir, "data")), join(dir, "data"));
    assert.throws(
      () => findProgram("/nonexistent/prog"),
      (e: unknown) =>
        e instanceof TinycError &&
        e.message === "/nonexistent/prog: no such file",
    );
    assert.throws(
      () => findProgram(dir),
      (e: unknown) =>
        e instanceof TinycError && /not a regular file/.test(e.message),
    );
  });
});

Deno.test("sharedLibraries: deno needs libc and the loader; static busybox needs nothing", async () => {
  const libs = await sharedLibraries(Deno.execPath());
  assert.ok(libs.some((l) => /\/libc\.so\.6$/.test(l)), libs.join(" "));
  assert.ok(
    libs.some((l) => /\/ld-linux[^/]*\.so\.2$/.test(l)),
    libs.join(" "),
  );
  let staticBusybox = true;
  try {
    checkStaticBusybox("/bin/busybox");
  } catch {
    staticBusybox = false;
  }
  if (staticBusybox) {
    assert.deepEqual(await sharedLibraries("/bin/busybox"), []);
  }
});

Deno.test({
  name: "sharedLibraries: a library ldd cannot find is an error naming it",
  ignore: !exists("/usr/bin/ls"),
  async fn() {
    await withTemp(async (dir) => {
      // Rename ls's DT_NEEDED libc.so.6 to a soname that does not exist.
      const bytes = await Deno.readFile("/usr/bin/ls");
      const needle = new TextEncoder().encode("libc.so.6\0");
      const at = indexOf(bytes, needle);
      assert.ok(at > 0, "libc.so.6 in ls's dynamic string table");
      bytes.set(new TextEncoder().encode("libq.so.6\0"), at);
      const broken = join(dir, "ls");
      await Deno.writeFile(broken, bytes, { mode: 0o755 });
      await assert.rejects(
        () => sharedLibraries(broken),
        (e: unknown) =>
          e instanceof TinycError &&
          e.message === `${broken}: shared library libq.so.6 not found (ldd)`,
      );
    });
  },
});

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

Deno.test("planProgram: a script brings its interpreter and the interpreter's libraries", async () => {
  await withTemp(async (dir) => {
    const script = join(dir, "hello");
    await Deno.writeTextFile(
      script,
      `#!${Deno.execPath()} -A\nconsole.log(1)\n`,
    );
    const steps = await planProgram(script, "/bin/hello");
    assert.deepEqual(steps[0], { path: "/bin/hello", source: script });
    assert.deepEqual(steps[1], {
      path: Deno.execPath(),
      source: Deno.execPath(),
    });
    assert.ok(steps.some((s) => /\/libc\.so\.6$/.test(s.path)));
    await Deno.writeTextFile(script, "#!/nonexistent/interp\n");
    await assert.rejects(
      () => planProgram(script, "/bin/hello"),
      (e: unknown) =>
        e instanceof TinycError &&
        /interpreter \/nonexistent\/interp not found/.test(e.message),
    );
  });
});

Deno.test("addBinaries: a missing binary is an error naming it, and nothing is written", async () => {
  await withTemp(async (root) => {
    await assert.rejects(
      () => addBinaries(root, ["/bin/sh", "no-such-program-tinyc"]),
      (e: unknown) =>
        e instanceof TinycError &&
        e.message.startsWith("no-such-program-tinyc: not found in PATH"),
    );
    assert.deepEqual([...Deno.readDirSync(root)], []);
  });
});

Deno.test({
  name: "addBinaries: copies ls with its libraries at the paths ldd prints",
  ignore: !exists("/bin/ls"),
  async fn() {
    await withTemp(async (root) => {
      const written = await addBinaries(root, ["/bin/ls"]);
      const libs = await sharedLibraries("/bin/ls");
      assert.ok(written.length >= libs.length + 1, written.join(" "));
      for (const path of written) {
        assert.ok(Deno.lstatSync(join(root, path)).isFile, path);
      }
      // The paths ls and its loader are looked up by resolve in the root.
      for (const path of ["/bin/ls", ...libs]) {
        assert.ok(Deno.statSync(join(root, path)).isFile, path);
      }
      // Idempotent.
      assert.deepEqual(await addBinaries(root, ["/bin/ls"]), written);
    });
  },
});

Deno.test({
  name: "addBinaries: bash runs in a chroot of nothing but bash (root)",
  ignore: !isRoot || !exists("/usr/bin/bash"),
  async fn() {
    await withTemp(async (root) => {
      await addBinaries(root, ["/usr/bin/bash"]);
      const out = await new Deno.Command("chroot", {
        args: [root, "/usr/bin/bash", "-c", "echo ok"],
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(
        new TextDecoder().decode(out.stdout),
        "ok\n",
        new TextDecoder().decode(out.stderr),
      );
    });
  },
});

Deno.test({
  name:
    "addBinaries: GNU env into a busybox rootfs replaces the applet link, not busybox",
  ignore: !exists("/usr/bin/env") || !exists("/bin/busybox"),
  async fn() {
    await withTemp(async (root) => {
      try {
        await buildBusyboxRootfs(root);
      } catch (err) {
        console.log(`skipped: ${err}`);
        return;
      }
      const busyboxSize = Deno.statSync(join(root, "bin/busybox")).size;
      const written = await addBinaries(root, ["/usr/bin/env"]);
      assert.equal(written[0], "/usr/bin/env");
      assert.ok(Deno.lstatSync(join(root, "usr/bin/env")).isFile);
      assert.equal(Deno.statSync(join(root, "bin/busybox")).size, busyboxSize);
      if (!isRoot) return;
      // GNU env runs from its copy; busybox's own env applet still works.
      const out = await new Deno.Command("chroot", {
        args: [
          root,
          "/bin/sh",
          "-c",
          "/usr/bin/env --version | head -n1; /bin/env -i A=1 /bin/sh -c 'echo $A'",
        ],
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const lines = new TextDecoder().decode(out.stdout).split("\n");
      assert.match(
        lines[0],
        /GNU coreutils/,
        new TextDecoder().decode(out.stderr),
      );
      assert.equal(lines[1], "1");
    });
  },
});
