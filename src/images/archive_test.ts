/**
 * `load` from hand-built archives: docker's legacy layout (a layer shared
 * through a symlink), names that try to leave the archive, bad diff IDs.
 */

import assert from "node:assert/strict";
import { loadArchive } from "./archive.ts";
import { Store } from "./store.ts";
import { buildTar } from "./tar.ts";
import { sha256 } from "./registry.ts";
import { Progress } from "./progress.ts";

const enc = new TextEncoder();
const quiet = () => new Progress(false, () => {}, true);

async function dockerArchive(
  opts: { config?: string; diffId?: string } = {},
): Promise<Uint8Array> {
  const layer = buildTar([{ name: "hello", data: "hi\n" }]);
  const diffId = opts.diffId ?? await sha256(layer);
  const config = enc.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { Cmd: ["/hello"] },
    rootfs: { type: "layers", diff_ids: [diffId, diffId] },
  }));
  const configName = `${(await sha256(config)).slice(7)}.json`;
  return buildTar([
    { name: "aaa/", type: "dir", mode: 0o755 },
    { name: "aaa/layer.tar", data: layer },
    { name: "bbb/", type: "dir", mode: 0o755 },
    // docker save's form for a repeated layer
    { name: "bbb/layer.tar", type: "symlink", linkname: "../aaa/layer.tar" },
    { name: configName, data: config },
    {
      name: "manifest.json",
      data: JSON.stringify([{
        Config: opts.config ?? configName,
        RepoTags: ["legacy/app:v1"],
        Layers: ["aaa/layer.tar", "bbb/layer.tar"],
      }]),
    },
  ]);
}

async function withStore(
  fn: (store: Store, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(Store.open(`${dir}/store`), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("load: docker's legacy archive with a symlinked layer", async () => {
  await withStore(async (store, dir) => {
    Deno.writeFileSync(`${dir}/a.tar`, await dockerArchive());
    const [rec] = await loadArchive(store, `${dir}/a.tar`, quiet());
    assert.deepEqual(rec.repoTags, ["docker.io/legacy/app:v1"]);
    assert.equal(rec.layers.length, 2);
    assert.equal(
      Deno.readTextFileSync(`${store.layerPath(rec.layers[0])}/hello`),
      "hi\n",
    );
    assert.deepEqual([...Deno.readDirSync(`${store.root}/tmp`)], []);
  });
});

Deno.test("load: names in manifest.json stay inside the archive", async () => {
  await withStore(async (store, dir) => {
    Deno.writeTextFileSync(`${dir}/outside.json`, "{}");
    Deno.writeFileSync(
      `${dir}/a.tar`,
      await dockerArchive({ config: "../../../outside.json" }),
    );
    await assert.rejects(
      loadArchive(store, `${dir}/a.tar`, quiet()),
      /outside\.json is missing from the archive/,
    );
  });
});

Deno.test("load: a layer that does not match the config's diff ID", async () => {
  await withStore(async (store, dir) => {
    Deno.writeFileSync(
      `${dir}/a.tar`,
      await dockerArchive({ diffId: "sha256:" + "0".repeat(64) }),
    );
    await assert.rejects(
      loadArchive(store, `${dir}/a.tar`, quiet()),
      /diff ID mismatch/,
    );
    assert.deepEqual([...Deno.readDirSync(`${store.root}/layers`)], []);
    assert.deepEqual(store.images(), []);
  });
});

Deno.test("load: a missing archive is one line naming it", async () => {
  await withStore(async (store, dir) => {
    await assert.rejects(
      () => loadArchive(store, `${dir}/none.tar`),
      new RegExp(
        `^TinycError: load ${dir}/none\\.tar: no such file or directory$`,
      ),
    );
  });
});
