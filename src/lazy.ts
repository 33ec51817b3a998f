/**
 * Import `rel` (relative to `base`, the caller's `import.meta.url`) when
 * called. Deno loads the graph of every dynamic import with a literal
 * specifier together with the importing module, before any of it runs; a
 * computed specifier is loaded only here. So `tinyc run` does not read the
 * image, detached and rootfs builder modules it does not use, and
 * `tinyc-oci state` not create's. `deno task compile` embeds these modules
 * with `--include` (main.ts's LAZY_MODULES).
 *
 * @module
 */

/** `import(rel)` relative to `base`, by a computed specifier. */
export function lazyImport<T>(rel: string, base: string): Promise<T> {
  return import(new URL(rel, base).href);
}
