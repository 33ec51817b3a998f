import assert from "node:assert/strict";
import {
  attachDeviceFilter,
  compileDeviceFilter,
  DEFAULT_DEVICE_RULES,
  runDeviceFilter,
} from "./devices.ts";

const prog = compileDeviceFilter(DEFAULT_DEVICE_RULES);

Deno.test("device filter: docker's allow-list", () => {
  for (
    const [maj, min] of [
      [1, 3],
      [1, 5],
      [1, 7],
      [1, 8],
      [1, 9],
      [5, 0],
      [5, 2],
      [136, 7],
      [10, 200],
    ]
  ) {
    assert.ok(runDeviceFilter(prog, "c", maj, min, "rw"), `c ${maj}:${min}`);
  }
  // Host devices: kmsg, mem, a disk, a tty, kvm.
  for (
    const [t, maj, min] of [
      ["c", 1, 11],
      ["c", 1, 1],
      ["b", 8, 0],
      ["c", 4, 1],
      ["c", 10, 232],
    ] as const
  ) {
    assert.equal(
      runDeviceFilter(prog, t, maj, min, "r"),
      false,
      `${t} ${maj}:${min} r`,
    );
    assert.equal(
      runDeviceFilter(prog, t, maj, min, "w"),
      false,
      `${t} ${maj}:${min} w`,
    );
    // Making a node is allowed (seccomp refuses it); using it is not.
    assert.equal(
      runDeviceFilter(prog, t, maj, min, "m"),
      true,
      `${t} ${maj}:${min} m`,
    );
  }
});

Deno.test("device filter: access bits, wildcards and types", () => {
  const p = compileDeviceFilter([
    { type: "c", major: 7, minor: -1, access: "r" },
    { type: "a", major: 9, minor: 9, access: "rw" },
  ]);
  assert.ok(runDeviceFilter(p, "c", 7, 123, "r"));
  assert.equal(runDeviceFilter(p, "c", 7, 123, "rw"), false);
  assert.equal(runDeviceFilter(p, "b", 7, 1, "r"), false);
  assert.ok(runDeviceFilter(p, "b", 9, 9, "w"));
  assert.ok(runDeviceFilter(p, "c", 9, 9, "rw"));
  assert.equal(runDeviceFilter(p, "c", 9, 8, "r"), false);
  assert.equal(runDeviceFilter(compileDeviceFilter([]), "c", 1, 3, "r"), false);
});

Deno.test({
  name:
    "device filter: the kernel verifier accepts it and it is enforced (root)",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((d) => {
      try {
        Deno.statSync(`${d}/cgroup.procs`);
        return Deno.statSync(`${d}/cgroup.controllers`).isFile ||
          d.endsWith("unified");
      } catch {
        return false;
      }
    });
    if (!unified) return;
    const own = Deno.readTextFileSync("/proc/self/cgroup").split("\n")
      .find((l) => l.startsWith("0::"))!.slice(3);
    const dir = `${unified}${own === "/" ? "" : own}/tinyc-devtest-${Deno.pid}`;
    Deno.mkdirSync(dir);
    try {
      attachDeviceFilter(dir, prog);
      // A shell in that cgroup may use /dev/null but not /dev/kmsg.
      const out = await new Deno.Command("sh", {
        args: [
          "-c",
          `echo $$ > ${dir}/cgroup.procs; echo x > /dev/null && echo null-ok; head -c1 /dev/kmsg >/dev/null 2>&1 || echo kmsg-denied`,
        ],
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.match(text, /null-ok/);
      assert.match(text, /kmsg-denied/);
    } finally {
      Deno.removeSync(dir);
    }
  },
});
