import assert from "node:assert/strict";
import { Progress } from "./progress.ts";

Deno.test("Progress (no terminal): one line per layer, with its size", () => {
  let out = "";
  const p = new Progress(false, (s) => out += s);
  const known = p.layer("sha256:aaaaaaaaaaaa0000", 2048);
  known.add(2048);
  known.done("Pull complete");
  // a layer whose size is not known in advance (docker-archive): what was read
  const unknown = p.layer("sha256:bbbbbbbbbbbb0000", 0);
  unknown.add(1024 * 1024);
  unknown.add(1024 * 1024);
  unknown.done("Loaded");
  p.layer("sha256:cccccccccccc0000", 0).done("Already exists");
  assert.match(out, /^aaaaaaaaaaaa: Pull complete \(2.05kB\)$/m);
  assert.match(out, /^bbbbbbbbbbbb: Loaded \(2.10MB\)$/m);
  assert.match(out, /^cccccccccccc: Already exists$/m);
});
