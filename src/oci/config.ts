/**
 * OCI runtime-spec `config.json` -> tinyc's {@link Spec}: validation and the
 * runtime-spec's semantics (root relative to the bundle, namespaces with a
 * `path` joined rather than created, `cgroup` mounts served by the cgroup
 * step). A field tinyc cannot honour is refused with one line naming it,
 * never silently ignored.
 *
 * Pure: the caller reads the file and checks the host (rootfs exists).
 *
 * @module
 */

import { TinycError } from "../errors.ts";
import * as posix from "../posix_path.ts";
import type {
  DeviceCgroupRule,
  Hook,
  Hooks,
  IdMapping,
  Mount,
  Namespace,
  Rlimit,
  Spec,
} from "../spec.ts";
import type { OciCapabilities } from "../security/capabilities.ts";
import { CAPABILITIES } from "../security/capabilities.ts";

type Json = Record<string, unknown>;

/** The namespace types of the runtime-spec (Linux). */
const NS_TYPES = ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"];

export { RLIMITS } from "../rlimits.ts";
import { RLIMITS } from "../rlimits.ts";

/** Resource fields tinyc applies; any other set field is refused. */
const RESOURCES_SUPPORTED = ["memory", "cpu", "pids", "devices", "unified"];

/** A bad config: one line naming the field. */
function bad(field: string, why: string): never {
  throw new TinycError(`config.json: ${field}: ${why}`);
}

function obj(v: unknown, field: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    bad(field, "must be an object");
  }
  return v as Json;
}

function optObj(v: unknown, field: string): Json | undefined {
  return v === undefined || v === null ? undefined : obj(v, field);
}

function arr(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(field, "must be an array");
  return v;
}

function strings(v: unknown, field: string): string[] {
  return arr(v, field).map((s, i) => {
    if (typeof s !== "string") bad(`${field}[${i}]`, "must be a string");
    return s;
  });
}

function str(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") bad(field, "must be a string");
  return v;
}

function int(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    bad(field, "must be an integer");
  }
  return v;
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") bad(field, "must be true or false");
  return v;
}

/** Refuse set fields of `o` outside `known` (`field` names the object). */
function onlyKnown(o: Json, known: readonly string[], field: string): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null) continue;
    if (!known.includes(k)) bad(`${field}.${k}`, "not supported by tinyc");
  }
}

function capList(v: unknown, field: string): string[] {
  return strings(v, field).map((name) => {
    if (!(name in CAPABILITIES)) bad(field, `unknown capability ${name}`);
    return name;
  });
}

function hooks(v: unknown): Hooks | undefined {
  const h = optObj(v, "hooks");
  if (!h) return undefined;
  const kinds = [
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
  ] as const;
  onlyKnown(h, kinds, "hooks");
  const out: Hooks = {};
  for (const k of kinds) {
    const list = arr(h[k], `hooks.${k}`).map((x, i): Hook => {
      const f = `hooks.${k}[${i}]`;
      const o = obj(x, f);
      const path = str(o.path, `${f}.path`);
      if (!path || !path.startsWith("/")) bad(`${f}.path`, "must be absolute");
      const timeout = int(o.timeout, `${f}.timeout`);
      if (timeout !== undefined && timeout <= 0) {
        bad(`${f}.timeout`, "must be greater than zero");
      }
      return {
        path,
        args: strings(o.args, `${f}.args`),
        env: strings(o.env, `${f}.env`),
        timeout,
      };
    });
    if (list.length) out[k] = list;
  }
  return out;
}

function mappings(v: unknown, field: string): IdMapping[] | undefined {
  if (v === undefined || v === null) return undefined;
  return arr(v, field).map((x, i) => {
    const o = obj(x, `${field}[${i}]`);
    const m = {
      containerID: int(o.containerID, `${field}[${i}].containerID`),
      hostID: int(o.hostID, `${field}[${i}].hostID`),
      size: int(o.size, `${field}[${i}].size`),
    };
    if (
      m.containerID === undefined || m.hostID === undefined ||
      m.size === undefined || m.size <= 0
    ) {
      bad(`${field}[${i}]`, "needs containerID, hostID and a positive size");
    }
    return m as IdMapping;
  });
}

function deviceRules(v: unknown): DeviceCgroupRule[] | undefined {
  if (v === undefined || v === null) return undefined;
  return arr(v, "linux.resources.devices").map((x, i) => {
    const f = `linux.resources.devices[${i}]`;
    const o = obj(x, f);
    const allow = bool(o.allow, `${f}.allow`);
    if (allow === undefined) bad(`${f}.allow`, "is required");
    const type = str(o.type, `${f}.type`) ?? "a";
    if (!["a", "c", "b"].includes(type)) bad(`${f}.type`, `unknown ${type}`);
    const access = str(o.access, `${f}.access`) ?? "rwm";
    if (!/^[rwm]*$/.test(access)) bad(`${f}.access`, `invalid ${access}`);
    return {
      allow,
      type: type as "a" | "c" | "b",
      major: int(o.major, `${f}.major`) ?? null,
      minor: int(o.minor, `${f}.minor`) ?? null,
      access,
    };
  });
}

function resources(v: unknown): Spec["linux"]["resources"] {
  const r = optObj(v, "linux.resources");
  if (!r) return undefined;
  for (const [k, val] of Object.entries(r)) {
    if (val === undefined || val === null) continue;
    if (RESOURCES_SUPPORTED.includes(k)) continue;
    // Empty objects/lists and zero values (engines send them) ask for nothing.
    if (isEmpty(val)) continue;
    bad(`linux.resources.${k}`, "not supported by tinyc");
  }
  const out: NonNullable<Spec["linux"]["resources"]> = {};
  const mem = optObj(r.memory, "linux.resources.memory");
  if (mem) {
    onlyKnownIgnoring(
      mem,
      [
        "limit",
        "swap",
        "reservation",
      ],
      "linux.resources.memory",
      [
        "disableOOMKiller",
        "swappiness",
        "kernel",
        "kernelTCP",
        "useHierarchy",
        "checkBeforeUpdate",
      ],
    );
    out.memory = {
      limit: int(mem.limit, "linux.resources.memory.limit"),
      swap: int(mem.swap, "linux.resources.memory.swap"),
      reservation: int(mem.reservation, "linux.resources.memory.reservation"),
    };
    if (mem.disableOOMKiller === true) {
      bad("linux.resources.memory.disableOOMKiller", "not supported by tinyc");
    }
  }
  const cpu = optObj(r.cpu, "linux.resources.cpu");
  if (cpu) {
    onlyKnownIgnoring(
      cpu,
      ["quota", "period", "shares", "cpus", "mems"],
      "linux.resources.cpu",
      ["realtimeRuntime", "realtimePeriod", "idle", "burst"],
    );
    out.cpu = {
      quota: int(cpu.quota, "linux.resources.cpu.quota"),
      period: int(cpu.period, "linux.resources.cpu.period"),
      shares: int(cpu.shares, "linux.resources.cpu.shares"),
      cpus: str(cpu.cpus, "linux.resources.cpu.cpus"),
      mems: str(cpu.mems, "linux.resources.cpu.mems"),
    };
  }
  const pids = optObj(r.pids, "linux.resources.pids");
  if (pids) out.pids = { limit: int(pids.limit, "linux.resources.pids.limit") };
  out.devices = deviceRules(r.devices);
  const unified = optObj(r.unified, "linux.resources.unified");
  if (unified) {
    out.unified = {};
    for (const [k, val] of Object.entries(unified)) {
      if (typeof val !== "string") {
        bad(`linux.resources.unified.${k}`, "must be a string");
      }
      if (k.includes("/") || k.startsWith(".")) {
        bad(`linux.resources.unified.${k}`, "not a cgroup file name");
      }
      out.unified[k] = val;
    }
  }
  return out;
}

/** Like onlyKnown, but `zeroOk` fields may be set to 0/false (engines send them). */
function onlyKnownIgnoring(
  o: Json,
  known: readonly string[],
  field: string,
  zeroOk: readonly string[],
): void {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === null || known.includes(k)) continue;
    if (zeroOk.includes(k) && (v === 0 || v === false)) continue;
    // swappiness: docker sends it unset; the kernel default is fine.
    bad(`${field}.${k}`, "not supported by tinyc");
  }
}

/** Nothing asked for: null, 0, false, "", [] or an object of those (engines send such). */
function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === 0 || v === false || v === "") {
    return true;
  }
  if (Array.isArray(v)) return v.every(isEmpty);
  return typeof v === "object" && Object.values(v).every(isEmpty);
}

function rlimits(v: unknown): Rlimit[] | undefined {
  if (v === undefined || v === null) return undefined;
  const seen = new Set<string>();
  return arr(v, "process.rlimits").map((x, i) => {
    const f = `process.rlimits[${i}]`;
    const o = obj(x, f);
    const type = str(o.type, `${f}.type`) ?? "";
    if (!(type in RLIMITS)) bad(`${f}.type`, `unknown rlimit ${type}`);
    if (seen.has(type)) bad(`${f}.type`, `${type} given twice`);
    seen.add(type);
    const hard = o.hard, soft = o.soft;
    if (typeof hard !== "number" || typeof soft !== "number") {
      bad(f, "needs numeric hard and soft");
    }
    if (soft > hard) bad(f, "soft limit above the hard limit");
    return { type, hard, soft };
  });
}

/**
 * Convert a parsed config.json into a {@link Spec}. `bundle` is the absolute
 * bundle directory (root.path is relative to it unless absolute).
 */
export function specFromOciConfig(config: unknown, bundle: string): Spec {
  const c = obj(config, "config.json");
  const ociVersion = str(c.ociVersion, "ociVersion");
  if (!ociVersion) bad("ociVersion", "is required");
  if (!/^1\./.test(ociVersion)) {
    bad("ociVersion", `${ociVersion} is not a 1.x runtime-spec version`);
  }
  if (c.solaris || c.windows || c.vm || c.zos) {
    bad(
      Object.keys(c).find((k) =>
        ["solaris", "windows", "vm", "zos"].includes(k)
      )!,
      "not supported on Linux",
    );
  }
  const root = obj(c.root, "root");
  const rootPath = str(root.path, "root.path");
  if (!rootPath) bad("root.path", "is required");
  const p = obj(c.process, "process");
  const args = strings(p.args, "process.args");
  if (args.length === 0) bad("process.args", "must name the command");
  const cwd = str(p.cwd, "process.cwd") ?? "/";
  if (!cwd.startsWith("/")) bad("process.cwd", "must be absolute");
  const user = obj(p.user ?? {}, "process.user");
  const uid = int(user.uid, "process.user.uid") ?? 0;
  const gid = int(user.gid, "process.user.gid") ?? 0;
  const additionalGids = arr(user.additionalGids, "process.user.additionalGids")
    .map((g, i) => int(g, `process.user.additionalGids[${i}]`)!);
  const umask = int(user.umask, "process.user.umask");
  const capsIn = optObj(p.capabilities, "process.capabilities");
  const capabilities: OciCapabilities = {
    bounding: capList(capsIn?.bounding, "process.capabilities.bounding"),
    effective: capList(capsIn?.effective, "process.capabilities.effective"),
    permitted: capList(capsIn?.permitted, "process.capabilities.permitted"),
    inheritable: capList(
      capsIn?.inheritable,
      "process.capabilities.inheritable",
    ),
    ambient: capList(capsIn?.ambient, "process.capabilities.ambient"),
  };
  // The kernel raises an ambient capability only when it is permitted and
  // inheritable; like runc and crun, the others are left out rather than
  // failing the container (`runc spec` lists ambient without inheritable).
  capabilities.ambient = capabilities.ambient.filter((c) =>
    capabilities.permitted.includes(c) && capabilities.inheritable.includes(c)
  );
  for (const f of ["apparmorProfile", "selinuxLabel"]) {
    if (str(p[f], `process.${f}`)) {
      bad(
        `process.${f}`,
        f === "apparmorProfile"
          ? "AppArmor is not supported by tinyc"
          : "SELinux is not supported by tinyc",
      );
    }
  }
  const consoleIn = optObj(p.consoleSize, "process.consoleSize");
  const linux = obj(c.linux ?? {}, "linux");
  onlyKnown(linux, [
    "namespaces",
    "uidMappings",
    "gidMappings",
    "devices",
    "cgroupsPath",
    "resources",
    "rootfsPropagation",
    "seccomp",
    "sysctl",
    "maskedPaths",
    "readonlyPaths",
    "mountLabel",
    "personality",
    "intelRdt",
  ], "linux");
  // linux.mountLabel only means something with SELinux, which tinyc does
  // not drive: like crun, it is ignored (an SELinux label for the process
  // itself is refused below).
  str(linux.mountLabel, "linux.mountLabel");
  if (linux.intelRdt !== undefined && linux.intelRdt !== null) {
    bad("linux.intelRdt", "not supported by tinyc");
  }
  const namespaces: Namespace[] = arr(linux.namespaces, "linux.namespaces")
    .map((x, i) => {
      const o = obj(x, `linux.namespaces[${i}]`);
      const type = str(o.type, `linux.namespaces[${i}].type`) ?? "";
      if (!NS_TYPES.includes(type)) {
        bad(`linux.namespaces[${i}].type`, `unknown namespace ${type}`);
      }
      const path = str(o.path, `linux.namespaces[${i}].path`);
      if (path !== undefined && !path.startsWith("/")) {
        bad(`linux.namespaces[${i}].path`, "must be absolute");
      }
      if (path && type === "user") {
        bad(
          `linux.namespaces[${i}].path`,
          "joining a user namespace by path is not supported by tinyc",
        );
      }
      return path
        ? { type: type as Namespace["type"], path }
        : { type: type as Namespace["type"] };
    });
  const types = namespaces.map((n) => n.type);
  const dup = types.find((t, i) => types.indexOf(t) !== i);
  if (dup) bad("linux.namespaces", `${dup} given twice`);
  const uidMappings = mappings(linux.uidMappings, "linux.uidMappings");
  const gidMappings = mappings(linux.gidMappings, "linux.gidMappings");
  const hasUserNs = types.includes("user");
  if ((uidMappings?.length || gidMappings?.length) && !hasUserNs) {
    bad("linux.uidMappings", "needs a user namespace");
  }
  // A hostname needs a uts namespace of the container's own: a new one or
  // one joined by path (never the runtime's).
  const hostname = str(c.hostname, "hostname");
  if (hostname && !types.includes("uts")) {
    bad("hostname", "needs a uts namespace in linux.namespaces");
  }
  const domainname = str(c.domainname, "domainname");
  if (domainname && !types.includes("uts")) {
    bad("domainname", "needs a uts namespace in linux.namespaces");
  }
  if (!types.includes("mount")) {
    bad(
      "linux.namespaces",
      "tinyc-oci needs a mount namespace (it never mounts in the runtime's own)",
    );
  }
  const devices = arr(linux.devices, "linux.devices").map((x, i) => {
    const f = `linux.devices[${i}]`;
    const o = obj(x, f);
    const path = str(o.path, `${f}.path`);
    if (!path || !path.startsWith("/")) bad(`${f}.path`, "must be absolute");
    const type = str(o.type, `${f}.type`);
    if (type !== "c" && type !== "b" && type !== "u" && type !== "p") {
      bad(`${f}.type`, `unknown device type ${type}`);
    }
    // A FIFO has no device numbers.
    const major = int(o.major, `${f}.major`) ?? (type === "p" ? 0 : undefined);
    const minor = int(o.minor, `${f}.minor`) ?? (type === "p" ? 0 : undefined);
    if (major === undefined || minor === undefined) {
      bad(f, "needs major and minor");
    }
    return {
      path,
      type: (type === "u" ? "c" : type) as "c" | "b" | "p",
      major,
      minor,
      fileMode: int(o.fileMode, `${f}.fileMode`) ?? 0o666,
      uid: int(o.uid, `${f}.uid`),
      gid: int(o.gid, `${f}.gid`),
    };
  });
  let cgroupMount: Spec["linux"]["cgroupMount"] = null;
  const mounts: Mount[] = [];
  for (const [i, x] of arr(c.mounts, "mounts").entries()) {
    const f = `mounts[${i}]`;
    const o = obj(x, f);
    const destination = str(o.destination, `${f}.destination`);
    if (!destination || !destination.startsWith("/")) {
      bad(`${f}.destination`, "must be absolute");
    }
    const options = strings(o.options, `${f}.options`);
    let type = str(o.type, `${f}.type`) ?? "";
    let source = str(o.source, `${f}.source`) ?? "";
    if (options.includes("bind") || options.includes("rbind")) type = "bind";
    if (type === "") bad(`${f}.type`, "is required (or a bind option)");
    if (type === "cgroup" || type === "cgroup2") {
      cgroupMount = {
        destination: posix.normalize(destination),
        readonly: options.includes("ro"),
      };
      continue;
    }
    if (type === "bind" && source !== "" && !source.startsWith("/")) {
      source = posix.join(bundle, source);
    }
    mounts.push({ destination, type, source, options });
  }
  const seccomp = optObj(linux.seccomp, "linux.seccomp");
  const sysctl = optObj(linux.sysctl, "linux.sysctl");
  if (sysctl) {
    for (const [k, v] of Object.entries(sysctl)) {
      if (typeof v !== "string") bad(`linux.sysctl.${k}`, "must be a string");
      if (k.includes("/") || k.includes("..") || k === "") {
        bad(`linux.sysctl.${k}`, "not a sysctl name");
      }
    }
  }
  const propagation = str(linux.rootfsPropagation, "linux.rootfsPropagation");
  if (
    propagation &&
    ![
      "private",
      "rprivate",
      "slave",
      "rslave",
      "shared",
      "rshared",
      "unbindable",
      "runbindable",
    ]
      .includes(propagation)
  ) {
    bad("linux.rootfsPropagation", `unknown propagation ${propagation}`);
  }
  const personality = optObj(linux.personality, "linux.personality");
  if (personality) {
    const domain = str(personality.domain, "linux.personality.domain");
    if (domain !== "LINUX" && domain !== "LINUX32") {
      bad("linux.personality.domain", `unknown domain ${domain}`);
    }
    if (arr(personality.flags, "linux.personality.flags").length) {
      bad("linux.personality.flags", "not supported by tinyc");
    }
  }
  const annotations = optObj(c.annotations, "annotations");
  const spec: Spec = {
    ociVersion,
    process: {
      terminal: bool(p.terminal, "process.terminal") ?? false,
      user: { uid, gid, additionalGids },
      args,
      env: strings(p.env, "process.env"),
      cwd,
      capabilities,
      noNewPrivileges: bool(p.noNewPrivileges, "process.noNewPrivileges") ??
        false,
      rlimits: rlimits(p.rlimits),
      oomScoreAdj: int(p.oomScoreAdj, "process.oomScoreAdj"),
      umask,
      consoleSize: consoleIn
        ? {
          height: int(consoleIn.height, "process.consoleSize.height") ?? 0,
          width: int(consoleIn.width, "process.consoleSize.width") ?? 0,
        }
        : undefined,
    },
    root: {
      path: rootPath.startsWith("/") ? rootPath : posix.join(bundle, rootPath),
      readonly: bool(root.readonly, "root.readonly") ?? false,
    },
    hostname: hostname ?? "",
    domainname,
    mounts,
    hooks: hooks(c.hooks),
    annotations: annotations as Record<string, string> | undefined,
    linux: {
      namespaces,
      devices: devices as Spec["linux"]["devices"],
      resources: resources(linux.resources),
      cgroupsPath: str(linux.cgroupsPath, "linux.cgroupsPath"),
      cgroupMount,
      maskedPaths: strings(linux.maskedPaths, "linux.maskedPaths"),
      readonlyPaths: strings(linux.readonlyPaths, "linux.readonlyPaths"),
      sysctl: sysctl as Record<string, string> | undefined,
      rootfsPropagation: propagation,
      uidMappings,
      gidMappings,
      personality: personality
        ? { domain: personality.domain as string }
        : undefined,
    },
  };
  if (seccomp) {
    // Parsed (and compiled) by the caller with the security module, which
    // is loaded lazily: see parseOciSeccomp in src/oci/create.ts.
    (spec as SpecWithRawSeccomp).rawSeccomp = seccomp;
  }
  return spec;
}

/** A spec fresh from config.json, seccomp still as the JSON object. */
export type SpecWithRawSeccomp = Spec & { rawSeccomp?: Json };
