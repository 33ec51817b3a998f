import assert from "node:assert/strict";
import { parseRunArgs, runHelp, specFromOptions } from "./cli.ts";
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
  assert.throws(() => parseRunArgs([]), /--root DIR is required/);
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
