/**
 * The image store: `/var/lib/tinyc` as root, `$XDG_DATA_HOME/tinyc`
 * (`~/.local/share/tinyc`) rootless, or `$TINYC_STORE`. Mode 0700.
 *
 * ```text
 * blobs/sha256/<hex>      manifests and configs, content-addressed
 * layers/<diffid hex>/    unpacked layers (overlay lower dirs), shared
 * images.json             image records, written tmp+rename under images.lock
 * containers/<id>/        a running container: owner.json, upper/, work/, merged/
 * tmp/<pid>-<start>-<r>/  work in progress; a dead owner's are removed
 * gc.lock                 shared by pulls, loads and run set-up; exclusive by rmi
 * ```
 *
 * Everything enters the store by rename from tmp/, after its digest was
 * verified: a killed pull leaves only a tmp/ entry the next run removes;
 * two concurrent pulls of one layer both unpack it and the second rename
 * loses harmlessly.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import { close, E, flockRaw, LOCK, O, openat } from "./fs.ts";

/** One image in the store (docker's image = its config digest). */
export interface ImageRecord {
  /** Config digest `sha256:...` (docker's image ID). */
  id: string;
  /** Full names: `docker.io/library/alpine:latest`. */
  repoTags: string[];
  /** `docker.io/library/alpine@sha256:...` (registry pulls). */
  repoDigests: string[];
  /** Manifest digest, when the image came with one. */
  manifest?: string;
  /** Layer diff IDs, bottom first. */
  layers: string[];
  /** Unpacked bytes of each layer. */
  layerSizes?: number[];
  /** Config's `created`. */
  created?: string;
  architecture?: string;
  os?: string;
  /** Unpacked bytes (sum of layer contents). */
  size: number;
}

interface Records {
  version: 1;
  images: ImageRecord[];
}

/** The default store directory for this user. */
export function defaultStoreDir(
  uid: number | null = Deno.uid(),
  env: (k: string) => string | undefined = (k) => Deno.env.get(k),
): string {
  const override = env("TINYC_STORE");
  if (override) return override;
  if (uid === 0) return "/var/lib/tinyc";
  const xdg = env("XDG_DATA_HOME");
  if (xdg && xdg.startsWith("/")) return `${xdg}/tinyc`;
  const home = env("HOME");
  if (!home) throw new TinycError("image store: HOME is not set");
  return `${home}/.local/share/tinyc`;
}

/** `/proc/PID/stat` start time (clock ticks since boot), or null if gone. */
export function processStart(pid: number): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? null;
  } catch {
    return null;
  }
}

/** Is the process that recorded (pid, start) still running? */
export function alive(pid: number, start: string): boolean {
  return processStart(pid) === start;
}

const SELF_START = () => processStart(Deno.pid) ?? "0";

/** An image store rooted at a directory. */
export class Store {
  constructor(readonly root: string) {}

  /** The store for this user, created if missing. */
  static open(dir = defaultStoreDir()): Store {
    const s = new Store(dir);
    s.init();
    return s;
  }

  /** Create the layout; remove temporary entries of dead processes. */
  init(): void {
    try {
      Deno.mkdirSync(this.root, { recursive: true, mode: 0o700 });
      // not traversable by other users, whatever the umask did
      Deno.chmodSync(this.root, 0o700);
      for (const d of ["blobs/sha256", "layers", "tmp", "containers"]) {
        Deno.mkdirSync(`${this.root}/${d}`, { recursive: true, mode: 0o700 });
      }
    } catch (e) {
      throw new TinycError(
        `image store ${this.root}: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    this.removeStaleTmp();
  }

  /** `blobs/sha256/<hex>` for a digest (checked: it becomes a path). */
  blobPath(digest: string): string {
    return `${this.root}/blobs/sha256/${hex(digest)}`;
  }

  /** `layers/<hex>`: the unpacked layer (an overlay lower dir). */
  layerPath(diffId: string): string {
    return `${this.root}/layers/${hex(diffId)}`;
  }

  /**
   * Bytes of the regular files of an unpacked layer (what unpacking it
   * counted), for a layer no image record gives the size of. Symlinks are
   * not followed; 0 when the layer is missing.
   */
  layerDiskSize(diffId: string): number {
    const walk = (dir: string): number => {
      let n = 0;
      for (const e of Deno.readDirSync(dir)) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory) n += walk(p);
        else if (e.isFile) n += Deno.lstatSync(p).size;
      }
      return n;
    };
    try {
      return walk(this.layerPath(diffId));
    } catch {
      return 0;
    }
  }

  /** Is the layer unpacked (a real directory, not a link)? */
  hasLayer(diffId: string): boolean {
    try {
      return Deno.lstatSync(this.layerPath(diffId)).isDirectory;
    } catch {
      return false;
    }
  }

  /** A fresh private directory under tmp/, named after this process. */
  tmpDir(): string {
    const name = `${Deno.pid}-${SELF_START()}-${
      crypto.randomUUID().slice(0, 8)
    }`;
    const p = `${this.root}/tmp/${name}`;
    Deno.mkdirSync(p, { mode: 0o700 });
    return p;
  }

  /** tmp/ entries whose process is gone (a killed pull) are removed. */
  removeStaleTmp(): void {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${this.root}/tmp`)];
    } catch {
      return;
    }
    for (const e of entries) {
      const m = e.name.match(/^(\d+)-(\d+)-/);
      if (m && alive(Number(m[1]), m[2])) continue;
      removeTree(`${this.root}/tmp/${e.name}`);
    }
  }

  /** Store a verified blob (bytes) by digest; tmp+rename. */
  putBlob(digest: string, bytes: Uint8Array): void {
    const path = this.blobPath(digest);
    const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    Deno.writeFileSync(tmp, bytes, { mode: 0o600 });
    Deno.renameSync(tmp, path);
  }

  /** A stored (verified) blob's bytes. */
  readBlob(digest: string): Uint8Array {
    return Deno.readFileSync(this.blobPath(digest));
  }

  /**
   * Move an unpacked, verified layer from tmp into place. Another process
   * may have put the same layer there first: then ours is dropped.
   */
  commitLayer(tmpDir: string, diffId: string): void {
    try {
      Deno.renameSync(tmpDir, this.layerPath(diffId));
    } catch (e) {
      if (this.hasLayer(diffId)) removeTree(tmpDir);
      else throw e;
    }
  }

  /** Run `fn` holding `name` (a lock file in the store) shared or exclusive. */
  async withLock<T>(
    name: "gc" | "images",
    mode: "shared" | "exclusive",
    fn: () => T | Promise<T>,
  ): Promise<T> {
    const fd = openat(
      -100,
      `${this.root}/${name}.lock`,
      O.RDONLY | O.CREAT,
      0o600,
    );
    try {
      const op = mode === "shared" ? LOCK.SH : LOCK.EX;
      // Non-blocking attempts, so the event loop (progress, signals) runs.
      for (;;) {
        const r = flockRaw(fd, op | LOCK.NB);
        if (r === 0) break;
        if (r !== -E.EAGAIN && r !== -4) {
          throw new TinycError(
            `image store: flock ${name}.lock failed (errno ${-r})`,
          );
        }
        await new Promise((res) => setTimeout(res, 50));
      }
      return await fn();
    } finally {
      close(fd); // releases the lock
    }
  }

  /** The image records. */
  images(): ImageRecord[] {
    try {
      const r = JSON.parse(
        Deno.readTextFileSync(`${this.root}/images.json`),
      ) as Records;
      return r.images ?? [];
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw new TinycError(
        `image store ${this.root}/images.json: ${(e as Error).message}`,
      );
    }
  }

  /** Read-modify-write the records under the images lock; tmp+rename. */
  updateImages(
    fn: (images: ImageRecord[]) => ImageRecord[],
  ): Promise<ImageRecord[]> {
    return this.withLock("images", "exclusive", () => {
      const next = fn(this.images());
      const data: Records = { version: 1, images: next };
      const tmp = `${this.root}/images.json.tmp-${Deno.pid}`;
      Deno.writeTextFileSync(tmp, JSON.stringify(data, null, 1), {
        mode: 0o600,
      });
      Deno.renameSync(tmp, `${this.root}/images.json`);
      return next;
    });
  }

  /**
   * Record `image` under its tags: a tag moves to it from any other image
   * (which stays, untagged, as docker's dangling images do).
   */
  addImage(image: ImageRecord): Promise<ImageRecord[]> {
    return this.updateImages((images) => {
      const others = images.filter((i) => i.id !== image.id).map((i) => ({
        ...i,
        repoTags: i.repoTags.filter((t) => !image.repoTags.includes(t)),
      }));
      const prev = images.find((i) => i.id === image.id);
      const merged: ImageRecord = prev
        ? {
          ...image,
          repoTags: union(prev.repoTags, image.repoTags),
          repoDigests: union(prev.repoDigests, image.repoDigests),
        }
        : image;
      return [...others, merged];
    });
  }
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])];
}

/** The hex part of `sha256:<hex>`, checked (it becomes a path). */
export function hex(digest: string): string {
  const m = digest.match(/^sha256:([a-f0-9]{64})$/);
  if (!m) throw new TinycError(`bad digest ${digest} (want sha256:<64 hex>)`);
  return m[1];
}

/** Remove a directory tree we own; best effort for what is already gone. */
export function removeTree(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    // Rootless: an image's 0555 directories refuse unlinks: open them up
    // (never following symlinks) and try again.
    makeWritable(path);
    Deno.removeSync(path, { recursive: true });
  }
}

function makeWritable(path: string): void {
  const st = Deno.lstatSync(path);
  if (!st.isDirectory) return;
  Deno.chmodSync(path, 0o700);
  for (const e of Deno.readDirSync(path)) {
    if (e.isDirectory) makeWritable(`${path}/${e.name}`);
  }
}
