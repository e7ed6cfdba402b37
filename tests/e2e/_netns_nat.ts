// The NAT lab: network namespaces that play two home networks behind NAT routers and a piece
// of the internet (see NAT_LAB), built by the tests and removed with their Namespaces.
import { waitFor } from "../_helpers/mod.ts";
import { type Namespaces, netnsUnavailable, NsProcess, runSync } from "./_netns.ts";

/** Why miniupnpd cannot run in the lab here, or `undefined`. */
export function miniupnpdUnavailable(): string | undefined {
  const lab = natLabUnavailable();
  if (lab !== undefined) return lab;
  for (const cmd of ["miniupnpd", "iptables-legacy"]) {
    const r = runSync("sh", ["-c", `command -v ${cmd}`]);
    if (!r.ok) return `"${cmd}" is unavailable (Debian package miniupnpd-iptables)`;
  }
  return undefined;
}

/** Why the NAT lab cannot be built here (namespaces, or iptables missing), or `undefined`. */
export function natLabUnavailable(): string | undefined {
  const netns = netnsUnavailable();
  if (netns !== undefined) return netns;
  const r = runSync("iptables", ["-V"]);
  return r.ok ? undefined : `"iptables" is unavailable (${r.err.trim() || "failed"})`;
}

/**
 * The addresses of a NAT lab (see {@linkcode Namespaces.natLab}):
 *
 * ```
 *  a 10.1.0.2 ── nat1 (10.1.0.1 | 11.0.0.11, MASQUERADE) ──┐
 *                                                          pub: bridge, 11.0.0.1
 *  b 10.2.0.2 ── nat2 (10.2.0.1 | 11.0.0.12, MASQUERADE) ──┘
 * ```
 *
 * 11.0.0.0/24 plays the internet on purpose: libp2p treats 10/8, 172.16/12, 192.168/16 and the
 * TEST-NET ranges as private. It exists only inside the lab's namespaces.
 */
export const NAT_LAB = {
  pub: "11.0.0.1",
  wan1: "11.0.0.11",
  wan2: "11.0.0.12",
  a: "10.1.0.2",
  b: "10.2.0.2",
} as const;

/**
 * Starts `p2p node` on a public host of the lab (`pub` at 11.0.0.1, or `pub2`, `pub3`… at
 * 11.0.0.2…), listening on port 4001 and announcing that address, with no bootstrap peers:
 * the relay every test bootstraps to, or one more public observer. `flags` are appended.
 *
 * @returns The process and its dialable address (`/ip4/…/tcp/4001/p2p/<id>`).
 */
export async function startPublicNode(
  nets: Namespaces,
  env: Record<string, string>,
  flags: readonly string[] = [],
  host = "pub",
): Promise<{ process: NsProcess; addr: string }> {
  const ip = host === "pub" ? NAT_LAB.pub : `11.0.0.${host.slice("pub".length)}`;
  const process = await nets.p2p(host, [
    "node",
    "--no-mdns",
    "--listen-maddrs",
    "/ip4/0.0.0.0/tcp/4001",
    "--announce",
    `/ip4/${ip}/tcp/4001`,
    "--bootstrap-peers",
    "none",
    ...flags,
  ], env);
  const peerId = (await process.startLine()).peerId as string;
  return { process, addr: `/ip4/${ip}/tcp/4001/p2p/${peerId}` };
}

/**
 * Builds the NAT lab of {@linkcode NAT_LAB} in `nets`: hosts `pub` (the internet, where public nodes
 * run), `nat1`, `nat2` (home routers: MASQUERADE, only replies come in) and `a`, `b` behind
 * them. `unsolicited` is what a router does with a new connection from outside: `drop` it
 * (a stealth router, most home routers) or `reset` it (Linux's default, answering RST).
 */
export function natLab(
  nets: Namespaces,
  unsolicited: "drop" | "reset" = "drop",
  morePublic = 0,
): typeof NAT_LAB {
  for (const host of ["pub", "nat1", "nat2", "a", "b"]) nets.add(host);
  nets.ip("-n", nets.name("pub"), "link", "add", "br0", "type", "bridge");
  nets.ip("-n", nets.name("pub"), "addr", "add", `${NAT_LAB.pub}/24`, "dev", "br0");
  nets.ip("-n", nets.name("pub"), "link", "set", "br0", "up");
  // More public hosts pub2, pub3… at 11.0.0.2, 11.0.0.3… (go-libp2p trusts an observed
  // address once 4 peers of distinct addresses reported it).
  for (let i = 2; i < 2 + morePublic; i++) {
    nets.add(`pub${i}`);
    nets.veth(`pub${i}`, "eth0", "pub", `pport${i}`);
    nets.ip("-n", nets.name("pub"), "link", "set", `pport${i}`, "master", "br0");
    nets.ip("-n", nets.name(`pub${i}`), "addr", "add", `11.0.0.${i}/24`, "dev", "eth0");
  }
  for (const [i, host] of [[1, "a"], [2, "b"]] as const) {
    const nat = `nat${i}`;
    nets.veth(nat, "wan", "pub", `port${i}`);
    nets.ip("-n", nets.name("pub"), "link", "set", `port${i}`, "master", "br0");
    nets.ip(
      "-n",
      nets.name(nat),
      "addr",
      "add",
      `${i === 1 ? NAT_LAB.wan1 : NAT_LAB.wan2}/24`,
      "dev",
      "wan",
    );
    nets.veth(nat, "lan", host, "eth0");
    nets.ip("-n", nets.name(nat), "addr", "add", `10.${i}.0.1/24`, "dev", "lan");
    nets.ip("-n", nets.name(host), "addr", "add", `${NAT_LAB[host]}/24`, "dev", "eth0");
    nets.ip("-n", nets.name(host), "route", "add", "default", "via", `10.${i}.0.1`);
    nets.run(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1");
    nets.run(nat, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE");
    nets.run(nat, "iptables", "-A", "FORWARD", "-i", "lan", "-o", "wan", "-j", "ACCEPT");
    nets.run(
      nat,
      "iptables",
      "-A",
      "FORWARD",
      "-i",
      "wan",
      "-o",
      "lan",
      "-m",
      "conntrack",
      "--ctstate",
      "ESTABLISHED,RELATED",
      "-j",
      "ACCEPT",
    );
    nets.run(nat, "iptables", "-P", "FORWARD", "DROP");
    if (unsolicited === "drop") {
      nets.run(
        nat,
        "iptables",
        "-A",
        "INPUT",
        "-i",
        "wan",
        "-p",
        "tcp",
        "-m",
        "conntrack",
        "--ctstate",
        "NEW,INVALID",
        "-j",
        "DROP",
      );
    }
  }
  return NAT_LAB;
}

/**
 * Runs miniupnpd (UPnP IGD and NAT-PMP) on NAT router `nat` of the lab in `nets`, for the hosts of its
 * LAN; its chains are made with iptables-legacy (the Debian build's backend), and the
 * router lets the connections it forwards in through.
 *
 * @param configDir Where its configuration file is written.
 */
export async function miniupnpd(
  nets: Namespaces,
  nat: "nat1" | "nat2",
  configDir: string,
): Promise<NsProcess> {
  const lan = nat === "nat1" ? "10.1.0.0/24" : "10.2.0.0/24";
  const config = `${configDir}/miniupnpd-${nat}.conf`;
  await Deno.writeTextFile(
    config,
    [
      "ext_ifname=wan",
      "listening_ip=lan",
      "port=0",
      "enable_natpmp=yes",
      "enable_upnp=yes",
      "secure_mode=no",
      "system_uptime=yes",
      `uuid=${crypto.randomUUID()}`,
      `allow 1024-65535 ${lan} 1024-65535`,
      "deny 0-65535 0.0.0.0/0 0-65535",
      "",
    ].join("\n"),
  );
  for (const table of ["nat", "mangle", "filter"]) {
    nets.run(nat, "iptables-legacy", "-t", table, "-N", "MINIUPNPD");
  }
  nets.run(nat, "iptables-legacy", "-t", "nat", "-N", "MINIUPNPD-POSTROUTING");
  nets.run(
    nat,
    "iptables-legacy",
    "-t",
    "nat",
    "-I",
    "PREROUTING",
    "-i",
    "wan",
    "-j",
    "MINIUPNPD",
  );
  nets.run(
    nat,
    "iptables-legacy",
    "-t",
    "nat",
    "-I",
    "POSTROUTING",
    "-o",
    "wan",
    "-j",
    "MINIUPNPD-POSTROUTING",
  );
  nets.run(
    nat,
    "iptables-legacy",
    "-t",
    "mangle",
    "-I",
    "PREROUTING",
    "-i",
    "wan",
    "-j",
    "MINIUPNPD",
  );
  nets.run(
    nat,
    "iptables-legacy",
    "-t",
    "filter",
    "-I",
    "FORWARD",
    "-i",
    "wan",
    "!",
    "-o",
    "wan",
    "-j",
    "MINIUPNPD",
  );
  nets.run(
    nat,
    "iptables",
    "-A",
    "FORWARD",
    "-i",
    "wan",
    "-o",
    "lan",
    "-m",
    "conntrack",
    "--ctstate",
    "DNAT",
    "-j",
    "ACCEPT",
  );
  const process = new NsProcess(nets.name(nat), ["miniupnpd", "-f", config, "-d"], {});
  nets.processes.push(process);
  await waitFor(
    () =>
      process.stderrLines.some((l) => l.includes("NAT-PMP")) ||
      process.stdoutLines.some((l) => l.includes("NAT-PMP")),
    {
      message: "miniupnpd to listen",
    },
  );
  return process;
}
