import assert from "node:assert/strict";
import { defaultStoreDir, type ImageRecord, Store } from "./store.ts";
import { findImage } from "./images.ts";
import { ociNames } from "./archive.ts";
import { ago } from "../cli/images.ts";
import { humanSize, Progress } from "./progress.ts";

const dg = (c: string) => "sha256:" + c.repeat(64);
const rec = (id: string, tags: string[]): ImageRecord => ({
  id: dg(id),
  repoTags: tags,
  repoDigests: [],
  layers: [dg("f")],
  size: 1,
});

Deno.test("store: default locations", () => {
  assert.equal(defaultStoreDir(0, () => undefined), "/var/lib/tinyc");
  const env = (m: Record<string, string>) => (k: string) => m[k];
  assert.equal(
    defaultStoreDir(1000, env({ HOME: "/home/u" })),
    "/home/u/.local/share/tinyc",
  );
  assert.equal(
    defaultStoreDir(1000, env({ HOME: "/h", XDG_DATA_HOME: "/x" })),
    "/x/tinyc",
  );
  assert.equal(defaultStoreDir(0, env({ TINYC_STORE: "/s" })), "/s");
});

Deno.test("store: 0700, records move tags, stale tmp entries are removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = Store.open(`${dir}/store`);
    assert.equal(Deno.statSync(s.root).mode! & 0o777, 0o700);
    await s.addImage(rec("a", ["docker.io/library/x:1"]));
    await s.addImage(
      rec("b", ["docker.io/library/x:1", "docker.io/library/x:2"]),
    );
    const images = s.images();
    assert.deepEqual(images.find((i) => i.id === dg("a"))!.repoTags, []);
    assert.equal(findImage(images, "x:1")!.id, dg("b"));
    assert.equal(findImage(images, "bbbbbb")!.id, dg("b"));
    assert.equal(findImage(images, "x:3"), undefined);
    // a dead process's tmp dir goes; ours stays
    Deno.mkdirSync(`${s.root}/tmp/999999999-1-dead`);
    const mine = s.tmpDir();
    s.removeStaleTmp();
    assert.deepEqual(
      [...Deno.readDirSync(`${s.root}/tmp`)].map((e) =>
        `${s.root}/tmp/${e.name}`
      ),
      [mine],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store: concurrent record updates are not lost", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = Store.open(dir);
    await Promise.all(
      ["1", "2", "3", "4", "5", "6"].map((c) =>
        s.addImage(rec(c, [`docker.io/library/i:${c}`]))
      ),
    );
    assert.equal(s.images().length, 6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("load: OCI layout names", () => {
  const d = (a: Record<string, string>) => ({
    mediaType: "",
    digest: dg("a"),
    size: 1,
    annotations: a,
  });
  assert.equal(
    ociNames(
      d({ "org.opencontainers.image.ref.name": "127.0.0.1:5000/a:2" }),
      "x.tar",
    )[0].tag,
    "2",
  );
  const t = ociNames(
    d({ "org.opencontainers.image.ref.name": "v1" }),
    "/tmp/My App.tar",
  )[0];
  assert.equal(`${t.registry}/${t.repository}:${t.tag}`, "localhost/my-app:v1");
  assert.deepEqual(ociNames(d({}), "x"), []);
});

Deno.test("images: docker's sizes and ages", () => {
  assert.equal(humanSize(999), "999B");
  assert.equal(humanSize(7_800_000), "7.80MB");
  assert.equal(humanSize(123_456_789), "123MB");
  const now = Date.parse("2026-01-15T00:00:00Z");
  assert.equal(ago("2026-01-14T23:00:00Z", now), "About an hour ago");
  assert.equal(ago("2026-01-14T23:58:00Z", now), "2 minutes ago");
  assert.equal(ago("2026-01-01T00:00:00Z", now), "2 weeks ago");
  assert.equal(ago(undefined, now), "N/A");
});

Deno.test("progress: redrawn lines with bytes and a done/total line on a terminal; one line per layer otherwise", () => {
  let tty = "";
  const p = new Progress(true, (s) => tty += s);
  const a = p.layer("sha256:" + "a".repeat(64), 2000);
  const b = p.layer("sha256:" + "b".repeat(64), 10);
  a.add(1000);
  b.done("Already exists");
  assert.match(tty, /aaaaaaaaaaaa: Downloading 1.00kB\/2.00kB\n/);
  assert.match(tty, /1\/2 layers done\n$/);
  a.done("Pull complete");
  p.finish();
  assert.match(tty, /2\/2 layers done\n$/);
  let plain = "";
  const q = new Progress(false, (s) => plain += s);
  q.layer("sha256:" + "c".repeat(64), 5).done("Pull complete");
  q.finish();
  assert.equal(plain, "cccccccccccc: Pull complete (5B)\n");
});

Deno.test("store: a layer's size on disk counts its regular files only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_store_" });
  try {
    const store = Store.open(dir);
    const l = dg("a");
    const p = store.layerPath(l);
    Deno.mkdirSync(`${p}/etc/sub`, { recursive: true });
    Deno.writeTextFileSync(`${p}/etc/a`, "12345");
    Deno.writeTextFileSync(`${p}/etc/sub/b`, "678");
    Deno.writeTextFileSync(`${dir}/outside`, "x".repeat(1000));
    Deno.symlinkSync(`${dir}/outside`, `${p}/link`); // not followed
    assert.equal(store.layerDiskSize(l), 8);
    assert.equal(store.layerDiskSize(dg("b")), 0); // not unpacked
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
