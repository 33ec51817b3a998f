import assert from "node:assert/strict";
import { build, builtPath, ENTRIES } from "./build.ts";
import { LAZY_MODULES } from "../main.ts";
import { BUILT, moduleUrl } from "../src/lazy.ts";
import { busyboxRoot, isRoot } from "../tests/helpers.ts";

const repo = new URL("..", import.meta.url).pathname;

/** Every non-test .ts file under `dir` (root-relative). */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(`${repo}${dir}`)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...sources(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) {
      out.push(p);
    }
  }
  return out;
}

Deno.test("LAZY_MODULES: exactly the paths the sources lazily import", () => {
  const used = new Set<string>();
  const files = sources("src").filter((f) => f !== "src/lazy.ts");
  for (const file of ["main.ts", ...files]) {
    const text = Deno.readTextFileSync(`${repo}${file}`);
    // lazyImport<typeof import("...")>("PATH") and lazyImport("PATH")
    for (const m of text.matchAll(/lazyImport(?:<[\s\S]*?>)?\(\s*"([^"]+)"/g)) {
      used.add(m[1]);
    }
    // A computed path would escape this check (and the build).
    assert.doesNotMatch(
      text.replace(/lazyImport(?:<[\s\S]*?>)?\(\s*"[^"]+"/g, ""),
      /lazyImport(?:<[\s\S]*?>)?\(/,
      `${file}: lazyImport with a path that is not a string literal`,
    );
  }
  assert.ok(used.size > 10, `found only ${[...used]}`);
  assert.deepEqual([...used].sort(), [...LAZY_MODULES].sort());
  for (const m of LAZY_MODULES) Deno.statSync(`${repo}${m}`);
});

Deno.test("moduleUrl: the source module from the source tree", () => {
  assert.equal(BUILT, false);
  assert.equal(
    moduleUrl("src/images/run.ts"),
    new URL("../src/images/run.ts", import.meta.url).href,
  );
  assert.equal(builtPath("src/images/run.ts"), "src/images/run.js");
  assert.deepEqual(ENTRIES.slice(0, 2), ["main.ts", "src/init_main.ts"]);
});

Deno.test({
  name: "build: every entry bundled; a container runs from the build",
  // deno bundle needs nothing from the network; containers need root.
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "tinyc-build-" });
    try {
      const out = `${dir}/dist`;
      await build(repo, out);
      for (const e of ENTRIES) Deno.statSync(`${out}/${builtPath(e)}`);
      // The build is self-contained: no module outside it is imported.
      for (const e of Deno.readDirSync(out)) {
        if (!e.name.endsWith(".js")) continue;
        const text = Deno.readTextFileSync(`${out}/${e.name}`);
        assert.doesNotMatch(text, /from "\.\.?\/[^"]*\.ts"/, e.name);
      }
      // Somewhere it cannot write: under a regular file.
      await Deno.writeTextFile(`${dir}/file`, "");
      await assert.rejects(
        () => build(repo, `${dir}/file/dist`),
        /deno bundle failed|deno bundle left out/,
      );
      if (!isRoot) {
        console.log("build_test: skipping containers: they need root (uid 0)");
        return;
      }
      const root = await busyboxRoot();
      const tinyc = async (...args: string[]) => {
        const r = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--no-config",
            "--quiet",
            `${out}/main.js`,
            ...args,
          ],
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = (b: Uint8Array) => new TextDecoder().decode(b);
        return { code: r.code, stdout: dec(r.stdout), stderr: dec(r.stderr) };
      };
      // The build's directory holds no sources (nothing but dist/): what
      // runs here, the init included, can only come from the build.
      await t.step("run: the init starts from the build", async () => {
        const r = await tinyc(
          "run",
          "--root",
          root,
          "--",
          "/bin/sh",
          "-c",
          "echo from-build; exit 3",
        );
        assert.equal(r.stdout, "from-build\n", r.stderr);
        assert.equal(r.code, 3);
      });
      await t.step("detached: monitor and exec from the build", async () => {
        const name = `build-${crypto.randomUUID().slice(0, 8)}`;
        const d = await tinyc(
          "run",
          "-d",
          "--name",
          name,
          "--root",
          root,
          "--",
          "/bin/sleep",
          "60",
        );
        try {
          assert.equal(d.code, 0, d.stderr);
          const monitor = [...Deno.readDirSync("/proc")]
            .filter((e) => /^\d+$/.test(e.name))
            .map((e) => {
              try {
                return Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
              } catch {
                return "";
              }
            })
            .find((c) => c.includes("__monitor") && c.includes(out));
          assert.ok(monitor, "no monitor running from the build");
          const x = await tinyc(
            "exec",
            name,
            "/bin/sh",
            "-c",
            "echo in-$((6*7))",
          );
          assert.equal(x.stdout, "in-42\n", x.stderr);
          assert.equal(x.code, 0);
        } finally {
          const rm = await tinyc("rm", "-f", name);
          assert.equal(rm.code, 0, rm.stderr);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("install: the build's wrappers, or the sources when deno bundle fails", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-install-" });
  const install = (prefix: string, env: Record<string, string> = {}) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${repo}scripts/install.ts`],
      env: { PREFIX: prefix, ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const help = async (prefix: string) => {
    const r = await new Deno.Command(`${prefix}/bin/tinyc`, {
      args: ["--help"],
      stdout: "piped",
    }).output();
    return new TextDecoder().decode(r.stdout);
  };
  try {
    const built = await install(`${dir}/a`);
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    const wrapper = await Deno.readTextFile(`${dir}/a/bin/tinyc`);
    assert.match(wrapper, /\/lib\/tinyc\/dist\/main\.js' "\$@"\n$/);
    assert.match(await help(`${dir}/a`), /^Usage: tinyc COMMAND/);
    // No esbuild cached and no registry: deno bundle cannot run.
    const unbuilt = await install(`${dir}/b`, {
      DENO_DIR: `${dir}/deno-dir`,
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
      HTTPS_PROXY: "http://127.0.0.1:9",
    });
    const err = new TextDecoder().decode(unbuilt.stderr);
    assert.equal(unbuilt.code, 0, err);
    assert.match(err, /^install: warning: no build \(deno bundle failed: .+\)/);
    const fallback = await Deno.readTextFile(`${dir}/b/bin/tinyc`);
    assert.match(fallback, /\/lib\/tinyc\/main\.ts' "\$@"\n$/);
    assert.match(await help(`${dir}/b`), /^Usage: tinyc COMMAND/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
