/**
 * Errors nobody awaited: a rejected promise no one handles, or an exception
 * thrown in an event callback. Deno would print a stack trace and exit 1,
 * skipping every cleanup; tinyc instead ends the run in progress through
 * its cleanup and then exits 125 with one line.
 *
 * `catchStrayErrors` is installed once by the CLI entry; the launcher
 * registers how to end its run ({@link onStrayError}); the CLI asks
 * {@link strayError} when the command returns.
 *
 * @module
 */

import { oneLine } from "./errors.ts";

let first: { error: unknown } | undefined;
const aborts = new Set<(error: unknown) => void>();

/** Install the global handlers (CLI only; the init never runs async code). */
export function catchStrayErrors(): void {
  globalThis.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    strayed(e.reason);
  });
  globalThis.addEventListener("error", (e) => {
    e.preventDefault();
    strayed(e.error ?? e.message);
  });
}

/**
 * Handle a stray error: the first one is kept for the exit status; a run in
 * progress is asked to end (its cleanup then runs as usual). With no run in
 * progress there is nothing to clean up: print and exit.
 */
export function strayed(error: unknown): void {
  first ??= { error };
  if (aborts.size === 0) {
    console.error(`tinyc: ${oneLine(error)}`);
    Deno.exit(125);
  }
  for (const abort of aborts) {
    try {
      abort(error);
    } catch {
      // ending anyway
    }
  }
}

/** While a run is in progress: how to end it on a stray error. Returns the remover. */
export function onStrayError(abort: (error: unknown) => void): () => void {
  aborts.add(abort);
  return () => aborts.delete(abort);
}

/** The first stray error, if one happened. */
export function strayError(): { error: unknown } | undefined {
  return first;
}
