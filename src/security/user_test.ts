import assert from "node:assert/strict";
import { parseGroup, parsePasswd, resolveUser } from "./user.ts";

// Shaped like busybox/alpine files, with a comment, a blank and a bad line.
const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
# a comment
bob:x:1000:1000:Bob:/home/bob:/bin/sh

broken line without fields
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
odd:x:1001:100::/home/odd:/bin/sh
`;

const GROUP = `root:x:0:root
bin:x:1:root,bin,daemon
wheel:x:10:root,bob
users:x:100:odd
staff:x:50:
bob:x:1000:
nogroup:x:65534:
audio:x:29:bob
audio2:x:29:bob
`;

Deno.test("parsePasswd and parseGroup skip what they cannot read", () => {
  assert.deepEqual(parsePasswd(PASSWD).map((u) => u.name), [
    "root",
    "daemon",
    "bob",
    "nobody",
    "odd",
  ]);
  const bin = parseGroup(GROUP).find((g) => g.name === "bin");
  assert.deepEqual(bin, {
    name: "bin",
    gid: 1,
    members: ["root", "bin", "daemon"],
  });
});

Deno.test("a name resolves through /etc/passwd and picks up its groups", () => {
  assert.deepEqual(resolveUser("bob", PASSWD, GROUP), {
    uid: 1000,
    gid: 1000,
    additionalGids: [10, 29],
    home: "/home/bob",
  });
});

Deno.test("root by default, with root's groups", () => {
  const want = { uid: 0, gid: 0, additionalGids: [0, 1, 10], home: "/root" };
  assert.deepEqual(resolveUser("", PASSWD, GROUP), want);
  assert.deepEqual(resolveUser("0", PASSWD, GROUP), want);
  assert.deepEqual(resolveUser("root", PASSWD, GROUP), want);
});

Deno.test("a numeric uid need not exist", () => {
  assert.deepEqual(resolveUser("4242", PASSWD, GROUP), {
    uid: 4242,
    gid: 0,
    additionalGids: [],
    home: "/",
  });
  // A numeric uid that exists is that entry, groups included.
  assert.deepEqual(resolveUser("1001", PASSWD, GROUP), {
    uid: 1001,
    gid: 100,
    additionalGids: [100],
    home: "/home/odd",
  });
  // No /etc/passwd or /etc/group in the rootfs at all.
  assert.deepEqual(resolveUser("7:8", null, null), {
    uid: 7,
    gid: 8,
    additionalGids: [],
    home: "/",
  });
});

Deno.test("an explicit group replaces the gid and drops the groups", () => {
  assert.deepEqual(resolveUser("bob:staff", PASSWD, GROUP), {
    uid: 1000,
    gid: 50,
    additionalGids: [],
    home: "/home/bob",
  });
  assert.equal(resolveUser("bob:123", PASSWD, GROUP).gid, 123);
  assert.equal(resolveUser("1000:wheel", PASSWD, GROUP).gid, 10);
  assert.equal(resolveUser(":staff", PASSWD, GROUP).uid, 0);
  assert.equal(resolveUser(":staff", PASSWD, GROUP).gid, 50);
});

Deno.test("unknown names are errors naming the flag value", () => {
  assert.throws(() => resolveUser("alice", PASSWD, GROUP), {
    name: "TinycError",
    message: "--user alice: no such user in /etc/passwd of the rootfs",
  });
  assert.throws(() => resolveUser("bob", null, GROUP), {
    message: "--user bob: no such user in /etc/passwd of the rootfs",
  });
  assert.throws(() => resolveUser("bob:admins", PASSWD, GROUP), {
    message: "--user bob:admins: no such group in /etc/group of the rootfs",
  });
  assert.throws(() => resolveUser("a:b:c", PASSWD, GROUP), {
    message: "--user a:b:c: invalid user (use UID[:GID] or NAME[:GROUP])",
  });
  assert.throws(() => resolveUser("4294967295", PASSWD, GROUP), {
    message: "--user 4294967295: uid out of range 0..2147483647",
  });
  assert.throws(() => resolveUser("-u", PASSWD, GROUP, "-u"), {
    message: "-u -u: no such user in /etc/passwd of the rootfs",
  });
});
