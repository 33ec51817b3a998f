import assert from "node:assert/strict";
import { LinuxSecuritySys } from "./security_sys.ts";
import { pipe } from "../sync.ts";
import { libc } from "../libc.ts";

Deno.test("readerGone: a pipe's write end knows when its reader closed", () => {
  const sys = new LinuxSecuritySys();
  const [r, w] = pipe();
  try {
    assert.equal(sys.readerGone(w), false);
    libc().close(r);
    assert.equal(sys.readerGone(w), true);
  } finally {
    libc().close(w);
  }
});
