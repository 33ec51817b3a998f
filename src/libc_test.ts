import assert from "node:assert/strict";
import { cstr, errno, errnoText, libc } from "./libc.ts";

// The entries that are plain system calls go through the raw `syscall`
// symbol (src/libc.ts): they must behave as glibc's wrappers do.

Deno.test("libc via syscall: open/read/write/close/pipe2/dup2 and errno", () => {
  const c = libc();
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/f`;
    const O_WRONLY = 1, O_CREAT = 0o100, O_CLOEXEC = 0o2000000;
    const fd = c.open(cstr(path), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600);
    assert.ok(fd >= 0);
    const data = new TextEncoder().encode("hello");
    // A view with an offset: the address is the view's.
    const padded = new Uint8Array(8);
    padded.set(data, 3);
    assert.equal(Number(c.write(fd, padded.subarray(3), 5n)), 5);
    assert.equal(c.close(fd), 0);
    assert.equal(Deno.readTextFileSync(path), "hello");
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600 & ~umaskNow());

    assert.equal(c.open(cstr(`${dir}/none`), 0, 0), -1);
    assert.equal(errno(), 2);
    assert.equal(c.close(999_999), -1);
    assert.equal(errno(), 9);

    const fds = new Int32Array(2);
    assert.equal(c.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC), 0);
    const dup = c.dup2(fds[1], 900);
    assert.equal(dup, 900);
    assert.equal(c.dup2(900, 900), 900);
    assert.equal(Number(c.write(900, data, 5n)), 5);
    const buf = new Uint8Array(16);
    assert.equal(Number(c.read(fds[0], buf, 16n)), 5);
    assert.deepEqual(buf.subarray(0, 5), data);
    for (const f of [fds[0], fds[1], 900]) c.close(f);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

function umaskNow(): number {
  const old = libc().umask(0o22);
  libc().umask(old);
  return old;
}

Deno.test("libc via syscall: ids, kill, poll, mknod, waitpid", () => {
  const c = libc();
  assert.equal(c.getpid(), Deno.pid);
  assert.equal(c.getppid(), Deno.ppid);
  assert.equal(c.getuid(), Deno.uid());
  assert.equal(c.getgid(), Deno.gid());
  assert.equal(c.kill(Deno.pid, 0), 0);
  assert.equal(c.kill(2 ** 22 + 7, 0), -1);
  assert.equal(errno(), 3); // ESRCH
  // poll with a timeout and nothing ready: 0 after the timeout.
  const fds = new Int32Array(2);
  c.pipe2(new Uint8Array(fds.buffer), 0o2000000);
  const POLLIN = 1;
  const pfd = new Int32Array([fds[0], POLLIN]);
  assert.equal(c.poll(new Uint8Array(pfd.buffer), 1n, 10), 0);
  c.write(fds[1], new Uint8Array([1]), 1n);
  assert.equal(c.poll(new Uint8Array(pfd.buffer), 1n, -1), 1);
  assert.equal(pfd[1] >>> 16, POLLIN);
  c.close(fds[0]);
  c.close(fds[1]);
  // mknod (a FIFO needs no privilege).
  const dir = Deno.makeTempDirSync();
  try {
    assert.equal(c.mknod(cstr(`${dir}/p`), 0o010000 | 0o600, 0n), 0);
    assert.ok(Deno.lstatSync(`${dir}/p`).isFifo);
    assert.equal(c.mknod(cstr(`${dir}/p`), 0o010000 | 0o600, 0n), -1);
    assert.equal(errno(), 17);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  // waitpid of no child: ECHILD.
  assert.equal(c.waitpid(1, new Uint8Array(4), 1 /* WNOHANG */), -1);
  assert.equal(errno(), 10);
});

Deno.test("errnoText: the built-in texts are the C library's", () => {
  const lib = Deno.dlopen("libc.so.6", {
    strerror: { parameters: ["i32"], result: "pointer" },
  });
  try {
    for (const code of [2, 17, 20, 40]) {
      const p = lib.symbols.strerror(code)!;
      const text = new Deno.UnsafePointerView(p).getCString();
      assert.equal(
        errnoText(code),
        text.charAt(0).toLowerCase() + text.slice(1),
      );
    }
    assert.equal(errnoText(13), "permission denied");
  } finally {
    lib.close();
  }
});

Deno.test("libc's syscall numbers are the seccomp table's (src/security/syscall_table.ts)", async () => {
  const { SYSCALLS, SYS } = await import("./libc.ts");
  const { SYSCALLS_X86_64, SYSCALLS_AARCH64 } = await import(
    "./security/syscall_table.ts"
  );
  // entries that are another call underneath
  const kernelName: Record<string, string> = {
    open: "openat",
    mknod: "mknodat",
    poll: "ppoll",
    waitpid: "wait4",
    recv: "recvfrom",
  };
  for (const [name, [x86, arm]] of Object.entries(SYSCALLS)) {
    const k = kernelName[name] ?? name;
    assert.equal(x86, SYSCALLS_X86_64[k], `${name} on x86_64`);
    if (name !== "dup2") {
      assert.equal(arm, SYSCALLS_AARCH64[k], `${name} on aarch64`);
    }
  }
  const table = Deno.build.arch === "aarch64"
    ? SYSCALLS_AARCH64
    : SYSCALLS_X86_64;
  for (const [name, nr] of Object.entries(SYS)) {
    assert.equal(nr, table[name], `SYS.${name}`);
  }
});
