/**
 * Container logs: what a detached container writes to stdout and stderr,
 * one JSON object a line (`{"t": ISO time, "s": "stdout"|"stderr", "m":
 * text}`, as docker's json-file driver), in `container.log`. When the file
 * would pass its cap it is renamed to `container.log.1` (replacing the
 * previous one) and a new one begun, so a container's logs take at most
 * twice the cap.
 *
 * @module
 */

/** One log entry. */
export interface LogEntry {
  /** ISO 8601 time it was read. */
  t: string;
  s: "stdout" | "stderr";
  /** The text: a line with its newline, or a partial line. */
  m: string;
}

/** Default cap of one log file: 8 MiB. */
export const LOG_MAX_BYTES = 8 << 20;

/** A partial line longer than this is written without waiting for its end. */
const MAX_PARTIAL = 16 << 10;

/** Writes one container's log; {@link LogWriter.write} takes raw output. */
export class LogWriter {
  #file: Deno.FsFile | undefined;
  #size = 0;
  #partial: Record<LogEntry["s"], string> = { stdout: "", stderr: "" };
  #decoders = {
    stdout: new TextDecoder(),
    stderr: new TextDecoder(),
  };

  constructor(
    readonly path: string,
    readonly maxBytes: number = LOG_MAX_BYTES,
    readonly now: () => Date = () => new Date(),
  ) {}

  #open(): Deno.FsFile {
    if (!this.#file) {
      this.#file = Deno.openSync(this.path, {
        append: true,
        create: true,
        mode: 0o600,
      });
      this.#size = this.#file.statSync().size;
    }
    return this.#file;
  }

  /** Output `data` from `stream`; null: that stream ended (flush its partial line). */
  write(stream: LogEntry["s"], data: Uint8Array | null): void {
    const text = data === null
      ? this.#decoders[stream].decode()
      : this.#decoders[stream].decode(data, { stream: true });
    const all = this.#partial[stream] + text;
    const lines = all.split(/(?<=\n)/);
    let rest = lines.at(-1)?.endsWith("\n") ? "" : lines.pop() ?? "";
    if (data === null || rest.length > MAX_PARTIAL) {
      if (rest) lines.push(rest);
      rest = "";
    }
    this.#partial[stream] = rest;
    const t = this.now().toISOString();
    // One write per chunk, not per line: a container printing short lines
    // fast (`yes`) must not cost the monitor a system call per line.
    let out = "";
    for (const m of lines) {
      if (m) out += JSON.stringify({ t, s: stream, m }) + "\n";
    }
    if (out) this.#append(out);
  }

  #append(line: string): void {
    const bytes = new TextEncoder().encode(line);
    this.#open();
    if (this.#size > 0 && this.#size + bytes.length > this.maxBytes) {
      this.#file!.close();
      this.#file = undefined;
      Deno.renameSync(this.path, `${this.path}.1`);
      this.#open();
    }
    const f = this.#file!;
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    this.#size += bytes.length;
  }

  /** Flush partial lines and close. */
  close(): void {
    this.write("stdout", null);
    this.write("stderr", null);
    this.#file?.close();
    this.#file = undefined;
  }
}

/** Parse log text (whole lines; a torn last line is skipped). */
export function parseLog(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const e = JSON.parse(line);
      if (typeof e?.m === "string" && (e.s === "stdout" || e.s === "stderr")) {
        out.push(e);
      }
    } catch {
      // a line being written
    }
  }
  return out;
}

/** The last `n` lines of entries (all when n < 0), as docker's --tail. */
export function tail(entries: LogEntry[], n: number): LogEntry[] {
  return n < 0 ? entries : n === 0 ? [] : entries.slice(-n);
}

/** An entry as printed: its text, after its timestamp with -t. */
export function formatEntry(e: LogEntry, timestamps: boolean): string {
  return timestamps ? `${e.t} ${e.m}` : e.m;
}
