import assert from "node:assert/strict";
import { type LinkReader, secureJoin } from "./paths.ts";

function fakeFs(links: Record<string, string>, existing: string[]): LinkReader {
  return {
    readLink(p) {
      if (p in links) return links[p];
      return existing.includes(p) ? null : undefined;
    },
  };
}

Deno.test("secureJoin: plain paths and missing components", () => {
  const fs = fakeFs({}, ["/r/a"]);
  assert.equal(secureJoin("/r", "/a/b/c", fs), "/r/a/b/c");
  assert.equal(secureJoin("/r/", "/", fs), "/r");
  assert.equal(secureJoin("/r", "a/./b", fs), "/r/a/b");
});

Deno.test("secureJoin: .. and absolute symlinks cannot leave the root", () => {
  const fs = fakeFs(
    { "/r/dev": "/", "/r/up": "../../../etc", "/r/x": "/x2", "/r/x2": "y" },
    ["/r/etc", "/r/y"],
  );
  assert.equal(secureJoin("/r", "/../../etc/passwd", fs), "/r/etc/passwd");
  assert.equal(secureJoin("/r", "/dev/null", fs), "/r/null");
  assert.equal(secureJoin("/r", "/up/shadow", fs), "/r/etc/shadow");
  assert.equal(secureJoin("/r", "/x/z", fs), "/r/y/z");
});

Deno.test("secureJoin: symlink loops are an error", () => {
  const fs = fakeFs({ "/r/a": "b", "/r/b": "a" }, []);
  assert.throws(
    () => secureJoin("/r", "/a", fs),
    /too many levels of symbolic links/,
  );
});

Deno.test("secureJoin: on a real directory with a hostile link", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/etc`);
    Deno.symlinkSync("/etc", `${dir}/hostetc`);
    Deno.symlinkSync("../../../../", `${dir}/escape`);
    assert.equal(secureJoin(dir, "/hostetc/passwd"), `${dir}/etc/passwd`);
    assert.equal(secureJoin(dir, "/escape/etc"), `${dir}/etc`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
