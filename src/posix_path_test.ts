import assert from "node:assert/strict";
import { posix } from "node:path";
import { basename, dirname, join, normalize, resolve } from "./posix_path.ts";

Deno.test("posix_path agrees with node:path on the cases tinyc uses", () => {
  const cases = [
    "/",
    "/a/b/",
    "a//b/./c",
    "/a/../../b",
    "../x",
    ".",
    "",
    "/sys/fs/cgroup/memory/",
  ];
  for (const c of cases) {
    assert.equal(
      normalize(c),
      posix.normalize(c).replace(/\/$/, "") || (c.startsWith("/") ? "/" : "."),
      c,
    );
    if (c) {
      assert.equal(
        dirname(c),
        posix.dirname(posix.normalize(c)),
        `dirname ${c}`,
      );
      assert.equal(
        basename(c),
        posix.basename(posix.normalize(c)),
        `basename ${c}`,
      );
    }
  }
  assert.equal(
    join("/sys/fs/cgroup", "memory", "/a/b"),
    "/sys/fs/cgroup/memory/a/b",
  );
  assert.equal(join("/a", ".."), "/");
  assert.equal(resolve("/x/../y"), "/y");
  assert.equal(resolve("rel"), `${Deno.cwd()}/rel`);
});
