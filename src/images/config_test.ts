import assert from "node:assert/strict";
import { imageProcess } from "./config.ts";
import { parseRunArgs, specFromOptions } from "../cli.ts";
import { planMounts } from "../mounts.ts";

const config = {
  config: {
    Env: ["PATH=/opt/bin:/bin", "FOO=image"],
    Entrypoint: ["/entry"],
    Cmd: ["default", "args"],
    WorkingDir: "/srv",
    User: "nobody",
  },
};

Deno.test("config: docker's override rules", () => {
  const none = imageProcess(config, { command: [] }, "img");
  assert.deepEqual(none.args, ["/entry", "default", "args"]);
  assert.equal(none.workdir, "/srv");
  assert.equal(none.user, "nobody");
  // arguments replace Cmd, not Entrypoint
  assert.deepEqual(imageProcess(config, { command: ["x"] }, "img").args, [
    "/entry",
    "x",
  ]);
  // --entrypoint drops the image's Cmd too
  assert.deepEqual(
    imageProcess(config, { command: [], entrypoint: "/bin/sh" }, "img").args,
    ["/bin/sh"],
  );
  assert.deepEqual(
    imageProcess(
      config,
      { command: ["-c", "id"], entrypoint: "/bin/sh" },
      "img",
    ).args,
    ["/bin/sh", "-c", "id"],
  );
  assert.deepEqual(
    imageProcess(config, { command: ["ls"], entrypoint: "" }, "img").args,
    ["ls"],
  );
  const o = imageProcess(
    config,
    { command: [], workdir: "/w", user: "0" },
    "img",
  );
  assert.equal(o.workdir, "/w");
  assert.equal(o.user, "0");
  assert.throws(
    () => imageProcess({}, { command: [] }, "img"),
    /no command specified \(the image has no Entrypoint or Cmd\)/,
  );
  // --entrypoint '' drops the Cmd too (docker's rule): said so.
  assert.throws(
    () =>
      imageProcess({ config: { Cmd: ["x"] } }, {
        command: [],
        entrypoint: "",
      }, "img"),
    /no command specified \(--entrypoint also drops the image's Cmd/,
  );
  assert.equal(
    imageProcess({ config: { Cmd: ["x"] } }, { command: [] }, "i").workdir,
    "/",
  );
});

Deno.test("run IMAGE: parsing, env order, and the overlay mount before the rootfs bind", () => {
  const opts = parseRunArgs([
    "-e",
    "FOO=flag",
    "--pull",
    "never",
    "alpine",
    "ls",
    "-l",
  ]);
  assert.equal(opts.image?.ref, "alpine");
  assert.deepEqual(opts.image?.command, ["ls", "-l"]);
  assert.equal(opts.image?.pull, "never");
  assert.throws(
    () => parseRunArgs(["--pull", "sometimes", "alpine"]),
    /--pull sometimes/,
  );
  assert.throws(() => parseRunArgs([]), /give an IMAGE or --root DIR/);
  assert.throws(
    () => parseRunArgs(["--root", "/r", "--pull", "always"]),
    /needs an IMAGE/,
  );
  const proc = imageProcess(config, { command: opts.image!.command }, "alpine");
  const spec = specFromOptions(
    { ...opts, args: proc.args, baseEnv: proc.env, workdir: proc.workdir },
    { rootPath: "/store/c/merged", stdinIsTerminal: false },
  );
  // image env over tinyc's defaults, -e over the image's
  assert.ok(spec.process.env.includes("PATH=/opt/bin:/bin"));
  assert.ok(spec.process.env.includes("FOO=flag"));
  assert.ok(!spec.process.env.some((e) => e.startsWith("tiny_demo=")));
  spec.root.overlay = {
    lower: ["/l/top", "/l/bottom"],
    upper: "/c/upper",
    work: "/c/work",
  };
  const ops = planMounts(spec);
  assert.deepEqual(ops.slice(0, 3).map((o) => o.op), [
    "make-private",
    "overlay",
    "bind-root",
  ]);
  assert.deepEqual(ops[1], {
    op: "overlay",
    root: "/store/c/merged",
    data: "lowerdir=/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work",
  });
  spec.root.overlay = { lower: ["/a:b"], upper: "/u", work: "/w" };
  assert.throws(() => planMounts(spec), /has a ':'/);
});
