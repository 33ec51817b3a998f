import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BANNER,
  COMMANDS,
  ENDED,
  execute,
  PROMPT,
  readLines,
  resolvePath,
  runShell,
  type ShellIo,
} from "./ts.ts";

/** An in-memory file tree: a path maps to file text, or to null for a directory. */
class FakeIo implements ShellIo {
  out = "";
  dir = "/";
  files = new Map<string, string | null>([
    ["/", null],
    ["/etc", null],
    ["/etc/hostname", "box\n"],
    ["/home", null],
    ["/home/me", null],
    ["/home/me/b.txt", "bee"],
    ["/home/me/a.txt", "ay\n"],
    ["/secret", "x"],
  ]);
  vars: Array<[string, string]> = [["HOME", "/home/me"], ["A", "1=2"]];
  host: string | Error = "tiny";

  write(data: string | Uint8Array) {
    this.out += typeof data === "string"
      ? data
      : new TextDecoder().decode(data);
  }
  readFile(path: string): Uint8Array {
    if (path === "/secret") throw new Deno.errors.PermissionDenied("EACCES");
    const f = this.files.get(path);
    if (f === undefined) throw new Deno.errors.NotFound("ENOENT");
    if (f === null) throw new Deno.errors.IsADirectory("EISDIR");
    return new TextEncoder().encode(f);
  }
  readDir(path: string): string[] {
    const f = this.files.get(path);
    if (f === undefined) throw new Deno.errors.NotFound("ENOENT");
    if (f !== null) throw new Deno.errors.NotADirectory("ENOTDIR");
    const prefix = path === "/" ? "/" : path + "/";
    return [...this.files.keys()]
      .filter((p) =>
        p.startsWith(prefix) && p !== "/" &&
        !p.slice(prefix.length).includes("/")
      )
      .map((p) => p.slice(prefix.length))
      .reverse();
  }
  cwd() {
    return this.dir;
  }
  chdir(path: string) {
    const f = this.files.get(path);
    if (f === undefined) throw new Deno.errors.NotFound("ENOENT");
    if (f !== null) throw new Deno.errors.NotADirectory("ENOTDIR");
    this.dir = path;
  }
  env() {
    return this.vars;
  }
  hostname() {
    if (this.host instanceof Error) throw this.host;
    return this.host;
  }
}

function run(io: FakeIo, line: string): string {
  io.out = "";
  assert.equal(execute(line, io), "continue", line);
  return io.out;
}

Deno.test("resolvePath: relative, absolute, dots", () => {
  assert.equal(resolvePath("/home/me", "a.txt"), "/home/me/a.txt");
  assert.equal(resolvePath("/home/me", "../../.."), "/");
  assert.equal(
    resolvePath("/home/me", "/etc/./x/../hostname"),
    "/etc/hostname",
  );
  assert.equal(resolvePath("/", "."), "/");
  assert.equal(resolvePath("/a", "b//c/"), "/a/b/c");
});

Deno.test("execute: ls lists sorted names under a Files in: header", () => {
  const io = new FakeIo();
  assert.equal(
    run(io, "ls /home/me"),
    "Files in: /home/me\n\ta.txt\n\tb.txt\n",
  );
  io.dir = "/home/me";
  assert.equal(run(io, "ls"), "Files in: /home/me\n\ta.txt\n\tb.txt\n");
  assert.equal(run(io, "ls .."), "Files in: /home\n\tme\n");
  assert.equal(run(io, "ls /nope"), "ls: /nope: no such file or directory\n");
  assert.equal(run(io, "ls a.txt"), "ls: /home/me/a.txt: not a directory\n");
  assert.equal(run(io, "ls a b"), "ls: too many arguments (usage: ls [DIR])\n");
});

Deno.test("execute: cat prints files as they are, errors one line each", () => {
  const io = new FakeIo();
  assert.equal(run(io, "cat /etc/hostname"), "box\n");
  assert.equal(run(io, "  cat   /home/me/a.txt /home/me/b.txt  "), "ay\nbee");
  assert.equal(run(io, "cat /x"), "cat: /x: no such file or directory\n");
  assert.equal(run(io, "cat /etc"), "cat: /etc: is a directory\n");
  assert.equal(run(io, "cat /secret"), "cat: /secret: permission denied\n");
  assert.equal(run(io, "cat"), "cat: missing file (usage: cat FILE...)\n");
});

Deno.test("execute: cd and pwd; cd alone goes HOME, or / without HOME", () => {
  const io = new FakeIo();
  assert.equal(run(io, "cd /etc"), "");
  assert.equal(run(io, "pwd"), "/etc\n");
  assert.equal(run(io, "cd"), "");
  assert.equal(run(io, "pwd"), "/home/me\n");
  assert.equal(run(io, "cd ../.."), "");
  assert.equal(run(io, "pwd"), "/\n");
  assert.equal(
    run(io, "cd /etc/hostname"),
    "cd: /etc/hostname: not a directory\n",
  );
  assert.equal(
    run(io, "cd /missing"),
    "cd: /missing: no such file or directory\n",
  );
  assert.equal(run(io, "pwd"), "/\n");
  io.vars = [];
  io.dir = "/etc";
  assert.equal(run(io, "cd"), "");
  assert.equal(io.dir, "/");
});

Deno.test("execute: env, hostname, help, unknown, blank, quit", () => {
  const io = new FakeIo();
  assert.equal(run(io, "env"), "HOME=/home/me\nA=1=2\n");
  assert.equal(run(io, "hostname"), "Hostname: tiny\n");
  io.host = new Deno.errors.PermissionDenied("Requires sys access");
  assert.equal(run(io, "hostname"), "hostname: permission denied\n");
  assert.equal(run(io, "help"), `Valid commands: ${COMMANDS}\n`);
  assert.equal(run(io, "rm -rf /"), "Unknown command: rm\n");
  assert.equal(run(io, "   "), "");
  assert.equal(run(io, "pwd extra"), "pwd: too many arguments (usage: pwd)\n");
  assert.equal(execute("quit", io), "quit");
  assert.equal(execute(" exit ", io), "quit");
});

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => enc.encode(c)));
}

Deno.test("readLines: chunks split anywhere, CRLF, a last line without newline", async () => {
  const lines: string[] = [];
  for await (const l of readLines(streamOf("pw", "d\r\nls /\n\ncat ", "x"))) {
    lines.push(l);
  }
  assert.deepEqual(lines, ["pwd", "ls /", "", "cat x"]);
  // A UTF-8 character split across chunks stays whole.
  const bytes = new TextEncoder().encode("é\n");
  const split = ReadableStream.from([bytes.subarray(0, 1), bytes.subarray(1)]);
  for await (const l of readLines(split)) assert.equal(l, "é");
});

Deno.test("runShell: banner, prompts, and the end at quit or end of input", async () => {
  const io = new FakeIo();
  assert.equal(await runShell(streamOf("pwd\nquit\npwd\n"), io), 0);
  assert.equal(
    io.out,
    `${BANNER}\nValid commands: ${COMMANDS}\n${PROMPT}/\n${PROMPT}${ENDED}\n`,
  );
  const io2 = new FakeIo();
  assert.equal(await runShell(streamOf("hostname"), io2), 0);
  assert.equal(
    io2.out,
    `${BANNER}\nValid commands: ${COMMANDS}\n${PROMPT}Hostname: tiny\n${PROMPT}\n${ENDED}\n`,
  );
});

Deno.test("ts.ts end to end: a script piped into deno run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tinyc_ts_" });
  try {
    await Deno.mkdir(join(dir, "sub"));
    await Deno.writeTextFile(
      join(dir, "sub", "note.txt"),
      "hello from a file\n",
    );
    await Deno.writeTextFile(join(dir, "z"), "");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./ts.ts", import.meta.url).pathname],
      cwd: dir,
      env: { TINYC_TS_TEST: "yes" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const script =
      "pwd\nls\ncd sub\ncat note.txt\ncat nope\nenv\nhostname\nfrobnicate\n";
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const real = await Deno.realPath(dir);
    const expectStart = [
      BANNER,
      `Valid commands: ${COMMANDS}`,
      `${PROMPT}${real}`,
      `${PROMPT}Files in: ${real}`,
      "\tsub",
      "\tz",
      `${PROMPT}${PROMPT}hello from a file`,
      `${PROMPT}cat: ${real}/sub/nope: no such file or directory`,
      `${PROMPT}`,
    ].join("\n");
    assert.ok(text.startsWith(expectStart), text);
    assert.ok(text.includes("TINYC_TS_TEST=yes\n"), text);
    assert.ok(text.includes(`${PROMPT}Hostname: ${Deno.hostname()}\n`), text);
    assert.ok(
      text.endsWith(
        `${PROMPT}Unknown command: frobnicate\n${PROMPT}\n${ENDED}\n`,
      ),
      text,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
