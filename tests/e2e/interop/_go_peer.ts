// The Go interop peer: edgevpn v0.34.0 (tests/interop/go), built once per source hash and
// driven over its line protocol (one JSON request per line on stdin, one answer per line on
// stdout). The helpers module comes first: it loads the Deno shims.
import { LineProcess, waitFor } from "../../_helpers/mod.ts";
import { createHash } from "node:crypto";

const GO_DIR = new URL("./go/", import.meta.url).pathname;
/** A cold build downloads ~270 MB of modules from the Go proxy, then compiles (~1.5 min here). */
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** The Go toolchain: `$P2P_GO` if set, else `go` on PATH, else the official install location. */
function locateGo(): string | undefined {
  const explicit = Deno.env.get("P2P_GO");
  for (const candidate of explicit ? [explicit] : ["go", "/usr/local/go/bin/go"]) {
    try {
      const out = new Deno.Command(candidate, { args: ["version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (out.success) return candidate;
    } catch {
      // not there: try the next one
    }
  }
  return undefined;
}

/** The `go` command, or `undefined` when Go is not installed (the interop tests are skipped). */
export const GO: string | undefined = locateGo();

if (GO === undefined && Deno.env.get("P2P_INTEROP_SKIP_NOTED") === undefined) {
  // Every interop file imports this module; the environment is shared, so one line in all.
  Deno.env.set("P2P_INTEROP_SKIP_NOTED", "1");
  console.warn(
    "interop tests skipped: `go` not found (Go 1.26+ builds the edgevpn v0.34.0 peer in tests/interop/go)",
  );
}

function cacheDir(): string {
  const explicit = Deno.env.get("P2P_INTEROP_CACHE");
  if (explicit) return explicit;
  const base = Deno.env.get("XDG_CACHE_HOME") ??
    (Deno.env.get("HOME") ? `${Deno.env.get("HOME")}/.cache` : undefined);
  return base === undefined ? `${Deno.makeTempDirSync()}/p2p-interop` : `${base}/p2p/interop`;
}

async function sourceHash(go: string): Promise<string> {
  const hash = createHash("sha256");
  const version = await new Deno.Command(go, { args: ["version"], stdout: "piped" }).output();
  hash.update(version.stdout);
  const names: string[] = [];
  for await (const entry of Deno.readDir(GO_DIR)) {
    const source = entry.name.endsWith(".go") || entry.name === "go.mod" || entry.name === "go.sum";
    if (entry.isFile && source) names.push(entry.name);
  }
  names.sort();
  for (const name of names) {
    hash.update(`\0${name}\0`);
    hash.update(await Deno.readFile(`${GO_DIR}${name}`));
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * The path of the built peer: reused when its sources (go.mod, go.sum, *.go) and the Go version
 * are unchanged, otherwise built (bounded) into a temporary file and renamed into place, so
 * concurrent test processes never run a half-written binary.
 */
export async function goPeerBinary(go: string): Promise<string> {
  const dir = cacheDir();
  const binary = `${dir}/interop-peer-${await sourceHash(go)}`;
  try {
    await Deno.stat(binary);
    return binary;
  } catch {
    // not built yet
  }
  await Deno.mkdir(dir, { recursive: true });
  const partial = `${binary}.partial-${Deno.pid}`;
  const started = performance.now();
  const out = await new Deno.Command(go, {
    args: ["build", "-trimpath", "-buildvcs=false", "-o", partial, "."],
    cwd: GO_DIR,
    // go.sum is authoritative: never rewrite it, whatever GOFLAGS the caller has.
    env: { GOFLAGS: "-mod=readonly" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(BUILD_TIMEOUT_MS),
  }).output();
  if (!out.success) {
    const tail = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-15).join("\n");
    throw new Error(`Cannot build the Go interop peer: go build exited with ${out.code}\n${tail}`);
  }
  await Deno.rename(partial, binary);
  for await (const entry of Deno.readDir(dir)) {
    const stale = entry.name.startsWith("interop-peer-") && `${dir}/${entry.name}` !== binary &&
      !entry.name.includes(".partial-");
    if (stale) await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
  }
  console.warn(
    `interop: built the edgevpn peer in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return binary;
}

/** How to start a {@linkcode GoPeer}. */
export interface GoPeerOptions {
  token: string;
  /** Bootstrap multiaddrs (with /p2p/<id>): DHT bootstrap and gossipsub direct peers in edgevpn. */
  bootstrap?: string[];
  /** Run the DHT rendezvous (needs `bootstrap`: the public DHT is never used). */
  dht?: boolean;
  /** `debug`, `info`, `warn` or `error` (default), on stderr. */
  logLevel?: string;
  /** Listen multiaddrs. @default {["/ip4/127.0.0.1/tcp/0"]} */
  listen?: string[];
  /** Serve as a circuit relay with edgevpn's limits. */
  relayService?: boolean;
  /** Relays to reserve on (go-libp2p static relays; the peer takes itself for NATed). */
  relayStatic?: string[];
  /** Run inside this network namespace (the NAT lab of tests/e2e/_netns.ts). */
  netns?: string;
}

/** The answer of the peer to one request. */
interface Answer {
  id: number | null;
  ok: boolean;
  result?: unknown;
  error?: string;
}

/** A failed request: the peer's one-line error. */
export class GoPeerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GoPeerError";
  }
}

/** A running Go peer, started by {@linkcode startGoPeer}. */
export class GoPeer {
  readonly process: LineProcess;
  readonly peerId: string;
  readonly addresses: string[];
  #nextId = 1;
  #scanned = 1; // stdout line 0 is the start line
  #answers = new Map<number | null, Answer[]>();

  constructor(process: LineProcess, peerId: string, addresses: string[]) {
    this.process = process;
    this.peerId = peerId;
    this.addresses = addresses;
  }

  /** Its first loopback multiaddr, with /p2p/<id>. */
  get addr(): string {
    return this.addresses.find((a) => a.startsWith("/ip4/127.0.0.1/")) ?? this.addresses[0]!;
  }

  /** Sends a request and waits (bounded) for its answer; throws GoPeerError on `ok: false`. */
  async command<T = Record<string, unknown>>(
    cmd: string,
    args: Record<string, unknown> = {},
    timeoutMs = 10_000,
  ): Promise<T> {
    const id = this.#nextId++;
    await this.sendRaw(JSON.stringify({ id, cmd, ...args }));
    const answer = await this.nextAnswer(id, timeoutMs, cmd);
    if (!answer.ok) throw new GoPeerError(`go peer: ${cmd}: ${answer.error}`);
    return answer.result as T;
  }

  /** Writes one raw line (tests of bad input). */
  sendRaw(line: string): Promise<void> {
    return this.process.writeLine(line);
  }

  /** Waits (bounded) for the next answer carrying `id` (`null` for unparsable requests). */
  async nextAnswer(id: number | null, timeoutMs = 10_000, what = "a request"): Promise<Answer> {
    return await waitFor(() => {
      this.#scan();
      return this.#answers.get(id)?.shift();
    }, {
      timeoutMs,
      message: `the Go peer's answer to ${what}\nstderr:\n${
        this.process.stderrLines.slice(-20).join("\n")
      }`,
    });
  }

  #scan(): void {
    const lines = this.process.stdoutLines;
    for (; this.#scanned < lines.length; this.#scanned++) {
      const answer = JSON.parse(lines[this.#scanned]!) as Answer;
      const queue = this.#answers.get(answer.id) ?? [];
      queue.push(answer);
      this.#answers.set(answer.id, queue);
    }
  }

  /** Stops it (EOF on stdin and SIGTERM; SIGKILL after the bound). */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    return await this.process.stop(signal);
  }
}

/** Builds (if needed) and starts a Go peer; waits (bounded) for its start line. */
export async function startGoPeer(options: GoPeerOptions, timeoutMs = 20_000): Promise<GoPeer> {
  if (GO === undefined) throw new Error("Cannot start the Go peer: `go` is not installed");
  const binary = await goPeerBinary(GO);
  const args = ["--log-level", options.logLevel ?? "error"];
  if (options.bootstrap?.length) args.push("--bootstrap", options.bootstrap.join(","));
  if (options.dht) args.push("--dht");
  if (options.listen?.length) args.push("--listen", options.listen.join(","));
  if (options.relayService) args.push("--relay-service");
  if (options.relayStatic?.length) args.push("--relay-static", options.relayStatic.join(","));
  const [command, commandArgs] = options.netns === undefined
    ? [binary, args]
    : ["ip", ["netns", "exec", options.netns, binary, ...args]];
  const process = new LineProcess(command, commandArgs, {
    env: { P2P_TOKEN: options.token },
    stdin: true,
  });
  try {
    const line = await waitFor(() => process.stdoutLines[0], {
      timeoutMs,
      message: "the Go peer's start line",
    }).catch((err) => {
      throw new Error(`${err.message}\nstderr:\n${process.stderrText}`);
    });
    const start = JSON.parse(line) as { peerId: string; addresses: string[] };
    return new GoPeer(process, start.peerId, start.addresses);
  } catch (err) {
    await process.stop("SIGKILL");
    throw err;
  }
}
