/**
 * `tinyc-oci features` (runtime-spec features.md) and `tinyc-oci spec`
 * (a default config.json, as `runc spec` writes one).
 *
 * @module
 */

import { CAPABILITIES } from "../security/capabilities.ts";
import { defaultMounts } from "../spec.ts";
import {
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
} from "../security/paths.ts";

/** What this runtime supports, as the runtime-spec's features document. */
export function features(): Record<string, unknown> {
  return {
    ociVersionMin: "1.0.0",
    ociVersionMax: "1.1.0",
    hooks: [
      "prestart",
      "createRuntime",
      "createContainer",
      "startContainer",
      "poststart",
      "poststop",
    ],
    mountOptions: [
      "ro",
      "rw",
      "nosuid",
      "suid",
      "nodev",
      "dev",
      "noexec",
      "exec",
      "noatime",
      "strictatime",
      "bind",
      "rbind",
      "private",
      "rprivate",
      "defaults",
    ],
    linux: {
      namespaces: ["cgroup", "ipc", "mount", "network", "pid", "uts"],
      capabilities: Object.keys(CAPABILITIES),
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false },
      seccomp: {
        enabled: true,
        actions: [
          "SCMP_ACT_ALLOW",
          "SCMP_ACT_ERRNO",
          "SCMP_ACT_KILL",
          "SCMP_ACT_KILL_PROCESS",
          "SCMP_ACT_KILL_THREAD",
          "SCMP_ACT_LOG",
          "SCMP_ACT_TRACE",
          "SCMP_ACT_TRAP",
        ],
        operators: [
          "SCMP_CMP_EQ",
          "SCMP_CMP_GE",
          "SCMP_CMP_GT",
          "SCMP_CMP_LE",
          "SCMP_CMP_LT",
          "SCMP_CMP_MASKED_EQ",
          "SCMP_CMP_NE",
        ],
        archs: ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
      },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { "org.opencontainers.runtime-spec.features": "tinyc" },
  };
}

const DEFAULT_CAPS = [
  "CAP_AUDIT_WRITE",
  "CAP_KILL",
  "CAP_NET_BIND_SERVICE",
];

/** A default config.json for a bundle with `rootfs/` (runc spec's shape). */
export function defaultConfig(rootless: boolean): Record<string, unknown> {
  const namespaces = [
    { type: "pid" },
    { type: "network" },
    { type: "ipc" },
    { type: "uts" },
    { type: "mount" },
    { type: "cgroup" },
  ];
  const config: Record<string, unknown> = {
    ociVersion: "1.0.2",
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "TERM=xterm",
      ],
      cwd: "/",
      capabilities: {
        bounding: DEFAULT_CAPS,
        effective: DEFAULT_CAPS,
        permitted: DEFAULT_CAPS,
        ambient: DEFAULT_CAPS,
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "tinyc",
    mounts: [
      // tinyc run's own mounts (runc's layout); rootless, devpts without
      // gid=5 (not mapped when only root is).
      ...defaultMounts().map((m) =>
        rootless && m.type === "devpts"
          ? { ...m, options: m.options?.filter((o) => o !== "gid=5") }
          : m
      ),
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
    ],
    linux: {
      resources: rootless ? undefined : {
        devices: [{ allow: false, access: "rwm" }],
      },
      namespaces: rootless ? [...namespaces, { type: "user" }] : namespaces,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (rootless) {
    const linux = config.linux as Record<string, unknown>;
    linux.uidMappings = [{ containerID: 0, hostID: Deno.uid() ?? 0, size: 1 }];
    linux.gidMappings = [{ containerID: 0, hostID: Deno.gid() ?? 0, size: 1 }];
  }
  return config;
}
