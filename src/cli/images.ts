/**
 * The image verbs: `tinyc pull`, `load`, `images`, `rmi`, `image inspect`.
 * Thin: flags -> src/images -> output. Loaded only for these commands.
 *
 * @module
 */

import { type FlagDef, flagHelp, parseFlags } from "../flags.ts";
import { TinycError } from "../errors.ts";
import { Store } from "../images/store.ts";
import { humanSize, Progress } from "../images/progress.ts";
import { findImage, removeImage } from "../images/images.ts";
import { shortRepo } from "../images/reference.ts";

const HELP: FlagDef = { name: "help", type: "boolean", help: "show this help" };

const PULL_FLAGS: FlagDef[] = [
  {
    name: "tls-verify",
    type: "boolean",
    help:
      "--tls-verify=false: plain HTTP to this registry (loopback registries always may)",
  },
  { name: "quiet", short: "q", type: "boolean", help: "no progress output" },
  HELP,
];

/** `tinyc pull [--tls-verify=false] REF` */
export async function pullCommand(args: string[]): Promise<number> {
  const { values, rest } = parseFlags(PULL_FLAGS, args, "tinyc pull");
  if (values.help) {
    console.log(`Usage: tinyc pull [OPTIONS] NAME[:TAG|@DIGEST]

Pull an image from a registry (Docker Hub unless NAME starts with a host:
'alpine' is docker.io/library/alpine:latest; 127.0.0.1:5000/app:1 another
registry). Multi-platform images give the host's platform. Every blob is
verified against its digest.

Options:
${flagHelp(PULL_FLAGS)}`);
    return 0;
  }
  if (rest.length !== 1) {
    throw new TinycError(
      "tinyc pull: give one image reference (see 'tinyc pull --help')",
    );
  }
  const { pullImage } = await import("../images/pull.ts");
  const store = Store.open();
  const rec = await pullImage(store, rest[0], {
    plainHttp: values["tls-verify"] === false,
    progress: new Progress(undefined, undefined, values.quiet === true),
  });
  if (rec.repoDigests[0]) {
    console.log(`Digest: ${rec.repoDigests[0].split("@")[1]}`);
  }
  console.log(rec.repoTags[0] ?? rec.repoDigests[0] ?? rec.id);
  return 0;
}

const LOAD_FLAGS: FlagDef[] = [
  {
    name: "input",
    short: "i",
    type: "string",
    arg: "FILE",
    help: "docker-archive (docker save), OCI archive, or OCI layout directory",
  },
  { name: "quiet", short: "q", type: "boolean", help: "no progress output" },
  HELP,
];

/** `tinyc load -i FILE` */
export async function loadCommand(args: string[]): Promise<number> {
  const { values, rest } = parseFlags(LOAD_FLAGS, args, "tinyc load");
  if (values.help) {
    console.log(`Usage: tinyc load [-i FILE]

Load images (from FILE, '-' or stdin) from a docker-archive ('docker save', 'skopeo copy ...
docker-archive:FILE'), an OCI archive (tar of an OCI layout) or an OCI layout
directory. Layers are verified against the image config's diff IDs.

Options:
${flagHelp(LOAD_FLAGS)}`);
    return 0;
  }
  // docker's default: the archive on stdin
  const input = (values.input as string | undefined) ??
    (Deno.stdin.isTerminal() ? undefined : "-");
  if (!input || rest.length > 0) {
    throw new TinycError(
      "tinyc load: give the archive with -i FILE (or on stdin)",
    );
  }
  const { loadArchive } = await import("../images/archive.ts");
  const store = Store.open();
  const recs = await loadArchive(
    store,
    input,
    new Progress(undefined, undefined, values.quiet === true),
  );
  for (const r of recs) {
    if (r.repoTags.length === 0) console.log(`Loaded image ID: ${r.id}`);
    for (const t of r.repoTags) console.log(`Loaded image: ${shortRepo(t)}`);
  }
  return 0;
}

const IMAGES_FLAGS: FlagDef[] = [
  { name: "quiet", short: "q", type: "boolean", help: "only image IDs" },
  { name: "no-trunc", type: "boolean", help: "full image IDs" },
  HELP,
];

/** `tinyc images`: docker's columns. */
export function imagesCommand(args: string[]): number {
  const { values, rest } = parseFlags(IMAGES_FLAGS, args, "tinyc images");
  if (values.help) {
    console.log(`Usage: tinyc images [OPTIONS] [REPOSITORY[:TAG]]

List images: repository, tag, image ID, created, size (unpacked).

Options:
${flagHelp(IMAGES_FLAGS)}`);
    return 0;
  }
  const store = Store.open();
  const id = (i: { id: string }) =>
    values["no-trunc"] ? i.id : i.id.slice(7, 19);
  const rows: string[][] = [];
  const filter = rest[0];
  // newest first, as docker lists them
  const byCreated = store.images().sort((a, b) =>
    (Date.parse(b.created ?? "") || 0) - (Date.parse(a.created ?? "") || 0)
  );
  for (const img of byCreated) {
    const tags = img.repoTags.length ? img.repoTags : ["<none>:<none>"];
    for (const t of tags) {
      const colon = t.lastIndexOf(":");
      const repo = t === "<none>:<none>"
        ? "<none>"
        : shortRepo(t.slice(0, colon));
      const tag = t.slice(colon + 1);
      if (
        filter &&
        !(filter === repo || filter === `${repo}:${tag}` ||
          filter === t.slice(0, colon))
      ) {
        continue;
      }
      rows.push([repo, tag, id(img), ago(img.created), humanSize(img.size)]);
    }
  }
  if (values.quiet) {
    for (const r of new Set(rows.map((r) => r[2]))) console.log(r);
    return 0;
  }
  console.log(
    table([["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], ...rows]),
  );
  return 0;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) =>
    Math.max(...rows.map((r) => r[c].length))
  );
  return rows.map((r) =>
    r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c] + 3))
      .join("")
  ).join("\n");
}

/** docker's "2 weeks ago" (its units.HumanDuration). */
export function ago(created: string | undefined, now = Date.now()): string {
  const t = created ? Date.parse(created) : NaN;
  if (Number.isNaN(t)) return "N/A";
  const s = Math.max(0, Math.floor((now - t) / 1000));
  const h = s / 3600;
  const d = h / 24;
  const f = Math.floor;
  const text = s < 1
    ? "Less than a second"
    : s === 1
    ? "1 second"
    : s < 60
    ? `${s} seconds`
    : s < 120
    ? "About a minute"
    : s < 3600
    ? `${f(s / 60)} minutes`
    : h < 2
    ? "About an hour"
    : h < 48
    ? `${f(h)} hours`
    : d < 14
    ? `${f(d)} days`
    : d < 90
    ? `${f(d / 7)} weeks`
    : d < 730
    ? `${f(d / 30)} months`
    : `${f(d / 365)} years`;
  return `${text} ago`;
}

const RMI_FLAGS: FlagDef[] = [
  {
    name: "force",
    short: "f",
    type: "boolean",
    help: "remove an image by ID even when several tags name it",
  },
  HELP,
];

/** `tinyc rmi REF...` */
export async function rmiCommand(args: string[]): Promise<number> {
  const { values, rest } = parseFlags(RMI_FLAGS, args, "tinyc rmi");
  if (values.help) {
    console.log(`Usage: tinyc rmi [OPTIONS] IMAGE [IMAGE...]

Remove images (by name[:tag], name@digest, or ID). A tag is removed; the image
goes with its last tag. Refused while a running container uses the image.
Layers another image shares stay.

Options:
${flagHelp(RMI_FLAGS)}`);
    return 0;
  }
  if (rest.length === 0) throw new TinycError("tinyc rmi: give an image");
  const store = Store.open();
  for (const ref of rest) {
    for (const line of await removeImage(store, ref, values.force === true)) {
      console.log(line);
    }
  }
  return 0;
}

/** `tinyc image inspect REF...` (and `tinyc image ls|rm|pull|load`). */
export async function imageCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case "inspect":
      return inspectCommand(rest);
    case "ls":
    case "list":
      return imagesCommand(rest);
    case "rm":
      return await rmiCommand(rest);
    case "pull":
      return await pullCommand(rest);
    case "load":
      return await loadCommand(rest);
    case undefined:
    case "--help":
      console.log(`Usage: tinyc image COMMAND

Commands:
  inspect IMAGE...   show images as JSON (docker's fields)
  ls                 same as 'tinyc images'
  rm IMAGE...        same as 'tinyc rmi'
  pull REF           same as 'tinyc pull'
  load -i FILE       same as 'tinyc load'`);
      return sub === undefined ? 125 : 0;
    default:
      throw new TinycError(`tinyc image: unknown command ${sub}`);
  }
}

function inspectCommand(args: string[]): number {
  const { values, rest } = parseFlags([HELP], args, "tinyc image inspect");
  if (values.help) {
    console.log(`Usage: tinyc image inspect IMAGE [IMAGE...]

Print images as a JSON array: Id, RepoTags, RepoDigests, Created,
Architecture, Os, Config, RootFS, Size.`);
    return 0;
  }
  if (rest.length === 0) {
    throw new TinycError("tinyc image inspect: give an image");
  }
  const store = Store.open();
  const out = rest.map((ref) => {
    const img = findImage(store.images(), ref);
    if (!img) throw new TinycError(`image inspect ${ref}: no such image`);
    const config = JSON.parse(new TextDecoder().decode(store.readBlob(img.id)));
    return {
      Id: img.id,
      RepoTags: img.repoTags.map(shortTag),
      RepoDigests: img.repoDigests.map((d) => {
        const at = d.indexOf("@");
        return shortRepo(d.slice(0, at)) + d.slice(at);
      }),
      Created: img.created ?? "",
      Architecture: img.architecture ?? config.architecture ?? "",
      Os: img.os ?? config.os ?? "",
      Config: config.config ?? {},
      RootFS: { Type: "layers", Layers: img.layers },
      Size: img.size,
    };
  });
  console.log(JSON.stringify(out, null, 4));
  return 0;
}

function shortTag(t: string): string {
  const colon = t.lastIndexOf(":");
  return `${shortRepo(t.slice(0, colon))}${t.slice(colon)}`;
}
