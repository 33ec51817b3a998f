/**
 * Engines end to end: podman, docker and containerd drive this checkout's
 * `tinyc-oci` (installed by scripts/install.ts into a temporary PREFIX) as
 * their OCI runtime, through ten scenarios each: true, an exit code, output,
 * env, hostname, a bind mount, detach + exec + stop, a memory limit, a tty
 * and nothing left after rm.
 *
 * Every engine runs privately: podman with its own store, run root and
 * containers.conf; dockerd on its own containerd, with its own data root,
 * exec root, sockets and no network setup; containerd with its own root,
 * state and socket. The image is the test's busybox rootfs packed here as a
 * docker-archive (no registry, no network). Daemons started here are
 * stopped in a `finally`; processes, mounts and cgroups the engines leave
 * behind are removed, as are leftovers of an earlier run that died.
 *
 * Needs root and the engines (Debian: podman, docker.io, containerd);
 * installs nothing. Every engine command runs under `timeout`, so a hang
 * fails its step, not the suite.
 */

import assert from "node:assert/strict";
import { busyboxRoot, isRoot } from "./helpers.ts";

const FILE = "tests/engines_test.ts";
/** Seconds any one engine command may take. */
const STEP_TIMEOUT = 60;
const IMAGE = "localhost/tinyc-engines-bb:latest";
/** Names this run's temp dir, cgroups and containers. */
const TAG = `${Deno.pid}`;
/**
 * The work dir is `/tmp/tinyc-e-PID-RANDOM`: short (not under $TMPDIR),
 * because podman refuses a run root longer than 50 characters.
 */
const TMP_RE = /^tinyc-e-(\d+)-[0-9a-f]+$/;

// ------------------------------------------------------------ tools, skips

function onPath(name: string): string | undefined {
  for (const d of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${d}/${name}`).isFile) return `${d}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** docker.io's client, which matches its daemon (another may come first on PATH). */
const DOCKER_CLI = exists("/usr/bin/docker") ? "/usr/bin/docker" : "docker";

const COMMON_TOOLS = ["timeout", "tar", "script", "find", "umount"];
const ENGINE_TOOLS: Record<string, string[]> = {
  podman: ["podman", "conmon"],
  docker: ["dockerd", DOCKER_CLI, "containerd", "containerd-shim-runc-v2"],
  containerd: ["containerd", "ctr", "containerd-shim-runc-v2"],
};

if (!isRoot) console.log(`${FILE}: skipping: the engines need root (uid 0)`);

/** Why the `engine` test cannot run here (printed), or undefined. */
function skipReason(engine: string): string | undefined {
  if (!isRoot) return "not root";
  const missing = [...COMMON_TOOLS, ...ENGINE_TOOLS[engine]].filter((t) =>
    t.startsWith("/") ? !exists(t) : onPath(t) === undefined
  );
  if (missing.length) return `${missing.join(", ")} not installed`;
  return undefined;
}

// ------------------------------------------------------------ commands

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Read `stream` to its end in the background. */
function drain(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  let text = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  })().catch(() => {});
  return {
    done,
    text: () => text,
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/**
 * `timeout ARGV...`: a hang ends as exit 124 after `seconds`. Output is
 * read until the command's pipes close, or 5 s after it exited (a process
 * it left behind may hold them open: that must not hang the test either).
 */
async function run(
  argv: string[],
  env: Record<string, string> = {},
  seconds = STEP_TIMEOUT,
): Promise<Result> {
  const t0 = Date.now();
  const child = new Deno.Command("timeout", {
    args: ["-k", "5", `${seconds}`, ...argv],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = drain(child.stdout), err = drain(child.stderr);
  const { code } = await child.status;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await Promise.race([
    Promise.all([out.done, err.done]).then(() => true),
    new Promise<boolean>((r) => timer = setTimeout(() => r(false), 5000)),
  ]);
  clearTimeout(timer);
  if (!closed) {
    await Promise.all([out.cancel(), err.cancel()]);
    await Promise.all([out.done, err.done]);
  }
  const r = { code, stdout: out.text(), stderr: err.text() };
  if (!closed) {
    r.stderr += `\n(output still open 5 s after exit: ${argv.join(" ")})`;
  }
  if ((code === 124 || code === 137) && Date.now() - t0 >= seconds * 1000) {
    r.stderr += `\n(timed out after ${seconds}s: ${argv.join(" ")})`;
  }
  return r;
}

/** `run`, throwing unless it succeeds. */
async function must(
  argv: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const r = await run(argv, env);
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")}: exit ${r.code}: ${tail(r.stderr)}`);
  }
  return r.stdout;
}

/** The last non-empty line of `s`, for messages. */
function tail(s: string): string {
  return s.trim().split("\n").at(-1)?.slice(0, 300) ?? "";
}

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Run an engine client under util-linux `script`, so it has a terminal as
 * when a person types `-t`; carriage returns are dropped from the output.
 */
async function runInTerminal(
  argv: string[],
  env: Record<string, string> = {},
): Promise<Result> {
  const r = await run(
    ["script", "-qec", argv.map(shQuote).join(" "), "/dev/null"],
    env,
  );
  r.stdout = r.stdout.replaceAll("\r", "").replaceAll("\0", "");
  return r;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `check` every 100 ms until it is true or `ms` passed; returns the last result. */
async function poll(
  check: () => boolean | Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(100);
  }
  return await check();
}

/** A daemon started by this test; `stop()` ends it (SIGTERM, SIGKILL after 20 s). */
interface Daemon {
  alive(): boolean;
  stop(): Promise<void>;
}

/** Start `argv` with stdout and stderr going to `log`. */
function startDaemon(argv: string[], log: string): Daemon {
  const child = new Deno.Command("/bin/sh", {
    // exec: the pid we signal is the daemon's own
    args: ["-c", 'exec "$@" >"$0" 2>&1', log, ...argv],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let ended = false;
  const status = child.status.then(() => {
    ended = true;
  });
  return {
    alive: () => !ended,
    async stop() {
      if (!ended) {
        child.kill("SIGTERM");
        if (!await poll(() => ended, 20000)) child.kill("SIGKILL");
      }
      await status;
    },
  };
}

// ------------------------------------------------------------ host leftovers

/** Pids (not ours) whose command line mentions `s`. */
function pidsMentioning(s: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes(s)) {
        pids.push(Number(e.name));
      }
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * End processes that mention `s` (started through the engines), by pid:
 * those that do not exit by themselves get SIGTERM, then SIGKILL.
 */
async function reapMentioning(s: string): Promise<void> {
  const gone = () => pidsMentioning(s).length === 0;
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    if (await poll(gone, 3000)) return;
    for (const pid of pidsMentioning(s)) {
      try {
        Deno.kill(pid, signal);
      } catch {
        // gone
      }
    }
  }
  await poll(gone, 3000);
}

/** Mount points (from /proc/self/mountinfo, unescaped). */
function mountPoints(): string[] {
  return Deno.readTextFileSync("/proc/self/mountinfo").split("\n")
    .filter((l) => l)
    .map((l) =>
      l.split(" ")[4].replace(
        /\\([0-7]{3})/g,
        (_, o) => String.fromCharCode(parseInt(o, 8)),
      )
    );
}

/** Lazily unmount everything at or below `dir`, deepest first. */
async function umountUnder(dir: string): Promise<void> {
  const below = mountPoints().filter((m) =>
    m === dir || m.startsWith(`${dir}/`)
  ).sort().reverse();
  for (const m of below) await run(["umount", "-l", m], {}, 20);
}

/** Cgroup directories (every hierarchy, below the top) whose path matches `re`. */
async function cgroupDirs(re: RegExp): Promise<string[]> {
  const r = await run(
    [
      "find",
      "/sys/fs/cgroup",
      "-mindepth",
      "2",
      "-maxdepth",
      "7",
      "-type",
      "d",
    ],
    {},
    30,
  );
  return r.stdout.split("\n").filter((d) => d && re.test(d));
}

/**
 * Remove the cgroups matching `re` (this run's), deepest first,
 * after killing what still runs in them (containers of a run that died).
 */
async function removeCgroups(re: RegExp): Promise<void> {
  const dirs = (await cgroupDirs(re)).sort((a, b) => b.length - a.length);
  const procs = () =>
    dirs.flatMap((d) => {
      try {
        return Deno.readTextFileSync(`${d}/cgroup.procs`).split("\n")
          .filter((l) => l).map(Number);
      } catch {
        return [];
      }
    });
  for (const pid of procs()) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await poll(() => procs().length === 0, 5000);
  for (const d of dirs) {
    // a plain tmpfs directory posing as a cgroup (see removeNewTopDirs) may
    // hold files podman wrote; in a real cgroupfs these unlinks just fail
    for (const f of ["tasks", "cgroup.procs"]) {
      try {
        Deno.removeSync(`${d}/${f}`);
      } catch {
        // a cgroupfs file, or none
      }
    }
    try {
      Deno.removeSync(d);
    } catch {
      // in use or already gone
    }
  }
}

/**
 * On cgroup v1 hosts /sys/fs/cgroup is a tmpfs, and podman may make plain
 * directories there (a "cgroup" for a controller that is not mounted).
 * Remove new top-level entries that are empty directory trees, not mounts.
 */
function removeNewTopDirs(before: Set<string>): void {
  const mounts = new Set(mountPoints());
  const walkRemove = (d: string): void => {
    for (const e of Deno.readDirSync(d)) {
      if (e.isDirectory) walkRemove(`${d}/${e.name}`);
    }
    Deno.removeSync(d);
  };
  for (const e of Deno.readDirSync("/sys/fs/cgroup")) {
    const d = `/sys/fs/cgroup/${e.name}`;
    if (before.has(e.name) || !e.isDirectory || mounts.has(d)) continue;
    try {
      walkRemove(d);
    } catch {
      // not empty: not ours to remove
    }
  }
}

/**
 * Paths the engines create outside their configured roots (hard-coded in
 * them), deepest first; those that did not exist before a test are removed
 * after it (directories only when empty). The list of those is kept in the
 * work dir, so that a run that died is cleaned up by the next.
 */
const HOST_PATHS = [
  "/run/docker/plugins",
  "/run/docker",
  "/etc/docker/key.json",
  "/run/containerd/fifo",
  "/run/containerd/s",
  "/run/containerd",
  "/opt/containerd/bin",
  "/opt/containerd/lib",
  "/opt/containerd",
  "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
  "/var/lib/containers/cache",
  "/var/lib/containers",
  "/dev/shm/libpod_lock",
  // podman runs its runtime with the default state root
  "/run/tinyc-oci",
];
const NEW_PATHS_FILE = "new-host-paths.json";

/** Remove `paths` (some of HOST_PATHS), in HOST_PATHS's order. */
function removeHostPaths(paths: string[]): void {
  for (const p of HOST_PATHS) {
    if (!paths.includes(p)) continue;
    try {
      Deno.removeSync(p); // a directory only when empty
    } catch {
      // absent, or not empty
    }
  }
}

/**
 * The cgroup parent of this run's (or, with `pid`, another run's)
 * containers: `/engines-test-ENGINE-PID`, not `tinyc-*` (the cgroup tests
 * count those as tinyc run's leftovers).
 */
function cgroupRe(pid = TAG): RegExp {
  return new RegExp(`/engines-test-[a-z]+-${pid}(/|$)`);
}

/**
 * Leftovers of earlier runs of this file that died (their pid, in the temp
 * dir's name, is gone): processes, mounts, the temp dir, cgroups.
 */
async function cleanStale(): Promise<void> {
  for (const e of Deno.readDirSync("/tmp")) {
    const m = e.name.match(TMP_RE);
    if (!m || !e.isDirectory || exists(`/proc/${m[1]}`)) continue;
    const dir = `/tmp/${e.name}`;
    console.log(`${FILE}: removing leftovers of an earlier run: ${dir}`);
    let newPaths: string[] = [];
    try {
      const list = JSON.parse(
        Deno.readTextFileSync(`${dir}/${NEW_PATHS_FILE}`),
      );
      newPaths = HOST_PATHS.filter((p) => list.includes(p));
    } catch {
      // died before writing it
    }
    await reapMentioning(dir);
    await umountUnder(dir);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await removeCgroups(cgroupRe(m[1]));
    removeHostPaths(newPaths);
  }
}

// ------------------------------------------------------------ world

/** What every engine test shares: a temp dir, the installed runtime, the image. */
interface World {
  work: string;
  /** The installed `tinyc-oci` wrapper (this checkout). */
  runtime: string;
  /** The busybox image as a docker-archive. */
  archive: string;
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return Array.from(
    new Uint8Array(digest),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * The busybox rootfs as a one-layer docker-archive (what `docker load`,
 * `podman load` and `ctr images import` all read): the layer is a plain tar
 * named by its digest, beside the image config and a manifest.json.
 */
async function buildImage(dir: string): Promise<string> {
  const root = await busyboxRoot();
  const arch = `${dir}/arch`;
  await Deno.mkdir(arch, { recursive: true });
  const layerTmp = `${dir}/layer.tar`;
  await must(["tar", "--numeric-owner", "-C", root, "-cf", layerTmp, "."]);
  const layer = await sha256Hex(await Deno.readFile(layerTmp));
  await Deno.mkdir(`${arch}/${layer}`);
  await Deno.rename(layerTmp, `${arch}/${layer}/layer.tar`);
  const created = "2024-01-01T00:00:00Z";
  const config = JSON.stringify({
    architecture: "amd64",
    os: "linux",
    created,
    config: {
      Cmd: ["/bin/sh"],
      Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    },
    rootfs: { type: "layers", diff_ids: [`sha256:${layer}`] },
    history: [{ created, created_by: "tinyc tests/engines_test.ts" }],
  });
  const configBytes = new TextEncoder().encode(config);
  const configDigest = await sha256Hex(configBytes);
  await Deno.writeFile(`${arch}/${configDigest}.json`, configBytes);
  await Deno.writeTextFile(
    `${arch}/manifest.json`,
    JSON.stringify([{
      Config: `${configDigest}.json`,
      RepoTags: [IMAGE],
      Layers: [`${layer}/layer.tar`],
    }]),
  );
  const archive = `${dir}/image.tar`;
  await must(["tar", "-C", arch, "-cf", archive, "."]);
  await Deno.remove(arch, { recursive: true });
  return archive;
}

/** The work dir (noting `newPaths`, see HOST_PATHS), runtime and image. */
async function makeWorld(newPaths: string[]): Promise<World> {
  const work = `/tmp/tinyc-e-${TAG}-${crypto.randomUUID().slice(0, 6)}`;
  await Deno.mkdir(work);
  await Deno.chmod(work, 0o755);
  try {
    await Deno.writeTextFile(
      `${work}/${NEW_PATHS_FILE}`,
      JSON.stringify(newPaths),
    );
    const install = new URL("../scripts/install.ts", import.meta.url).pathname;
    await must([Deno.execPath(), "run", "-A", install], {
      PREFIX: `${work}/prefix`,
    });
    const runtime = `${work}/prefix/bin/tinyc-oci`;
    assert.ok(exists(runtime), `install did not write ${runtime}`);
    return { work, runtime, archive: await buildImage(work) };
  } catch (e) {
    await Deno.remove(work, { recursive: true }).catch(() => {});
    throw e;
  }
}

// ------------------------------------------------------------ engines

/** How a scenario asks for a container. */
interface RunOpts {
  env?: string;
  hostname?: string;
  /** [host dir, container dir] */
  bind?: [string, string];
  /** bytes */
  memory?: number;
  tty?: boolean;
  /** a named container is kept (to inspect and rm); unnamed ones get --rm */
  name?: string;
  detach?: boolean;
}

/** One engine as the scenarios see it. */
interface Engine {
  name: string;
  run(o: RunOpts, cmd: string[]): Promise<Result>;
  exec(name: string, cmd: string[]): Promise<Result>;
  /** Ask the container to stop (SIGTERM first) and return once it has. */
  stop(name: string): Promise<Result>;
  /** The stopped container's exit code. */
  exitCode(name: string): Promise<string>;
  /** The id the engine gives tinyc-oci (and names cgroups and mounts with). */
  id(name: string): Promise<string>;
  rm(name: string): Promise<Result>;
  /** Ids and names of every container the engine knows. */
  list(): Promise<string[]>;
  /** Where tinyc-oci's state for container `id` lives when this engine runs it. */
  stateDir(id: string): string;
  /** Remove every container and image (best effort); daemons are stopped by the caller. */
  clean(): Promise<void>;
}

/** The host's hard limit for `name` in /proc/self/limits ("Max open files"). */
function hardLimit(name: string): number {
  const line = Deno.readTextFileSync("/proc/self/limits").split("\n")
    .find((l) => l.startsWith(name));
  const hard = line?.slice(name.length).trim().split(/\s+/)[1];
  return hard === undefined || hard === "unlimited" ? Infinity : Number(hard);
}

async function setupPodman(w: World): Promise<Engine> {
  const P = `${w.work}/podman`;
  for (const d of ["root", "runroot", "tmp", "net"]) {
    await Deno.mkdir(`${P}/${d}`, { recursive: true });
  }
  // podman's default ulimits (nofile 1048576, nproc 4194304) may exceed the
  // host's hard limits, and without CAP_SYS_RESOURCE no runtime may raise
  // them: ask for what the host allows (nproc at most 32768, a value known
  // to fit: the limit podman's own processes get may be below ours).
  const nofile = Math.min(hardLimit("Max open files"), 1048576);
  const nproc = Math.min(hardLimit("Max processes"), 32768);
  await Deno.writeTextFile(
    `${P}/containers.conf`,
    `[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
[engine]
lock_type = "file"
cgroup_manager = "cgroupfs"
events_logger = "file"
`,
  );
  const env = { CONTAINERS_CONF: `${P}/containers.conf` };
  const podman = [
    "podman",
    "--root",
    `${P}/root`,
    "--runroot",
    `${P}/runroot`,
    "--tmpdir",
    `${P}/tmp`,
    "--network-config-dir",
    `${P}/net`,
    "--storage-driver",
    "vfs",
    "--cgroup-manager",
    "cgroupfs",
    "--events-backend",
    "file",
    "--runtime",
    w.runtime,
  ];
  await must([...podman, "load", "-q", "-i", w.archive], env);
  const inspect = async (name: string, f: string) =>
    (await must([...podman, "inspect", "--format", f, name], env)).trim();
  return {
    name: "podman",
    run(o, cmd) {
      const a = [
        ...podman,
        "run",
        "--network",
        "none",
        "--cgroup-parent",
        `/engines-test-podman-${TAG}`,
      ];
      if (o.env) a.push("-e", o.env);
      if (o.hostname) a.push("--hostname", o.hostname);
      if (o.bind) a.push("-v", `${o.bind[0]}:${o.bind[1]}`);
      if (o.memory) a.push("--memory", `${o.memory}`);
      if (o.tty) a.push("-t");
      if (o.detach) a.push("-d");
      if (o.name) a.push("--name", o.name);
      else a.push("--rm");
      a.push(IMAGE, ...cmd);
      return o.tty ? runInTerminal(a, env) : run(a, env);
    },
    exec: (name, cmd) => run([...podman, "exec", name, ...cmd], env),
    stop: (name) => run([...podman, "stop", "-t", "10", name], env),
    exitCode: (name) => inspect(name, "{{.State.ExitCode}}"),
    id: (name) => inspect(name, "{{.Id}}"),
    rm: (name) => run([...podman, "rm", "-f", name], env),
    async list() {
      const out = await must(
        [...podman, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
        env,
      );
      return out.split(/\s+/).filter((s) => s);
    },
    // podman runs its runtime with the runtime's default --root
    stateDir: (id) => `/run/tinyc-oci/${id}`,
    async clean() {
      await run([...podman, "rm", "-af", "-t", "0"], env);
      await run([...podman, "rmi", "-af"], env);
    },
  };
}

/** Start containerd with its root, state and sockets in `dir`. */
async function startContainerd(dir: string): Promise<[Daemon, string]> {
  await Deno.mkdir(dir, { recursive: true });
  const sock = `${dir}/containerd.sock`;
  await Deno.writeTextFile(
    `${dir}/config.toml`,
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
# cri would look for CNI; opt would create /opt/containerd
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
`,
  );
  const log = `${dir}/containerd.log`;
  const d = startDaemon(["containerd", "--config", `${dir}/config.toml`], log);
  const up = await poll(
    async () =>
      !d.alive() || (await run(["ctr", "-a", sock, "version"], {}, 10))
          .code === 0,
    30000,
  );
  if (!up || !d.alive()) {
    await d.stop();
    throw new Error(`containerd did not start: ${tail(readLog(log))}`);
  }
  return [d, sock];
}

function readLog(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "(no log)";
  }
}

async function setupContainerd(
  w: World,
  daemons: Daemon[],
): Promise<Engine> {
  const C = `${w.work}/ctd`;
  const [d, sock] = await startContainerd(C);
  daemons.push(d);
  const ns = `tinyc-engines-${TAG}`;
  const ctr = ["ctr", "-a", sock, "-n", ns];
  const rtRoot = `${C}/rtroot`;
  await Deno.mkdir(rtRoot);
  await must([
    ...ctr,
    "images",
    "import",
    "--snapshotter",
    "native",
    w.archive,
  ]);
  let n = 0;
  return {
    name: "containerd",
    run(o, cmd) {
      const name = o.name ?? `te-${++n}`;
      const a = [
        ...ctr,
        "run",
        "--snapshotter",
        "native",
        "--runc-binary",
        w.runtime,
        "--runc-root",
        rtRoot,
        "--fifo-dir",
        `${C}/fifo`,
        "--cgroup",
        `/engines-test-ctr-${TAG}/${name}`,
      ];
      if (o.env) a.push("--env", o.env);
      if (o.hostname) {
        // ctr 1.6 has no --hostname: the container sets it in its own UTS
        // namespace (which needs CAP_SYS_ADMIN)
        a.push("--cap-add", "CAP_SYS_ADMIN");
        cmd = [
          "/bin/sh",
          "-c",
          'hostname "$0" && exec "$@"',
          o.hostname,
          ...cmd,
        ];
      }
      if (o.bind) {
        a.push(
          "--mount",
          `type=bind,src=${o.bind[0]},dst=${o.bind[1]},options=rbind:rw`,
        );
      }
      if (o.memory) {
        // containerd's default spec mounts no cgroupfs: ask for it, as docker does
        a.push(
          "--memory-limit",
          `${o.memory}`,
          "--mount",
          "type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev",
        );
      }
      if (o.tty) a.push("-t");
      if (o.detach) a.push("-d");
      if (!o.name) a.push("--rm");
      a.push(IMAGE, name, ...cmd);
      // ctr -t insists on a terminal
      return o.tty ? runInTerminal(a) : run(a);
    },
    exec: (name, cmd) =>
      run([
        ...ctr,
        "task",
        "exec",
        "--exec-id",
        `x${crypto.randomUUID().slice(0, 8)}`,
        name,
        ...cmd,
      ]),
    async stop(name) {
      const r = await run([...ctr, "task", "kill", "-s", "SIGTERM", name]);
      if (r.code !== 0) return r;
      const stopped = await poll(
        async () =>
          new RegExp(`^${name}\\s.*STOPPED`, "m").test(
            (await run([...ctr, "task", "ls"])).stdout,
          ),
        20000,
      );
      return stopped
        ? r
        : { ...r, code: 1, stderr: "task not STOPPED in 20 s" };
    },
    // ctr task delete exits with the task's exit status
    exitCode: async (name) =>
      `${(await run([...ctr, "task", "delete", name])).code}`,
    id: (name) => Promise.resolve(name),
    async rm(name) {
      await run([...ctr, "task", "delete", name]);
      return await run([...ctr, "container", "delete", name]);
    },
    async list() {
      const c = await must([...ctr, "container", "ls", "-q"]);
      const t = await must([...ctr, "task", "ls", "-q"]);
      return `${c}\n${t}`.split(/\s+/).filter((s) => s);
    },
    stateDir: (id) => `${rtRoot}/${ns}/${id}`,
    async clean() {
      const tasks = (await run([...ctr, "task", "ls", "-q"])).stdout;
      for (const id of tasks.split(/\s+/).filter((s) => s)) {
        await run([...ctr, "task", "kill", "-s", "SIGKILL", id]);
        await poll(
          async () =>
            (await run([...ctr, "task", "delete", "-f", id])).code === 0,
          5000,
        );
      }
      const cs = (await run([...ctr, "container", "ls", "-q"])).stdout;
      for (const id of cs.split(/\s+/).filter((s) => s)) {
        await run([...ctr, "container", "delete", id]);
      }
      await run([...ctr, "images", "rm", IMAGE]);
    },
  };
}

async function setupDocker(w: World, daemons: Daemon[]): Promise<Engine> {
  const D = `${w.work}/docker`;
  for (const d of ["data", "exec", "cli"]) {
    await Deno.mkdir(`${D}/${d}`, { recursive: true });
  }
  const [ctd, ctdSock] = await startContainerd(`${w.work}/dctd`);
  daemons.push(ctd);
  await Deno.writeTextFile(
    `${D}/daemon.json`,
    JSON.stringify({ runtimes: { tinyc: { path: w.runtime } } }),
  );
  const sock = `${D}/docker.sock`;
  const log = `${D}/dockerd.log`;
  const d = startDaemon([
    "dockerd",
    "--config-file",
    `${D}/daemon.json`,
    "--data-root",
    `${D}/data`,
    "--exec-root",
    `${D}/exec`,
    "--pidfile",
    `${D}/docker.pid`,
    "-H",
    `unix://${sock}`,
    "--containerd",
    ctdSock,
    "--iptables=false",
    "--ip6tables=false",
    "--bridge=none",
    "--ip-forward=false",
    "--ip-masq=false",
    "--userland-proxy=false",
    "--storage-driver",
    "vfs",
    "--exec-opt",
    "native.cgroupdriver=cgroupfs",
    "--cgroup-parent",
    `/engines-test-docker-${TAG}`,
  ], log);
  daemons.push(d);
  const env = { DOCKER_CONFIG: `${D}/cli` };
  const docker = [DOCKER_CLI, "-H", `unix://${sock}`];
  const up = await poll(
    async () =>
      !d.alive() || (await run([...docker, "version"], env, 10)).code === 0,
    30000,
  );
  if (!up || !d.alive()) {
    throw new Error(`dockerd did not start: ${tail(readLog(log))}`);
  }
  await must([...docker, "load", "-q", "-i", w.archive], env);
  const inspect = async (name: string, f: string) =>
    (await must([...docker, "inspect", "--format", f, name], env)).trim();
  return {
    name: "docker",
    run(o, cmd) {
      const a = [...docker, "run", "--runtime", "tinyc", "--network", "none"];
      if (o.env) a.push("-e", o.env);
      if (o.hostname) a.push("--hostname", o.hostname);
      if (o.bind) a.push("-v", `${o.bind[0]}:${o.bind[1]}`);
      if (o.memory) a.push("--memory", `${o.memory}`);
      if (o.tty) a.push("-t");
      if (o.detach) a.push("-d");
      if (o.name) a.push("--name", o.name);
      else a.push("--rm");
      a.push(IMAGE, ...cmd);
      return o.tty ? runInTerminal(a, env) : run(a, env);
    },
    exec: (name, cmd) => run([...docker, "exec", name, ...cmd], env),
    stop: (name) => run([...docker, "stop", "-t", "10", name], env),
    exitCode: (name) => inspect(name, "{{.State.ExitCode}}"),
    id: (name) => inspect(name, "{{.Id}}"),
    rm: (name) => run([...docker, "rm", "-f", name], env),
    async list() {
      const out = await must(
        [...docker, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}"],
        env,
      );
      return out.split(/\s+/).filter((s) => s);
    },
    // dockerd 20.10 names its runtimes' state root after the default runtime
    // (runtime-runc); look under every runtime-* root
    stateDir: (id) => {
      for (const e of Deno.readDirSync(`${D}/exec`)) {
        if (!e.name.startsWith("runtime-")) continue;
        const p = `${D}/exec/${e.name}/moby/${id}`;
        if (exists(p)) return p;
      }
      return `${D}/exec/runtime-runc/moby/${id}`;
    },
    async clean() {
      const ids = (await run([...docker, "ps", "-aq"], env)).stdout
        .split(/\s+/).filter((s) => s);
      if (ids.length) await run([...docker, "rm", "-f", ...ids], env);
      await run([...docker, "rmi", "-f", IMAGE], env);
    },
  };
}

// ------------------------------------------------------------ scenarios

/** Assert `r` exited with `code`, naming stderr's last line otherwise. */
function expectCode(r: Result, code: number, what: string): void {
  assert.equal(
    r.code,
    code,
    `${what}: exit ${r.code}, want ${code}: ${
      tail(r.stderr) || tail(r.stdout)
    }`,
  );
}

type Scenario = (e: Engine, w: World) => Promise<void>;

const SCENARIOS: [string, Scenario][] = [
  ["true", async (e) => {
    expectCode(await e.run({}, ["/bin/true"]), 0, "run /bin/true");
  }],
  ["exit code", async (e) => {
    expectCode(await e.run({}, ["/bin/sh", "-c", "exit 3"]), 3, "exit 3");
  }],
  ["echo output", async (e) => {
    const r = await e.run({}, ["/bin/echo", "hello-oci"]);
    expectCode(r, 0, "echo");
    assert.equal(r.stdout.trim(), "hello-oci", tail(r.stderr));
  }],
  ["env", async (e) => {
    const r = await e.run({ env: "TINYC_ENGINES=bar-42" }, [
      "/bin/sh",
      "-c",
      'echo "$TINYC_ENGINES"',
    ]);
    expectCode(r, 0, "env");
    assert.equal(r.stdout.trim(), "bar-42", tail(r.stderr));
  }],
  ["hostname (the host's unchanged)", async (e) => {
    const before = Deno.hostname();
    const r = await e.run({ hostname: "enginebox" }, ["/bin/hostname"]);
    const after = Deno.hostname();
    if (after !== before) await run(["hostname", before]);
    assert.equal(after, before, "the host's hostname changed");
    expectCode(r, 0, "hostname");
    assert.equal(r.stdout.trim(), "enginebox", tail(r.stderr));
  }],
  ["bind mount: read, write back", async (e, w) => {
    const vol = `${w.work}/vol-${e.name}`;
    await Deno.mkdir(vol);
    await Deno.writeTextFile(`${vol}/in.txt`, "from-host\n");
    const r = await e.run({ bind: [vol, "/mnt/vol"] }, [
      "/bin/sh",
      "-c",
      "cat /mnt/vol/in.txt && echo from-ctr >/mnt/vol/out.txt",
    ]);
    expectCode(r, 0, "bind mount");
    assert.equal(r.stdout.trim(), "from-host");
    assert.equal(
      (await Deno.readTextFile(`${vol}/out.txt`)).trim(),
      "from-ctr",
    );
  }],
  ["detach + exec + stop (SIGTERM reaches a trapping sh)", async (e) => {
    const name = `te-det-${TAG}`;
    try {
      const r = await e.run({ detach: true, name }, [
        "/bin/sh",
        "-c",
        'trap "exit 0" TERM; touch /tmp/trapped; while :; do sleep 1; done',
      ]);
      expectCode(r, 0, "run -d");
      // the exec waits (bounded by its timeout) until the trap is set
      const x = await e.exec(name, [
        "/bin/sh",
        "-c",
        "until test -e /tmp/trapped; do sleep 0.1; done; echo exec-ok",
      ]);
      expectCode(x, 0, "exec");
      assert.equal(x.stdout.trim(), "exec-ok");
      // where "rm leaves nothing" looks: the state and cgroup are there now
      const id = await e.id(name);
      assert.ok(
        exists(e.stateDir(id)),
        `no tinyc-oci state at ${e.stateDir(id)}`,
      );
      assert.notDeepEqual(
        await cgroupDirs(new RegExp(id)),
        [],
        `no cgroup named after ${id}`,
      );
      expectCode(await e.stop(name), 0, "stop");
      // 0 is the trap's exit: a SIGKILL after the grace period gives 137
      assert.equal(
        await e.exitCode(name),
        "0",
        "exit code after stop (0: the trap ran on SIGTERM)",
      );
    } finally {
      await e.rm(name);
    }
  }],
  ["memory limit 64m, read inside from cgroupfs", async (e) => {
    const r = await e.run({ memory: 64 * 1024 * 1024 }, [
      "/bin/sh",
      "-c",
      "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]);
    expectCode(r, 0, "memory");
    assert.equal(r.stdout.trim(), "67108864", tail(r.stderr));
  }],
  ["tty (-t)", async (e) => {
    const r = await e.run({ tty: true }, [
      "/bin/sh",
      "-c",
      "tty; test -t 0 && test -t 1 && echo is-a-tty",
    ]);
    expectCode(r, 0, "-t");
    assert.match(r.stdout, /\/dev\/pts\/\d+\n(.*\n)*is-a-tty/, tail(r.stderr));
  }],
  ["rm leaves nothing", async (e) => {
    const name = `te-rm-${TAG}`;
    const r = await e.run({ name }, ["/bin/true"]);
    if (r.code !== 0) await e.rm(name);
    expectCode(r, 0, "run");
    const id = await e.id(name);
    expectCode(await e.rm(name), 0, "rm");
    const left: string[] = [];
    const listed = (await e.list()).filter((s) => s === id || s === name);
    if (listed.length) left.push(`engine record (${listed.join(", ")})`);
    if (mountPoints().some((m) => m.includes(id))) left.push("mounts");
    const cgs = await cgroupDirs(new RegExp(id));
    if (cgs.length) left.push(`cgroups (${cgs.join(", ")})`);
    // the engine's helpers (conmon, shim) may take a moment to exit
    if (!await poll(() => pidsMentioning(id).length === 0, 10000)) {
      left.push(`processes (${pidsMentioning(id).join(", ")})`);
    }
    if (exists(e.stateDir(id))) {
      left.push(`tinyc-oci state (${e.stateDir(id)})`);
    }
    assert.deepEqual(left, [], `left behind: ${left.join("; ")}`);
  }],
];

// ------------------------------------------------------------ the tests

const SETUP: Record<
  string,
  (w: World, daemons: Daemon[]) => Promise<Engine>
> = {
  podman: (w) => setupPodman(w),
  docker: setupDocker,
  containerd: setupContainerd,
};

for (const engine of ["podman", "docker", "containerd"]) {
  const reason = skipReason(engine);
  if (reason && isRoot) console.log(`${FILE}: skipping ${engine}: ${reason}`);
  Deno.test({
    name: `${engine} runs containers through tinyc-oci`,
    ignore: reason !== undefined,
  }, async (t) => {
    await cleanStale();
    const topBefore = new Set(
      Array.from(Deno.readDirSync("/sys/fs/cgroup"), (e) => e.name),
    );
    const newPaths = HOST_PATHS.filter((p) => !exists(p));
    const w = await makeWorld(newPaths);
    const daemons: Daemon[] = [];
    let e: Engine | undefined;
    try {
      e = await SETUP[engine](w, daemons);
      for (const [name, scenario] of SCENARIOS) {
        await t.step(name, () => scenario(e!, w));
      }
    } finally {
      await e?.clean().catch(() => {});
      for (const d of daemons.reverse()) await d.stop();
      await reapMentioning(w.work);
      await umountUnder(w.work);
      await Deno.remove(w.work, { recursive: true }).catch((err) =>
        console.log(`${FILE}: could not remove ${w.work}: ${err}`)
      );
      await removeCgroups(cgroupRe());
      removeNewTopDirs(topBefore);
      removeHostPaths(newPaths);
    }
  });
}
