/**
 * Just enough ELF reading to tell a static executable from a dynamic one: the
 * file header, the program headers, and the `PT_INTERP` segment naming the
 * dynamic loader. A file with no `PT_INTERP` needs no loader and no shared
 * libraries (static, including static-pie), so it runs alone in a rootfs.
 *
 * @module
 */

import { TinycError } from "../errors.ts";

const PT_INTERP = 3;

/** What {@link parseElf} learns from an ELF file. */
export interface ElfInfo {
  /** 32 or 64 (`EI_CLASS`). */
  bits: 32 | 64;
  /** `EI_DATA` is ELFDATA2LSB. */
  littleEndian: boolean;
  /** `e_type`: 2 = EXEC, 3 = DYN (PIE or shared library). */
  type: number;
  /** `e_machine`, e.g. 62 for x86-64. */
  machine: number;
  /** The `PT_INTERP` path, e.g. `/lib64/ld-linux-x86-64.so.2`; absent for static files. */
  interpreter?: string;
}

/** Reads `length` bytes at `offset`; returns fewer at end of file. */
export type ReadAt = (offset: number, length: number) => Uint8Array;

/**
 * Parse the ELF header and program headers through `readAt`.
 * Returns null when the bytes are not ELF (a script, a text file);
 * throws on an ELF file that is cut short.
 */
export function parseElf(readAt: ReadAt): ElfInfo | null {
  const ident = readAt(0, 64);
  if (
    ident.length < 16 || ident[0] !== 0x7f || ident[1] !== 0x45 ||
    ident[2] !== 0x4c || ident[3] !== 0x46
  ) {
    return null;
  }
  const bits = ident[4] === 2 ? 64 : ident[4] === 1 ? 32 : 0;
  const littleEndian = ident[5] === 1;
  if (bits === 0 || (ident[5] !== 1 && ident[5] !== 2)) {
    throw new TinycError("bad ELF class or byte order");
  }
  const headerSize = bits === 64 ? 64 : 52;
  if (ident.length < headerSize) throw new TinycError("ELF header cut short");
  const h = new DataView(ident.buffer, ident.byteOffset, ident.byteLength);
  const u16 = (v: DataView, o: number) => v.getUint16(o, littleEndian);
  const u32 = (v: DataView, o: number) => v.getUint32(o, littleEndian);
  // Offsets beyond 2^53 cannot occur in a real file; Number() is safe.
  const word = (v: DataView, o: number) =>
    bits === 64 ? Number(v.getBigUint64(o, littleEndian)) : u32(v, o);

  const type = u16(h, 16);
  const machine = u16(h, 18);
  const phoff = word(h, bits === 64 ? 32 : 28);
  const phentsize = u16(h, bits === 64 ? 54 : 42);
  const phnum = u16(h, bits === 64 ? 56 : 44);
  const info: ElfInfo = { bits, littleEndian, type, machine };
  if (phoff === 0 || phnum === 0) return info;

  const table = readAt(phoff, phentsize * phnum);
  if (table.length < phentsize * phnum) {
    throw new TinycError("ELF program headers cut short");
  }
  const t = new DataView(table.buffer, table.byteOffset, table.byteLength);
  for (let i = 0; i < phnum; i++) {
    const base = i * phentsize;
    if (u32(t, base) !== PT_INTERP) continue;
    const offset = word(t, base + (bits === 64 ? 8 : 4));
    const size = word(t, base + (bits === 64 ? 32 : 16));
    const raw = readAt(offset, size);
    const nul = raw.indexOf(0);
    info.interpreter = new TextDecoder().decode(
      nul >= 0 ? raw.subarray(0, nul) : raw,
    );
    break;
  }
  return info;
}

/**
 * {@link parseElf} on a file. Throws Deno's errors (NotFound, ...) for
 * unreadable files and {@link TinycError} naming `path` for broken ELF.
 */
export function readElf(path: string): ElfInfo | null {
  const file = Deno.openSync(path, { read: true });
  try {
    return parseElf((offset, length) => {
      const buf = new Uint8Array(length);
      file.seekSync(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = file.readSync(buf.subarray(got));
        if (n === null || n === 0) break;
        got += n;
      }
      return buf.subarray(0, got);
    });
  } catch (err) {
    if (err instanceof TinycError) {
      throw new TinycError(`${path}: ${err.message}`);
    }
    throw err;
  } finally {
    file.close();
  }
}
