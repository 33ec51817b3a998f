/**
 * End-to-end: build the tiny-shell rootfs (`deno task shell`'s builder), run
 * `/bin/ts` in a container like the seed's blog does, and script it through
 * a pipe.
 */

import assert from "node:assert/strict";
import { skipUnlessRoot, tinyc } from "./helpers.ts";
import { buildShellRootfs } from "../scripts/shell_rootfs.ts";

const ignore = skipUnlessRoot("tests/tiny_shell_e2e_test.ts");

Deno.test({
  name: "the tiny shell runs in a container and shows the isolation",
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-ts-root-" });
  try {
    await Deno.chmod(dir, 0o755);
    await buildShellRootfs(dir, { compile: false });
    const r = await tinyc(["run", `--root=${dir}`, "--shell=/bin/ts"], {
      stdin:
        "hostname\npwd\nls /\ncd /proc\npwd\nenv\nnosuch\ncat /nope\nexit\n",
    });
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^Tiny shell started/);
    assert.match(out, /ts: /);
    assert.match(out, /Hostname: tinyhost/);
    assert.match(out, /Files in: \/\n(\t\S+\n)+/);
    assert.match(out, /\tbin\n/);
    assert.match(out, /\/proc/);
    assert.match(out, /tiny_demo=something tiny/);
    assert.match(out, /Unknown command: nosuch/);
    assert.match(out, /Tiny shell ended/);
    // Only the rootfs is visible: no host directories such as /work.
    assert.ok(!/\twork\n/.test(out), out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
