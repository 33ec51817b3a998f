/**
 * Test double for the cgroup code: a temporary directory shaped like
 * cgroupfs, and a {@link CgroupKernel} that enforces the kernel rules the
 * code depends on, so tests can fail for the right reasons:
 *
 * - `mkdir` of a cgroup creates its control files (the v2 controller files
 *   only for controllers enabled in the parent's `cgroup.subtree_control`,
 *   and `cgroup.controllers` from it);
 * - `rmdir` refuses (EBUSY) while `cgroup.procs` lists a process or a child
 *   cgroup exists, and can be told to refuse a few times more;
 * - writing `cgroup.subtree_control` refuses controllers not in
 *   `cgroup.controllers` (ENOENT) and, below the root, enabling when the
 *   cgroup has processes (EBUSY); writing `cgroup.procs` moves the pid out
 *   of every other cgroup of the hierarchy and refuses a cgroup that
 *   delegates (EBUSY) — cgroup v2's no-internal-process rule;
 * - `cgroup.kill` empties the subtree; `kill` and `alive` act on a set of
 *   pretend processes; `sleep` only records.
 *
 * Not used by tinyc itself.
 *
 * @module
 */

import { posix } from "node:path";
import os from "node:os";
import { SysError } from "../errors.ts";
import { LinuxCgroupKernel } from "./kernel.ts";

/** One hierarchy of the fake cgroupfs. */
export interface FakeHierarchy {
  /** Mountpoint relative to the fake root: `""` (v2 at the root), `memory`, `cpu,cpuacct`, `unified`. */
  at: string;
  /** 1 or 2. */
  version: 1 | 2;
  /** v1: the controllers bound to it; v2: those available at its root. */
  controllers: string[];
  /** v1 `name=` hierarchy (e.g. `systemd`). */
  name?: string;
}

/** Control files of a fresh v1 cgroup, per controller. */
const V1_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.limit_in_bytes": "9223372036854771712\n",
    "memory.memsw.limit_in_bytes": "9223372036854771712\n",
    "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
    "memory.failcnt": "0\n",
  },
  cpu: { "cpu.cfs_period_us": "100000\n", "cpu.cfs_quota_us": "-1\n" },
  pids: { "pids.max": "max\n" },
};

/** Control files of a fresh v2 cgroup, per enabled controller. */
const V2_FILES: Record<string, Record<string, string>> = {
  memory: {
    "memory.max": "max\n",
    "memory.swap.max": "max\n",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
  },
  cpu: { "cpu.max": "max 100000\n" },
  pids: { "pids.max": "max\n" },
};

function sysError(call: string, path: string, code: string): SysError {
  const n = (os.constants.errno as Record<string, number>)[code];
  return new SysError(call, `\`${path}\``, n, code, code.toLowerCase());
}

/** A fake cgroupfs under a temporary directory, and the kernel rules over it. */
export class FakeCgroupKernel extends LinuxCgroupKernel {
  /** The fake cgroup root (a temporary directory). */
  readonly root: string;
  /** Pids that {@link FakeCgroupKernel.alive} reports as running. */
  readonly live: Set<number> = new Set();
  /** Every `kill` and `sleep`, in order: `kill 12`, `sleep 4`. */
  readonly log: string[] = [];
  /** Paths whose `mkdir` or `write` fails with EINVAL. */
  readonly failOn: Set<string> = new Set();
  /** Directory -> how many more `rmdir` calls answer EBUSY regardless. */
  readonly busy: Map<string, number> = new Map();
  /** Whether v1 memory cgroups get `memory.memsw.*` (swap accounting). */
  memsw = true;
  #hierarchies: FakeHierarchy[];

  /** Lay out the hierarchies under a new temporary directory. */
  constructor(hierarchies: FakeHierarchy[]) {
    super();
    this.root = Deno.makeTempDirSync({ prefix: "tinyc-cgfs-" });
    this.#hierarchies = hierarchies;
    for (const h of hierarchies) {
      const dir = posix.join(this.root, h.at);
      Deno.mkdirSync(dir, { recursive: true });
      const files: Record<string, string> = { "cgroup.procs": "" };
      if (h.version === 2) {
        files["cgroup.controllers"] = h.controllers.join(" ") + "\n";
        files["cgroup.subtree_control"] = "\n";
      } else {
        for (const c of h.controllers) Object.assign(files, V1_FILES[c] ?? {});
      }
      for (const [f, v] of Object.entries(files)) {
        Deno.writeTextFileSync(posix.join(dir, f), v);
      }
    }
  }

  /** `/proc/self/mountinfo` text for the fake hierarchies. */
  mountinfo(): string {
    return this.#hierarchies.map((h, i) => {
      const mp = posix.join(this.root, h.at).replaceAll(" ", "\\040");
      const opts = h.version === 2
        ? "rw,nsdelegate"
        : ["rw", ...h.controllers, ...(h.name ? [`name=${h.name}`] : [])]
          .join(",");
      return `${30 + i} 23 0:${
        28 + i
      } / ${mp} rw,nosuid,nodev,noexec,relatime shared:${9 + i} - ${
        h.version === 2 ? "cgroup2" : "cgroup"
      } ${h.version === 2 ? "cgroup2" : "cgroup"} ${opts}`;
    }).join("\n") + "\n";
  }

  /** Directory of cgroup `path` in the hierarchy mounted at `at`. */
  dir(at: string, path: string): string {
    return posix.join(this.root, at, path);
  }

  /** Create cgroup `path` (and its missing ancestors) in hierarchy `at`, as the kernel would. */
  mkdirp(at: string, path: string): string {
    let dir = posix.join(this.root, at);
    for (const part of path.split("/").filter(Boolean)) {
      dir = posix.join(dir, part);
      if (!this.exists(dir)) this.mkdir(dir);
    }
    return dir;
  }

  /** Put pretend processes in a cgroup (replacing its list) and mark them live. */
  setProcs(dir: string, pids: number[]): void {
    Deno.writeTextFileSync(
      posix.join(dir, "cgroup.procs"),
      pids.map((p) => `${p}\n`).join(""),
    );
    for (const p of pids) this.live.add(p);
  }

  /** Pids listed in a cgroup. */
  procs(dir: string): number[] {
    return this.read(posix.join(dir, "cgroup.procs")).split(/\s+/).filter(
      Boolean,
    ).map(Number);
  }

  #hierarchyOf(path: string): FakeHierarchy {
    const rel = posix.relative(this.root, path);
    const h =
      this.#hierarchies.filter((h) =>
        h.at === "" || rel === h.at || rel.startsWith(h.at + "/")
      ).sort((a, b) => b.at.length - a.at.length)[0];
    if (!h) throw new Error(`fake cgroupfs: ${path} is in no hierarchy`);
    return h;
  }

  #isRoot(dir: string): boolean {
    return posix.join(this.root, this.#hierarchyOf(dir).at) === dir;
  }

  #words(path: string): string[] {
    try {
      return this.read(path).split(/\s+/).filter(Boolean);
    } catch {
      return [];
    }
  }

  override mkdir(path: string): void {
    if (this.failOn.has(path)) throw sysError("mkdir", path, "EINVAL");
    if (this.exists(path)) throw sysError("mkdir", path, "EEXIST");
    if (!this.exists(posix.dirname(path))) {
      throw sysError("mkdir", path, "ENOENT");
    }
    const h = this.#hierarchyOf(path);
    Deno.mkdirSync(path);
    const files: Record<string, string> = { "cgroup.procs": "" };
    if (h.version === 2) {
      const delegated = this.#words(
        posix.join(posix.dirname(path), "cgroup.subtree_control"),
      );
      Object.assign(files, {
        "cgroup.controllers": delegated.join(" ") + "\n",
        "cgroup.subtree_control": "\n",
        "cgroup.type": "domain\n",
        "cgroup.events": "populated 0\nfrozen 0\n",
        "cgroup.kill": "",
      });
      for (const c of delegated) Object.assign(files, V2_FILES[c] ?? {});
    } else {
      for (const c of h.controllers) Object.assign(files, V1_FILES[c] ?? {});
      if (!this.memsw) {
        delete files["memory.memsw.limit_in_bytes"];
      }
    }
    for (const [f, v] of Object.entries(files)) {
      Deno.writeTextFileSync(posix.join(path, f), v);
    }
  }

  override rmdir(path: string): void {
    if (!this.exists(path)) throw sysError("rmdir", path, "ENOENT");
    const n = this.busy.get(path) ?? 0;
    if (n > 0) {
      this.busy.set(path, n - 1);
      throw sysError("rmdir", path, "EBUSY");
    }
    if (this.procs(path).length || this.subdirs(path).length) {
      throw sysError("rmdir", path, "EBUSY");
    }
    Deno.removeSync(path, { recursive: true });
  }

  override write(path: string, value: string): void {
    if (this.failOn.has(path)) throw sysError("write", path, "EINVAL");
    if (!this.exists(path)) throw sysError("write", path, "ENOENT");
    const dir = posix.dirname(path);
    const file = posix.basename(path);
    const h = this.#hierarchyOf(dir);
    if (file === "cgroup.subtree_control") {
      const on = new Set(this.#words(path));
      const avail = this.#words(posix.join(dir, "cgroup.controllers"));
      for (const tok of value.split(/\s+/).filter(Boolean)) {
        const c = tok.slice(1);
        if (!avail.includes(c)) throw sysError("write", path, "ENOENT");
        if (tok[0] === "+") {
          if (!this.#isRoot(dir) && this.procs(dir).length) {
            throw sysError("write", path, "EBUSY");
          }
          on.add(c);
        } else on.delete(c);
      }
      Deno.writeTextFileSync(path, [...on].join(" ") + "\n");
    } else if (file === "cgroup.procs") {
      const pid = Number(value);
      if (
        h.version === 2 && !this.#isRoot(dir) &&
        this.#words(posix.join(dir, "cgroup.subtree_control")).length
      ) {
        throw sysError("write", path, "EBUSY");
      }
      this.#removePid(posix.join(this.root, h.at), pid);
      this.setProcs(dir, [...this.procs(dir), pid]);
    } else if (file === "cgroup.kill") {
      this.#killTree(dir);
    } else {
      Deno.writeTextFileSync(path, value + "\n");
    }
  }

  #removePid(dir: string, pid: number): void {
    const procs = this.procs(dir);
    if (procs.includes(pid)) {
      Deno.writeTextFileSync(
        posix.join(dir, "cgroup.procs"),
        procs.filter((p) => p !== pid).map((p) => `${p}\n`).join(""),
      );
    }
    for (const sub of this.subdirs(dir)) {
      this.#removePid(posix.join(dir, sub), pid);
    }
  }

  #killTree(dir: string): void {
    for (const pid of this.procs(dir)) this.kill(pid);
    for (const sub of this.subdirs(dir)) this.#killTree(posix.join(dir, sub));
  }

  override kill(pid: number): void {
    this.log.push(`kill ${pid}`);
    this.live.delete(pid);
    for (const h of this.#hierarchies) {
      this.#removePid(posix.join(this.root, h.at), pid);
    }
  }

  override alive(pid: number): boolean {
    return this.live.has(pid);
  }

  override sleep(ms: number): void {
    this.log.push(`sleep ${ms}`);
  }

  /** Remove the temporary directory. */
  cleanup(): void {
    Deno.removeSync(this.root, { recursive: true });
  }
}
