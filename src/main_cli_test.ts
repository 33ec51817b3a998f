import assert from "node:assert/strict";
import { startArgs } from "./main_cli.ts";
import { parseRunArgs } from "./cli.ts";

Deno.test("start: /bin/sh by default; a command after -- or --shell is the user's", () => {
  assert.deepEqual(parseRunArgs(startArgs([])).args, ["/bin/sh"]);
  assert.deepEqual(parseRunArgs(startArgs(["--", "/bin/sh"])).args, [
    "/bin/sh",
  ]);
  assert.deepEqual(parseRunArgs(startArgs(["--", "ls", "-l"])).args, [
    "ls",
    "-l",
  ]);
  assert.deepEqual(parseRunArgs(startArgs(["--shell=/bin/ash"])).args, [
    "/bin/ash",
  ]);
  const o = parseRunArgs(startArgs(["--hostname", "box", "echo", "hi"]));
  assert.deepEqual([o.hostname, o.root, o.args], [
    "box",
    "./bb_root",
    ["echo", "hi"],
  ]);
});
