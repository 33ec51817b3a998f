/**
 * The layer extractor against hostile and ordinary archives, in temporary
 * directories (runs as any user; owner/device cases only as root).
 */

import assert from "node:assert/strict";
import { extractLayer } from "./extract.ts";
import { buildTar } from "./tar.ts";
import { addr, cstr, libc } from "../libc.ts";

type Entries = Parameters<typeof buildTar>[0];

function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
}

async function withDirs(
  fn: (layer: string, outside: string) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "tinyc-extract-" });
  try {
    await Deno.mkdir(`${base}/layer`);
    await Deno.mkdir(`${base}/outside`);
    await fn(`${base}/layer`, `${base}/outside`);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

const privileged = Deno.uid() === 0;

/** lgetxattr(2) through the raw syscall (test-only). */
function getXattr(path: string, name: string): string | null {
  const nr = Deno.build.arch === "aarch64" ? 9n : 192n;
  const buf = new Uint8Array(64);
  const n = libc().syscall(
    nr,
    addr(cstr(path)),
    addr(cstr(name)),
    addr(buf),
    64n,
    0n,
  );
  return n < 0n ? null : new TextDecoder().decode(buf.subarray(0, Number(n)));
}

function extract(entries: Entries, dir: string) {
  return extractLayer(streamOf(buildTar(entries)), dir, {
    privileged,
    what: "layer test",
  });
}

Deno.test("extract: files, dirs, symlinks, hardlinks, modes and mtimes", async () => {
  await withDirs(async (layer) => {
    const r = await extract([
      { name: "etc/", type: "dir", mode: 0o755, mtime: 1000 },
      { name: "etc/hello", data: "hi\n", mode: 0o640, mtime: 2000 },
      { name: "etc/link", type: "symlink", linkname: "/etc/hello" },
      { name: "etc/hard", type: "hardlink", linkname: "etc/hello" },
      { name: "./bin/deep/tool", data: "#!", mode: 0o4755 },
    ], layer);
    assert.equal(r.size, 5);
    assert.equal(Deno.readTextFileSync(`${layer}/etc/hello`), "hi\n");
    assert.equal(Deno.statSync(`${layer}/etc/hello`).mode! & 0o7777, 0o640);
    assert.equal(
      Deno.statSync(`${layer}/etc/hello`).mtime!.getTime(),
      2000_000,
    );
    assert.equal(Deno.statSync(`${layer}/etc`).mtime!.getTime(), 1000_000);
    assert.equal(Deno.readLinkSync(`${layer}/etc/link`), "/etc/hello");
    assert.equal(
      Deno.statSync(`${layer}/etc/hard`).ino,
      Deno.statSync(`${layer}/etc/hello`).ino,
    );
    assert.equal(
      Deno.statSync(`${layer}/bin/deep/tool`).mode! & 0o7777,
      0o4755,
    );
  });
});

Deno.test("extract: '..' in a name is refused, nothing written outside", async () => {
  await withDirs(async (layer, outside) => {
    await assert.rejects(
      extract([{ name: "../outside/pwned", data: "x" }], layer),
      /contains '\.\.'/,
    );
    assert.deepEqual([...Deno.readDirSync(outside)], []);
  });
});

Deno.test("extract: absolute names land inside the layer", async () => {
  await withDirs(async (layer) => {
    await extract([{ name: "/abs/file", data: "x" }], layer);
    assert.equal(Deno.readTextFileSync(`${layer}/abs/file`), "x");
  });
});

Deno.test("extract: a planted symlink is never written through", async () => {
  await withDirs(async (layer, outside) => {
    await assert.rejects(
      extract([
        { name: "evil", type: "symlink", linkname: outside },
        { name: "evil/pwned", data: "x" },
      ], layer),
      /not a directory \(symlinks are never followed\)/,
    );
    assert.deepEqual([...Deno.readDirSync(outside)], []);
  });
});

Deno.test("extract: a file entry replaces a planted symlink instead of following it", async () => {
  await withDirs(async (layer, outside) => {
    Deno.writeTextFileSync(`${outside}/target`, "original");
    await extract([
      { name: "f", type: "symlink", linkname: `${outside}/target` },
      { name: "f", data: "new" },
    ], layer);
    assert.equal(Deno.readTextFileSync(`${outside}/target`), "original");
    assert.equal(Deno.readTextFileSync(`${layer}/f`), "new");
    assert.ok(Deno.lstatSync(`${layer}/f`).isFile);
  });
});

Deno.test("extract: a directory entry replaces a planted symlink", async () => {
  await withDirs(async (layer, outside) => {
    await extract([
      { name: "d", type: "symlink", linkname: outside },
      { name: "d/", type: "dir", mode: 0o777 },
      { name: "d/x", data: "in" },
    ], layer);
    assert.deepEqual([...Deno.readDirSync(outside)], []);
    assert.ok(Deno.lstatSync(`${layer}/d`).isDirectory);
  });
});

Deno.test("extract: hardlinks to outside the layer are refused", async () => {
  await withDirs(async (layer, outside) => {
    Deno.writeTextFileSync(`${outside}/secret`, "s");
    await assert.rejects(
      extract(
        [{ name: "h", type: "hardlink", linkname: "../outside/secret" }],
        layer,
      ),
      /contains '\.\.'/,
    );
    await assert.rejects(
      extract(
        [{ name: "h", type: "hardlink", linkname: `${outside}/secret` }],
        layer,
      ),
      /hardlink/,
    );
    // through a symlinked directory in the layer
    await assert.rejects(
      extract([
        { name: "s", type: "symlink", linkname: outside },
        { name: "h", type: "hardlink", linkname: "s/secret" },
      ], layer),
      /symlinks are never followed/,
    );
    assert.equal(Deno.statSync(`${outside}/secret`).nlink, 1);
  });
});

Deno.test("extract: whiteouts become 0:0 character devices, opaque dirs an xattr", async () => {
  await withDirs(async (layer) => {
    await extract([
      { name: "etc/", type: "dir", mode: 0o755 },
      { name: "etc/.wh.gone", data: "" },
      { name: "opq/", type: "dir", mode: 0o755 },
      { name: "opq/.wh..wh..opq", data: "" },
    ], layer);
    const st = Deno.lstatSync(`${layer}/etc/gone`);
    assert.ok(st.isCharDevice);
    assert.equal(st.rdev, 0);
    assert.equal(Deno.lstatSync(`${layer}/opq`).isDirectory, true);
    const name = privileged ? "trusted.overlay.opaque" : "user.overlay.opaque";
    assert.equal(getXattr(`${layer}/opq`, name), "y");
  });
});

Deno.test("extract: malformed and truncated archives are clear errors", async () => {
  await withDirs(async (layer) => {
    const good = buildTar([{ name: "a", data: "x".repeat(2000) }]);
    await assert.rejects(
      extractLayer(streamOf(good.slice(0, 1000)), layer, {
        privileged,
        what: "layer t",
      }),
      /layer t: tar: the archive ends inside/,
    );
    const bad = good.slice();
    bad[10] ^= 0xff;
    await assert.rejects(
      extractLayer(streamOf(bad), layer, { privileged, what: "layer t" }),
      /checksum mismatch/,
    );
  });
});

Deno.test("extract: pax and GNU long names", async () => {
  await withDirs(async (layer) => {
    const long = "d/" + "n".repeat(150);
    const pax = `path=${long}\n`;
    const rec = `${pax.length + 3 + String(pax.length).length} ${pax}`;
    // the length field counts itself: fix it up to be exact
    const len = String(rec.length);
    const record = `${len}${rec.slice(rec.indexOf(" "))}`;
    await extract([
      { name: "PaxHeaders/x", flag: "x", data: record },
      { name: "short", data: "pax" },
      { name: "././@LongLink", flag: "L", data: "g/" + "m".repeat(120) + "\0" },
      { name: "trunc", data: "gnu" },
    ], layer);
    assert.equal(Deno.readTextFileSync(`${layer}/${long}`), "pax");
    assert.equal(Deno.readTextFileSync(`${layer}/g/${"m".repeat(120)}`), "gnu");
  });
});

Deno.test({
  name: "extract: owners and device nodes as root",
  ignore: !privileged,
}, async () => {
  await withDirs(async (layer) => {
    await extract([
      { name: "owned", data: "x", uid: 1234, gid: 5678 },
      { name: "null", type: "char", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "fifo", type: "fifo", mode: 0o666 },
    ], layer);
    assert.equal(Deno.lstatSync(`${layer}/null`).mode! & 0o7777, 0o666);
    assert.equal(Deno.lstatSync(`${layer}/fifo`).mode! & 0o7777, 0o666);
    assert.equal(Deno.statSync(`${layer}/owned`).uid, 1234);
    assert.equal(Deno.statSync(`${layer}/owned`).gid, 5678);
    assert.ok(Deno.lstatSync(`${layer}/null`).isCharDevice);
  });
});

Deno.test("extract: a read-only directory still receives its entries", async () => {
  await withDirs(async (layer) => {
    await extract([
      { name: "ro/", type: "dir", mode: 0o555 },
      { name: "ro/f", data: "x" },
    ], layer);
    assert.equal(Deno.statSync(`${layer}/ro`).mode! & 0o777, 0o555);
    assert.equal(Deno.readTextFileSync(`${layer}/ro/f`), "x");
    Deno.chmodSync(`${layer}/ro`, 0o755);
  });
});

Deno.test("extract: an archive cut at an entry boundary is truncated, not complete", async () => {
  await withDirs(async (layer) => {
    const whole = buildTar([{ name: "a", data: "x" }]);
    // header + one data block, no end marker
    await assert.rejects(
      extractLayer(streamOf(whole.slice(0, 1024)), layer, {
        privileged,
        what: "layer t",
      }),
      /without its end marker/,
    );
  });
});

Deno.test("extract: truncated gzip is a clear error", async () => {
  await withDirs(async (layer) => {
    const { decompress } = await import("./unpack.ts");
    const gz = new Uint8Array(
      await new Response(
        streamOf(
          buildTar([{
            name: "a",
            data: crypto.getRandomValues(new Uint8Array(4000)),
          }]),
        )
          .pipeThrough(
            new CompressionStream("gzip") as unknown as TransformStream<
              Uint8Array,
              Uint8Array
            >,
          ),
      ).arrayBuffer(),
    );
    await assert.rejects(
      (async () =>
        extractLayer(
          await decompress(streamOf(gz.slice(0, gz.length - 4)), "t"),
          layer,
          {
            privileged,
            what: "layer t",
          },
        ))(),
      /layer t: .*(gzip|truncated|end)/,
    );
  });
});

Deno.test("extract: zstd layers decompress", async () => {
  const zstd = new Deno.Command("zstd", {
    args: ["-q", "-c"],
    stdin: "piped",
    stdout: "piped",
  });
  let child;
  try {
    child = zstd.spawn();
  } catch {
    console.log("extract: zstd test skipped: no zstd binary");
    return;
  }
  const w = child.stdin.getWriter();
  await w.write(buildTar([{ name: "z/f", data: "zstd" }]));
  await w.close();
  const out = await child.output();
  await withDirs(async (layer) => {
    const { decompress } = await import("./unpack.ts");
    await extractLayer(await decompress(streamOf(out.stdout), "t"), layer, {
      privileged,
      what: "t",
    });
    assert.equal(Deno.readTextFileSync(`${layer}/z/f`), "zstd");
  });
});
