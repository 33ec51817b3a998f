/**
 * Detached containers, driven through the CLI as a user does: run -d, ps,
 * logs, exec, stop, kill, wait, inspect, rm, --restart, --rm, -p, a crashed
 * monitor, and the monitor's memory with 20 containers. The tests use a
 * state directory of their own (TINYC_STATE_DIR), so they get a monitor of
 * their own.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  busyboxRoot,
  type CliResult,
  readUntil,
  skipUnlessRoot,
  tinyc,
  waitFor,
} from "./helpers.ts";
import { cgroupsOf, leasesOf } from "./leftovers.ts";

const ignore = skipUnlessRoot("detached_test.ts");
const STATE = ignore
  ? ""
  : Deno.makeTempDirSync({ prefix: "tinyc-detached-test-" });
const env = { TINYC_STATE_DIR: STATE };

globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(STATE, { recursive: true });
  } catch { /* best effort */ }
});

function t(args: string[], stdin?: string): Promise<CliResult> {
  return tinyc(args, { env, stdin });
}

async function ok(args: string[]): Promise<string> {
  const r = await t(args);
  assert.equal(
    r.code,
    0,
    `tinyc ${args.join(" ")}: exit ${r.code}: ${r.stderr}`,
  );
  return r.stdout;
}

/** Start a detached container; returns its id. */
async function runD(flags: string[], cmd: string[]): Promise<string> {
  const root = await busyboxRoot();
  const out = await ok(["run", "-d", ...flags, "--root", root, "--", ...cmd]);
  const id = out.trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  return id;
}

function record(id: string): {
  pid: number;
  detached: { monitor: { pid: number } };
} {
  return JSON.parse(
    Deno.readTextFileSync(`${STATE}/containers/${id}/state.json`),
  );
}

async function inspect(ref: string) {
  return JSON.parse(await ok(["inspect", ref]))[0];
}

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

async function veths(): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["-o", "link"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0] ?? "");
}

/** Nothing of container `id` (run by monitor `mon`) is left on the host. */
async function assertGone(id: string, pid: number, mon: number) {
  assert.ok(!exists(`${STATE}/containers/${id}`), "state directory left");
  assert.ok(await waitFor(() => !alive(pid)), `init ${pid} still runs`);
  assert.deepEqual(
    (await cgroupsOf(mon)).filter((c) => c.includes(id.slice(0, 12))),
    [],
  );
  assert.deepEqual(
    leasesOf(mon).filter((l) =>
      Deno.readTextFileSync(`/run/tinyc/net/leases/${l}`).includes(id)
    ),
    [],
  );
  assert.ok(!(await veths()).includes(`tc${id.slice(0, 12)}`), "veth left");
  const root = await busyboxRoot();
  assert.ok(
    !Deno.readTextFileSync("/proc/self/mountinfo").includes(root),
    "a mount under the rootfs is left",
  );
}

Deno.test({
  name:
    "run -d, ps, logs, exec, stop (SIGKILL after -t), wait, inspect, rm: nothing left",
  ignore,
  async fn() {
    const id = await runD(["--name", "d-main"], [
      "sh",
      "-c",
      "echo out-line; echo err-line >&2; exec sleep 1000",
    ]);
    const short = id.slice(0, 12);
    // ps: running, by its short id and name
    const ps = await ok(["ps"]);
    assert.match(ps, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS/);
    const line = ps.split("\n").find((l) => l.startsWith(short));
    assert.ok(line, ps);
    assert.match(line, /Up (Less than a second|\d+ seconds?)/);
    assert.match(line, /d-main$/);
    assert.equal((await ok(["ps", "-q"])).includes(short), true);
    // logs: stdout and stderr, each on its own stream
    assert.ok(
      await waitFor(() => exists(`${STATE}/containers/${id}/container.log`)),
    );
    let logs: CliResult = { code: 1, stdout: "", stderr: "" };
    await waitFor(() => false, 200);
    for (let i = 0; i < 50 && !logs.stderr.includes("err-line"); i++) {
      logs = await t(["logs", "d-main"]);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(logs.stdout, "out-line\n");
    assert.equal(logs.stderr, "err-line\n");
    // --tail -1 is all, as docker's
    assert.equal(
      (await t(["logs", "--tail", "-1", "d-main"])).stdout,
      "out-line\n",
    );
    assert.match(
      (await t(["logs", "-t", short])).stdout,
      /^\d{4}-\d\d-\d\dT\S+Z out-line\n$/,
    );
    // exec: the container's pid namespace, the command's status, -e -w -u
    assert.match(
      await ok(["exec", "d-main", "cat", "/proc/1/cmdline"]),
      /^sleep/,
    );
    assert.equal((await t(["exec", "d-main", "sh", "-c", "exit 7"])).code, 7);
    assert.equal(
      await ok([
        "exec",
        "-e",
        "X=y",
        "-w",
        "/tmp",
        short,
        "sh",
        "-c",
        "echo $X $PWD",
      ]),
      "y /tmp\n",
    );
    assert.equal(
      await ok(["exec", "-u", "nobody", "d-main", "id", "-u"]),
      "65534\n",
    );
    // the container's capabilities, no_new_privs and seccomp filter
    const status = await ok(["exec", "d-main", "cat", "/proc/self/status"]);
    assert.match(status, /^CapEff:\s+00000000a80425fb$/m);
    assert.match(status, /^NoNewPrivs:\s+1$/m);
    assert.match(status, /^Seccomp:\s+2$/m);
    assert.notEqual(
      (await t(["exec", "d-main", "unshare", "-U", "true"])).code,
      0,
    );
    // -t: a terminal of its own, relayed by the CLI
    assert.match(
      await ok(["exec", "-t", "d-main", "tty"]),
      /^\/dev\/pts\/\d+\r?\n$/,
    );
    // -d: returns at once, and its output is not the caller's (a pipe
    // reading it would wait for the command)
    const bg = await t([
      "exec",
      "-d",
      "d-main",
      "sh",
      "-c",
      "echo leaked; echo leaked >&2; touch /tmp/exec-d-ran",
    ]);
    assert.deepEqual([bg.code, bg.stdout, bg.stderr], [0, "", ""]);
    while (
      (await t(["exec", "d-main", "test", "-e", "/tmp/exec-d-ran"])).code
    ) {
      // until the background command has run
    }
    // stdin only with -i (without it the command reads EOF, as docker's)
    assert.equal((await t(["exec", "d-main", "cat"], "piped\n")).stdout, "");
    assert.equal(
      (await t(["exec", "-i", "d-main", "cat"], "piped\n")).stdout,
      "piped\n",
    );
    // the same cgroup as the container's init
    const rec = record(id);
    assert.equal(
      await ok(["exec", "d-main", "cat", "/proc/self/cgroup"]),
      await ok(["exec", "d-main", "cat", "/proc/1/cgroup"]),
    );
    // inspect
    const info = await inspect("d-main");
    assert.equal(info.Id, id);
    assert.equal(info.Name, "/d-main");
    assert.equal(info.State.Running, true);
    assert.equal(info.State.Pid, rec.pid);
    // rm refuses a running container
    const refused = await t(["rm", "d-main"]);
    assert.equal(refused.code, 125);
    assert.match(refused.stderr, /running/);
    // stop: sleep as PID 1 ignores SIGTERM, so SIGKILL after 1 s: 137
    const stopped = await t(["stop", "-t", "1", "d-main"]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout, "d-main\n");
    assert.equal(await ok(["wait", short]), "137\n");
    const after = await inspect(id);
    assert.equal(after.State.Status, "exited");
    assert.equal(after.State.ExitCode, 137);
    assert.notEqual(after.State.FinishedAt, "");
    assert.match(await ok(["ps", "-a"]), /Exited \(137\)/);
    assert.ok(!(await ok(["ps"])).includes(short));
    // logs outlive the container
    assert.equal((await t(["logs", "d-main"])).stdout, "out-line\n");
    assert.equal(await ok(["rm", "d-main"]), "d-main\n");
    await assertGone(id, rec.pid, rec.detached.monitor.pid);
    assert.equal((await t(["inspect", "d-main"])).code, 125);
  },
});

Deno.test({
  name: "exit codes through wait, inspect and ps -a; kill -s; names",
  ignore,
  async fn() {
    const id = await runD(["--name", "d-exit"], ["sh", "-c", "exit 3"]);
    assert.equal(await ok(["wait", "d-exit"]), "3\n");
    assert.equal((await inspect("d-exit")).State.ExitCode, 3);
    assert.match(
      await ok(["ps", "-a"]),
      new RegExp(`${id.slice(0, 12)}.*Exited \\(3\\)`),
    );
    // a taken name: 125, naming it
    const root = await busyboxRoot();
    const dup = await t([
      "run",
      "-d",
      "--name",
      "d-exit",
      "--root",
      root,
      "true",
    ]);
    assert.equal(dup.code, 125);
    assert.match(dup.stderr, /d-exit.*already in use/);
    // kill -s TERM reaches a handler
    const trap = await runD(["--name", "d-trap"], [
      "sh",
      "-c",
      "trap 'exit 42' TERM; while :; do sleep 0.1; done",
    ]);
    await waitFor(() => false, 300);
    assert.equal(await ok(["kill", "-s", "TERM", "d-trap"]), "d-trap\n");
    assert.equal(await ok(["wait", trap.slice(0, 8)]), "42\n");
    // kill on a stopped container fails
    assert.equal((await t(["kill", "d-trap"])).code, 125);
    await ok(["rm", "d-exit", "d-trap"]);
  },
});

Deno.test({
  name: "run -d refuses bad flags before anything starts (125)",
  ignore,
  async fn() {
    const root = await busyboxRoot();
    for (
      const args of [
        ["run", "-d", "--bogus", "--root", root, "true"],
        ["run", "-d", "--memory", "lots", "--root", root, "true"],
        ["run", "-d", "--restart", "sometimes", "--root", root, "true"],
        ["run", "-d", "--rm", "--restart", "always", "--root", root, "true"],
        ["run", "-d", "--name", "a/b", "--root", root, "true"],
        ["run", "-d", "--root", `${root}/nonexistent`, "true"],
      ]
    ) {
      const r = await t(args);
      assert.equal(r.code, 125, `${args.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
    }
    // A missing command: exec's error, 127, and no container left.
    const r = await t(["run", "-d", "--root", root, "no-such-command"]);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /no-such-command/);
    assert.equal(await ok(["ps", "-aq"]), "");
  },
});

Deno.test({
  name: "--restart on-failure:2 restarts twice; --rm removes at exit",
  ignore,
  async fn() {
    await runD(["--name", "d-rs", "--restart", "on-failure:2"], [
      "sh",
      "-c",
      "echo ran; exit 5",
    ]);
    assert.ok(
      await waitFor(() => {
        try {
          const r = JSON.parse(
            Deno.readTextFileSync(
              `${STATE}/containers/${
                [...Deno.readDirSync(`${STATE}/containers`)].find((e) => {
                  try {
                    return JSON.parse(
                      Deno.readTextFileSync(
                        `${STATE}/containers/${e.name}/state.json`,
                      ),
                    ).detached.name === "d-rs";
                  } catch {
                    return false;
                  }
                })!.name
              }/state.json`,
            ),
          );
          return r.detached.state === "exited";
        } catch {
          return false;
        }
      }, 10_000),
    );
    const info = await inspect("d-rs");
    assert.equal(info.RestartCount, 2);
    assert.equal(info.State.ExitCode, 5);
    assert.equal((await t(["logs", "d-rs"])).stdout, "ran\nran\nran\n");
    await ok(["rm", "d-rs"]);

    // attach: the output from now on (not what came before), then the
    // container's status
    const vol = Deno.makeTempDirSync();
    await runD(["--name", "d-attach", "-v", `${vol}:/v`], [
      "sh",
      "-c",
      "echo early; while [ ! -e /v/go ]; do echo tick; sleep 0.05; done; exit 9",
    ]);
    for (let i = 0; i < 100; i++) {
      if ((await t(["logs", "d-attach"])).stdout.startsWith("early\n")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const attach = new Deno.Command(
      new URL("../main.ts", import.meta.url).pathname,
      { args: ["attach", "d-attach"], env, stdout: "piped", stderr: "null" },
    ).spawn();
    const [seen, rest] = attach.stdout.tee();
    // attached once a tick arrives: then let the container end
    await readUntil(seen, /tick\n/);
    Deno.writeTextFileSync(`${vol}/go`, "");
    const att = await new Response(rest).text();
    assert.equal((await attach.status).code, 9);
    assert.match(att, /^(tick\n)+$/);
    await ok(["rm", "d-attach"]);
    Deno.removeSync(vol, { recursive: true });

    // logs -f follows until the container ends
    await runD(["--name", "d-follow"], [
      "sh",
      "-c",
      "for i in 1 2 3; do echo tick $i; sleep 0.2; done",
    ]);
    assert.equal(
      await ok(["logs", "-f", "d-follow"]),
      "tick 1\ntick 2\ntick 3\n",
    );
    await ok(["rm", "d-follow"]);

    const id = await runD(["--rm", "--name", "d-rm"], ["sleep", "0.3"]);
    assert.ok(
      await waitFor(() => !exists(`${STATE}/containers/${id}`), 10_000),
    );
    assert.equal((await t(["inspect", "d-rm"])).code, 125);
  },
});

Deno.test({
  name:
    "-p while detached: the port answers; rm -f releases port, lease and veth",
  ignore,
  async fn() {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const id = await runD(
      ["--name", "d-web", "--network", "bridge", "-p", `127.0.0.1:${port}:80`],
      [
        "sh",
        "-c",
        "mkdir -p /www && echo detached-web > /www/index.html && exec httpd -f -p 80 -h /www",
      ],
    );
    assert.match(
      await ok(["ps"]),
      new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`),
    );
    const info = await inspect("d-web");
    assert.match(info.NetworkSettings.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
    let body = "";
    for (let i = 0; i < 50 && body !== "detached-web\n"; i++) {
      try {
        body = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    assert.equal(body, "detached-web\n");
    assert.ok((await veths()).includes(`tc${id.slice(0, 12)}`));
    const rec = record(id);
    assert.equal(await ok(["rm", "-f", "d-web"]), "d-web\n");
    await assertGone(id, rec.pid, rec.detached.monitor.pid);
    // the port is free again
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  },
});

Deno.test({
  name:
    "a crashed monitor: its containers show as exited (255) and rm cleans up",
  ignore,
  async fn() {
    const id = await runD(["--name", "d-crash"], ["sleep", "1000"]);
    const rec = record(id);
    Deno.kill(rec.detached.monitor.pid, "SIGKILL");
    // the container dies with its monitor
    assert.ok(await waitFor(() => !alive(rec.pid), 5000));
    assert.match(await ok(["ps", "-a"]), /Exited \(255\).*d-crash/);
    assert.equal((await inspect("d-crash")).State.Running, false);
    assert.equal(await ok(["rm", "d-crash"]), "d-crash\n");
    assert.ok(!exists(`${STATE}/containers/${id}`));
    // and the next run -d starts a new monitor
    const next = await runD(["--name", "d-next"], ["true"]);
    assert.equal(await ok(["wait", "d-next"]), "0\n");
    assert.notEqual(
      record(next).detached.monitor.pid,
      rec.detached.monitor.pid,
    );
    await ok(["rm", "d-next"]);
  },
});

/** PSS of `pid` in KiB (/proc/PID/smaps_rollup). */
function pss(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(
    Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`),
  );
  return Number(m?.[1] ?? 0);
}

Deno.test({
  name: "20 detached containers: one monitor; its memory (printed)",
  ignore,
  async fn() {
    const ids: string[] = [];
    ids.push(await runD(["--name", "d-mem-1"], ["sleep", "1000"]));
    const mon = record(ids[0]).detached.monitor.pid;
    const one = pss(mon);
    for (let i = 2; i <= 20; i++) {
      ids.push(await runD(["--name", `d-mem-${i}`], ["sleep", "1000"]));
    }
    assert.equal((await ok(["ps", "-q"])).trim().split("\n").length, 20);
    // one monitor runs them all
    for (const id of ids) assert.equal(record(id).detached.monitor.pid, mon);
    const twenty = pss(mon);
    console.log(
      `monitor PSS: ${(one / 1024).toFixed(1)} MiB with 1 container, ${
        (twenty / 1024).toFixed(1)
      } MiB with 20 (${
        ((twenty - one) / 19).toFixed(0)
      } KiB per extra container)`,
    );
    const pids = ids.map((id) => record(id).pid);
    await ok(["rm", "-f", ...ids.map((id) => id.slice(0, 12))]);
    for (let i = 0; i < ids.length; i++) await assertGone(ids[i], pids[i], mon);
    // with nothing left to run, the monitor exits
    assert.ok(await waitFor(() => !alive(mon), 10_000), "the monitor stays");
    assert.ok(!exists(`${STATE}/monitor.sock`));
  },
});

Deno.test({
  name: "logs -f into a pipe its reader closes: a quiet end, status 0",
  ignore,
  async fn() {
    const id = await runD(["--name", "d-pipe"], [
      "sh",
      "-c",
      "while true; do echo line; sleep 0.1; done",
    ]);
    const main = new URL("../main.ts", import.meta.url).pathname;
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        `"${main}" logs -f d-pipe | head -1; echo "status \${PIPESTATUS[0]}"`,
      ],
      env,
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "line\nstatus 0\n");
    assert.equal(new TextDecoder().decode(out.stderr), "");
    await ok(["rm", "-f", id]);
  },
});
