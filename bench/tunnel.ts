/**
 * Tunnel bench (issue 4 §8, issue 18): a local TCP service reached directly, through the plain
 * proxies (haproxy, nginx: whichever are installed), through the relay floor (two chained Deno
 * relays, the tunnel's process topology without libp2p), through `ssh -L` (a throwaway sshd on
 * loopback: the encrypted, multiplexed anchor) and through the p2p tunnel (`p2p expose` +
 * `p2p connect`, two processes). Bulk
 * upload and download MiB/s, 64-byte RTT, new connections/s, CPU per MiB of each process, RSS
 * of the two tunnel processes idle and during parallel bulk transfers, and the floors of
 * `floors.ts` (the cipher's bound on bulk, the runtime's and the module graph's RSS).
 */
import { bulkDownload, bulkUpload } from "./lib/load.ts";
import { cpuProbe, rssMiB, rssSampler, sleep } from "./lib/proc.ts";
import {
  measurePaths,
  MIB_TIMEOUT_MS,
  type PathOptions,
  type PathResult,
  type PathSpec,
  warmUp,
  WIDTHS,
} from "./paths.ts";
import {
  type PlainProxy,
  type ProxyChoice,
  type ProxyKind,
  startProxy,
  startRelayChain,
} from "./lib/proxy.ts";
import { type SshAvailability, sshAvailable, type SshForward, startSshForward } from "./lib/ssh.ts";
import {
  chachaCost,
  type CipherCost,
  cryptoBoundMiBs,
  type RssFloors,
  rssFloors,
} from "./floors.ts";
import { spawnServer, spawnTunnelPair } from "./lib/spawn.ts";
import { coreShares, fmt, row } from "./lib/stats.ts";

export type { BulkResult, PathResult } from "./paths.ts";

/** Sizes and bounds of the tunnel bench. */
export interface TunnelOptions extends PathOptions {
  parallel: number;
  parallelMiB: number;
  /** Idle period before the idle RSS and background CPU readings. */
  idleMs: number;
  /** Time spent measuring the cipher's cost (seal, then open). */
  cipherMs: number;
}

/** Full-size settings. */
export const TUNNEL_FULL: TunnelOptions = {
  bulkMiB: 200,
  runs: 3,
  rttCount: 2000,
  rttWarm: 25_000,
  connSeconds: 2,
  connMax: 5000,
  concurrency: 16,
  parallel: 8,
  parallelMiB: 25,
  idleMs: 3_000,
  cipherMs: 1_500,
};

/** `--quick` settings (smoke runs). */
export const TUNNEL_QUICK: TunnelOptions = {
  bulkMiB: 8,
  runs: 1,
  rttCount: 200,
  rttWarm: 200,
  connSeconds: 0.5,
  connMax: 200,
  concurrency: 16,
  parallel: 8,
  parallelMiB: 2,
  idleMs: 500,
  cipherMs: 150,
};

/** Everything the tunnel bench measured. */
export interface TunnelResult {
  options: TunnelOptions;
  proxyKind: string;
  /**
   * `relay`: two chained Deno relays, the tunnel's process topology without libp2p; `ssh`:
   * `ssh -L` through a throwaway sshd (absent where openssh is not installed: see `ssh`).
   */
  paths: {
    direct: PathResult;
    proxy: PathResult;
    relay: PathResult;
    tunnel: PathResult;
    ssh?: PathResult;
  };
  /** Every plain proxy measured, by kind (`proxy` above is the primary one). */
  proxies: Partial<Record<ProxyKind, PathResult>>;
  /** Whether the `ssh -L` anchor ran, and its version or why not. */
  ssh: SshAvailability;
  /** What bounds the ratios on this machine, measured in the same run. */
  floors: {
    cipher: CipherCost;
    /** Bulk MiB/s of the relay path plus one seal and one open per byte (see `cryptoBoundMiBs`). */
    cryptoBoundMiBs: { upload: number; download: number; mean: number };
    rss: RssFloors;
  };
  /** VmRSS of the expose and connect processes. */
  rss: {
    idleMiB: { expose: number; connect: number };
    /** Share of one core each tunnel process used while idle. */
    idleCpu: Record<string, number>;
    bulkMaxMiB: { expose: number; connect: number };
    parallel: { streams: number; totalMiB: number; aggregateMiBs: number; errors: number };
  };
  startupMs: number;
}

/** Runs the tunnel bench; every process it starts is stopped before it returns. */
export async function runTunnelBench(
  opts: TunnelOptions,
  proxyChoice: ProxyChoice,
  log: (line: string) => void,
  otherProxies: readonly ProxyChoice[] = [],
): Promise<TunnelResult> {
  const started: { stop(): Promise<void> }[] = [];
  try {
    const t0 = performance.now();
    const service = await spawnServer<{ port: number }>("service.ts", []);
    started.push(service.child);
    const proxy: PlainProxy = await startProxy(proxyChoice, [service.info.port], "tunnel");
    started.push(proxy);
    const others: PlainProxy[] = [];
    for (const choice of otherProxies) {
      const other = await startProxy(choice, [service.info.port], "tunnel");
      started.push(other);
      others.push(other);
    }
    const relay = await startRelayChain([service.info.port]);
    started.push(relay);
    const sshCheck = await sshAvailable();
    let ssh: SshForward | undefined;
    if (sshCheck.ok) {
      ssh = await startSshForward(service.info.port);
      started.push(ssh);
    }
    log(sshCheck.ok ? `ssh -L anchor: ${sshCheck.note}` : `NOTE: ${sshCheck.note}`);
    const { expose, connect, port: tunnelPort } = await spawnTunnelPair(service.info.port);
    started.push(expose.child, connect.child);
    await warmUp(tunnelPort, 40_000, "the tunnel");
    await warmUp(proxy.port, 10_000, "the plain proxy");
    await warmUp(relay.port, 10_000, "the relay chain");
    for (const other of others) await warmUp(other.port, 10_000, `${other.kind}`);
    if (ssh !== undefined) await warmUp(ssh.port, 10_000, "ssh -L");
    const startupMs = performance.now() - t0;
    log(
      `tunnel: service :${service.info.port}, ${proxy.kind} :${proxy.port}, ` +
        `connect :${tunnelPort} (pids expose ${expose.child.pid}, connect ${connect.child.pid}); ` +
        `ready in ${fmt(startupMs / 1000)} s`,
    );

    // Idle RSS first, before any bulk traffic raised the high-water mark.
    const stopIdle = cpuProbe({ expose: expose.child.pid, connect: connect.child.pid });
    await sleep(opts.idleMs);
    const idleCpu = coreShares(stopIdle());
    const idle = { expose: rssMiB(expose.child.pid), connect: rssMiB(connect.child.pid) };

    // RSS during `parallel` concurrent transfers through the tunnel (half up, half down).
    const stopRss = rssSampler({ expose: expose.child.pid, connect: connect.child.pid });
    const p0 = performance.now();
    const par = await Promise.allSettled(
      Array.from({ length: opts.parallel }, (_, i) =>
        (i % 2 === 0 ? bulkUpload : bulkDownload)(
          tunnelPort,
          opts.parallelMiB,
          20_000 + opts.parallelMiB * opts.parallel * MIB_TIMEOUT_MS,
        )),
    );
    const parS = (performance.now() - p0) / 1000;
    const bulkMax = stopRss();
    const parErrors = par.filter((r) => r.status === "rejected");
    for (const r of parErrors) log(`  parallel transfer failed: ${String(r.reason)}`);
    const parallel = {
      streams: opts.parallel,
      totalMiB: opts.parallel * opts.parallelMiB,
      aggregateMiBs: ((opts.parallel - parErrors.length) * opts.parallelMiB) / parS,
      errors: parErrors.length,
    };

    log(row(
      ["path", "up MiB/s", "down MiB/s", "rtt p50ms", "rtt p99ms", "conn/s", "c+1st p50", "errs"],
      WIDTHS,
    ));
    const basePids = { harness: Deno.pid, service: service.child.pid };
    const specs: PathSpec[] = [
      { name: "direct", port: service.info.port, pids: basePids },
      { name: `proxy(${proxy.kind})`, port: proxy.port, pids: { ...basePids, proxy: proxy.pid } },
      ...others.map((other) => ({
        name: `proxy(${other.kind})`,
        port: other.port,
        pids: { ...basePids, proxy: other.pid },
      })),
      { name: "deno relay×2", port: relay.port, pids: { ...basePids, ...relay.pids } },
      ...(ssh === undefined
        ? []
        : [{ name: "ssh -L", port: ssh.port, pids: { ...basePids, ...ssh.pids } }]),
      {
        name: "p2p tunnel",
        port: tunnelPort,
        pids: { ...basePids, expose: expose.child.pid, connect: connect.child.pid },
      },
    ];
    const measured = await measurePaths(specs, opts, log);
    const [direct, proxyPath] = [measured[0]!, measured[1]!];
    const proxies: Partial<Record<ProxyKind, PathResult>> = { [proxy.kind]: proxyPath };
    others.forEach((other, i) => proxies[other.kind] = measured[2 + i]!);
    const relayPath = measured[2 + others.length]!;
    const sshPath = ssh === undefined ? undefined : measured[3 + others.length]!;
    const tunnel = measured.at(-1)!;
    const rss = {
      idleMiB: idle,
      idleCpu,
      bulkMaxMiB: { expose: bulkMax.expose ?? NaN, connect: bulkMax.connect ?? NaN },
      parallel,
    };
    log(
      `rtt p99 of each path's first ${opts.rttCount} round trips, before the ${opts.rttWarm} ` +
        `unmeasured ones (cold, not compared): tunnel ${fmt(tunnel.rttCold.p99Ms, 3)} ms` +
        (sshPath === undefined ? "" : `, ssh -L ${fmt(sshPath.rttCold.p99Ms, 3)} ms`) +
        `, direct ${fmt(direct.rttCold.p99Ms, 3)} ms`,
    );
    const cold = (path: PathResult): string =>
      `${fmt(path.upload.coldMiBs)} / ${fmt(path.download.coldMiBs)}`;
    log(
      `bulk MiB/s up / down of each path's first transfer each way, before the measured ones ` +
        `(cold, not compared): tunnel ${cold(tunnel)}` +
        (sshPath === undefined ? "" : `, ssh -L ${cold(sshPath)}`) + `, direct ${cold(direct)}`,
    );
    log(
      `tunnel idle: RSS MiB expose ${fmt(idle.expose)} connect ${fmt(idle.connect)}; CPU ${
        fmt((idleCpu.expose ?? NaN) * 100, 1)
      }% / ${fmt((idleCpu.connect ?? NaN) * 100, 1)}% of a core`,
    );
    log(
      `tunnel during ${opts.parallel} parallel transfers (${parallel.totalMiB} MiB, ${
        fmt(parallel.aggregateMiBs)
      } MiB/s aggregate): max RSS MiB expose ${fmt(rss.bulkMaxMiB.expose)} connect ${
        fmt(rss.bulkMaxMiB.connect)
      }`,
    );
    for (
      const [name, p] of [
        ["direct", direct],
        ["proxy", proxyPath],
        ["relay", relayPath],
        ...(sshPath === undefined ? [] : [["ssh", sshPath] as const]),
        ["tunnel", tunnel],
      ] as const
    ) {
      for (const dir of ["upload", "download"] as const) {
        const b = p[dir];
        const parts = Object.keys(b.cpuMsPerMiB).map((k) =>
          `${k} ${fmt(b.cpuMsPerMiB[k], 2)} ms/MiB (${fmt((b.coreShare[k] ?? NaN) * 100, 0)}%)`
        );
        log(
          `cpu ${name} ${dir}: ${parts.join(", ")}; machine busy ${
            fmt(b.machineBusy * 100, 0)
          }% → ${b.limit}`,
        );
      }
      const c = p.connCpu;
      log(
        `cpu ${name} conn/s: ${
          Object.keys(c.msPerConn).map((k) =>
            `${k} ${fmt(c.msPerConn[k], 2)} ms/conn (${fmt((c.coreShare[k] ?? NaN) * 100, 0)}%)`
          ).join(", ")
        }; machine busy ${fmt(c.machineBusy * 100, 0)}% → ${c.limit}`,
      );
    }
    const floors = await measureFloors(relayPath, opts, log);
    return {
      options: opts,
      proxyKind: proxy.kind,
      paths: {
        direct,
        proxy: proxyPath,
        relay: relayPath,
        tunnel,
        ...(sshPath === undefined ? {} : { ssh: sshPath }),
      },
      proxies,
      ssh: sshCheck,
      floors,
      rss,
      startupMs,
    };
  } finally {
    // SIGTERM, then SIGKILL after a bound; all at once.
    await Promise.all(started.map((s) => s.stop().catch(() => {})));
  }
}

/** The cipher's cost, the bulk bound it sets on the relay path, and the RSS floors. */
async function measureFloors(
  relay: PathResult,
  opts: TunnelOptions,
  log: (line: string) => void,
): Promise<TunnelResult["floors"]> {
  const cipher = chachaCost(opts.cipherMs);
  const cores = navigator.hardwareConcurrency;
  const upload = cryptoBoundMiBs(relay.upload.cpuMsPerMiB, "front", "hop0", cipher, cores);
  const download = cryptoBoundMiBs(relay.download.cpuMsPerMiB, "hop0", "front", cipher, cores);
  const rss = await rssFloors(opts.idleMs);
  log(
    `floors: ChaCha20-Poly1305 (${cipher.cipher}) at 65519 B: seal ${
      fmt(cipher.sealMsPerMiB, 2)
    } ` +
      `open ${fmt(cipher.openMsPerMiB, 2)} ms/MiB; relay×2 + one seal and one open per byte: ` +
      `≤ ${fmt(upload)} up, ${fmt(download)} down MiB/s on ${cores} cores`,
  );
  log(
    `floors: RSS MiB of an empty deno run ${
      fmt(rss.emptyMiB)
    }, with a tunnel command's modules loaded ` +
      `${fmt(rss.importsMiB)} (same V8 flags as the p2p processes)`,
  );
  return { cipher, cryptoBoundMiBs: { upload, download, mean: (upload + download) / 2 }, rss };
}
