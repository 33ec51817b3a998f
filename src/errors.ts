/**
 * Errors tinyc throws. The library throws; only the CLI prints and picks the
 * exit code (docker's convention, see {@link ExitCode}).
 *
 * @module
 */

/** Exit codes shared with docker/podman. */
export const ExitCode = {
  /** tinyc itself failed: bad flag, bad rootfs, setup error. */
  Failed: 125,
  /** The command was found but could not be executed. */
  CannotInvoke: 126,
  /** The command was not found. */
  NotFound: 127,
} as const;

/** An error with a one-line message for the user and the exit code to use. */
export class TinycError extends Error {
  /** The process exit status the CLI should use. */
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCode.Failed) {
    super(message);
    this.name = "TinycError";
    this.exitCode = exitCode;
  }
}

/**
 * A failed system call: `mount src=/a, dst=/b, flags=MS_BIND|MS_REC: EPERM (operation not permitted)`.
 * Callers can branch on {@link SysError.errno} / {@link SysError.code}.
 */
export class SysError extends TinycError {
  /** The call that failed, e.g. `mount`. */
  readonly call: string;
  /** errno number. */
  readonly errno: number;
  /** errno name, e.g. `ENOENT`. */
  readonly code: string;
  constructor(
    call: string,
    detail: string,
    errno: number,
    code: string,
    text: string,
  ) {
    super(`${call}${detail ? " " + detail : ""}: ${code} (${text})`);
    this.name = "SysError";
    this.call = call;
    this.errno = errno;
    this.code = code;
  }
}

/**
 * The cause alone of a failed file operation, for a message that names the
 * file itself: Deno's "No such file or directory (os error 2): stat '/x'"
 * becomes "no such file or directory".
 */
export function osReason(err: unknown): string {
  const m = err instanceof Error
    ? /^(.+?) \(os error \d+\)/.exec(err.message)
    : null;
  return m ? m[1].charAt(0).toLowerCase() + m[1].slice(1) : oneLine(err);
}

/** Render any thrown value as one line, for the CLI. */
export function oneLine(err: unknown): string {
  if (err instanceof Error) {
    // Deno's own errors carry the path in the message already; keep the first line.
    return err.message.split("\n")[0];
  }
  return String(err);
}
