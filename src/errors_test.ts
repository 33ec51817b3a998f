import assert from "node:assert/strict";
import { oneLine, osReason, SysError, TinycError } from "./errors.ts";
import { errnoName, errnoText } from "./libc.ts";
import { CLONE, cloneFlagNames, mountFlagNames, MS } from "./sys.ts";

Deno.test("SysError names the call, its arguments and errno by name and text", () => {
  const e = new SysError(
    "mount",
    "src=/a, dst=/b, flags=MS_BIND|MS_REC",
    1,
    errnoName(1),
    errnoText(1),
  );
  assert.equal(
    e.message,
    "mount src=/a, dst=/b, flags=MS_BIND|MS_REC: EPERM (operation not permitted)",
  );
  assert.equal(e.exitCode, 125);
  assert.equal(e.code, "EPERM");
});

Deno.test("flag names for errors", () => {
  assert.equal(mountFlagNames(MS.MS_BIND | MS.MS_REC), "MS_BIND|MS_REC");
  assert.equal(mountFlagNames(0), "0");
  assert.equal(mountFlagNames(0x40000000), "0x40000000");
  assert.equal(
    cloneFlagNames(CLONE.CLONE_NEWNS | CLONE.CLONE_NEWPID),
    "CLONE_NEWNS|CLONE_NEWPID",
  );
});

Deno.test("errno table and libc text", () => {
  assert.equal(errnoName(2), "ENOENT");
  assert.equal(errnoName(40), "ELOOP");
  assert.equal(errnoName(98), "EADDRINUSE");
  assert.equal(errnoName(9999), "errno 9999");
  assert.equal(errnoText(2), "no such file or directory");
});

Deno.test("oneLine keeps the first line only", () => {
  assert.equal(oneLine(new TinycError("a\nb")), "a");
  assert.equal(oneLine("x"), "x");
});

Deno.test("osReason: the cause of a failed file operation, without Deno's suffix", () => {
  let err: unknown;
  try {
    Deno.statSync("/nonexistent/tinyc-osreason");
  } catch (e) {
    err = e;
  }
  assert.equal(osReason(err), "no such file or directory");
  assert.equal(osReason(new Error("plain")), "plain");
});
