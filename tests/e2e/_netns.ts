// Network namespaces made by a test, and processes run inside them. Every namespace is named
// `p2p-<random>-<host>`, every link is a veth pair created inside the namespaces (its ends
// never exist in the host's namespace), and every address is a private 10.x address that only
// exists inside them. `destroy()` kills what runs inside and deletes the namespaces.
import { waitFor } from "../_helpers/mod.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const TOOL = new URL("./_netns_tool.ts", import.meta.url).pathname;

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", stdin: "null" })
      .outputSync();
    return {
      ok: r.success,
      out: new TextDecoder().decode(r.stdout),
      err: new TextDecoder().decode(r.stderr),
    };
  } catch (err) {
    return { ok: false, out: "", err: String(err) };
  }
}

/** Why namespaces cannot be used here, or `undefined` when they can. */
export function netnsUnavailable(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.uid() !== 0) return "not running as root (ip netns needs CAP_SYS_ADMIN)";
  for (const [cmd, args] of [["ip", ["-V"]], ["curl", ["-V"]]] as const) {
    const r = run(cmd, [...args]);
    if (!r.ok) return `"${cmd}" is unavailable (${r.err.trim() || "failed"})`;
  }
  const probe = `p2p-probe-${crypto.randomUUID().slice(0, 8)}`;
  const add = run("ip", ["netns", "add", probe]);
  if (!add.ok) return `"ip netns add" failed: ${add.err.trim()}`;
  run("ip", ["netns", "del", probe]);
  return undefined;
}

/** Why miniupnpd cannot run in the lab here, or `undefined`. */
export function miniupnpdUnavailable(): string | undefined {
  const lab = natLabUnavailable();
  if (lab !== undefined) return lab;
  for (const cmd of ["miniupnpd", "iptables-legacy"]) {
    const r = run("sh", ["-c", `command -v ${cmd}`]);
    if (!r.ok) return `"${cmd}" is unavailable (Debian package miniupnpd-iptables)`;
  }
  return undefined;
}

/** Why the NAT lab cannot be built here (namespaces, or iptables missing), or `undefined`. */
export function natLabUnavailable(): string | undefined {
  const netns = netnsUnavailable();
  if (netns !== undefined) return netns;
  const r = run("iptables", ["-V"]);
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

/** A set of namespaces owned by one test. */
export class Namespaces {
  readonly prefix = `p2p-${crypto.randomUUID().slice(0, 8)}`;
  readonly created: string[] = [];
  readonly processes: NsProcess[] = [];

  /** The full name of host `host`. */
  name(host: string): string {
    return `${this.prefix}-${host}`;
  }

  /** Runs `ip args…`; throws with its stderr on failure. */
  ip(...args: string[]): string {
    const r = run("ip", args);
    if (!r.ok) throw new Error(`ip ${args.join(" ")}: ${r.err.trim()}`);
    return r.out;
  }

  /** Creates namespace `host` with `lo` up. */
  add(host: string): string {
    const ns = this.name(host);
    this.ip("netns", "add", ns);
    this.created.push(ns);
    this.ip("-n", ns, "link", "set", "lo", "up");
    return ns;
  }

  /**
   * A veth pair: `ifA` in `hostA` and `ifB` in `hostB`, created inside `hostA` with its peer
   * placed directly in `hostB`, both up.
   */
  veth(hostA: string, ifA: string, hostB: string, ifB: string): void {
    const [a, b] = [this.name(hostA), this.name(hostB)];
    this.ip("-n", a, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", b);
    this.ip("-n", a, "link", "set", ifA, "up");
    this.ip("-n", b, "link", "set", ifB, "up");
  }

  /** Runs `cmd args…` inside `host` now; throws with its stderr on failure. */
  run(host: string, cmd: string, ...args: string[]): string {
    const r = run("ip", ["netns", "exec", this.name(host), cmd, ...args]);
    if (!r.ok) throw new Error(`in ${host}: ${cmd} ${args.join(" ")}: ${r.err.trim()}`);
    return r.out;
  }

  /**
   * Builds the NAT lab of {@linkcode NAT_LAB}: hosts `pub` (the internet, where public nodes
   * run), `nat1`, `nat2` (home routers: MASQUERADE, only replies come in) and `a`, `b` behind
   * them. `unsolicited` is what a router does with a new connection from outside: `drop` it
   * (a stealth router, most home routers) or `reset` it (Linux's default, answering RST).
   */
  natLab(unsolicited: "drop" | "reset" = "drop", morePublic = 0): typeof NAT_LAB {
    for (const host of ["pub", "nat1", "nat2", "a", "b"]) this.add(host);
    this.ip("-n", this.name("pub"), "link", "add", "br0", "type", "bridge");
    this.ip("-n", this.name("pub"), "addr", "add", `${NAT_LAB.pub}/24`, "dev", "br0");
    this.ip("-n", this.name("pub"), "link", "set", "br0", "up");
    // More public hosts pub2, pub3… at 11.0.0.2, 11.0.0.3… (go-libp2p trusts an observed
    // address once 4 peers of distinct addresses reported it).
    for (let i = 2; i < 2 + morePublic; i++) {
      this.add(`pub${i}`);
      this.veth(`pub${i}`, "eth0", "pub", `pport${i}`);
      this.ip("-n", this.name("pub"), "link", "set", `pport${i}`, "master", "br0");
      this.ip("-n", this.name(`pub${i}`), "addr", "add", `11.0.0.${i}/24`, "dev", "eth0");
    }
    for (const [i, host] of [[1, "a"], [2, "b"]] as const) {
      const nat = `nat${i}`;
      this.veth(nat, "wan", "pub", `port${i}`);
      this.ip("-n", this.name("pub"), "link", "set", `port${i}`, "master", "br0");
      this.ip(
        "-n",
        this.name(nat),
        "addr",
        "add",
        `${i === 1 ? NAT_LAB.wan1 : NAT_LAB.wan2}/24`,
        "dev",
        "wan",
      );
      this.veth(nat, "lan", host, "eth0");
      this.ip("-n", this.name(nat), "addr", "add", `10.${i}.0.1/24`, "dev", "lan");
      this.ip("-n", this.name(host), "addr", "add", `${NAT_LAB[host]}/24`, "dev", "eth0");
      this.ip("-n", this.name(host), "route", "add", "default", "via", `10.${i}.0.1`);
      this.run(nat, "sysctl", "-qw", "net.ipv4.ip_forward=1");
      this.run(nat, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE");
      this.run(nat, "iptables", "-A", "FORWARD", "-i", "lan", "-o", "wan", "-j", "ACCEPT");
      this.run(
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
      this.run(nat, "iptables", "-P", "FORWARD", "DROP");
      if (unsolicited === "drop") {
        this.run(
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
   * Runs miniupnpd (UPnP IGD and NAT-PMP) on NAT router `nat` of the lab, for the hosts of its
   * LAN; its chains are made with iptables-legacy (the Debian build's backend), and the
   * router lets the connections it forwards in through.
   *
   * @param configDir Where its configuration file is written.
   */
  async miniupnpd(nat: "nat1" | "nat2", configDir: string): Promise<NsProcess> {
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
      this.run(nat, "iptables-legacy", "-t", table, "-N", "MINIUPNPD");
    }
    this.run(nat, "iptables-legacy", "-t", "nat", "-N", "MINIUPNPD-POSTROUTING");
    this.run(
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
    this.run(
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
    this.run(
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
    this.run(
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
    this.run(
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
    const process = new NsProcess(this.name(nat), ["miniupnpd", "-f", config, "-d"], {});
    this.processes.push(process);
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

  /** Runs a command inside `host`, bounded; returns its stdout. */
  async exec(host: string, args: string[], timeoutMs = 10_000): Promise<string> {
    const out = await new Deno.Command("ip", {
      args: ["netns", "exec", this.name(host), ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(
        `in ${host}: ${args.join(" ")} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return text;
  }

  /** An HTTP request to `url` from inside `host` (curl), bounded. */
  async http(
    host: string,
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> {
    const args = ["curl", "-s", "--max-time", "3", "-X", method, "-w", "\n%{http_code}", url];
    if (body !== undefined) {
      args.push("-H", "content-type: application/json", "--data-binary", JSON.stringify(body));
    }
    const out = await this.exec(host, args, 5_000);
    const cut = out.lastIndexOf("\n");
    const text = out.slice(0, cut);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: Number(out.slice(cut + 1)), body: parsed };
  }

  /** Starts `p2p args…` inside `host` and waits (bounded) for its start line. */
  async p2p(host: string, args: string[], env: Record<string, string>): Promise<NsProcess> {
    const p = new NsProcess(this.name(host), [Deno.execPath(), "run", "-A", MAIN, ...args], env);
    this.processes.push(p);
    await p.startLine();
    return p;
  }

  /** Starts the namespace tool (`echo` server, …) inside `host`. */
  tool(host: string, args: string[]): NsProcess {
    const p = new NsProcess(this.name(host), [Deno.execPath(), "run", "-A", TOOL, ...args], {});
    this.processes.push(p);
    return p;
  }

  /** Runs the namespace tool to completion inside `host`; returns its JSON output. */
  async toolOnce(host: string, args: string[]): Promise<Record<string, unknown>> {
    const out = await this.exec(host, [Deno.execPath(), "run", "-A", TOOL, ...args], 20_000);
    return JSON.parse(out.trim().split("\n").at(-1) ?? "{}");
  }

  /** Stops every process (SIGTERM, then SIGKILL) and deletes every namespace. Never throws. */
  async destroy(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop().catch(() => {})));
    for (const ns of this.created) run("ip", ["netns", "del", ns]);
  }
}

/** A process running inside a namespace, with its output lines collected. */
export class NsProcess {
  readonly child: Deno.ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  #readers: Promise<void>[];

  constructor(ns: string, command: string[], env: Record<string, string>) {
    // `ip netns exec` execs the command: the child's PID is the command's own.
    this.child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...command],
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#readers = [
      collect(this.child.stdout, this.stdoutLines),
      collect(this.child.stderr, this.stderrLines),
    ];
    this.exited = this.child.status;
  }

  /** The JSON start line (bounded wait). */
  async startLine(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const line = await waitFor(() => this.stdoutLines.find((l) => l.startsWith("{")), {
      timeoutMs,
      message: "a start line",
    }).catch((err) => {
      throw new Error(`${err.message}\nstderr:\n${this.stderrLines.join("\n")}`);
    });
    return JSON.parse(line);
  }

  /** Sends `signal`, then SIGKILL after the bound; waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 5_000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // exited
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // exited
      }
    }, timeoutMs);
    try {
      const status = await this.exited;
      let drain: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#readers),
        new Promise((resolve) => (drain = setTimeout(resolve, 2_000))),
      ]);
      clearTimeout(drain);
      return status;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    into.push(...parts);
  }
  if (rest !== "") into.push(rest);
}
