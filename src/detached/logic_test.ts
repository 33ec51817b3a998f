import assert from "node:assert/strict";
import {
  commandText,
  formatTable,
  humanDuration,
  parseRestart,
  parseSignalName,
  portText,
  randomName,
  resolveRef,
  restartDelay,
  shouldRestart,
  splitRunArgs,
  statusText,
  validateName,
  viewState,
} from "./logic.ts";
import { TinycError } from "../errors.ts";
import { ensureStateDir, stateBase } from "./record.ts";

const VALUE = new Set(["root", "e", "env", "h", "hostname", "p", "publish"]);
const SHORT_BOOL = new Set(["t", "i"]);

Deno.test("splitRunArgs: takes -d, --name, --rm, --restart out of the flags only", () => {
  const r = splitRunArgs(
    [
      "-d",
      "--name",
      "web",
      "--rm",
      "--root",
      "/r",
      "-e",
      "--name=x",
      "--restart=always",
      "--",
      "sh",
      "-d",
      "--rm",
    ],
    VALUE,
    SHORT_BOOL,
  );
  assert.deepEqual(r.flags, {
    detach: true,
    name: "web",
    rm: true,
    restart: "always",
  });
  // -e's value "--name=x" is run's, not ours; after --, everything is the command's.
  assert.deepEqual(r.rest, [
    "--root",
    "/r",
    "-e",
    "--name=x",
    "--",
    "sh",
    "-d",
    "--rm",
  ]);
});

Deno.test("splitRunArgs: -d grouped with run's booleans; stops at the command", () => {
  const r = splitRunArgs(["-dit", "--root=/r", "ls", "-d"], VALUE, SHORT_BOOL);
  assert.equal(r.flags.detach, true);
  assert.deepEqual(r.rest, ["-it", "--root=/r", "ls", "-d"]);
  const plain = splitRunArgs(["--root", "/r", "-it", "sh"], VALUE, SHORT_BOOL);
  assert.equal(plain.flags.detach, false);
  assert.deepEqual(plain.rest, ["--root", "/r", "-it", "sh"]);
  assert.throws(() => splitRunArgs(["--name"], VALUE, SHORT_BOOL), TinycError);
  assert.throws(() => splitRunArgs(["--rm=1"], VALUE, SHORT_BOOL), TinycError);
});

Deno.test("restart policies: parsing and decisions", () => {
  assert.deepEqual(parseRestart(undefined), { name: "no", max: 0 });
  assert.deepEqual(parseRestart("on-failure:3"), {
    name: "on-failure",
    max: 3,
  });
  assert.deepEqual(parseRestart("on-failure"), { name: "on-failure", max: 0 });
  assert.deepEqual(parseRestart("always"), { name: "always", max: 0 });
  assert.throws(() => parseRestart("sometimes"), /--restart sometimes/);
  assert.throws(() => parseRestart("on-failure:x"), TinycError);
  const no = parseRestart("no"),
    always = parseRestart("always"),
    of2 = parseRestart("on-failure:2"),
    of = parseRestart("on-failure");
  assert.equal(shouldRestart(no, 1, 0, false), false);
  assert.equal(shouldRestart(always, 0, 5, false), true);
  assert.equal(shouldRestart(always, 137, 0, true), false); // stopped
  assert.equal(shouldRestart(of2, 0, 0, false), false); // success
  assert.equal(shouldRestart(of2, 1, 1, false), true);
  assert.equal(shouldRestart(of2, 1, 2, false), false); // 2 restarts made
  assert.equal(shouldRestart(of, 1, 1000, false), true);
  assert.equal(restartDelay(0), 100);
  assert.equal(restartDelay(3), 800);
  assert.equal(restartDelay(50), 10_000);
});

Deno.test("names: validation, random names avoid taken ones", () => {
  validateName("web-1.a_b");
  assert.throws(() => validateName("-x"), /invalid container name/);
  assert.throws(() => validateName("a/b"), TinycError);
  let i = 0;
  const seq = [0, 0, 0, 0, 0.99, 0.99];
  const rnd = () => seq[i++ % seq.length];
  assert.equal(randomName(new Set(["brave_ada"]), rnd), "wise_wozniak");
});

Deno.test("resolveRef: exact id or name, unique prefix, ambiguity", () => {
  const cs = [
    { id: "abc123" + "0".repeat(58), name: "web" },
    { id: "abd456" + "0".repeat(58), name: "db" },
    { id: "ffff" + "0".repeat(60), name: "abc" },
  ];
  assert.equal(resolveRef("web", cs), cs[0].id);
  assert.equal(resolveRef("abc1", cs), cs[0].id);
  // a name wins over an id prefix
  assert.equal(resolveRef("abc", cs), cs[2].id);
  assert.throws(() => resolveRef("ab", cs), /ambiguous/);
  assert.throws(() => resolveRef("nope", cs), /no such container: nope/);
  assert.throws(
    () => resolveRef("", cs),
    /^TinycError: no container named: an empty name or id$/,
  );
});

Deno.test("ps formatting: durations, status, command, ports, table", () => {
  assert.equal(humanDuration(300), "Less than a second");
  assert.equal(humanDuration(1000), "1 second");
  assert.equal(humanDuration(5000), "5 seconds");
  assert.equal(humanDuration(61_000), "About a minute");
  assert.equal(humanDuration(3 * 60_000), "3 minutes");
  assert.equal(humanDuration(3600_000), "About an hour");
  assert.equal(humanDuration(5 * 3600_000), "5 hours");
  assert.equal(humanDuration(3 * 86400_000), "3 days");
  const now = Date.parse("2026-01-01T00:01:00Z");
  assert.equal(
    statusText(
      { status: "running", exitCode: 0 },
      "2026-01-01T00:00:57Z",
      now,
    ),
    "Up 3 seconds",
  );
  assert.equal(
    statusText(
      { status: "exited", exitCode: 137, finishedAt: "2026-01-01T00:00:55Z" },
      undefined,
      now,
    ),
    "Exited (137) 5 seconds ago",
  );
  assert.equal(commandText(["sleep", "10"]), '"sleep 10"');
  assert.equal(
    commandText(["sh", "-c", "echo hello world; sleep 1"]),
    '"sh -c echo hello wo…"',
  );
  assert.equal(
    portText({ hostIp: "0.0.0.0", hostPort: 8080, port: 80, proto: "tcp" }),
    "0.0.0.0:8080->80/tcp",
  );
  assert.equal(
    formatTable([["A", "BB", "C"], ["xxx", "y", ""]]),
    "A     BB   C\nxxx   y",
  );
});

Deno.test("viewState: stale records (dead init and monitor) show as exited 255", () => {
  const running = { state: "running" as const };
  assert.deepEqual(viewState(running, true, true).status, "running");
  assert.deepEqual(viewState(running, false, false), {
    status: "exited",
    exitCode: 255,
  });
  // the monitor lives and is about to record the exit: as recorded
  assert.equal(viewState(running, false, true).status, "running");
  assert.equal(
    viewState({ state: "restarting", exitCode: 1 }, false, false).exitCode,
    1,
  );
  const done = { state: "exited" as const, exitCode: 3, finishedAt: "t" };
  assert.deepEqual(viewState(done, false, false), {
    status: "exited",
    exitCode: 3,
    finishedAt: "t",
  });
});

Deno.test("signals and the state directory", () => {
  assert.equal(parseSignalName("KILL"), 9);
  assert.equal(parseSignalName("sigterm"), 15);
  assert.equal(parseSignalName("10"), 10);
  assert.throws(() => parseSignalName("NOPE"), /invalid signal/);
  assert.equal(stateBase(0, () => undefined), "/run/tinyc");
  assert.equal(
    stateBase(
      1000,
      (k) => k === "XDG_RUNTIME_DIR" ? "/run/user/1000" : undefined,
    ),
    "/run/user/1000/tinyc",
  );
  assert.equal(
    stateBase(0, (k) => k === "TINYC_STATE_DIR" ? "/tmp/x" : undefined),
    "/tmp/x",
  );
});

Deno.test("ensureStateDir: rootless refuses a directory another user owns or can write", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const me = Deno.uid() ?? 0;
    const other = me === 0 ? 4242 : me + 1;
    // Root may use any directory; a user only a 0700 one of its own.
    ensureStateDir(`${dir}/fresh`, 0);
    assert.throws(() => ensureStateDir(`${dir}/fresh`, other), /uid 4242|uid/);
    Deno.chmodSync(dir, 0o777);
    if (me !== 0) {
      assert.throws(() => ensureStateDir(dir, me), /only it can write/);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
