#!/usr/bin/env -S deno run -A --no-config --quiet
/**
 * The floor of tinyc's process model, timed by `deno task bench` next to
 * tinyc and runc: what `tinyc run` cannot avoid and nothing else. A Deno
 * process (started with main.ts's flags) binds libc and posix_spawns a
 * second Deno process, which binds libc and `execve`s the command; the first
 * waits for it and exits with its status. No namespaces, mounts, cgroups,
 * config or security setup, and none of tinyc's modules (the bare FFI calls
 * are written out here): what `tinyc run` spends above this line is its own
 * work and its modules, what it spends below is Deno's.
 *
 * Usage: bench_floor.ts CMD [ARGS...]
 *
 * @module
 */

const libc = Deno.dlopen("libc.so.6", {
  posix_spawn: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
}).symbols;

const encoder = new TextEncoder();
const keep: Uint8Array[] = [];
function cstr(s: string): Uint8Array<ArrayBuffer> {
  const b = encoder.encode(`${s}\0`) as Uint8Array<ArrayBuffer>;
  keep.push(b);
  return b;
}
function cstrs(items: string[]): Uint8Array<ArrayBuffer> {
  const ptrs = new BigUint64Array(items.length + 1);
  items.forEach((s, i) =>
    ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(cstr(s))))
  );
  return new Uint8Array(ptrs.buffer);
}
const env = cstrs(
  Object.entries(Deno.env.toObject()).map(([k, v]) => `${k}=${v}`),
);

const [mode, ...argv] = Deno.args;
if (mode === "--exec") {
  // The second process: straight to the command, as the init ends.
  libc.execve(cstr(argv[0]), cstrs(argv), env);
  Deno.exit(127);
}
if (mode === undefined) {
  console.error("usage: bench_floor.ts CMD [ARGS...]");
  Deno.exit(2);
}
const self = new URL(import.meta.url).pathname;
const deno = Deno.execPath();
const pid = new Int32Array(1);
const rc = libc.posix_spawn(
  new Uint8Array(pid.buffer),
  cstr(deno),
  null,
  null,
  cstrs([
    deno,
    "run",
    "-A",
    "--no-config",
    "--quiet",
    self,
    "--exec",
    mode,
    ...argv,
  ]),
  env,
);
if (rc !== 0) {
  console.error(`bench_floor: posix_spawn ${deno}: error ${rc}`);
  Deno.exit(125);
}
const status = new Int32Array(1);
libc.waitpid(pid[0], new Uint8Array(status.buffer), 0);
const sig = status[0] & 0x7f;
Deno.exit(sig ? 128 + sig : (status[0] >> 8) & 0xff);
