import assert from "node:assert/strict";
import { onStrayError, strayed, strayError } from "./stray.ts";

Deno.test("a stray error during a run ends the run and is kept for the exit status", () => {
  const seen: unknown[] = [];
  const unhook = onStrayError((e) => seen.push(e));
  try {
    const boom = new Error("boom");
    strayed(boom);
    assert.deepEqual(seen, [boom]);
    assert.equal(strayError()?.error, boom);
    strayed(new Error("later"));
    assert.equal(strayError()?.error, boom, "the first one is the cause");
  } finally {
    unhook();
  }
});

Deno.test("outside a run, an unhandled rejection is one line and exit 125, no stack", () => {
  const url = new URL("./stray.ts", import.meta.url).href;
  const out = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { catchStrayErrors } from "${url}";
       catchStrayErrors();
       Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
       setTimeout(() => {}, 5000);`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  assert.equal(out.code, 125);
  assert.equal(
    new TextDecoder().decode(out.stderr),
    "tinyc: Broken pipe (os error 32)\n",
  );
});
