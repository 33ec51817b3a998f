/**
 * What a run may leave on the host, found by the launcher's pid (other
 * runs, e.g. other test files, may be going on at the same time).
 *
 * @module
 */

/** Cgroup directories of launcher `pid` (tinyc-<pid>-<id>) in every hierarchy. */
export async function cgroupsOf(pid: number): Promise<string[]> {
  const out = await new Deno.Command("find", {
    args: ["/sys/fs/cgroup", "-type", "d", "-name", `tinyc-${pid}-*`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l);
}

/** IPAM leases held by launcher `pid`. */
export function leasesOf(pid: number): string[] {
  const dir = "/run/tinyc/net/leases";
  const found: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      try {
        const lease = JSON.parse(Deno.readTextFileSync(`${dir}/${e.name}`));
        if (lease.pid === pid) found.push(e.name);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no leases at all
  }
  return found;
}
