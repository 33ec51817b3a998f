/**
 * An image's config -> the container's process, with docker's override
 * rules: `--entrypoint` replaces Entrypoint and drops the image's Cmd;
 * arguments after the image replace Cmd; `-w` and `-u` replace WorkingDir
 * and User; `-e` is applied on top of the image's Env. Pure.
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import type { ImageConfig } from "./manifest.ts";

/** What the user gave on the command line. */
export interface ImageRunFlags {
  /** Arguments after IMAGE. */
  command: string[];
  /** `--entrypoint` ("" clears the image's). */
  entrypoint?: string;
  /** `-w`, when given. */
  workdir?: string;
  /** `-u`, when given. */
  user?: string;
}

/** The process the image and the flags make. */
export interface ImageProcess {
  args: string[];
  /** The image's Env (the caller puts `-e` on top). */
  env: string[];
  workdir: string;
  user?: string;
}

/** Merge `config` (an image config) with the flags. */
export function imageProcess(
  config: ImageConfig,
  flags: ImageRunFlags,
  image: string,
): ImageProcess {
  const c = config.config ?? {};
  const entrypoint = flags.entrypoint !== undefined
    ? (flags.entrypoint === "" ? [] : [flags.entrypoint])
    : c.Entrypoint ?? [];
  const cmd = flags.command.length > 0
    ? flags.command
    : flags.entrypoint !== undefined
    ? []
    : c.Cmd ?? [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new TinycError(
      flags.entrypoint !== undefined
        ? `run ${image}: no command specified (--entrypoint also drops the image's Cmd; give a command after the image)`
        : `run ${image}: no command specified (the image has no Entrypoint or Cmd)`,
    );
  }
  const workdir = flags.workdir ?? (c.WorkingDir || "/");
  if (!workdir.startsWith("/")) {
    throw new TinycError(
      `run ${image}: the image's WorkingDir ${workdir} is not absolute`,
    );
  }
  const env = (c.Env ?? []).filter((e) => e.includes("="));
  const user = flags.user ?? (c.User ? c.User : undefined);
  return { args, env, workdir, user };
}
