import assert from "node:assert/strict";
import { join } from "node:path";
import { behavesAsShell } from "./compile.ts";
import {
  buildShellRootfs,
  bundle,
  SHEBANG,
  shellScript,
} from "./shell_rootfs.ts";

const isRoot = Deno.uid() === 0;
if (!isRoot) {
  console.log("shell rootfs chroot tests skipped: chroot needs root");
}

const SHELL = new URL("../shell/ts.ts", import.meta.url).pathname;
const unavailable = () =>
  Promise.resolve({
    available: false,
    detail: "no denort (test)",
    download: false,
  });

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_shell_rootfs_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("shellScript: one #!/bin/deno -A line, replacing any other", () => {
  assert.equal(SHEBANG, "#!/bin/deno -A");
  assert.equal(
    shellScript("console.log(1);\n"),
    "#!/bin/deno -A\nconsole.log(1);\n",
  );
  assert.equal(
    shellScript("#!/usr/bin/env -S deno run\nconsole.log(1);\n"),
    "#!/bin/deno -A\nconsole.log(1);\n",
  );
});

Deno.test("bundle + behavesAsShell: the bundled shell runs; cat does not pass for it", async () => {
  await withTemp(async (dir) => {
    const js = join(dir, "ts.js");
    await Deno.writeTextFile(js, await bundle(SHELL));
    assert.equal(
      await behavesAsShell(Deno.execPath(), ["run", "-A", js]),
      true,
    );
    assert.equal(await behavesAsShell("cat"), false);
    assert.equal(await behavesAsShell(join(dir, "missing")), false);
  });
});

Deno.test("buildShellRootfs: the portable layout when denort is unavailable", async () => {
  await withTemp(async (tmp) => {
    const dir = join(tmp, "rootfs");
    const r = await buildShellRootfs(dir, { denort: unavailable });
    assert.equal(r.kind, "script");
    assert.equal(r.fallbackReason, "no denort (test)");
    assert.ok(r.written.includes("/bin/deno"), r.written.join(" "));
    assert.ok(
      r.written.some((p) => /\/libc\.so\.6$/.test(p)),
      r.written.join(" "),
    );
    assert.equal(r.written.at(-1), "/bin/ts");
    const deno = Deno.lstatSync(join(dir, "bin/deno"));
    assert.ok(deno.isFile);
    assert.equal(deno.size, Deno.statSync(Deno.execPath()).size);
    const ts = await Deno.readTextFile(join(dir, "bin/ts"));
    assert.ok(ts.startsWith(`${SHEBANG}\n`));
    assert.equal(Deno.statSync(join(dir, "bin/ts")).mode! & 0o777, 0o755);
    assert.equal(Deno.statSync(join(dir, "tmp")).mode! & 0o7777, 0o1777);
    assert.match(
      await Deno.readTextFile(join(dir, "etc/passwd")),
      /^root:x:0:0:root:\/root:\/bin\/ts$/m,
    );
    // The bundled script runs under the host's deno.
    assert.equal(
      await behavesAsShell(Deno.execPath(), ["run", "-A", join(dir, "bin/ts")]),
      true,
    );
    // Again, without the compile attempt: same result.
    const again = await buildShellRootfs(dir, { compile: false });
    assert.equal(again.fallbackReason, "--no-compile");
    assert.deepEqual(again.written, r.written);
  });
});

Deno.test("buildShellRootfs: a deno compile output that is not the shell is refused", async () => {
  // With the plain deno binary as denort, deno compile "succeeds" but the
  // result ignores the program (it starts a REPL): the fallback must kick in.
  await withTemp(async (tmp) => {
    const dir = join(tmp, "rootfs");
    const fakeDenort = () =>
      Promise.resolve({ available: true, detail: "test", download: false });
    const prev = Deno.env.get("DENORT_BIN");
    Deno.env.set("DENORT_BIN", Deno.execPath());
    try {
      const r = await buildShellRootfs(dir, { denort: fakeDenort });
      assert.equal(r.kind, "script");
      assert.match(r.fallbackReason, /does not run as the shell/);
    } finally {
      if (prev === undefined) Deno.env.delete("DENORT_BIN");
      else Deno.env.set("DENORT_BIN", prev);
    }
  });
});

async function chrootShell(dir: string, input: string, extra: string[] = []) {
  const child = new Deno.Command("chroot", {
    args: [...extra, dir, "/bin/ts"],
    clearEnv: true, // no HOME, no DENO_DIR: the passwd entry must do
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test({
  name:
    "buildShellRootfs: /bin/ts runs in a chroot with an empty environment (root)",
  ignore: !isRoot,
  async fn() {
    await withTemp(async (tmp) => {
      const dir = join(tmp, "rootfs");
      await buildShellRootfs(dir, { denort: unavailable });
      const r = await chrootShell(
        dir,
        "pwd\nls /bin\ncat /etc/group\nenv\nquit\n",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.stdout,
        [
          "Tiny shell started",
          "Valid commands: cat FILE..., cd [DIR], env, help, hostname, ls [DIR], pwd, quit (or exit)",
          "ts: /",
          "ts: Files in: /bin",
          "\tdeno",
          "\tts",
          "ts: root:x:0:",
          "nogroup:x:65534:",
          "ts: ts: Tiny shell ended",
          "",
        ].join("\n"),
      );
      // As nobody, whose passwd home does not exist: deno still starts.
      const n = await chrootShell(dir, "pwd\n", ["--userspec=65534:65534"]);
      assert.equal(n.code, 0, n.stderr);
      assert.ok(n.stdout.endsWith("ts: /\nts: \nTiny shell ended\n"), n.stdout);
    });
  },
});
