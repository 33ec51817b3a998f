/**
 * `tinyc run IMAGE`: find (or pull) the image, make the container's
 * directory (`containers/<id>/{upper,work,merged}` with an owner record),
 * and merge the image's config into the run options. The overlay itself is
 * mounted by the init inside the container's mount namespace, so it
 * vanishes with the container even when tinyc is SIGKILLed; the directory
 * is removed by {@link ImageRun.cleanup}, or by the next run when its owner
 * is gone.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { RunOptions } from "../cli.ts";
import type { RootOverlay } from "../spec.ts";
import { imageProcess } from "./config.ts";
import { containers, findImage } from "./images.ts";
import { parseConfig } from "./manifest.ts";
import { alive, processStart, removeTree, Store } from "./store.ts";
import { withRoot } from "../linux/in_root.ts";

/** A container prepared on an image. */
export interface ImageRun {
  /** The options with the image's process merged in. */
  opts: RunOptions;
  /** The (not yet mounted) overlay's mount point: the spec's root path. */
  rootPath: string;
  overlay: RootOverlay;
  /** Read a file of the image (top layer first, whiteouts honoured), bounded. */
  readFile(path: string): string | null;
  /** Is `path` a directory in the image? */
  hasDir(path: string): boolean;
  /** Remove the container's directory. */
  cleanup(): Promise<void>;
}

/** Prepare `opts.image` for a run. */
export async function prepareImageRun(
  opts: RunOptions,
  containerId?: string,
): Promise<ImageRun> {
  const img = opts.image!;
  const store = Store.open();
  await removeStaleContainers(store);
  let record = img.pull === "always"
    ? undefined
    : findImage(store.images(), img.ref);
  if (!record) {
    if (img.pull === "never") {
      throw new TinycError(
        `run ${img.ref}: no such image (and --pull never)`,
      );
    }
    // (on a terminal only: a failed pull stays one line in logs and scripts)
    if (img.pull === "missing" && Deno.stderr.isTerminal()) {
      console.error(`tinyc: ${img.ref}: not here; pulling it`);
    }
    const { pullImage } = await import("./pull.ts");
    record = await pullImage(store, img.ref);
  }
  const config = parseConfig(store.readBlob(record.id), `image ${img.ref}`);
  const proc = imageProcess(config, {
    command: img.command,
    entrypoint: img.entrypoint,
    workdir: img.workdir,
    user: opts.user,
  }, img.ref);
  const layers = [...record.layers].reverse().map((l) => store.layerPath(l));
  // A detached container's short id, as `tinyc ps` shows it (and rmi
  // names it); a random one for an attached run, or when that is taken.
  const wanted = /^[0-9a-f]{12}/.exec(containerId ?? "")?.[0];
  const randomId = () => crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  let dir = `${store.root}/containers/${wanted ?? randomId()}`;
  const rec = record;
  // Under the gc lock: rmi sees this container before it collects layers.
  await store.withLock("gc", "shared", () => {
    for (const l of rec.layers) {
      if (!store.hasLayer(l)) {
        throw new TinycError(
          `run ${img.ref}: layer ${l} is missing from the store (pull the image again)`,
        );
      }
    }
    try {
      Deno.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if (!wanted || !(e instanceof Deno.errors.AlreadyExists)) throw e;
      dir = `${store.root}/containers/${randomId()}`;
      Deno.mkdirSync(dir, { mode: 0o700 });
    }
    Deno.writeTextFileSync(
      `${dir}/owner.json`,
      JSON.stringify({
        pid: Deno.pid,
        start: processStart(Deno.pid),
        image: rec.id,
        layers: rec.layers,
      }),
    );
    for (const d of ["upper", "work", "merged"]) {
      Deno.mkdirSync(`${dir}/${d}`, { mode: 0o755 });
    }
  });
  return {
    opts: {
      ...opts,
      args: proc.args,
      workdir: proc.workdir,
      user: proc.user,
      baseEnv: proc.env,
    },
    rootPath: `${dir}/merged`,
    overlay: {
      lower: layers,
      upper: `${dir}/upper`,
      work: `${dir}/work`,
      userxattr: Deno.uid() !== 0,
    },
    readFile: (p) => readFromLayers(layers, p),
    hasDir: (p) => layerKind(layers, p) === "dir",
    cleanup: async () => {
      try {
        await removeContainerDir(dir);
      } catch (e) {
        // the container's status matters more; the next run tries again
        console.error(`tinyc: warning: ${(e as Error).message.split("\n")[0]}`);
      }
    },
  };
}

/** Container directories whose tinyc is gone (SIGKILL) are removed. */
export async function removeStaleContainers(store: Store): Promise<void> {
  for (const [id, owner] of containers(store)) {
    if (owner && alive(owner.pid, owner.start)) continue;
    try {
      await removeContainerDir(`${store.root}/containers/${id}`);
    } catch {
      // rootless: files of other mapped uids; left for a later attempt
    }
  }
}

/**
 * Remove a container's directory. Rootless, files the container made as
 * another mapped user (owned by a subordinate id) may refuse the user; then
 * the removal runs as root of a user namespace with the same id maps.
 */
export async function removeContainerDir(dir: string): Promise<void> {
  try {
    removeTree(dir);
    return;
  } catch (e) {
    if (Deno.uid() === 0) throw e;
  }
  const { prepareRootless } = await import("../rootless/mod.ts");
  // (the last argument is the init's marker: not for rm)
  const argv = prepareRootless(["rm", "-rf", "--", dir], []).argv.slice(0, -1);
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new TinycError(
      `remove ${dir}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
}

/** What `path` is in the image: the topmost layer that has it decides. */
export function layerKind(
  layersTopFirst: readonly string[],
  path: string,
): "dir" | "file" | "other" | "none" {
  for (const layer of layersTopFirst) {
    const st = withRoot(layer, (r) => r.lstat(path));
    if (st === null) continue;
    if (st.type === "char" && st.rdev === "0:0") return "none"; // whiteout
    return st.type === "dir" ? "dir" : st.type === "file" ? "file" : "other";
  }
  return "none";
}

/**
 * A file as the image shows it: the topmost layer that has it wins; a
 * whiteout (0:0 char device) hides it. Paths resolve inside each layer.
 */
export function readFromLayers(
  layersTopFirst: readonly string[],
  path: string,
  max = 1 << 20,
): string | null {
  for (const layer of layersTopFirst) {
    const found = withRoot(layer, (r) => {
      const st = r.lstat(path);
      if (st === null) return undefined;
      if (st.type === "char" && st.rdev === "0:0") return null; // whiteout
      try {
        return r.readTextBounded(path, max);
      } catch {
        return null; // not a regular file, or too large
      }
    });
    if (found !== undefined) return found;
  }
  return null;
}
