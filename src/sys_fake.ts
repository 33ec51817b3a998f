/**
 * A recording {@link Sys} for unit tests: every call is appended to `calls`
 * as a readable line, and `failOn` makes a matching call throw like the
 * kernel would. No root needed.
 *
 * @module
 */

import { cloneFlagNames, mountFlagNames, type Sys } from "./sys.ts";
import { SysError } from "./errors.ts";

/** A scripted failure: the first call whose line starts with `prefix` throws `code`. */
export interface FakeFailure {
  prefix: string;
  code: string;
  errno?: number;
}

/** The recording fake. `files` says what {@link Sys.kind} reports. */
export class RecordingSys implements Sys {
  readonly calls: string[] = [];
  readonly files = new Map<string, "dir" | "file" | "other">();
  failOn: FakeFailure[] = [];
  private nextFd = 10;

  private record(line: string, call: string): void {
    this.calls.push(line);
    const f = this.failOn.find((x) => line.startsWith(x.prefix));
    if (f) {
      this.failOn = this.failOn.filter((x) => x !== f);
      throw new SysError(call, line, f.errno ?? 1, f.code, "injected failure");
    }
  }

  unshare(flags: number): void {
    this.record(`unshare ${cloneFlagNames(flags)}`, "unshare");
  }
  openNs(path: string): number {
    this.record(`open ${path}`, "open");
    return this.nextFd++;
  }
  setns(fd: number, _nstype: number, what: string): void {
    this.record(`setns ${fd} ${what}`, "setns");
  }
  close(fd: number): void {
    this.calls.push(`close ${fd}`);
  }
  mount(
    source: string,
    target: string,
    fstype: string,
    flags: number,
    data = "",
  ): void {
    this.record(
      `mount ${source || "none"} ${target} ${fstype || "-"} ${
        mountFlagNames(flags)
      }${data ? " " + data : ""}`,
      "mount",
    );
    if (fstype || (flags & 0x1000)) this.files.set(target, "dir");
  }
  umount(target: string, flags: number): void {
    this.record(`umount ${target} ${flags}`, "umount2");
  }
  pivotRoot(newRoot: string, putOld: string): void {
    this.record(`pivot_root ${newRoot} ${putOld}`, "pivot_root");
  }
  chdir(path: string): void {
    this.record(`chdir ${path}`, "chdir");
  }
  sethostname(name: string): void {
    this.record(`sethostname ${name}`, "sethostname");
  }
  mknod(path: string, mode: number, major: number, minor: number): void {
    this.record(
      `mknod ${path} 0${mode.toString(8)} ${major}:${minor}`,
      "mknod",
    );
    this.files.set(path, "other");
  }
  mkdirAll(path: string): void {
    this.record(`mkdir ${path}`, "mkdir");
    this.files.set(path, "dir");
  }
  touch(path: string): void {
    this.record(`touch ${path}`, "open");
    if (!this.files.has(path)) this.files.set(path, "file");
  }
  symlink(target: string, path: string): void {
    this.record(`symlink ${path} -> ${target}`, "symlink");
  }
  kind(path: string): "dir" | "file" | "other" | "none" {
    return this.files.get(path) ?? "none";
  }
}
