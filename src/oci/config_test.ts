import assert from "node:assert/strict";
import { specFromOciConfig } from "./config.ts";

function base(over: Record<string, unknown> = {}): Record<string, unknown> {
  // A hostname needs a uts namespace: only where the case keeps ours.
  const ours = (over.linux as { namespaces?: Array<{ type: string }> })
    ?.namespaces;
  const hostname = ours && !ours.some((n) => n.type === "uts")
    ? {}
    : { hostname: "box" };
  return {
    ociVersion: "1.0.2",
    root: { path: "rootfs" },
    process: {
      args: ["/bin/sh"],
      cwd: "/",
      user: { uid: 0, gid: 0 },
      env: ["PATH=/bin"],
    },
    ...hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
    ],
    linux: {
      namespaces: [{ type: "pid" }, { type: "mount" }, { type: "uts" }],
    },
    ...over,
  };
}

Deno.test("config: root.path is relative to the bundle; defaults filled", () => {
  const spec = specFromOciConfig(base(), "/b");
  assert.equal(spec.root.path, "/b/rootfs");
  assert.equal(spec.root.readonly, false);
  assert.deepEqual(spec.process.args, ["/bin/sh"]);
  assert.equal(spec.process.noNewPrivileges, false);
  assert.equal(spec.linux.cgroupMount, null);
  const abs = specFromOciConfig(base({ root: { path: "/abs" } }), "/b");
  assert.equal(abs.root.path, "/abs");
});

Deno.test("config: unsupported fields are refused by name, never ignored", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ociVersion: "2.0.0" }, /ociVersion: 2\.0\.0 is not a 1\.x/],
    [{ windows: {} }, /windows: not supported on Linux/],
    [
      {
        process: { args: ["x"], apparmorProfile: "p" },
      },
      /process\.apparmorProfile: AppArmor is not supported/,
    ],
    [
      { process: { args: ["x"], selinuxLabel: "l" } },
      /process\.selinuxLabel: SELinux/,
    ],
    [
      {
        linux: {
          namespaces: [{ type: "mount" }],
          resources: { blockIO: { weight: 10 } },
        },
      },
      /linux\.resources\.blockIO: not supported by tinyc/,
    ],
    [
      { linux: { namespaces: [{ type: "mount" }], intelRdt: { closID: "x" } } },
      /linux\.intelRdt: not supported/,
    ],
    [
      { linux: { namespaces: [{ type: "mount" }], bogus: 1 } },
      /linux\.bogus: not supported/,
    ],
    [
      { linux: { namespaces: [{ type: "mount" }, { type: "mount" }] } },
      /mount given twice/,
    ],
    [
      { linux: { namespaces: [{ type: "time" }] } },
      /unknown namespace time/,
    ],
    [
      {
        linux: {
          namespaces: [{ type: "mount" }, {
            type: "user",
            path: "/proc/1/ns/user",
          }],
        },
      },
      /joining a user namespace by path is not supported/,
    ],
    [
      { linux: { namespaces: [{ type: "pid" }] } },
      /needs a mount namespace/,
    ],
    [
      { hostname: "h", linux: { namespaces: [{ type: "mount" }] } },
      /hostname: needs a uts namespace/,
    ],
    [
      {
        linux: {
          namespaces: [{ type: "mount" }],
          uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
        },
      },
      /needs a user namespace/,
    ],
    [{ process: { args: [] } }, /process\.args: must name the command/],
    [
      { process: { args: ["x"], cwd: "rel" } },
      /process\.cwd: must be absolute/,
    ],
    [
      {
        process: {
          args: ["x"],
          rlimits: [{ type: "RLIMIT_TEST", hard: 1, soft: 1 }],
        },
      },
      /unknown rlimit RLIMIT_TEST/,
    ],
    [
      {
        process: {
          args: ["x"],
          rlimits: [{ type: "RLIMIT_NOFILE", hard: 1, soft: 2 }],
        },
      },
      /soft limit above the hard limit/,
    ],
    [
      {
        process: {
          args: ["x"],
          capabilities: { bounding: ["CAP_TEST"] },
        },
      },
      /unknown capability CAP_TEST/,
    ],
    [
      { hooks: { prestart: [{ path: "relative" }] } },
      /hooks\.prestart\[0\]\.path: must be absolute/,
    ],
    [
      { hooks: { later: [] } },
      /hooks\.later: not supported/,
    ],
  ];
  for (const [over, re] of cases) {
    assert.throws(() => specFromOciConfig(base(over), "/b"), re);
  }
});

Deno.test("config: empty and zero-valued resources ask for nothing (engines send them)", () => {
  const spec = specFromOciConfig(
    base({
      linux: {
        namespaces: [{ type: "mount" }, { type: "uts" }],
        resources: {
          blockIO: { weight: 0 },
          hugepageLimits: [],
          network: {},
          memory: { limit: 1048576, swappiness: null, disableOOMKiller: false },
        },
      },
    }),
    "/b",
  );
  assert.equal(spec.linux.resources?.memory?.limit, 1048576);
});

Deno.test("config: a cgroup mount becomes the cgroupfs view, not a mount", () => {
  const spec = specFromOciConfig(
    base({
      mounts: [
        { destination: "/proc", type: "proc", source: "proc" },
        {
          destination: "/sys/fs/cgroup",
          type: "cgroup",
          source: "cgroup",
          options: ["ro", "nosuid"],
        },
      ],
    }),
    "/b",
  );
  assert.deepEqual(spec.linux.cgroupMount, {
    destination: "/sys/fs/cgroup",
    readonly: true,
  });
  assert.deepEqual(spec.mounts.map((m) => m.destination), ["/proc"]);
});

Deno.test("config: bind options make a bind; relative sources are in the bundle", () => {
  const spec = specFromOciConfig(
    base({
      mounts: [{
        destination: "/data",
        source: "data",
        options: ["rbind", "ro"],
      }],
    }),
    "/b",
  );
  assert.deepEqual(spec.mounts[0], {
    destination: "/data",
    type: "bind",
    source: "/b/data",
    options: ["rbind", "ro"],
  });
});

Deno.test("config: ambient capabilities only where permitted and inheritable (as runc)", () => {
  const spec = specFromOciConfig(
    base({
      process: {
        args: ["x"],
        capabilities: {
          bounding: ["CAP_KILL", "CAP_CHOWN"],
          permitted: ["CAP_KILL", "CAP_CHOWN"],
          inheritable: ["CAP_CHOWN"],
          ambient: ["CAP_KILL", "CAP_CHOWN"],
        },
      },
    }),
    "/b",
  );
  assert.deepEqual(spec.process.capabilities?.ambient, ["CAP_CHOWN"]);
});

Deno.test("config: devices (FIFOs included), namespaces by path, rlimits, hooks", () => {
  const spec = specFromOciConfig(
    base({
      process: {
        args: ["x"],
        rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 512 }],
        user: { uid: 1, gid: 2, additionalGids: [5], umask: 0o077 },
      },
      hooks: { poststop: [{ path: "/bin/true", args: ["true"], timeout: 3 }] },
      linux: {
        namespaces: [
          { type: "mount" },
          { type: "network", path: "/proc/1/ns/net" },
        ],
        devices: [
          { path: "/dev/fifo", type: "p", fileMode: 0o600, uid: 1, gid: 2 },
          { path: "/dev/tty9", type: "c", major: 4, minor: 9 },
        ],
        rootfsPropagation: "rslave",
        sysctl: { "net.ipv4.ip_forward": "1" },
      },
    }),
    "/b",
  );
  assert.deepEqual(spec.linux.devices, [
    {
      path: "/dev/fifo",
      type: "p",
      major: 0,
      minor: 0,
      fileMode: 0o600,
      uid: 1,
      gid: 2,
    },
    {
      path: "/dev/tty9",
      type: "c",
      major: 4,
      minor: 9,
      fileMode: 0o666,
      uid: undefined,
      gid: undefined,
    },
  ]);
  assert.deepEqual(spec.linux.namespaces[1], {
    type: "network",
    path: "/proc/1/ns/net",
  });
  assert.equal(spec.process.umask, 0o077);
  assert.deepEqual(spec.process.user, { uid: 1, gid: 2, additionalGids: [5] });
  assert.deepEqual(spec.process.rlimits, [
    { type: "RLIMIT_NOFILE", hard: 1024, soft: 512 },
  ]);
  assert.equal(spec.hooks?.poststop?.[0].timeout, 3);
  assert.equal(spec.linux.rootfsPropagation, "rslave");
  assert.throws(
    () =>
      specFromOciConfig(
        base({
          linux: {
            namespaces: [{ type: "mount" }],
            rootfsPropagation: "sideways",
          },
        }),
        "/b",
      ),
    /unknown propagation sideways/,
  );
});
