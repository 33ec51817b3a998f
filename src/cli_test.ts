import assert from "node:assert/strict";
import {
  parseRunArgs,
  parseTmpfs,
  parseVolume,
  runHelp,
  specFromOptions,
} from "./cli.ts";
import { envGet } from "./spec.ts";

Deno.test("run args: --shell names the command; default /bin/sh; hostname default", () => {
  assert.deepEqual(parseRunArgs(["--root=./r", "--shell=/bin/ts"]).args, [
    "/bin/ts",
  ]);
  const o = parseRunArgs(["--root", "r"]);
  assert.deepEqual(o.args, ["/bin/sh"]);
  assert.equal(o.hostname, "tinyhost");
  assert.equal(o.workdir, "/");
});

Deno.test("run args: command after flags, with its own flags", () => {
  const o = parseRunArgs(["--root", "r", "-w", "/tmp", "ls", "-la", "/"]);
  assert.deepEqual(o.args, ["ls", "-la", "/"]);
  assert.equal(o.workdir, "/tmp");
});

Deno.test("run args: bad input is one line naming the flag", () => {
  assert.throws(() => parseRunArgs([]), /give an IMAGE or --root DIR/);
  assert.throws(
    () => parseRunArgs(["--root", "r", "--shell", "sh"]),
    /--shell sh: must be an absolute path/,
  );
  assert.throws(
    () => parseRunArgs(["--root", "r", "--shell", "/bin/sh", "ls"]),
    /either with --shell/,
  );
  assert.throws(
    () => parseRunArgs(["--root", "r", "--hostname", "bad_name!"]),
    /--hostname bad_name!/,
  );
  assert.throws(
    () => parseRunArgs(["--root", "r", "-w", "rel"]),
    /--workdir rel: must be an absolute/,
  );
  assert.throws(
    () => parseRunArgs(["--root", "r", "-e", "=x"]),
    /--env =x: invalid variable name/,
  );
});

Deno.test("run args: -e KEY copies the host's value, or nothing when unset", () => {
  const o = parseRunArgs([
    "--root",
    "r",
    "-e",
    "A=1",
    "-e",
    "HOSTVAR",
    "-e",
    "UNSET",
  ], (k) => k === "HOSTVAR" ? "from-host" : undefined);
  assert.deepEqual(o.env, ["A=1", "HOSTVAR=from-host"]);
});

Deno.test("spec: environment built from scratch, user values override defaults", () => {
  const o = parseRunArgs([
    "--root",
    "r",
    "-e",
    "PATH=/bin",
    "-e",
    "X=y",
    "--hostname",
    "box",
  ]);
  const spec = specFromOptions(o, {
    rootPath: "/abs/r",
    stdinIsTerminal: false,
  });
  assert.deepEqual(spec.process.env, [
    "HOSTNAME=box",
    "HOME=/root",
    "tiny_demo=something tiny",
    "PATH=/bin",
    "X=y",
  ]);
  assert.equal(envGet(spec.process.env, "TERM"), undefined);
  assert.equal(spec.hostname, "box");
  assert.equal(spec.root.path, "/abs/r");
  const withTty = specFromOptions(o, {
    rootPath: "/abs/r",
    stdinIsTerminal: true,
  });
  assert.equal(envGet(withTty.process.env, "TERM"), "xterm");
});

Deno.test("spec: all six namespaces, default mounts and devices", () => {
  const spec = specFromOptions(parseRunArgs(["--root", "r"]), {
    rootPath: "/r",
    stdinIsTerminal: false,
  });
  assert.deepEqual(spec.linux.namespaces.map((n) => n.type).sort(), [
    "cgroup",
    "ipc",
    "mount",
    "network",
    "pid",
    "uts",
  ]);
  assert.deepEqual(spec.mounts.map((m) => m.destination), [
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
  ]);
  assert.ok(
    spec.mounts.find((m) => m.destination === "/sys")!.options!.includes("ro"),
  );
  assert.deepEqual(spec.linux.devices.map((d) => d.path), [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
  ]);
});

Deno.test("run help documents the exit codes and every flag", () => {
  const h = runHelp();
  for (const f of ["--root", "--shell", "--hostname", "--env", "--workdir"]) {
    assert.ok(h.includes(f), f);
  }
  assert.match(h, /125/);
});

Deno.test("run args: --tmpfs forms and errors", () => {
  assert.deepEqual(parseTmpfs("/tmp"), {
    destination: "/tmp",
    type: "tmpfs",
    source: "tmpfs",
    options: ["nosuid", "nodev", "noexec"],
  });
  assert.deepEqual(parseTmpfs("/tmp:64m").options, [
    "nosuid",
    "nodev",
    "noexec",
    "size=64m",
  ]);
  assert.deepEqual(parseTmpfs("/run:size=1m,mode=755,exec").options, [
    "nosuid",
    "nodev",
    "size=1m",
    "mode=755",
  ]);
  assert.throws(
    () => parseTmpfs("tmp"),
    /--tmpfs tmp: the path must be absolute/,
  );
  assert.throws(() => parseTmpfs("/t:a b"), /--tmpfs \/t:a b: bad option/);
  assert.throws(() => parseTmpfs("/t:xx"), /--tmpfs \/t:xx: bad option xx/);
  assert.throws(() => parseTmpfs("/t:sise=1m"), /bad option sise=1m/);
});

Deno.test("run args: --volume forms and errors", () => {
  assert.deepEqual(parseVolume("/a:/b"), {
    source: "/a",
    destination: "/b",
    readonly: false,
  });
  assert.deepEqual(parseVolume("/a:/b:ro"), {
    source: "/a",
    destination: "/b",
    readonly: true,
  });
  assert.throws(() => parseVolume("/a"), /use HOST:CONTAINER/);
  assert.throws(() => parseVolume("vol:/b"), /named volumes are not supported/);
  // docker's relative forms, against the current directory
  assert.equal(parseVolume("./www:/www").source, `${Deno.cwd()}/www`);
  assert.equal(parseVolume(".:/data").source, Deno.cwd());
  assert.equal(
    parseVolume("../x:/x:ro").source,
    `${Deno.cwd().replace(/\/[^/]*$/, "")}/x`,
  );
  assert.throws(() => parseVolume("/a:b"), /container path must be absolute/);
  assert.throws(() => parseVolume("/a:/b:rx"), /unknown mode rx/);
});

Deno.test("run args: --security-opt", () => {
  const o = parseRunArgs([
    "--root",
    "r",
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "no-new-privileges=false",
  ]);
  assert.equal(o.seccomp, "unconfined");
  assert.equal(o.noNewPrivileges, false);
  assert.equal(
    parseRunArgs(["--root", "r", "--security-opt", "no-new-privileges"])
      .noNewPrivileges,
    true,
  );
  assert.equal(
    parseRunArgs(["--root", "r", "--security-opt", "seccomp:/p.json"]).seccomp,
    "/p.json",
  );
  assert.throws(
    () => parseRunArgs(["--root", "r", "--security-opt", "label=x"]),
    /--security-opt label=x: unsupported/,
  );
});

Deno.test("spec: hardening defaults and what --privileged and --read-only change", () => {
  const host = {
    rootPath: "/r",
    stdinIsTerminal: false,
    availableCaps: (1n << 41n) - 1n,
  };
  const d = specFromOptions(parseRunArgs(["--root", "r"]), host);
  assert.equal(d.process.capabilities!.effective.length, 14);
  assert.equal(d.process.noNewPrivileges, true);
  assert.ok(d.linux.seccomp && d.linux.seccomp.rules.length > 0);
  assert.ok(d.linux.maskedPaths!.includes("/proc/kcore"));
  assert.ok(d.linux.readonlyPaths!.includes("/proc/sys"));
  assert.equal(d.root.readonly, false);
  const p = specFromOptions(
    parseRunArgs(["--root", "r", "--privileged", "--read-only"]),
    host,
  );
  assert.equal(p.process.capabilities!.effective.length, 41);
  assert.equal(p.linux.seccomp, undefined);
  assert.deepEqual(p.linux.maskedPaths, []);
  assert.deepEqual(p.linux.readonlyPaths, []);
  assert.ok(!p.mounts.find((m) => m.type === "sysfs")!.options!.includes("ro"));
  assert.equal(p.root.readonly, true);
  const u = specFromOptions(parseRunArgs(["--root", "r", "-u", "x"]), {
    ...host,
    user: { uid: 1000, gid: 100, additionalGids: [10], home: "/home/x" },
  });
  assert.deepEqual(u.process.user, {
    uid: 1000,
    gid: 100,
    additionalGids: [10],
  });
  assert.deepEqual(u.process.capabilities!.effective, []);
  assert.ok(u.process.env.includes("HOME=/home/x"));
});

Deno.test("run args: --cpus cannot exceed the host's CPUs; tmpfs mode/size checked; mount destinations", () => {
  assert.throws(
    () => parseRunArgs(["--root", "r", "--cpus", "3"], undefined, 2),
    /--cpus 3: range of CPUs is from 0\.01 to 2\.00/,
  );
  assert.equal(
    parseRunArgs(["--root", "r", "--cpus", "1.5"], undefined, 2).resources.cpu
      ?.quota,
    150000,
  );
  assert.throws(() => parseTmpfs("/t:mode=999"), /mode must be octal/);
  assert.throws(() => parseTmpfs("/t:size=lots"), /size must be/);
  assert.throws(
    () => parseTmpfs("/proc/x"),
    /mounting over \/proc is not allowed/,
  );
  assert.throws(() => parseVolume("/a:/"), /must not be \//);
  assert.throws(() => parseVolume("/a:/x/../y"), /'\.\.'/);
  assert.throws(
    () => parseRunArgs(["--root", "r", "-v", "/a:/dev"]),
    /over \/dev .* needs --privileged/,
  );
  assert.ok(parseRunArgs(["--root", "r", "--privileged", "-v", "/dev:/dev"]));
  assert.throws(
    () => parseRunArgs(["--root", "r", "--cgroup-parent", "/"]),
    /--cgroup-parent \/: must name a cgroup path/,
  );
});

Deno.test("spec: user mounts parents first, rootfs nodev unless privileged", () => {
  const o = parseRunArgs([
    "--root",
    "r",
    "-v",
    "/a:/tmp/data",
    "--tmpfs",
    "/tmp",
  ]);
  const host = { rootPath: "/r", stdinIsTerminal: false };
  const s = specFromOptions(o, {
    ...host,
    volumes: [{
      destination: "/tmp/data",
      type: "bind",
      source: "/a",
      options: ["rbind"],
    }],
  });
  const dests = s.mounts.map((m) => m.destination);
  assert.ok(dests.indexOf("/tmp") < dests.indexOf("/tmp/data"));
  assert.equal(s.root.nodev, true);
  assert.equal(
    specFromOptions(parseRunArgs(["--root", "r", "--privileged"]), host).root
      .nodev,
    false,
  );
});

Deno.test("run args: --network host defaults the hostname to the host's", () => {
  assert.equal(
    parseRunArgs(
      ["--root", "r", "--network", "host"],
      undefined,
      2,
      () => "myhost",
    ).hostname,
    "myhost",
  );
  assert.equal(
    parseRunArgs(
      ["--root", "r", "--network", "host", "-h", "x"],
      undefined,
      2,
      () => "myhost",
    ).hostname,
    "x",
  );
  assert.equal(
    parseRunArgs(["--root", "r"], undefined, 2, () => "myhost").hostname,
    "tinyhost",
  );
});
