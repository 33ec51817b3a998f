/**
 * The handover between real processes: a child plays the init (fd 3 config,
 * fd 4 report) while a third process (a `sleep`, standing in for unshare)
 * also holds the report pipe's write end, as unshare does.
 */
import assert from "node:assert/strict";
import { pipe, receiveMessage, sendMessage } from "../sync.ts";
import { signal, spawn, waitSync } from "../process.ts";
import { libc } from "../libc.ts";
import { TinycError } from "../errors.ts";
import { launcherHandover } from "./report.ts";

const REPORT = new URL("./report.ts", import.meta.url).href;
const SYNC = new URL("../sync.ts", import.meta.url).href;

/** The fake init: handover, read the config, then report it back or exit silently. */
const CHILD = `
import { initHandover, initHandoverDone } from "${REPORT}";
import { receiveMessage, sendMessage, REPORT_FD, CONFIG_FD } from "${SYNC}";
const r = initHandover();
const cfg = receiveMessage(CONFIG_FD);
initHandoverDone(r);
if (cfg.fail) sendMessage(REPORT_FD, { code: 127, message: "exec x: not found" });
Deno.exit(0);
`;

function env(): string[] {
  return Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`);
}

function run(fail: boolean) {
  const [cfgR, cfgW] = pipe();
  const [repR, repW] = pipe();
  const fds: Array<[number, number]> = [[3, cfgR], [4, repW]];
  // The stand-in for unshare: holds fds 3 and 4 for as long as it lives.
  const holder = spawn("/bin/sleep", ["sleep", "5"], env(), { fds });
  const child = spawn(
    Deno.execPath(),
    [Deno.execPath(), "eval", "--quiet", CHILD],
    env(),
    { fds },
  );
  libc().close(cfgR);
  libc().close(repW);
  try {
    const h = launcherHandover(repR, () => -1);
    assert.equal(h.pid, child);
    sendMessage(cfgW, { fail });
    libc().close(cfgW);
    // EOF although `holder` still has the old write end: the new pipe is the init's alone.
    const report = receiveMessage<{ code: number; message: string }>(
      h.reportFd,
    );
    libc().close(h.reportFd);
    // ... and it came while the holder still runs (WNOHANG: 0 = not exited).
    const WNOHANG = 1;
    assert.equal(libc().waitpid(holder, new Uint8Array(4), WNOHANG), 0);
    assert.equal(waitSync(child).code, 0);
    return report;
  } finally {
    libc().close(repR);
    signal(holder, 9);
    waitSync(holder);
  }
}

Deno.test("handover: the init's own pipe ends at its exit though another process holds fd 4", () => {
  assert.equal(run(false), null);
});

Deno.test("handover: a failure report arrives on the init's own pipe", () => {
  assert.deepEqual(run(true), { code: 127, message: "exec x: not found" });
});

Deno.test("handover: the pipe ends before the hello -> one-line error with unshare's status", () => {
  const [r, w] = pipe();
  libc().close(w);
  assert.throws(
    () => launcherHandover(r, () => 1),
    (e: unknown) =>
      e instanceof TinycError && e.exitCode === 125 &&
      e.message ===
        "rootless: unshare exited with status 1 before the init was ready (see the message above)",
  );
  libc().close(r);
});
