/**
 * The one libc symbol networking needs that src/libc.ts does not bind:
 * `write` on a pool thread.
 *
 * Deleting a veth holds the caller inside `write()` for ~15-25 ms while the
 * kernel waits for RCU grace periods (unregister_netdevice). On the main
 * thread that would stall the launcher's event loop during teardown; on a
 * pool thread it does not. errno is lost there, which is fine: netlink
 * reports the outcome in its ack, read afterwards on the main thread.
 *
 * @module
 */

const SYMBOLS = {
  // ssize_t write(int fd, const void *buf, size_t count);  (on a pool thread)
  write_async: {
    name: "write",
    parameters: ["i32", "buffer", "usize"],
    result: "isize",
    nonblocking: true,
  },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** `write(fd, buf, len)` off the main thread; resolves to its return value (-1 on error). */
export function writeAsync(fd: number, buf: Uint8Array): Promise<number> {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS);
  return lib.symbols.write_async(
    fd,
    buf as Uint8Array<ArrayBuffer>,
    BigInt(buf.length),
  )
    .then(Number);
}
