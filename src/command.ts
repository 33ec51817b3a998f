/**
 * Finding and executing the container's command, with docker's exit codes:
 * 127 when it is not found, 126 when it is found but cannot be executed.
 *
 * @module
 */

import { cstr, cstrArray, errno, errnoName, errnoText, libc } from "./libc.ts";
import { ExitCode, TinycError } from "./errors.ts";

/** What resolving needs from the filesystem (injectable for tests). */
export type StatFn = (path: string) => "dir" | "file" | "other" | "none";

/**
 * Resolve `arg0` like execvp: a name with a `/` is used as is; otherwise the
 * first regular file of that name in `PATH` (container's PATH, inside the new
 * root). Throws exit 127 when nothing is found.
 */
export function resolveCommand(
  arg0: string,
  pathEnv: string,
  stat: StatFn,
): string {
  if (arg0 === "") {
    throw new TinycError("exec: empty command name", ExitCode.NotFound);
  }
  if (arg0.includes("/")) {
    const kind = stat(arg0);
    if (kind === "none") {
      throw new TinycError(
        `exec ${arg0}: no such file or directory`,
        ExitCode.NotFound,
      );
    }
    if (kind === "dir") {
      throw new TinycError(
        `exec ${arg0}: is a directory`,
        ExitCode.CannotInvoke,
      );
    }
    return arg0;
  }
  for (const dir of pathEnv.split(":")) {
    const candidate = `${dir === "" ? "." : dir}/${arg0}`;
    if (stat(candidate) === "file") return candidate;
  }
  throw new TinycError(
    `exec ${arg0}: executable file not found in $PATH`,
    ExitCode.NotFound,
  );
}

/** Map an execve errno to docker's exit code. */
export function execErrorCode(code: string): number {
  return code === "ENOENT" || code === "ENOTDIR"
    ? ExitCode.NotFound
    : ExitCode.CannotInvoke;
}

/** `execve` on the calling thread; only returns by throwing. */
export function execve(
  path: string,
  argv: readonly string[],
  env: readonly string[],
): never {
  const a = cstrArray(argv), e = cstrArray(env);
  libc().execve(
    cstr(path),
    new Uint8Array(a.ptrs.buffer),
    new Uint8Array(e.ptrs.buffer),
  );
  const n = errno();
  const name = errnoName(n);
  throw new TinycError(
    `exec ${path}: ${errnoText(n)}${
      name === "ENOENT" ? " (or its interpreter is missing)" : ""
    }`,
    execErrorCode(name),
  );
}
