import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compileError,
  compileMain,
  compileTimeout,
  denortCachePath,
  type DenortProbe,
  findDenort,
} from "./compile.ts";

function fakeProbe(
  opts: { env?: Record<string, string>; denoDir: string; reachable?: boolean },
): DenortProbe & { probed: number } {
  const probe = {
    probed: 0,
    env: (name: string) => opts.env?.[name],
    denoDir: () => Promise.resolve(opts.denoDir),
    reachable: () => {
      probe.probed++;
      return Promise.resolve(opts.reachable ?? false);
    },
  };
  return probe;
}

async function withTemp(fn: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_compile_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("denortCachePath: DENO_DIR/dl/release/vVERSION/denort-TARGET.zip", () => {
  assert.equal(
    denortCachePath("/c/deno", "2.9.6", "x86_64-unknown-linux-gnu"),
    "/c/deno/dl/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
  );
  assert.match(
    denortCachePath("/d"),
    new RegExp(`v${Deno.version.deno}/denort-${Deno.build.target}\\.zip$`),
  );
});

Deno.test("findDenort: DENORT_BIN wins, and must exist", async () => {
  await withTemp(async (dir) => {
    const bin = join(dir, "denort");
    await Deno.writeTextFile(bin, "");
    const ok = await findDenort(
      fakeProbe({ env: { DENORT_BIN: bin }, denoDir: dir }),
    );
    assert.deepEqual(ok, {
      available: true,
      detail: `DENORT_BIN=${bin}`,
      download: false,
    });
    const bad = await findDenort(
      fakeProbe({ env: { DENORT_BIN: bin + "x" }, denoDir: dir }),
    );
    assert.equal(bad.available, false);
    assert.match(bad.detail, /does not exist/);
  });
});

Deno.test("findDenort: a cached download is used without probing the network", async () => {
  await withTemp(async (dir) => {
    const cached = denortCachePath(dir);
    await Deno.mkdir(join(cached, ".."), { recursive: true });
    await Deno.writeTextFile(cached, "zip");
    const probe = fakeProbe({ denoDir: dir });
    assert.deepEqual(await findDenort(probe), {
      available: true,
      detail: `cached at ${cached}`,
      download: false,
    });
    assert.equal(probe.probed, 0);
  });
});

Deno.test("findDenort: no cache: download if reachable or proxied, else say why", async () => {
  await withTemp(async (dir) => {
    const up = await findDenort(fakeProbe({ denoDir: dir, reachable: true }));
    assert.equal(up.available && up.download, true);
    assert.ok(compileTimeout(up) > compileTimeout({ ...up, download: false }));
    const proxied = fakeProbe({
      denoDir: dir,
      env: { HTTPS_PROXY: "http://p:3128" },
    });
    assert.equal((await findDenort(proxied)).available, true);
    assert.equal(proxied.probed, 0);
    const down = await findDenort(fakeProbe({ denoDir: dir }));
    assert.equal(down.available, false);
    assert.ok(down.detail.includes(denortCachePath(dir)), down.detail);
    assert.match(down.detail, /dl\.deno\.land cannot be reached/);
  });
});

Deno.test("compileError: deno's error line with its innermost cause", () => {
  const stderr = [
    "\x1b[0m\x1b[32mCheck\x1b[0m h.ts",
    "Compile h.ts to hbin",
    "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip",
    "\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to temporary file '/tmp/hbin.tmp-2f'",
    "",
    "Caused by:",
    "    0: Setting up base binary.",
    "    1: error sending request for url (https://dl.deno.land/...): client error (Connect)",
    "    2: dns error",
    "    3: failed to lookup address information: Name or service not known",
    "",
    "Stack backtrace:",
    "   0: <unknown>",
  ].join("\n");
  assert.equal(
    compileError(stderr),
    "error: Writing deno compile executable to temporary file '/tmp/hbin.tmp-2f' (failed to lookup address information: Name or service not known)",
  );
  assert.equal(
    compileError('error: Module not found "file:///x.ts".\n'),
    'error: Module not found "file:///x.ts".',
  );
});

Deno.test("compileMain: without denort, exit 1 with one line and nothing built", async () => {
  await withTemp(async (dir) => {
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errors.push(a.join(" "));
    try {
      assert.equal(await compileMain(dir, fakeProbe({ denoDir: dir })), 1);
    } finally {
      console.error = orig;
    }
    assert.equal(errors.length, 1);
    assert.match(
      errors[0],
      /^compile: cannot run deno compile: the denort base binary is not cached/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  });
});

Deno.test("deno task compile: exits 1 with one clear line where denort is unavailable", async () => {
  // Ask the real check first: where denort is available the task would
  // really compile (minutes with a download), which is not this test's job.
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { findDenort } from "${new URL("./compile.ts", import.meta.url)}";
      console.log(JSON.stringify(await findDenort())); Deno.exit(0);`,
    ],
    stdout: "piped",
  }).output();
  const status = JSON.parse(new TextDecoder().decode(out.stdout));
  if (status.available) {
    console.log(`skipped: denort is available here (${status.detail})`);
    return;
  }
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./compile.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(run.stderr);
  assert.equal(run.code, 1);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.match(stderr, /^compile: cannot run deno compile: .*denort/);
});

Deno.test("compileMain: a base binary that ignores the program fails before dist/tinyc", async () => {
  // The plain deno binary as DENORT_BIN: deno compile succeeds, the output is
  // a deno that starts a REPL instead of the shell.
  await withTemp(async (repo) => {
    await Deno.mkdir(join(repo, "shell"));
    await Deno.copyFile(
      new URL("../shell/ts.ts", import.meta.url),
      join(repo, "shell/ts.ts"),
    );
    await Deno.writeTextFile(join(repo, "main.ts"), "console.log('tinyc');\n");
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...a: unknown[]) => errors.push(a.join(" "));
    const prev = Deno.env.get("DENORT_BIN");
    Deno.env.set("DENORT_BIN", Deno.execPath());
    try {
      const probe = fakeProbe({
        env: { DENORT_BIN: Deno.execPath() },
        denoDir: repo,
      });
      assert.equal(await compileMain(repo, probe), 1);
    } finally {
      console.error = orig;
      if (prev === undefined) Deno.env.delete("DENORT_BIN");
      else Deno.env.set("DENORT_BIN", prev);
    }
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^compile: dist\/ts does not run as the shell/);
    assert.deepEqual(
      [...Deno.readDirSync(join(repo, "dist"))],
      [],
      "no binaries, no temporary directories",
    );
  });
});
