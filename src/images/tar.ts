/**
 * A streaming tar reader (ustar, pax and GNU long names), for image layers
 * and archives. It only parses: what to do with an entry is the caller's
 * ({@link ./extract.ts} writes layers with dirfd-based calls).
 *
 * Malformed input (bad checksum, a bad number, an archive that ends inside
 * an entry) is a {@link TinycError} naming what is wrong.
 *
 * @module
 */

import { TinycError } from "../errors.ts";

/** Entry types tinyc distinguishes. */
export type TarType =
  | "file"
  | "hardlink"
  | "symlink"
  | "char"
  | "block"
  | "dir"
  | "fifo";

/** One archive member's header (pax and GNU extensions applied). */
export interface TarHeader {
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from pax `SCHILY.xattr.NAME` records. */
  xattrs: Map<string, Uint8Array>;
}

/** An entry: its header and its data, to be read before the next entry. */
export interface TarEntry extends TarHeader {
  /** Call `fn` with each chunk of the entry's data, in order. */
  read(fn: (chunk: Uint8Array) => void | Promise<void>): Promise<void>;
}

const BLOCK = 512;
const decoder = new TextDecoder();

/** A reader that hands out exact byte counts from a stream of chunks. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;
  private done = false;
  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
  ) {}

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.done = true;
      return false;
    }
    const rest = this.buf.subarray(this.off);
    if (rest.length === 0) this.buf = value;
    else {
      const b = new Uint8Array(rest.length + value.length);
      b.set(rest);
      b.set(value, rest.length);
      this.buf = b;
    }
    this.off = 0;
    return true;
  }

  /** Exactly `n` bytes, or null at a clean end (no byte read). */
  async exact(n: number): Promise<Uint8Array | null> {
    while (this.buf.length - this.off < n) {
      if (!(await this.fill())) {
        if (this.buf.length - this.off === 0) return null;
        throw new TinycError(
          "tar: the archive ends inside a header or entry (truncated)",
        );
      }
    }
    const out = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return out;
  }

  /** Up to `n` bytes (at least 1); throws at the end (truncated entry). */
  async some(n: number): Promise<Uint8Array> {
    if (this.buf.length - this.off === 0 && !(await this.fill())) {
      throw new TinycError("tar: the archive ends inside an entry (truncated)");
    }
    const take = Math.min(n, this.buf.length - this.off);
    const out = this.buf.subarray(this.off, this.off + take);
    this.off += take;
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.some(n)).length;
  }

  /** Drain the rest of the stream (trailing padding after the end marker). */
  async drain(): Promise<void> {
    while (await this.fill()) this.off = this.buf.length;
  }
}

function cString(b: Uint8Array): string {
  const z = b.indexOf(0);
  return decoder.decode(z < 0 ? b : b.subarray(0, z));
}

/** An octal or base-256 number field. */
function num(b: Uint8Array, field: string): number {
  if (b[0] & 0x80) {
    // base-256 (GNU): big-endian, the top bit marks it; negative not allowed
    if (b[0] & 0x40) throw new TinycError(`tar: negative ${field}`);
    let v = b[0] & 0x3f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i];
    if (!Number.isSafeInteger(v)) {
      throw new TinycError(`tar: ${field} too large`);
    }
    return v;
  }
  const s = cString(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) {
    throw new TinycError(`tar: bad ${field} field ${JSON.stringify(s)}`);
  }
  return parseInt(s, 8);
}

function checksumOk(h: Uint8Array): boolean {
  const want = num(h.subarray(148, 156), "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === want;
}

const TYPES: Record<string, TarType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

/** Parse pax records `LEN KEY=VALUE\n` (values kept as bytes for xattrs). */
export function parsePax(data: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(decoder.decode(data.subarray(i, sp)));
    if (!Number.isInteger(len) || len <= sp - i || i + len > data.length) {
      throw new TinycError("tar: malformed pax header");
    }
    const rec = data.subarray(sp + 1, i + len - 1); // drop the newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TinycError("tar: malformed pax record");
    out.set(decoder.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/** Largest pax/GNU metadata entry accepted (they are held in memory). */
const MAX_META = 1 << 20;

/**
 * Read the tar archive in `stream` entry by entry. Each entry's data must
 * be read (or is skipped) before the next is produced.
 */
export async function* readTar(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<TarEntry> {
  const r = new ByteReader(stream.getReader());
  let pax = new Map<string, Uint8Array>();
  let global = new Map<string, Uint8Array>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.exact(BLOCK);
    if (h === null) {
      // No end marker: a stream cut at an entry boundary (which a
      // decompressor may not notice) must not pass for a whole archive.
      throw new TinycError(
        "tar: the archive ends without its end marker (truncated)",
      );
    }
    if (h.every((b) => b === 0)) {
      await r.drain();
      return;
    }
    if (!checksumOk(h)) {
      throw new TinycError(
        "tar: header checksum mismatch (not a tar archive, or corrupt)",
      );
    }
    const flag = String.fromCharCode(h[156]);
    const size = num(h.subarray(124, 136), "size");
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > MAX_META) {
        throw new TinycError(`tar: ${flag} header too large`);
      }
      const data = (await r.exact(padded)) ?? new Uint8Array(0);
      if (data.length < padded) throw new TinycError("tar: truncated archive");
      const body = data.slice(0, size);
      if (flag === "x") pax = parsePax(body);
      else if (flag === "g") global = parsePax(body);
      else if (flag === "L") longName = cString(body);
      else longLink = cString(body);
      continue;
    }
    const type = TYPES[flag];
    const get = (k: string) => {
      const v = pax.get(k) ?? global.get(k);
      return v === undefined ? undefined : decoder.decode(v);
    };
    const magic = decoder.decode(h.subarray(257, 263));
    const prefix = magic.startsWith("ustar")
      ? cString(h.subarray(345, 500))
      : "";
    let name = cString(h.subarray(0, 100));
    if (prefix) name = `${prefix}/${name}`;
    name = get("path") ?? longName ?? name;
    const linkname = get("linkpath") ?? longLink ??
      cString(h.subarray(157, 257));
    const xattrs = new Map<string, Uint8Array>();
    for (const [k, v] of [...global, ...pax]) {
      if (k.startsWith("SCHILY.xattr.")) xattrs.set(k.slice(13), v);
    }
    const paxSize = get("size");
    const realSize = paxSize !== undefined ? Number(paxSize) : size;
    if (!Number.isSafeInteger(realSize) || realSize < 0) {
      throw new TinycError(`tar: ${name}: bad size`);
    }
    const realPadded = Math.ceil(realSize / BLOCK) * BLOCK;
    const mtimePax = get("mtime");
    const header: TarHeader = {
      name,
      type: type ?? "file",
      mode: num(h.subarray(100, 108), "mode") & 0o7777,
      uid: get("uid") !== undefined
        ? Number(get("uid"))
        : num(h.subarray(108, 116), "uid"),
      gid: get("gid") !== undefined
        ? Number(get("gid"))
        : num(h.subarray(116, 124), "gid"),
      size: type === undefined || type === "file" ? realSize : 0,
      mtime: mtimePax !== undefined
        ? Math.floor(Number(mtimePax))
        : num(h.subarray(136, 148), "mtime"),
      linkname,
      devmajor: num(h.subarray(329, 337), "devmajor"),
      devminor: num(h.subarray(337, 345), "devminor"),
      xattrs,
    };
    pax = new Map();
    longName = longLink = undefined;
    if (type === undefined) {
      throw new TinycError(`tar: ${name}: unsupported entry type '${flag}'`);
    }
    let left = realSize;
    let consumed = false;
    const entry: TarEntry = {
      ...header,
      async read(fn) {
        if (consumed) throw new Error("tar entry read twice");
        consumed = true;
        while (left > 0) {
          const chunk = await r.some(left);
          left -= chunk.length;
          await fn(chunk);
        }
      },
    };
    yield entry;
    if (!consumed) {
      consumed = true;
      await r.skip(left);
      left = 0;
    } else if (left > 0) await r.skip(left);
    await r.skip(realPadded - realSize);
  }
}

/** Encode one tar header (ustar; for tests and hostile-archive builders). */
export function tarHeader(
  h: Partial<TarHeader> & { name: string },
  flag?: string,
): Uint8Array {
  const b = new Uint8Array(BLOCK);
  const enc = new TextEncoder();
  const put = (off: number, len: number, s: string) =>
    b.set(enc.encode(s).subarray(0, len), off);
  const oct = (off: number, len: number, v: number) =>
    put(off, len, v.toString(8).padStart(len - 1, "0") + "\0");
  const typeFlag = flag ?? {
    file: "0",
    hardlink: "1",
    symlink: "2",
    char: "3",
    block: "4",
    dir: "5",
    fifo: "6",
  }[h.type ?? "file"];
  put(0, 100, h.name);
  oct(100, 8, h.mode ?? 0o644);
  oct(108, 8, h.uid ?? 0);
  oct(116, 8, h.gid ?? 0);
  oct(124, 12, h.size ?? 0);
  oct(136, 12, h.mtime ?? 0);
  b[156] = typeFlag.charCodeAt(0);
  put(157, 100, h.linkname ?? "");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  oct(329, 8, h.devmajor ?? 0);
  oct(337, 8, h.devminor ?? 0);
  b.fill(32, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** Build a whole tar archive in memory (tests). */
export function buildTar(
  entries: Array<
    Partial<TarHeader> & {
      name: string;
      data?: string | Uint8Array;
      flag?: string;
    }
  >,
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = typeof e.data === "string"
      ? new TextEncoder().encode(e.data)
      : e.data ?? new Uint8Array(0);
    parts.push(tarHeader({ ...e, size: data.length }, e.flag));
    parts.push(data);
    parts.push(new Uint8Array((BLOCK - (data.length % BLOCK)) % BLOCK));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
