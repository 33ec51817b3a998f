import assert from "node:assert/strict";
import { join } from "node:path";
import { rootfsCommand } from "./cli.ts";
import { checkStaticBusybox, DEFAULT_BUSYBOX } from "./busybox.ts";
import { TinycError } from "../errors.ts";

/** Run `fn` with console.log captured. */
async function captured(fn: () => Promise<number>): Promise<[number, string]> {
  const lines: string[] = [];
  const orig = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return [await fn(), lines.join("\n")];
  } finally {
    console.log = orig;
  }
}

const haveBusybox = (() => {
  try {
    checkStaticBusybox(DEFAULT_BUSYBOX);
    return true;
  } catch {
    console.log(`rootfs cli build test skipped: no static ${DEFAULT_BUSYBOX}`);
    return false;
  }
})();

function usageError(pattern: RegExp) {
  return (e: unknown) =>
    e instanceof TinycError && e.exitCode === 125 && pattern.test(e.message);
}

Deno.test("rootfsCommand: --help for rootfs and rootfs add", async () => {
  const [code, out] = await captured(() => rootfsCommand(["--help"]));
  assert.equal(code, 0);
  assert.match(out, /^Usage: tinyc rootfs \[DIR\]/);
  const [code2, out2] = await captured(() => rootfsCommand(["add", "-h"]));
  assert.equal(code2, 0);
  assert.match(out2, /^Usage: tinyc rootfs add DIR BIN\.\.\./);
});

Deno.test("rootfsCommand: bad usage is a TinycError with exit code 125", async () => {
  await assert.rejects(
    () => rootfsCommand(["--bogus"]),
    usageError(/^rootfs: Unknown option '--bogus'/),
  );
  await assert.rejects(
    () => rootfsCommand(["a", "b"]),
    usageError(/at most one directory/),
  );
  await assert.rejects(
    () => rootfsCommand(["add"]),
    usageError(/expected a directory and at least one program/),
  );
  await assert.rejects(
    () => rootfsCommand(["add", "dir"]),
    usageError(/expected a directory and at least one program/),
  );
  await assert.rejects(
    () => rootfsCommand(["--busybox", "/nonexistent/bb", "/nonexistent/root"]),
    usageError(/busybox-static not found at \/nonexistent\/bb/),
  );
});

Deno.test({
  name: "rootfsCommand: builds a busybox rootfs, then adds a program to it",
  ignore: !haveBusybox,
  async fn() {
    const tmp = await Deno.makeTempDir();
    try {
      const dir = join(tmp, "root");
      const [code, out] = await captured(() => rootfsCommand([dir]));
      assert.equal(code, 0);
      assert.equal(out, `busybox rootfs ready in ${dir}`);
      assert.equal(Deno.readLinkSync(join(dir, "bin/sh")), "busybox");

      const [code2, out2] = await captured(() =>
        rootfsCommand(["add", dir, Deno.execPath()])
      );
      assert.equal(code2, 0);
      assert.match(
        out2,
        new RegExp(`^added ${Deno.execPath()} to ${dir} \\(\\d+ files\\)$`),
      );
      assert.ok(Deno.statSync(join(dir, Deno.execPath())).isFile);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
