/**
 * A small, table-driven command-line parser in docker's style: flags come
 * before the command; parsing stops at `--` or at the first argument that is
 * not a flag, so `tinyc run --root r ls -l` passes `-l` to `ls`.
 *
 * `node:util`'s parseArgs cannot stop at the first positional, hence this.
 *
 * @module
 */

import { TinycError } from "./errors.ts";

/** One flag a command accepts. */
export interface FlagDef {
  /** Long name without dashes, e.g. `env`. */
  name: string;
  /** One-letter alias, e.g. `e`. */
  short?: string;
  /** `string` flags take a value; `boolean` flags do not. */
  type: "string" | "boolean";
  /** May be given more than once (values are collected in order). */
  multiple?: boolean;
  /** Placeholder for the value in help, e.g. `KEY=VALUE`. */
  arg?: string;
  /** One line of help. */
  help: string;
}

/** Parsed flags and the remaining arguments. */
export interface Parsed {
  values: Record<string, string | boolean | string[]>;
  /** Arguments after the flags (the command), without a leading `--`. */
  rest: string[];
}

/**
 * Parse `argv` against `defs`. Unknown flags and missing values throw a
 * {@link TinycError} naming the flag (exit 125).
 */
export function parseFlags(
  defs: readonly FlagDef[],
  argv: readonly string[],
  command: string,
): Parsed {
  const byLong = new Map(defs.map((d) => [d.name, d]));
  const byShort = new Map(
    defs.filter((d) => d.short).map((d) => [d.short!, d]),
  );
  const values: Parsed["values"] = {};
  const set = (def: FlagDef, value: string | boolean) => {
    if (def.multiple) {
      ((values[def.name] ??= []) as string[]).push(String(value));
    } else {
      values[def.name] = value;
    }
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    let def: FlagDef | undefined;
    let inline: string | undefined;
    let shown: string;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      def = byLong.get(name);
      shown = `--${name}`;
    } else {
      // -e KEY=V, -eKEY=V, -e=KEY=V; booleans may be grouped: -it
      def = byShort.get(arg[1]);
      shown = arg.slice(0, 2);
      const group = [...arg.slice(1)].map((c) => byShort.get(c));
      if (
        arg.length > 2 && group.every((d) => d?.type === "boolean")
      ) {
        for (const d of group) set(d!, true);
        continue;
      }
      if (arg.length > 2) inline = arg[2] === "=" ? arg.slice(3) : arg.slice(2);
    }
    if (!def) {
      throw new TinycError(
        `${command}: unknown flag ${shown} (see '${command} --help')`,
      );
    }
    if (def.type === "boolean") {
      if (inline === undefined) set(def, true);
      else if (inline === "true" || inline === "false") {
        set(def, inline === "true");
      } else {
        throw new TinycError(
          `${command}: ${shown}=${inline}: expected true or false`,
        );
      }
      continue;
    }
    if (inline === undefined) {
      if (i + 1 >= argv.length) {
        throw new TinycError(`${command}: ${shown} needs a value`);
      }
      inline = argv[++i];
    }
    set(def, inline);
  }
  return { values, rest: argv.slice(i) };
}

/** Render the flag table for `--help`. */
export function flagHelp(defs: readonly FlagDef[]): string {
  const rows = defs.map((d) => {
    const names = (d.short ? `-${d.short}, ` : "    ") + `--${d.name}` +
      (d.type === "string" ? ` ${d.arg ?? "VALUE"}` : "");
    return [names, d.help + (d.multiple ? " (repeatable)" : "")];
  });
  const width = Math.max(...rows.map(([n]) => n.length)) + 2;
  return rows.map(([n, h]) => `  ${n.padEnd(width)}${h}`).join("\n");
}
