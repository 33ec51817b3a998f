import assert from "node:assert/strict";
import {
  formatIdMap,
  parseIdMap,
  parseSubordinateIds,
  planIdMaps,
} from "./id_maps.ts";

const SUBUID = `# comment
alice:100000:65536
bob:165536:65536
1003:231072:65536
carol:300000:1000
carol:400000:65536
`;

Deno.test("parseSubordinateIds: by name or by uid, in file order, skipping junk", () => {
  assert.deepEqual(parseSubordinateIds(SUBUID, "alice", 1001), [
    { start: 100000, count: 65536 },
  ]);
  assert.deepEqual(parseSubordinateIds(SUBUID, "dave", 1003), [
    { start: 231072, count: 65536 },
  ]);
  assert.deepEqual(parseSubordinateIds(SUBUID, "carol", 1004), [
    { start: 300000, count: 1000 },
    { start: 400000, count: 65536 },
  ]);
  assert.deepEqual(parseSubordinateIds("x:1:2:3\nalice:a:1\n", "alice", 1), []);
  assert.deepEqual(parseSubordinateIds("", "alice", 1001), []);
});

Deno.test("planIdMaps: root -> the caller, 1..65535 -> the subordinate range", () => {
  const m = planIdMaps(1001, 1001, SUBUID, SUBUID, "alice", true);
  assert.equal(m.warning, undefined);
  assert.deepEqual(m.uid, [
    { inside: 0, outside: 1001, count: 1 },
    { inside: 1, outside: 100000, count: 65535 },
  ]);
  assert.deepEqual(m.gid, m.uid);
  assert.equal(formatIdMap(m.uid), "0 1001 1\n1 100000 65535\n");
});

Deno.test("planIdMaps: the gid map uses the caller's gid and /etc/subgid", () => {
  const m = planIdMaps(
    1001,
    50,
    "alice:100000:65536\n",
    "alice:500000:70000\n",
    "alice",
    true,
  );
  assert.deepEqual(m.gid, [
    { inside: 0, outside: 50, count: 1 },
    { inside: 1, outside: 500000, count: 65535 },
  ]);
});

Deno.test("planIdMaps: a range too small is skipped for a later one", () => {
  const m = planIdMaps(1004, 1004, SUBUID, SUBUID, "carol", true);
  assert.equal(m.uid[1].outside, 400000);
});

Deno.test("planIdMaps: no range -> root only, and a warning naming the fix", () => {
  const m = planIdMaps(1005, 1006, SUBUID, null, "erin", true);
  assert.deepEqual(m.uid, [{ inside: 0, outside: 1005, count: 1 }]);
  assert.deepEqual(m.gid, [{ inside: 0, outside: 1006, count: 1 }]);
  assert.match(m.warning ?? "", /only container root is mapped/);
  assert.match(m.warning ?? "", /\/etc\/subuid and \/etc\/subgid/);
  assert.match(m.warning ?? "", /usermod --add-subuids .* erin/);
  assert.doesNotMatch(m.warning ?? "", /\n/);
});

Deno.test("planIdMaps: a range only in /etc/subuid is not enough", () => {
  const m = planIdMaps(1001, 1001, SUBUID, "", "alice", true);
  assert.equal(m.uid.length, 1);
  assert.match(m.warning ?? "", /in \/etc\/subgid \(/);
});

Deno.test("planIdMaps: without newuidmap/newgidmap -> root only, says to install uidmap", () => {
  const m = planIdMaps(1001, 1001, SUBUID, SUBUID, "alice", false);
  assert.equal(m.uid.length, 1);
  assert.match(m.warning ?? "", /newuidmap\/newgidmap are not installed/);
  assert.match(m.warning ?? "", /uidmap/);
});

Deno.test("planIdMaps: a range containing the caller's own id is not used", () => {
  const m = planIdMaps(100010, 100010, SUBUID, SUBUID, "alice", true);
  assert.equal(m.uid.length, 1);
  assert.ok(m.warning);
});

Deno.test("parseIdMap reads the kernel's padded columns", () => {
  assert.deepEqual(
    parseIdMap(
      "         0       1001          1\n         1     100000      65535\n",
    ),
    [
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 65535 },
    ],
  );
});
