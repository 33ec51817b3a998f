/**
 * The tiny shell: a stand-alone Deno program with a handful of built-in
 * commands, for poking around inside a container whose rootfs holds nothing
 * else (`deno task shell` puts it at `/bin/ts`).
 *
 * ```
 * Tiny shell started
 * Valid commands: cat FILE..., cd [DIR], env, help, hostname, ls [DIR], pwd, quit (or exit)
 * ts: pwd
 * /
 * ts: quit
 * Tiny shell ended
 * ```
 *
 * It reads standard input line by line, so a script can be piped in, and ends
 * at `quit`, `exit` or the end of input. It has no imports on purpose: the
 * file runs as is under `deno run -A`, bundled or not.
 *
 * @module
 */

/** First line printed. */
export const BANNER = "Tiny shell started";
/** Last line printed. */
export const ENDED = "Tiny shell ended";
/** Printed before each command is read; no newline. */
export const PROMPT = "ts: ";
/** The commands, as `help` and the banner list them. */
export const COMMANDS =
  "cat FILE..., cd [DIR], env, help, hostname, ls [DIR], pwd, quit (or exit)";

/** Everything the commands touch, so tests can use a fake. Methods throw Deno's errors. */
export interface ShellIo {
  /** Write to standard output. */
  write(data: string | Uint8Array): void;
  /** A file's bytes. */
  readFile(path: string): Uint8Array;
  /** The names in a directory, in any order. */
  readDir(path: string): string[];
  /** The absolute working directory. */
  cwd(): string;
  /** Change the working directory. */
  chdir(path: string): void;
  /** The environment, in environ order. */
  env(): Array<[string, string]>;
  /** The UTS hostname. */
  hostname(): string;
}

/** Whether the shell goes on after a command. */
export type Outcome = "continue" | "quit";

/** `path` made absolute against `cwd`, with `.` and `..` folded. */
export function resolvePath(cwd: string, path: string): string {
  const parts = path.startsWith("/") ? [] : cwd.split("/");
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return "/" + parts.filter((p) => p !== "").join("/");
}

/** A one-line reason for a failed file operation, like `ls` would say it. */
export function reason(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotADirectory) return "not a directory";
  if (err instanceof Deno.errors.IsADirectory) return "is a directory";
  const text = err instanceof Error ? err.message : String(err);
  // Deno appends "(os error N): op 'path'"; the path is printed by the caller.
  return text.split("\n")[0].replace(/ \(os error \d+\).*$/, "").toLowerCase();
}

function line(io: ShellIo, text: string): void {
  io.write(text + "\n");
}

/**
 * Run one command line. Output and one-line error messages go to
 * `io.write`; nothing is thrown for a failing command.
 */
export function execute(input: string, io: ShellIo): Outcome {
  const [cmd, ...args] = input.trim().split(/\s+/);
  const usage = (max: number, form: string): boolean => {
    if (args.length <= max) return true;
    line(io, `${cmd}: too many arguments (usage: ${form})`);
    return false;
  };
  switch (cmd) {
    case "":
      return "continue";
    case "quit":
    case "exit":
      return "quit";
    case "help":
      line(io, `Valid commands: ${COMMANDS}`);
      return "continue";
    case "cat":
      if (args.length === 0) line(io, "cat: missing file (usage: cat FILE...)");
      for (const arg of args) {
        const path = resolvePath(io.cwd(), arg);
        try {
          io.write(io.readFile(path));
        } catch (err) {
          line(io, `cat: ${path}: ${reason(err)}`);
        }
      }
      return "continue";
    case "cd": {
      if (!usage(1, "cd [DIR]")) return "continue";
      const target = args[0] ??
        (io.env().find(([k]) => k === "HOME")?.[1] || "/");
      const path = resolvePath(io.cwd(), target);
      try {
        io.chdir(path);
      } catch (err) {
        line(io, `cd: ${path}: ${reason(err)}`);
      }
      return "continue";
    }
    case "env":
      if (!usage(0, "env")) return "continue";
      for (const [k, v] of io.env()) line(io, `${k}=${v}`);
      return "continue";
    case "hostname":
      if (!usage(0, "hostname")) return "continue";
      try {
        line(io, `Hostname: ${io.hostname()}`);
      } catch (err) {
        line(io, `hostname: ${reason(err)}`);
      }
      return "continue";
    case "ls": {
      if (!usage(1, "ls [DIR]")) return "continue";
      const path = resolvePath(io.cwd(), args[0] ?? ".");
      try {
        const names = io.readDir(path).sort();
        line(io, `Files in: ${path}`);
        for (const name of names) line(io, `\t${name}`);
      } catch (err) {
        line(io, `ls: ${path}: ${reason(err)}`);
      }
      return "continue";
    }
    case "pwd":
      if (!usage(0, "pwd")) return "continue";
      try {
        line(io, io.cwd());
      } catch (err) {
        line(io, `pwd: ${reason(err)}`);
      }
      return "continue";
    default:
      line(io, `Unknown command: ${cmd}`);
      return "continue";
  }
}

/** The real {@link ShellIo}: this process's stdout, files, directory and environment. */
export function denoIo(): ShellIo {
  const encoder = new TextEncoder();
  return {
    write(data) {
      let bytes = typeof data === "string" ? encoder.encode(data) : data;
      while (bytes.length > 0) {
        bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
      }
    },
    readFile: (path) => Deno.readFileSync(path),
    readDir: (path) => [...Deno.readDirSync(path)].map((e) => e.name),
    cwd: () => Deno.cwd(),
    chdir: (path) => Deno.chdir(path),
    env: () => Object.entries(Deno.env.toObject()),
    hostname: () => Deno.hostname(),
  };
}

/** The lines of a byte stream, without their `\n` (or `\r\n`); a last unterminated line counts. */
export async function* readLines(
  input: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of input) {
    pending += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      yield pending.slice(0, nl).replace(/\r$/, "");
      pending = pending.slice(nl + 1);
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield pending.replace(/\r$/, "");
}

/** The read-execute loop: banner, then a prompt per line until quit or end of input. Returns the exit status. */
export async function runShell(
  input: ReadableStream<Uint8Array>,
  io: ShellIo,
): Promise<number> {
  line(io, BANNER);
  line(io, `Valid commands: ${COMMANDS}`);
  const lines = readLines(input);
  for (;;) {
    io.write(PROMPT);
    const next = await lines.next();
    if (next.done) {
      // The cursor is still after the prompt.
      io.write("\n");
      break;
    }
    if (execute(next.value, io) === "quit") break;
  }
  line(io, ENDED);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await runShell(Deno.stdin.readable, denoIo()));
}
