#!/usr/bin/env -S deno run -A
/**
 * `deno task bench`: start-to-exit latency and peak memory of `/bin/true` in
 * the busybox rootfs, tinyc against runc on the same rootfs, interleaved.
 *
 * Usage: deno task bench [--runs N] [--root DIR] [--no-oci]
 *
 * `tinyc` is this checkout as `deno task install` installs it (into a
 * temporary PREFIX: the `tinyc` wrapper running the build, see
 * scripts/build.ts); `tinyc (source tree)` is `./main.ts`, as a developer
 * runs it. `floor` is scripts/bench_floor.ts: two Deno processes, one
 * spawning the other, which `execve`s the command, and no container work,
 * the least this process model can cost.
 *
 * Each run is timed from spawn to reap; GNU time reports its peak RSS (the
 * largest of the process and the descendants it waited for). Variants with
 * `--memory` and `--network bridge` are timed too, to show what they add.
 *
 * Then the OCI lifecycle as engines drive it, the installed `tinyc-oci`
 * against runc, interleaved, each with a state directory of its own and the
 * same kind of bundle (`spec`'s config on the same rootfs, not read-only, no
 * terminal, /bin/true): create, start, `state` polled until the container
 * is stopped, delete; timed from the first spawn to the last reap, peak RSS
 * the largest of any step.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { buildBusyboxRootfs, isRootfsReady } from "../src/rootfs/busybox.ts";
import { spawn } from "../src/process.ts";
import { cstr, libc } from "../src/libc.ts";
import { formatDelta, median } from "./bench_stats.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    "no-oci": { type: "boolean", default: false },
    root: { type: "string", default: "./bb_root" },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`bench: --runs ${values.runs}: expected a positive integer`);
  Deno.exit(125);
}
if (Deno.uid() !== 0) {
  console.error("bench: must be run as root (both runtimes need it)");
  Deno.exit(125);
}

const root = values.root!;
if (!isRootfsReady(root)) {
  console.error(`bench: building ${root}`);
  await buildBusyboxRootfs(root);
}
const rootAbs = Deno.realPathSync(root);

function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return `${dir}/${cmd}`;
    } catch {
      // next
    }
  }
  return undefined;
}

let runc = which("runc");
if (!runc) {
  console.error("bench: installing runc (apt-get install runc)");
  const r = await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "runc"],
    stdout: "null",
  }).output();
  runc = which("runc");
  if (!r.success || !runc) {
    console.error(
      "bench: runc is not available; install it with `apt-get install runc`",
    );
    Deno.exit(125);
  }
}

// runc's bundle: `runc spec`, pointed at the same rootfs, /bin/true, no tty.
const bundle = await Deno.makeTempDir({ prefix: "tinyc-bench-" });
// Removed however the script ends (Deno.exit included).
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(bundle, { recursive: true });
  } catch {
    // already gone
  }
});
await new Deno.Command(runc, { args: ["spec"], cwd: bundle }).output();
const config = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
config.process.terminal = false;
config.process.args = ["/bin/true"];
config.root = { path: rootAbs, readonly: false };
await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(config));

const devnull = libc().open(cstr("/dev/null"), 2, /* O_RDWR */ 0);

let gnuTime = which("time");
if (!gnuTime) {
  await new Deno.Command("apt-get", {
    args: ["install", "-y", "-qq", "time"],
    stdout: "null",
  }).output();
  gnuTime = "/usr/bin/time";
}
const memFile = `${bundle}/maxrss`;
const env = Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`);

/**
 * One run: wall milliseconds, peak RSS in KiB and the exit code. Peak memory
 * comes from GNU time (fork + exec): posix_spawn's vfork child would report
 * this (large) Deno process's RSS as its own high-water mark.
 */
function timeOnce(
  argv: string[],
  stdout: number = devnull,
  stderr: number = 2,
): { ms: number; kib: number; code: number } {
  const t0 = performance.now();
  const pid = spawn(
    gnuTime!,
    [gnuTime!, "-f", "%M", "-o", memFile, ...argv],
    env,
    {
      fds: [[0, devnull], [1, stdout], [2, stderr]],
    },
  );
  const status = new Int32Array(1);
  libc().waitpid(pid, new Uint8Array(status.buffer), 0);
  const ms = performance.now() - t0;
  const kib = Number(Deno.readTextFileSync(memFile).trim().split("\n").at(-1));
  return { ms, kib, code: (status[0] >> 8) & 0xff };
}

const main = new URL("../main.ts", import.meta.url).pathname;
// What `deno task install` installs, into a PREFIX of our own.
const prefix = `${bundle}/prefix`;
const install = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL("./install.ts", import.meta.url).pathname],
  env: { PREFIX: prefix },
  stdout: "null",
  stderr: "piped",
}).output();
if (!install.success) {
  console.error(
    `bench: deno task install failed: ${
      new TextDecoder().decode(install.stderr).trim()
    }`,
  );
  Deno.exit(1);
}
const tinycArgv = (
  tinyc: string,
  extra: string[],
) => [
  tinyc,
  "run",
  "--root",
  rootAbs,
  ...extra,
  "--",
  "/bin/true",
];

const variants: Array<{ name: string; argv: string[] }> = [
  { name: "tinyc", argv: tinycArgv(`${prefix}/bin/tinyc`, []) },
  {
    name: "runc",
    argv: [runc, "run", "-b", bundle, `tinyc-bench-${Deno.pid}`],
  },
  // main.ts itself, through its shebang (`deno run -A --no-config --quiet`).
  { name: "tinyc (source tree)", argv: tinycArgv(main, []) },
  {
    name: "floor",
    argv: [new URL("./bench_floor.ts", import.meta.url).pathname, "/bin/true"],
  },
  {
    name: "tinyc --memory 64m",
    argv: tinycArgv(`${prefix}/bin/tinyc`, ["--memory", "64m"]),
  },
  {
    name: "tinyc --network bridge",
    argv: tinycArgv(`${prefix}/bin/tinyc`, ["--network", "bridge"]),
  },
];

const results = new Map(
  variants.map((v) => [v.name, { ms: [] as number[], kib: [] as number[] }]),
);
// Warm-up (module caches), then interleave so drift hits every variant alike.
for (const v of variants) {
  const r = timeOnce(v.argv);
  if (r.code !== 0) {
    console.error(
      `bench: ${v.name} failed (exit ${r.code}): ${v.argv.join(" ")}`,
    );
    Deno.exit(1);
  }
}
// Timed runs: stderr (e.g. the rootfs warning, shown once above) dropped.
for (let i = 0; i < runs; i++) {
  for (const v of variants) {
    const r = timeOnce(v.argv, devnull, devnull);
    if (r.code !== 0) {
      console.error(`bench: ${v.name} failed (exit ${r.code}) in run ${i + 1}`);
      Deno.exit(1);
    }
    results.get(v.name)!.ms.push(r.ms);
    results.get(v.name)!.kib.push(r.kib);
  }
}

const runcMedian = median(results.get("runc")!.ms);
const tinycMedian = median(results.get("tinyc")!.ms);
console.log(
  `start-to-exit of /bin/true in ${rootAbs}, ${runs} interleaved runs each`,
);
for (const v of variants) {
  const r = results.get(v.name)!;
  const m = median(r.ms);
  const extra = v.name.startsWith("tinyc ")
    ? `  (${formatDelta(m - tinycMedian)} vs plain tinyc)`
    : "";
  console.log(
    `${v.name.padEnd(24)} median ${m.toFixed(1).padStart(6)} ms  peak RSS ${
      (Math.max(...r.kib) / 1024).toFixed(1).padStart(5)
    } MiB${extra}`,
  );
}
console.log(`ratio tinyc/runc: ${(tinycMedian / runcMedian).toFixed(2)}x`);
console.log(
  `ratio floor/runc: ${
    (median(results.get("floor")!.ms) / runcMedian).toFixed(2)
  }x (two Deno starts and an execve, no container work)`,
);

if (!values["no-oci"]) await benchOci();

/** create + start + wait (state polled until stopped) + delete, both runtimes. */
async function benchOci(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-bench-oci-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  });
  // The same kind of bundle for both: `spec`, on the rootfs, like runc's above.
  const ociBundle = `${dir}/bundle`;
  await Deno.mkdir(ociBundle);
  await new Deno.Command(main, {
    args: ["oci", "spec", "--bundle", ociBundle],
  }).output();
  const ociConfig = JSON.parse(
    await Deno.readTextFile(`${ociBundle}/config.json`),
  );
  ociConfig.process.terminal = false;
  ociConfig.process.args = ["/bin/true"];
  ociConfig.root = { path: rootAbs, readonly: false };
  await Deno.writeTextFile(
    `${ociBundle}/config.json`,
    JSON.stringify(ociConfig),
  );
  const runtimes = [
    {
      name: "tinyc-oci",
      argv: [`${prefix}/bin/tinyc-oci`, "--root", `${dir}/tinyc-oci`],
    },
    { name: "runc", argv: [runc!, "--root", `${dir}/runc`] },
  ];
  const bundles: Record<string, string> = {
    "tinyc-oci": ociBundle,
    runc: bundle,
  };
  const stateFile = `${dir}/state.json`;

  /** One lifecycle; throws naming the step that failed. */
  function lifecycle(
    rt: { name: string; argv: string[] },
    id: string,
  ): { ms: number; kib: number; polls: number } {
    let kib = 0;
    const step = (args: string[], stdout?: number) => {
      const r = timeOnce([...rt.argv, ...args], stdout);
      kib = Math.max(kib, r.kib);
      if (r.code !== 0) {
        throw new Error(`${rt.name} ${args.join(" ")}: exit ${r.code}`);
      }
    };
    const t0 = performance.now();
    step(["create", "--bundle", bundles[rt.name], id]);
    step(["start", id]);
    let polls = 0;
    for (;;) {
      polls++;
      // O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC
      const out = libc().open(
        cstr(stateFile),
        0o1 | 0o100 | 0o1000 | 0o2000000,
        0o600,
      );
      try {
        step(["state", id], out);
      } finally {
        libc().close(out);
      }
      const state = JSON.parse(Deno.readTextFileSync(stateFile));
      if (state.status === "stopped") break;
      if (polls >= 500) throw new Error(`${rt.name}: ${id} never stopped`);
    }
    step(["delete", id]);
    return { ms: performance.now() - t0, kib, polls };
  }

  const res = new Map(
    runtimes.map((
      r,
    ) => [r.name, { ms: [] as number[], kib: 0, polls: [] as number[] }]),
  );
  for (let i = -1; i < runs; i++) { // round -1: warm-up
    for (const rt of runtimes) {
      const id = `tinyc-bench-${Deno.pid}-${i + 1}`;
      let r;
      try {
        r = lifecycle(rt, id);
      } catch (e) {
        timeOnce([...rt.argv, "delete", "--force", id]);
        console.error(`bench: ${(e as Error).message}`);
        Deno.exit(1);
      }
      if (i < 0) continue;
      const x = res.get(rt.name)!;
      x.ms.push(r.ms);
      x.kib = Math.max(x.kib, r.kib);
      x.polls.push(r.polls);
    }
  }
  console.log(
    `\nOCI create+start+wait+delete of /bin/true, ${runs} interleaved runs each`,
  );
  for (const rt of runtimes) {
    const x = res.get(rt.name)!;
    console.log(
      `${rt.name.padEnd(24)} median ${
        median(x.ms).toFixed(1).padStart(6)
      } ms  peak RSS ${
        (x.kib / 1024).toFixed(1).padStart(5)
      } MiB  (state polls: median ${median(x.polls)})`,
    );
  }
  console.log(
    `ratio tinyc-oci/runc: ${
      (median(res.get("tinyc-oci")!.ms) / median(res.get("runc")!.ms))
        .toFixed(2)
    }x`,
  );
}
