/**
 * The flag table of `tinyc run`, kept apart from the parsing so the CLI can
 * take a cheap first look at the flags before loading the rest.
 *
 * @module
 */

import type { FlagDef } from "./flags.ts";

/** The flags of `tinyc run`. */
export const RUN_FLAGS: FlagDef[] = [
  {
    name: "root",
    type: "string",
    arg: "DIR",
    help: "rootfs directory (instead of an IMAGE)",
  },
  {
    name: "pull",
    type: "string",
    arg: "POLICY",
    help: "pull the image: missing (default), always or never",
  },
  {
    name: "entrypoint",
    type: "string",
    arg: "CMD",
    help: "override the image's entrypoint ('' clears it)",
  },
  {
    name: "shell",
    type: "string",
    arg: "PATH",
    help: "command to run, a path inside the rootfs (default /bin/sh)",
  },
  {
    name: "hostname",
    short: "h",
    type: "string",
    arg: "NAME",
    help: "container hostname (default tinyhost)",
  },
  {
    name: "env",
    short: "e",
    type: "string",
    multiple: true,
    arg: "KEY=VALUE",
    help: "set an environment variable (KEY alone copies the host's value)",
  },
  {
    name: "workdir",
    short: "w",
    type: "string",
    arg: "DIR",
    help: "working directory inside the container (default /)",
  },
  {
    name: "user",
    short: "u",
    type: "string",
    arg: "USER[:GROUP]",
    help: "run as this uid/name (and gid/group) from the rootfs's /etc/passwd",
  },
  {
    name: "cap-add",
    type: "string",
    multiple: true,
    arg: "CAP",
    help: "add a capability (e.g. NET_ADMIN, or ALL)",
  },
  {
    name: "cap-drop",
    type: "string",
    multiple: true,
    arg: "CAP",
    help: "drop a capability (e.g. CHOWN, or ALL)",
  },
  {
    name: "privileged",
    type: "boolean",
    help:
      "all capabilities, no seccomp, no masked paths, writable /sys, host devices",
  },
  {
    name: "security-opt",
    type: "string",
    multiple: true,
    arg: "OPT",
    help:
      "seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges[=true|false]",
  },
  {
    name: "read-only",
    type: "boolean",
    help: "mount the rootfs read-only",
  },
  {
    name: "tmpfs",
    type: "string",
    multiple: true,
    arg: "PATH[:SIZE|:OPTS]",
    help: "mount a tmpfs at PATH (e.g. /tmp:64m or /run:size=1m,mode=755)",
  },
  {
    name: "volume",
    short: "v",
    type: "string",
    multiple: true,
    arg: "HOST:CONTAINER[:ro]",
    help: "bind-mount a host path into the container",
  },
  {
    name: "memory",
    short: "m",
    type: "string",
    arg: "SIZE",
    help: "memory limit, swap included (bytes or k/m/g/t/p, e.g. 64m; 0: none)",
  },
  {
    name: "cpus",
    type: "string",
    arg: "N",
    help: "CPU limit in CPUs (decimal, e.g. 0.5)",
  },
  {
    name: "pids-limit",
    type: "string",
    arg: "N",
    help: "at most N processes and threads (0 or -1: unlimited)",
  },
  {
    name: "cgroup-parent",
    type: "string",
    arg: "PATH",
    help: "create the container's cgroup under PATH (default: tinyc's own)",
  },
  {
    name: "network",
    type: "string",
    arg: "MODE",
    help:
      "none (default: only lo), host (share the host's), bridge (eth0 on bridge tinyc0)",
  },
  {
    name: "subnet",
    type: "string",
    arg: "CIDR",
    help:
      "bridge subnet (default 10.10.10.0/24: gateway .1, containers from .2)",
  },
  {
    name: "publish",
    short: "p",
    type: "string",
    multiple: true,
    arg: "[IP:][HOST_PORT:]PORT[/tcp|/udp]",
    help: "publish a container port on the host (bridge mode)",
  },
  {
    name: "nat",
    type: "boolean",
    help:
      "let bridge containers reach outside networks (masquerade + ip_forward)",
  },
  {
    name: "tty",
    short: "t",
    type: "boolean",
    help: "give the container a terminal of its own (a pty; job control works)",
  },
  {
    name: "interactive",
    short: "i",
    type: "boolean",
    help: "keep stdin open (it always is; accepted for docker's -it)",
  },
  { name: "help", type: "boolean", help: "show this help" },
];
