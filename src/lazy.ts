/**
 * Modules loaded when a command needs them, not before, and where tinyc's
 * modules are: the source tree, or the build `deno task install` makes.
 *
 * Deno loads the graph of every dynamic import with a literal specifier
 * together with the importing module, before any of it runs; a computed
 * specifier is loaded only when it is imported. So `tinyc run` does not read
 * the image, detached and rootfs builder modules it does not use, and
 * `tinyc-oci state` not create's.
 *
 * Paths are relative to the repository's root (`src/images/run.ts`), never
 * to the caller: in a build, the installed copy runs bundles
 * (`main.js`, `src/init_main.js`, one per lazily loaded module and
 * chunks they share, see scripts/build.ts), where a module's
 * `import.meta.url` is the chunk its code landed in. Every path given to
 * {@link lazyImport} must be in main.ts's LAZY_MODULES: the build makes each
 * an entry point, `deno task compile` embeds each, and a test checks that
 * the two lists agree.
 *
 * @module
 */

/** This code runs from a build (bundled `.js`), not from the sources. */
export const BUILT = import.meta.url.endsWith(".js");

/**
 * The URL of `path` (root-relative, `src/x.ts` or `main.ts`): the source
 * module, or in a build its bundle (`src/x.js` in the build's directory). A
 * build runs only from its two entry points, `main.js` and
 * `src/init_main.js`, so the main module tells where the build is.
 */
export function moduleUrl(path: string): string {
  if (!BUILT) return new URL(`../${path}`, import.meta.url).href;
  const main = Deno.mainModule;
  const root = main.endsWith("/src/init_main.js")
    ? main.slice(0, -"src/init_main.js".length)
    : main.slice(0, main.lastIndexOf("/") + 1);
  return new URL(path.replace(/\.ts$/, ".js"), root).href;
}

/** `import()` of `path` (see {@link moduleUrl}), by a computed specifier. */
export function lazyImport<T>(path: string): Promise<T> {
  return import(moduleUrl(path));
}
