import assert from "node:assert/strict";
import { execErrorCode, resolveCommand } from "./command.ts";
import { TinycError } from "./errors.ts";

const files: Record<string, "dir" | "file"> = {
  "/bin/sh": "file",
  "/usr/bin/env": "file",
  "/bin": "dir",
};
const stat = (p: string) => files[p] ?? "none";

Deno.test("resolveCommand: PATH search in order, names with / used as is", () => {
  assert.equal(resolveCommand("sh", "/usr/bin:/bin", stat), "/bin/sh");
  assert.equal(resolveCommand("env", "/usr/bin:/bin", stat), "/usr/bin/env");
  assert.equal(resolveCommand("/bin/sh", "", stat), "/bin/sh");
});

Deno.test("resolveCommand: not found is 127, a directory is 126", () => {
  assert.throws(
    () => resolveCommand("nope", "/usr/bin:/bin", stat),
    (e: unknown) =>
      e instanceof TinycError && e.exitCode === 127 &&
      /not found in \$PATH/.test(e.message),
  );
  assert.throws(
    () => resolveCommand("/bin/missing", "/bin", stat),
    (e: unknown) => e instanceof TinycError && e.exitCode === 127,
  );
  assert.throws(
    () => resolveCommand("/bin", "/bin", stat),
    (e: unknown) => e instanceof TinycError && e.exitCode === 126,
  );
});

Deno.test("execErrorCode: docker's mapping", () => {
  assert.equal(execErrorCode("ENOENT"), 127);
  assert.equal(execErrorCode("EACCES"), 126);
  assert.equal(execErrorCode("ENOEXEC"), 126);
});
