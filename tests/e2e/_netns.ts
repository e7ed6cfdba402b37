// Network namespaces made by a test, and processes run inside them. Every namespace is named
// `p2p-<random>-<host>`, every link is a veth pair created inside the namespaces (its ends
// never exist in the host's namespace), and every address is a private 10.x address that only
// exists inside them. `destroy()` kills what runs inside and deletes the namespaces.
import { LineProcess, waitFor } from "../_helpers/mod.ts";

import { p2pDenoFlags, p2pEntry } from "../../bench/lib/entry.ts";
const TOOL = new URL("./_netns_tool.ts", import.meta.url).pathname;

/** Runs `cmd args…` now; never throws. */
export function runSync(
  cmd: string,
  args: string[],
): { ok: boolean; out: string; err: string } {
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
    const r = runSync(cmd, [...args]);
    if (!r.ok) return `"${cmd}" is unavailable (${r.err.trim() || "failed"})`;
  }
  const probe = `p2p-probe-${crypto.randomUUID().slice(0, 8)}`;
  const add = runSync("ip", ["netns", "add", probe]);
  if (!add.ok) return `"ip netns add" failed: ${add.err.trim()}`;
  runSync("ip", ["netns", "del", probe]);
  return undefined;
}

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
    const r = runSync("ip", args);
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
    const r = runSync("ip", ["netns", "exec", this.name(host), cmd, ...args]);
    if (!r.ok) throw new Error(`in ${host}: ${cmd} ${args.join(" ")}: ${r.err.trim()}`);
    return r.out;
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
    const p = new NsProcess(
      this.name(host),
      [Deno.execPath(), "run", "-A", ...p2pDenoFlags(), p2pEntry(), ...args],
      env,
    );
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
    for (const ns of this.created) runSync("ip", ["netns", "del", ns]);
  }
}

/** A process running inside a namespace, with its output lines collected. */
export class NsProcess extends LineProcess {
  constructor(ns: string, command: string[], env: Record<string, string>) {
    // `ip netns exec` execs the command: the child's PID is the command's own.
    super("ip", ["netns", "exec", ns, ...command], { env });
  }

  /** The JSON start line (bounded wait). */
  async startLine(timeoutMs = 30_000): Promise<Record<string, unknown>> {
    const line = await waitFor(() => this.stdoutLines.find((l) => l.startsWith("{")), {
      timeoutMs,
      message: "a start line",
    }).catch((err) => {
      throw new Error(`${err.message}\nstderr:\n${this.stderrText}`);
    });
    return JSON.parse(line);
  }
}
