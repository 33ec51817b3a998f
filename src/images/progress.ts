/**
 * Pull progress, per layer: on a terminal a block of lines redrawn in place
 * (bytes done/total), otherwise one line per layer when it is done.
 *
 * @module
 */

/** docker's sizes: decimal units, `7.8MB`. */
export function humanSize(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0
    ? `${n}B`
    : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}${
      units[i]
    }`;
}

/** One layer's line. */
export interface LayerLine {
  add(n: number): void;
  done(status: string): void;
}

interface Line {
  id: string;
  total: number;
  done: number;
  status: string;
}

/** Progress output for one pull or load. */
export class Progress {
  private readonly lines: Line[] = [];
  private drawn = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly tty: boolean = Deno.stderr.isTerminal(),
    private readonly write: (s: string) => void = (s) =>
      Deno.stderr.writeSync(new TextEncoder().encode(s)),
    private readonly quiet = false,
  ) {}

  /** A line for the blob `digest` of `total` bytes. */
  layer(digest: string, total: number): LayerLine {
    const line: Line = {
      id: digest.replace(/^sha256:/, "").slice(0, 12),
      total,
      done: 0,
      status: "Waiting",
    };
    this.lines.push(line);
    if (this.tty && !this.quiet) {
      this.timer ??= setInterval(() => this.draw(), 100);
    }
    return {
      add: (n) => {
        line.done += n;
        line.status = "Downloading";
      },
      done: (status) => {
        line.status = status;
        // A size not known in advance (an archive's layer) is what was read.
        line.total = Math.max(line.total, line.done);
        line.done = line.total;
        if (this.quiet) return;
        if (!this.tty) {
          this.write(
            `${line.id}: ${status}${
              status === "Already exists" ? "" : ` (${humanSize(line.total)})`
            }\n`,
          );
        } else this.draw();
      },
    };
  }

  private draw(): void {
    let out = this.drawn ? `\x1b[${this.drawn}A` : "";
    for (const l of this.lines) {
      const bytes = l.status === "Downloading"
        ? ` ${humanSize(l.done)}/${humanSize(l.total)}`
        : "";
      out += `\x1b[2K${l.id}: ${l.status}${bytes}\n`;
    }
    const done =
      this.lines.filter((l) =>
        l.done === l.total && l.status !== "Downloading" &&
        l.status !== "Waiting"
      ).length;
    out += `\x1b[2K${done}/${this.lines.length} layers done\n`;
    this.drawn = this.lines.length + 1;
    this.write(out);
  }

  /** Stop redrawing (a last draw on a terminal). */
  finish(): void {
    if (this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
      if (!this.quiet) this.draw();
    }
  }
}
