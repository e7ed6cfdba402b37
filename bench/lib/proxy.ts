/**
 * The plain-proxy baseline: haproxy (TCP mode), else nginx (stream module), else the bench's
 * own minimal Deno TCP proxy. Configs go to a temp dir; every listener is on 127.0.0.1.
 */
import { Child, commandOutput } from "./proc.ts";
import { freePort, waitForPort } from "./net.ts";
import { spawnServer } from "./spawn.ts";

/** Which proxy runs the baseline. */
export type ProxyKind = "haproxy" | "nginx" | "deno";

/** A running plain TCP proxy. */
export interface PlainProxy {
  kind: ProxyKind;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** What is installed, and a note for the output when falling back. */
export interface ProxyChoice {
  kind: ProxyKind;
  note: string;
  nginxStreamModule?: string | undefined;
}

const NGINX_STREAM_MODULES = [
  "/usr/lib/nginx/modules/ngx_stream_module.so",
  "/usr/share/nginx/modules/ngx_stream_module.so",
];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Picks the proxy: `want` ("auto" = haproxy, nginx, deno in that order). */
export async function chooseProxy(want: ProxyKind | "auto"): Promise<ProxyChoice> {
  const haproxy = await commandOutput("haproxy", ["-v"]);
  const nginx = await commandOutput("nginx", ["-V"]);
  const builtinStream = nginx?.includes("--with-stream") === true &&
    !nginx.includes("--with-stream=dynamic");
  const module = NGINX_STREAM_MODULES.find(exists);
  const nginxOk = nginx !== undefined && (builtinStream || module !== undefined);
  const fallback = (why: string): ProxyChoice => ({
    kind: "deno",
    note: `${why}: the plain-proxy baseline is the bench's minimal Deno TCP proxy ` +
      `(read/write loops); run bench/setup as root to install haproxy`,
  });
  if (want === "deno") return { kind: "deno", note: "Deno TCP proxy requested (--proxy deno)" };
  if ((want === "auto" || want === "haproxy") && haproxy !== undefined) {
    return { kind: "haproxy", note: haproxy.split("\n")[0]!.trim() };
  }
  if ((want === "auto" || want === "nginx") && nginxOk) {
    return {
      kind: "nginx",
      note: (nginx.split("\n").find((l) => l.includes("version")) ?? "nginx").trim(),
      nginxStreamModule: builtinStream ? undefined : module,
    };
  }
  return fallback(want === "auto" ? "neither haproxy nor nginx+stream found" : `${want} not found`);
}

/**
 * The other installed C proxies besides `primary` (haproxy and nginx are both baselines of
 * the tunnel bench where both are installed); none when a proxy was asked for by name.
 */
export async function otherProxies(
  primary: ProxyChoice,
  want: ProxyKind | "auto",
): Promise<ProxyChoice[]> {
  if (want !== "auto") return [];
  const out: ProxyChoice[] = [];
  for (const kind of ["haproxy", "nginx"] as const) {
    if (kind === primary.kind) continue;
    const choice = await chooseProxy(kind);
    if (choice.kind === kind) out.push(choice);
  }
  return out;
}

/** Starts the chosen proxy in front of `backends` (round-robin when several). */
export async function startProxy(
  choice: ProxyChoice,
  backends: readonly number[],
  label: string,
): Promise<PlainProxy> {
  if (choice.kind === "deno") {
    const { child, info } = await spawnServer<{ port: number }>("tcp_proxy.ts", [
      "0",
      ...backends.map(String),
    ]);
    return { kind: "deno", port: info.port, pid: child.pid, stop: () => child.stop() };
  }
  const dir = await Deno.makeTempDir({ prefix: `p2p-bench-${choice.kind}-` });
  const port = freePort();
  let child: Child;
  if (choice.kind === "haproxy") {
    const cfg = `${dir}/haproxy.cfg`;
    await Deno.writeTextFile(
      cfg,
      [
        "global",
        "    maxconn 4000",
        "    nbthread 1",
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 60s",
        "    timeout server 60s",
        `frontend ${label}`,
        `    bind 127.0.0.1:${port}`,
        `    default_backend ${label}_backends`,
        `backend ${label}_backends`,
        "    balance roundrobin",
        ...backends.map((p, i) => `    server b${i} 127.0.0.1:${p}`),
        "",
      ].join("\n"),
    );
    child = new Child({ name: `haproxy-${label}`, cmd: "haproxy", args: ["-db", "-f", cfg] });
  } else {
    const cfg = `${dir}/nginx.conf`;
    await Deno.writeTextFile(
      cfg,
      [
        ...(choice.nginxStreamModule ? [`load_module ${choice.nginxStreamModule};`] : []),
        "daemon off;",
        "master_process off;",
        "worker_processes 1;",
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log warn;`,
        "events { worker_connections 4000; }",
        "stream {",
        `  upstream ${label} {`,
        ...backends.map((p) => `    server 127.0.0.1:${p};`),
        "  }",
        "  server {",
        `    listen 127.0.0.1:${port};`,
        `    proxy_pass ${label};`,
        // The upload command half-closes and waits for the count: keep the other half open.
        "    proxy_half_close on;",
        "  }",
        "}",
        "",
      ].join("\n"),
    );
    child = new Child({
      name: `nginx-${label}`,
      cmd: "nginx",
      args: ["-p", dir, "-e", `${dir}/error.log`, "-c", cfg],
    });
  }
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      child.status.then((s) => {
        throw new Error(`exited with code ${s.code}`);
      }),
    ]);
  } catch (err) {
    await child.stop(2_000);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(`${choice.kind} did not start: ${String(err)}\n${child.tail()}`);
  }
  return {
    kind: choice.kind,
    port,
    pid: child.pid,
    stop: async () => {
      await child.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A chain of the bench's Deno relays standing in for the p2p processes (the "floor" path). */
export interface RelayChain {
  /** The port clients connect to. */
  port: number;
  /** Each relay's pid: `front` (in place of `p2p connect` / `p2p federated`), `hop<i>`. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

/**
 * The same process topology as the p2p path with no libp2p in it: one Deno relay per backend
 * (in place of `p2p expose` / `p2p worker`) and a front relay, round-robin over them (in
 * place of `p2p connect` / `p2p federated`). What it reaches is the most a design with two
 * JS processes on the path can reach on this machine, before any encryption or multiplexing.
 */
export async function startRelayChain(backends: readonly number[]): Promise<RelayChain> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const hops = [];
    for (const backend of backends) {
      const hop = await spawnServer<{ port: number }>("tcp_proxy.ts", ["0", String(backend)]);
      started.push(hop.child);
      hops.push(hop);
    }
    const front = await spawnServer<{ port: number }>("tcp_proxy.ts", [
      "0",
      ...hops.map((h) => String(h.info.port)),
    ]);
    started.push(front.child);
    return {
      port: front.info.port,
      pids: {
        front: front.child.pid,
        ...Object.fromEntries(hops.map((h, i) => [`hop${i}`, h.child.pid])),
      },
      stop: async () => {
        await Promise.all(started.map((s) => s.stop().catch(() => {})));
      },
    };
  } catch (err) {
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
    throw err;
  }
}
