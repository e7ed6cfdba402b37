/**
 * `deno task bench nat`: a tunnel between two nodes behind different NATs, relayed (the public
 * relay carries every byte, hole punching off) against hole-punched (DCUtR) and against direct
 * through a UPnP mapping on NAT 1, in the namespace lab of `tests/e2e/_netns_nat.ts` (root,
 * iptables, miniupnpd-iptables; skipped otherwise). Bulk MiB/s each way (an echo of `bytes`,
 * `runs` times, median), the round trip of 64-byte echoes on one connection (p50, p99), the
 * reservation time, the first relayed answer, and hole punching: successes out of `punches`
 * fresh consumers and the time from the relayed connection to the direct one.
 *
 * @module
 */
import { Namespaces, type NsProcess } from "../tests/e2e/_netns.ts";
import {
  miniupnpd,
  miniupnpdUnavailable,
  NAT_LAB,
  natLab,
  startPublicNode,
} from "../tests/e2e/_netns_nat.ts";
import { waitFor } from "../tests/_helpers/wait.ts";
import { encodeToken, generateTokenConfig } from "../src/token/token.ts";

/** Sizes of one run. */
export interface NatBenchConfig {
  /** Bytes sent (and echoed back) per transfer. */
  bytes: number;
  /** Transfers per path. */
  runs: number;
  /** 64-byte round trips per path. */
  rtts: number;
  /** Hole punching trials (a fresh consumer each). */
  punches: number;
}

/** The full run. */
export const NAT_FULL: NatBenchConfig = { bytes: 32_000_000, runs: 3, rtts: 200, punches: 10 };
/** A smoke run. */
export const NAT_QUICK: NatBenchConfig = { bytes: 2_000_000, runs: 1, rtts: 20, punches: 2 };

/** One path's figures. */
export interface NatPath {
  /** Median of the measured transfers, after the first. */
  bulkMiBs: number;
  /**
   * The first transfer on a fresh path, not in the median: V8 has not optimized the processes'
   * data path yet (the loopback bench warms every path for the same reason).
   */
  coldBulkMiBs: number;
  rttP50Ms: number;
  rttP99Ms: number;
}

/** What `runNatBench` measured, or why it did not run. */
export interface NatBenchResult {
  skipped?: string;
  relayed?: NatPath;
  /** Through the hole-punched connection. */
  punched?: NatPath;
  /** Hole punching trials that ended direct, and in how long (median, max, ms). */
  punch?: { successes: number; trials: number; medianMs: number; maxMs: number };
  direct?: NatPath;
  /** From the NATed node's start to its reservation on the relay. */
  reservationMs?: number;
  /** From the consumer's start to its first answer through the relay. */
  firstRelayedAnswerMs?: number;
  /** From the node's start to its UPnP-mapped address being advertised. */
  upnpMappingMs?: number;
}

const NODE = ["--no-mdns", "--listen-maddrs", "/ip4/0.0.0.0/tcp/4001"];

async function measure(
  nets: Namespaces,
  port: number,
  config: NatBenchConfig,
): Promise<NatPath> {
  const transfer = async (): Promise<number> => {
    const r = await nets.toolOnce("b", ["roundtrip", `127.0.0.1:${port}`, String(config.bytes)]);
    if (r.ok !== true) throw new Error(`transfer failed: ${JSON.stringify(r)}`);
    return config.bytes / (1024 * 1024) / ((r.ms as number) / 1000);
  };
  const cold = await transfer();
  const rates: number[] = [];
  for (let i = 0; i < config.runs; i++) rates.push(await transfer());
  rates.sort((a, b) => a - b);
  const rtt = await nets.toolOnce("b", ["rtt", `127.0.0.1:${port}`, String(config.rtts)]);
  if (rtt.ok !== true) throw new Error(`round trips failed: ${JSON.stringify(rtt)}`);
  return {
    bulkMiBs: Math.round(rates[Math.floor(rates.length / 2)]! * 10) / 10,
    coldBulkMiBs: Math.round(cold * 10) / 10,
    rttP50Ms: rtt.p50 as number,
    rttP99Ms: rtt.p99 as number,
  };
}

async function pathOf(nets: Namespaces, api: string, peer: string): Promise<boolean | undefined> {
  const peers = (await nets.http("b", "GET", `${api}/api/peers`)).body as {
    peerId: string;
    relayed: boolean;
  }[];
  return Array.isArray(peers) ? peers.find((p) => p.peerId === peer)?.relayed : undefined;
}

/** Runs the NAT part of the bench (see the module documentation). */
export async function runNatBench(
  config: NatBenchConfig,
  log: (line: string) => void,
): Promise<NatBenchResult> {
  const unavailable = miniupnpdUnavailable();
  if (unavailable !== undefined) {
    log(`nat: skipped, it needs the namespace lab: ${unavailable}`);
    return { skipped: unavailable };
  }
  const nets = new Namespaces();
  const dir = await Deno.makeTempDir();
  const env = { P2P_TOKEN: encodeToken(generateTokenConfig()) };
  const result: NatBenchResult = {};
  try {
    natLab(nets, "drop");
    const peers = ["--bootstrap-peers", (await startPublicNode(nets, env)).addr];
    nets.tool("a", ["echo", "127.0.0.1:7000"]);
    const expose = async (
      service: string,
      extra: string[] = [],
    ): Promise<{ id: string; started: number; process: NsProcess }> => {
      const started = Date.now();
      const p: NsProcess = await nets.p2p("a", [
        "expose",
        "--target",
        "127.0.0.1:7000",
        "--service",
        service,
        ...NODE,
        ...peers,
        "--api-listen",
        "127.0.0.1:8080",
        ...extra,
      ], env);
      return { id: (await p.startLine()).peerId as string, started, process: p };
    };
    const connect = (service: string, port: number, api: number, extra: string[] = []) =>
      nets.p2p("b", [
        "connect",
        "--service",
        service,
        "--listen",
        `127.0.0.1:${port}`,
        "--no-mdns",
        "--listen-maddrs",
        `/ip4/0.0.0.0/tcp/${4000 + api - 8000}`,
        ...peers,
        "--api-listen",
        `127.0.0.1:${api}`,
        ...extra,
      ], env);

    // Relayed: the routers drop unsolicited packets, no UPnP, no hole punching.
    const relayed = await expose("relayed", ["--no-holepunch"]);
    await waitFor(async () => {
      const info = (await nets.http("a", "GET", "http://127.0.0.1:8080/api/node")).body as {
        reservations?: unknown[];
      };
      return (info.reservations?.length ?? 0) > 0;
    }, { timeoutMs: 30_000, intervalMs: 50, message: "a reservation" });
    result.reservationMs = Date.now() - relayed.started;
    const consumerStarted = Date.now();
    await connect("relayed", 9000, 8081, ["--no-holepunch"]);
    await waitFor(async () => {
      const r = await nets.toolOnce("b", ["roundtrip", "127.0.0.1:9000", "1000"]);
      return r.ok === true;
    }, { timeoutMs: 30_000, intervalMs: 100, message: "a first answer through the relay" });
    result.firstRelayedAnswerMs = Date.now() - consumerStarted;
    if (await pathOf(nets, "http://127.0.0.1:8081", relayed.id) !== true) {
      throw new Error("the relayed path is not relayed");
    }
    result.relayed = await measure(nets, 9000, config);
    log(`nat: relayed ${JSON.stringify(result.relayed)}`);

    // Hole punched: a new exposing node (hole punching on), fresh consumers dialing it through
    // the relay; the last one's direct connection is measured.
    await relayed.process.stop();
    const punched = await expose("punched");
    await waitFor(async () => {
      const info = (await nets.http("a", "GET", "http://127.0.0.1:8080/api/node")).body as {
        reservations?: unknown[];
      };
      return (info.reservations?.length ?? 0) > 0;
    }, { timeoutMs: 30_000, intervalMs: 50, message: "a reservation" });
    const circuit = `${peers[1]}/p2p-circuit/p2p/${punched.id}`;
    const times: number[] = [];
    for (let i = 1; i <= config.punches; i++) {
      const consumer = await nets.p2p("b", [
        "connect",
        "--service",
        "punched",
        "--listen",
        `127.0.0.1:${9100 + i}`,
        "--no-mdns",
        "--listen-maddrs",
        `/ip4/0.0.0.0/tcp/${4100 + i}`,
        "--bootstrap-peers",
        `${peers[1]},${circuit}`,
        "--api-listen",
        `127.0.0.1:${8100 + i}`,
      ], env);
      const api = `http://127.0.0.1:${8100 + i}`;
      const seen = await waitFor(
        async () => await pathOf(nets, api, punched.id) !== undefined ? Date.now() : false,
        { timeoutMs: 15_000, intervalMs: 20, message: "the relayed connection" },
      );
      const direct = await waitFor(
        async () => await pathOf(nets, api, punched.id) === false ? Date.now() : false,
        {
          timeoutMs: 5_000,
          intervalMs: 20,
          message: "direct",
        },
      ).catch(() => undefined);
      if (direct !== undefined) times.push(direct - seen);
      if (i === config.punches && direct !== undefined) {
        result.punched = await measure(nets, 9100 + i, config);
      }
      await consumer.stop();
    }
    times.sort((a, b) => a - b);
    result.punch = {
      successes: times.length,
      trials: config.punches,
      medianMs: times[Math.floor(times.length / 2)] ?? NaN,
      maxMs: times.at(-1) ?? NaN,
    };
    log(
      `nat: hole punching ${JSON.stringify(result.punch)}, punched ${
        JSON.stringify(result.punched)
      }`,
    );
    await punched.process.stop();

    // Direct: NAT 1 maps the port of a new exposing node (UPnP), the consumer dials it.
    await miniupnpd(nets, "nat1", dir);
    const direct = await expose("direct", ["--no-holepunch"]);
    await waitFor(async () => {
      const info = (await nets.http("a", "GET", "http://127.0.0.1:8080/api/node")).body as {
        verified?: string[];
      };
      return info.verified?.includes(`/ip4/${NAT_LAB.wan1}/tcp/4001`) ?? false;
    }, { timeoutMs: 30_000, intervalMs: 100, message: "the UPnP mapping" });
    result.upnpMappingMs = Date.now() - direct.started;
    await connect("direct", 9001, 8082, ["--no-holepunch"]);
    await waitFor(async () => {
      const r = await nets.toolOnce("b", ["roundtrip", "127.0.0.1:9001", "1000"]);
      return r.ok === true && await pathOf(nets, "http://127.0.0.1:8082", direct.id) === false;
    }, { timeoutMs: 30_000, intervalMs: 200, message: "a direct answer" });
    result.direct = await measure(nets, 9001, config);
    log(`nat: direct ${JSON.stringify(result.direct)}`);
    log(
      `nat: reservation ${result.reservationMs} ms, first relayed answer ${result.firstRelayedAnswerMs} ms, UPnP mapping ${result.upnpMappingMs} ms`,
    );
    return result;
  } finally {
    await nets.destroy();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
