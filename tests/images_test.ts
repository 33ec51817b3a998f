/**
 * Images end to end: a real registry (Debian's `docker-registry`) on
 * 127.0.0.1, started here and stopped after; images built with `umoci` and
 * pushed or archived with `skopeo`; tinyc pull/load/images/rmi/run against
 * a store in a temporary directory (TINYC_STORE).
 */

import assert from "node:assert/strict";
import { buildBusyboxRootfs } from "../src/rootfs/busybox.ts";
import { type CliResult, isRoot, tinyc } from "./helpers.ts";
import { buildTar } from "../src/images/tar.ts";
import { sha256 } from "../src/images/registry.ts";

const TOOLS = ["docker-registry", "skopeo", "umoci"];
const missing = TOOLS.filter((t) =>
  !Deno.env.get("PATH")!.split(":").some((d) => {
    try {
      return Deno.statSync(`${d}/${t}`).isFile;
    } catch {
      return false;
    }
  })
);
if (!isRoot) {
  console.log("tests/images_test.ts: skipping: containers and umoci need root");
} else if (missing.length) {
  console.log(
    `tests/images_test.ts: skipping: ${missing.join(", ")} not installed`,
  );
}
const ignore = !isRoot || missing.length > 0;

function run(cmd: string, args: string[]): void {
  const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" })
    .outputSync();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** A registry on a free loopback port, with storage in `dir`. */
async function startRegistry(
  dir: string,
): Promise<{ host: string; stop(): Promise<void> }> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  Deno.writeTextFileSync(
    `${dir}/registry.yml`,
    `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${dir}/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
`,
  );
  const child = new Deno.Command("docker-registry", {
    args: ["serve", `${dir}/registry.yml`],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const host = `127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const r = await fetch(`http://${host}/v2/`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch {
      if (i > 200) throw new Error("registry did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * An OCI layout `dir/oci` with `base` (busybox + /etc/gone.txt) and `app`
 * (base + a layer that deletes /etc/gone.txt, env/cmd/workdir set).
 */
async function buildImages(dir: string): Promise<void> {
  const oci = `${dir}/oci`;
  run("umoci", ["init", "--layout", oci]);
  run("umoci", ["new", "--image", `${oci}:base`]);
  run("umoci", ["unpack", "--image", `${oci}:base`, `${dir}/b1`]);
  await buildBusyboxRootfs(`${dir}/b1/rootfs`);
  Deno.writeTextFileSync(`${dir}/b1/rootfs/etc/gone.txt`, "gone\n");
  run("umoci", ["repack", "--image", `${oci}:base`, `${dir}/b1`]);
  run("umoci", ["unpack", "--image", `${oci}:base`, `${dir}/b2`]);
  Deno.removeSync(`${dir}/b2/rootfs/etc/gone.txt`);
  Deno.writeTextFileSync(`${dir}/b2/rootfs/etc/app.txt`, "app\n");
  run("umoci", ["repack", "--image", `${oci}:app`, `${dir}/b2`]);
  run("umoci", [
    "config",
    "--image",
    `${oci}:app`,
    "--config.cmd=/bin/sh",
    "--config.cmd=-c",
    "--config.cmd=echo hello $FOO from $(pwd); cat /etc/gone.txt",
    "--config.env=FOO=bar",
    "--config.workingdir=/srv",
  ]);
}

interface World {
  dir: string;
  host: string;
  store: string;
  tinyc(args: string[]): Promise<CliResult>;
  push(tag: string, name: string): void;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tinyc-images-" });
  const reg = await startRegistry(dir);
  try {
    await buildImages(dir);
    const store = `${dir}/store`;
    await fn({
      dir,
      host: reg.host,
      store,
      tinyc: (args) => tinyc(args, { env: { TINYC_STORE: store } }),
      push: (tag, name) =>
        run("skopeo", [
          "copy",
          "--dest-tls-verify=false",
          `oci:${dir}/oci:${tag}`,
          `docker://${reg.host}/${name}`,
        ]),
    });
  } finally {
    await reg.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function ls(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test({
  name:
    "pull from a local registry; run applies env/cmd/workdir and the whiteout",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    w.push("app", "test/app:1");
    const ref = `${w.host}/test/app:1`;
    const p = await w.tinyc(["pull", ref]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, new RegExp(`${ref}$`, "m"));
    assert.equal(ls(`${w.store}/layers`).length, 2);
    const r = await w.tinyc(["run", ref]);
    assert.match(r.stdout, /^hello bar from \/srv$/m);
    assert.match(r.stderr, /gone\.txt'?: No such file/);
    // flags override the image's config
    const o = await w.tinyc([
      "run",
      "-e",
      "FOO=over",
      "-w",
      "/tmp",
      ref,
      "sh",
      "-c",
      "echo $FOO $(pwd); cat /etc/app.txt",
    ]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal(o.stdout, "over /tmp\napp\n");
    const e = await w.tinyc(["run", "--entrypoint", "/bin/echo", ref, "hi"]);
    assert.equal(e.stdout, "hi\n");
    // -u resolves names in the image's /etc/passwd (in its layers)
    const u = await w.tinyc(["run", "-u", "nobody", ref, "id", "-u"]);
    assert.equal(u.stdout, "65534\n", u.stderr);
    // bridge: the /etc/hosts bind finds the image's /etc
    const b = await w.tinyc([
      "run",
      "--network",
      "bridge",
      "--hostname",
      "imgbox",
      ref,
      "cat",
      "/etc/hosts",
    ]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /imgbox/);
    // detached, on the image (its store comes with the CLI's environment)
    const d = await w.tinyc(["run", "-d", ref, "sh", "-c", "cat /etc/app.txt"]);
    assert.equal(d.code, 0, d.stderr);
    const id = d.stdout.trim();
    assert.equal((await w.tinyc(["wait", id])).stdout, "0\n");
    assert.equal((await w.tinyc(["logs", id])).stdout, "app\n");
    // ps and inspect name the image as given, not its overlay
    const ps = await w.tinyc(["ps", "-a"]);
    assert.match(ps.stdout, new RegExp(`${id.slice(0, 12)} +${ref} `));
    const inspect = JSON.parse((await w.tinyc(["inspect", id])).stdout);
    assert.equal(inspect[0].Image, ref);
    assert.equal((await w.tinyc(["rm", id])).code, 0);
    // rmi of an image a detached container runs names that container
    const s = await w.tinyc(["run", "-d", ref, "sleep", "60"]);
    const sid = s.stdout.trim();
    const busy = await w.tinyc(["rmi", ref]);
    assert.equal(busy.code, 125);
    assert.match(
      busy.stderr,
      new RegExp(`in use by running container ${sid.slice(0, 12)} `),
    );
    assert.equal((await w.tinyc(["rm", "-f", sid])).code, 0);
    // nothing left of the containers
    assert.deepEqual(ls(`${w.store}/containers`), []);
    assert.deepEqual(ls(`${w.store}/tmp`), []);
  });
});

Deno.test({
  name:
    "copy-on-write: a container's writes reach neither the image nor the next container",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    w.push("app", "test/app:1");
    const ref = `${w.host}/test/app:1`;
    const a = await w.tinyc([
      "run",
      ref,
      "sh",
      "-c",
      "echo mine > /etc/app.txt; echo new > /new; rm /bin/ls; cat /etc/app.txt",
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout, "mine\n");
    const b = await w.tinyc([
      "run",
      ref,
      "sh",
      "-c",
      "cat /etc/app.txt; ls /new; test -e /bin/ls && echo ls-here",
    ]);
    assert.match(b.stdout, /^app$/m);
    assert.match(b.stdout, /ls-here/);
    assert.match(b.stderr, /\/new: No such file/);
    const ro = await w.tinyc([
      "run",
      "--read-only",
      ref,
      "sh",
      "-c",
      "echo x > /etc/app.txt",
    ]);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /Read-only file system/);
  });
});

Deno.test({
  name: "shared layers between tags are unpacked once; rmi keeps shared layers",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    w.push("base", "test/base:1");
    w.push("app", "test/app:1");
    const base = `${w.host}/test/base:1`;
    const app = `${w.host}/test/app:1`;
    assert.equal((await w.tinyc(["pull", base])).code, 0);
    assert.equal(ls(`${w.store}/layers`).length, 1);
    const p = await w.tinyc(["pull", app]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /Already exists/);
    assert.equal(ls(`${w.store}/layers`).length, 2);
    // An image's size is all its layers', shared ones included (docker's).
    const sizes = JSON.parse(
      (await w.tinyc(["image", "inspect", base, app])).stdout,
    ).map((i: { Size: number }) => i.Size);
    assert.ok(sizes[0] > 100_000, `base size ${sizes[0]}`);
    assert.ok(sizes[1] > sizes[0], `app ${sizes[1]} vs base ${sizes[0]}`);
    const images = await w.tinyc(["images"]);
    assert.match(
      images.stdout,
      /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m,
    );
    assert.match(
      images.stdout,
      new RegExp(`^${w.host}/test/app\\s+1\\s+[0-9a-f]{12}\\s`, "m"),
    );
    const rm = await w.tinyc(["rmi", app]);
    assert.equal(rm.code, 0, rm.stderr);
    assert.match(rm.stdout, /^Untagged: /m);
    // the base's layer stays, the app's own layer goes
    assert.equal(ls(`${w.store}/layers`).length, 1);
    assert.doesNotMatch((await w.tinyc(["images"])).stdout, /test\/app/);
    assert.equal((await w.tinyc(["run", base, "true"])).code, 0);
    const gone = await w.tinyc(["rmi", app]);
    assert.equal(gone.code, 125);
    assert.equal(gone.stderr, `tinyc: rmi ${app}: no such image\n`);
    assert.equal((await w.tinyc(["rmi", base])).code, 0);
    assert.deepEqual(ls(`${w.store}/layers`), []);
    assert.deepEqual(ls(`${w.store}/blobs/sha256`), []);
  });
});

Deno.test({
  name: "rmi is refused while a container uses the image",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    w.push("base", "test/base:1");
    const ref = `${w.host}/test/base:1`;
    assert.equal((await w.tinyc(["pull", ref])).code, 0);
    const child = new Deno.Command(
      new URL("../main.ts", import.meta.url).pathname,
      {
        args: ["run", ref, "sh", "-c", "echo up; sleep 60"],
        env: { TINYC_STORE: w.store },
        stdout: "piped",
        stderr: "null",
      },
    ).spawn();
    const reader = child.stdout.getReader();
    await reader.read(); // "up"
    const rm = await w.tinyc(["rmi", ref]);
    assert.equal(rm.code, 125);
    assert.match(rm.stderr, /in use by running container/);
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel();
    // the container of the killed tinyc is stale: removed by the next run
    assert.equal((await w.tinyc(["run", ref, "true"])).code, 0);
    assert.deepEqual(ls(`${w.store}/containers`), []);
    assert.equal((await w.tinyc(["rmi", ref])).code, 0);
  });
});

Deno.test({
  name: "a corrupted blob is a digest mismatch and leaves nothing behind",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    w.push("base", "test/base:1");
    // corrupt the (only) layer blob in the registry's storage
    const blobs = `${w.dir}/registry/docker/registry/v2/blobs/sha256`;
    let biggest = "";
    let size = 0;
    for (const p of ls(blobs)) {
      for (const h of ls(`${blobs}/${p}`)) {
        const f = `${blobs}/${p}/${h}/data`;
        const s = Deno.statSync(f).size;
        if (s > size) [biggest, size] = [f, s];
      }
    }
    const bytes = Deno.readFileSync(biggest);
    bytes[bytes.length - 100] ^= 0xff;
    Deno.writeFileSync(biggest, bytes);
    const r = await w.tinyc(["pull", `${w.host}/test/base:1`]);
    assert.equal(r.code, 125);
    assert.match(
      r.stderr,
      /^tinyc: pull .*(digest mismatch|gzip|checksum|corrupt|invalid)/m,
    );
    assert.deepEqual(ls(`${w.store}/layers`), []);
    assert.deepEqual(ls(`${w.store}/tmp`), []);
    assert.equal((await w.tinyc(["images", "-q"])).stdout, "");
  });
});

Deno.test({
  name: "a missing tag: exit 125 and one line",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    w.push("base", "test/base:1");
    const r = await w.tinyc(["pull", `${w.host}/test/base:nope`]);
    assert.equal(r.code, 125);
    assert.equal(
      r.stderr,
      `tinyc: pull ${w.host}/test/base:nope: not found (manifest unknown)\n`,
    );
    const run = await w.tinyc([
      "run",
      "--pull",
      "never",
      `${w.host}/test/base:nope`,
    ]);
    assert.equal(run.code, 125);
    assert.equal(run.stderr.trim().split("\n").length, 1);
    const pulling = await w.tinyc(["run", `${w.host}/test/base:nope`]);
    assert.equal(pulling.code, 125);
    assert.equal(
      pulling.stderr,
      `tinyc: pull ${w.host}/test/base:nope: not found (manifest unknown)\n`,
    );
  });
});

Deno.test({
  name: "load a docker-archive and an OCI archive, then run them",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    run("skopeo", [
      "copy",
      `oci:${w.dir}/oci:app`,
      `docker-archive:${w.dir}/app.tar:test/loaded:v1`,
    ]);
    const l = await w.tinyc(["load", "-i", `${w.dir}/app.tar`]);
    assert.equal(l.code, 0, l.stderr);
    assert.match(l.stdout, /^Loaded image: test\/loaded:v1$/m);
    // on stdin, as docker load reads it
    const child = new Deno.Command(
      new URL("../main.ts", import.meta.url).pathname,
      {
        args: ["load"],
        env: { TINYC_STORE: w.store },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      },
    ).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(Deno.readFileSync(`${w.dir}/app.tar`));
    await writer.close();
    const again = await child.output();
    assert.equal(again.code, 0, new TextDecoder().decode(again.stderr));
    assert.match(
      new TextDecoder().decode(again.stdout),
      /^Loaded image: test\/loaded:v1$/m,
    );
    const r = await w.tinyc(["run", "test/loaded:v1"]);
    assert.match(r.stdout, /^hello bar from \/srv$/m);
    const inspect = JSON.parse(
      (await w.tinyc(["image", "inspect", "test/loaded:v1"])).stdout,
    );
    assert.equal(inspect[0].RepoTags[0], "test/loaded:v1");
    assert.deepEqual(inspect[0].Config.Env.includes("FOO=bar"), true);
    assert.equal(inspect[0].RootFS.Layers.length, 2);

    run("skopeo", [
      "copy",
      `oci:${w.dir}/oci:base`,
      `oci-archive:${w.dir}/base.tar:${w.host}/test/ociarch:2`,
    ]);
    const o = await w.tinyc(["load", "-i", `${w.dir}/base.tar`]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /^Loaded image: /m);
    const listed = (await w.tinyc(["images"])).stdout;
    assert.match(listed, /test\/loaded\s+v1/);
    // both images share the base layer: 2 layers in all
    assert.equal(ls(`${w.store}/layers`).length, 2);
  });
});

/** Run tinyc as `nobody` (rootless) with its own HOME and Deno cache. */
async function asNobody(
  home: string,
  args: string[],
): Promise<CliResult> {
  const repo = new URL("..", import.meta.url).pathname;
  let main = `${repo}main.ts`;
  const readable = await new Deno.Command("runuser", {
    args: ["-u", "nobody", "--", "test", "-r", main],
  }).output();
  if (!readable.success) {
    // a checkout nobody cannot read: a readable copy of the sources
    const copy = `${home}/src-copy`;
    if (!existsDir(copy)) {
      Deno.mkdirSync(copy, { recursive: true });
      run("cp", [
        "-r",
        `${repo}main.ts`,
        `${repo}deno.json`,
        `${repo}src`,
        copy,
      ]);
      run("chmod", ["-R", "a+rX", copy]);
    }
    main = `${copy}/main.ts`;
  }
  const out = await new Deno.Command("runuser", {
    args: [
      "-u",
      "nobody",
      "--",
      "env",
      `HOME=${home}`,
      `DENO_DIR=${home}/deno`,
      `PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`,
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      main,
      ...args,
    ],
    cwd: home,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

function existsDir(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

const rootlessReason = ignore
  ? "see above"
  : (await import("../src/rootless/mod.ts")).checkUserNamespaces();
if (!ignore && rootlessReason) {
  console.log(
    `tests/images_test.ts: skipping the rootless test: ${rootlessReason}`,
  );
}

Deno.test({
  name:
    "rootless: pull, load, images, run (overlay with whiteouts) and rmi as an ordinary user",
  ignore: ignore || rootlessReason !== null,
}, async () => {
  await withWorld(async (w) => {
    w.push("app", "test/app:1");
    const ref = `${w.host}/test/app:1`;
    const home = `${w.dir}/nobody-home`;
    Deno.mkdirSync(home, { mode: 0o755 });
    Deno.chmodSync(w.dir, 0o755);
    run("skopeo", [
      "copy",
      `oci:${w.dir}/oci:base`,
      `docker-archive:${home}/base.tar:test/base:v1`,
    ]);
    run("chown", ["-R", "65534:65534", home]);
    const p = await asNobody(home, ["pull", ref]);
    assert.equal(p.code, 0, p.stderr);
    const store = `${home}/.local/share/tinyc`;
    const st = Deno.statSync(store);
    assert.equal(st.uid, 65534);
    assert.equal(st.mode! & 0o777, 0o700);
    const l = await asNobody(home, ["load", "-i", `${home}/base.tar`]);
    assert.equal(l.code, 0, l.stderr);
    const images = await asNobody(home, ["images"]);
    assert.match(images.stdout, /test\/app\s+1/);
    assert.match(images.stdout, /test\/base\s+v1/);
    assert.equal(ls(`${store}/layers`).length, 2); // the base layer is shared
    const r = await asNobody(home, ["run", ref]);
    assert.match(r.stdout, /^hello bar from \/srv$/m, r.stderr);
    assert.match(r.stderr, /gone\.txt'?: No such file/);
    const cow = await asNobody(home, [
      "run",
      ref,
      "sh",
      "-c",
      "echo x > /etc/app.txt; cat /etc/app.txt",
    ]);
    assert.equal(cow.stdout, "x\n", cow.stderr);
    assert.equal(
      (await asNobody(home, ["run", ref, "cat", "/etc/app.txt"])).stdout,
      "app\n",
    );
    assert.deepEqual(ls(`${store}/containers`), []);
    assert.equal((await asNobody(home, ["rmi", ref])).code, 0);
    assert.equal((await asNobody(home, ["rmi", "test/base:v1"])).code, 0);
    assert.deepEqual(ls(`${store}/layers`), []);
  });
});

/**
 * A docker-archive by hand: the busybox layer, then a layer that makes /etc
 * opaque (only its new `motd` shows) and whites out /bin/ls.
 */
async function opaqueArchive(dir: string, path: string): Promise<void> {
  const tarOut = new Deno.Command("tar", {
    args: ["-C", `${dir}/b1/rootfs`, "-cf", "-", "."],
    stdout: "piped",
  }).outputSync();
  const base = tarOut.stdout;
  const top = buildTar([
    { name: "etc/", type: "dir", mode: 0o755 },
    { name: "etc/.wh..wh..opq" },
    { name: "etc/motd", data: "opaque\n" },
    { name: "bin/.wh.ls" },
  ]);
  const config = new TextEncoder().encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: {
      Cmd: ["/bin/sh", "-c", "ls /etc; test -e /bin/ls || echo no-ls"],
    },
    rootfs: {
      type: "layers",
      diff_ids: [await sha256(base), await sha256(top)],
    },
  }));
  Deno.writeFileSync(
    path,
    buildTar([
      { name: "base.tar", data: base },
      { name: "top.tar", data: top },
      { name: "config.json", data: config },
      {
        name: "manifest.json",
        data: JSON.stringify([{
          Config: "config.json",
          RepoTags: ["test/opaque:1"],
          Layers: ["base.tar", "top.tar"],
        }]),
      },
    ]),
  );
}

Deno.test({
  name:
    "an opaque directory and a whiteout from a hand-made layer hide the lower layer's entries",
  ignore,
}, async () => {
  await withWorld(async (w) => {
    await opaqueArchive(w.dir, `${w.dir}/opaque.tar`);
    const l = await w.tinyc(["load", "-i", `${w.dir}/opaque.tar`]);
    assert.equal(l.code, 0, l.stderr);
    const r = await w.tinyc(["run", "test/opaque:1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "motd\nno-ls\n");
    if (rootlessReason !== null) return;
    // rootless: user.overlay.opaque with userxattr
    const home = `${w.dir}/nobody-home`;
    Deno.mkdirSync(home, { mode: 0o755 });
    Deno.chmodSync(w.dir, 0o755);
    Deno.copyFileSync(`${w.dir}/opaque.tar`, `${home}/opaque.tar`);
    run("chown", ["-R", "65534:65534", home]);
    assert.equal(
      (await asNobody(home, ["load", "-i", `${home}/opaque.tar`])).code,
      0,
    );
    const rr = await asNobody(home, ["run", "test/opaque:1"]);
    assert.equal(rr.stdout, "motd\nno-ls\n", rr.stderr);
  });
});
