import { registerProcessMetrics } from "./process_metrics.ts";
import { Counter, Gauge, type Metric, type Registry } from "prom-client";
import {
  CONNECT_LATENCY_BOUNDS_MS,
  type LatencyHistogram,
} from "../federated/latency_histogram.ts";
import { allTunnels } from "./counters.ts";
import { json, type Router } from "./router.ts";
import type { ApiState } from "./state.ts";

/** A counter whose value is read from a live total at scrape time. */
function liveCounter(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      // Zeros too: a series exists from the start, so rate() and alerts see its first step.
      for (const [labels, value] of read()) this.inc(labels, value);
    },
  });
}

/** A gauge whose value is read at scrape time. */
function liveGauge(
  registry: Registry,
  name: string,
  help: string,
  labelNames: string[],
  read: () => [Record<string, string>, number][],
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, value] of read()) this.set(labels, value);
    },
  });
}

/**
 * A histogram whose buckets are read at scrape time from live {@linkcode LatencyHistogram}s
 * (in ms; exposed in seconds, as Prometheus names want). prom-client's own `Histogram` can
 * only be fed observation by observation, so this is a collector of the shape the registry
 * formats (cumulative `_bucket` series with `le`, `_sum`, `_count`).
 */
function liveHistogram(
  registry: Registry,
  name: string,
  help: string,
  read: () => [Record<string, string>, LatencyHistogram][],
): void {
  const metric = {
    name,
    help,
    type: "histogram",
    aggregator: "sum",
    get() {
      const values: { metricName: string; labels: Record<string, string>; value: number }[] = [];
      for (const [labels, histogram] of read()) {
        let cumulative = 0;
        histogram.counts.forEach((count, i) => {
          cumulative += count;
          const bound = CONNECT_LATENCY_BOUNDS_MS[i];
          const le = bound === undefined ? "+Inf" : String(bound / 1000);
          values.push({
            metricName: `${name}_bucket`,
            labels: { ...labels, le },
            value: cumulative,
          });
        });
        values.push({ metricName: `${name}_sum`, labels, value: histogram.sumMs / 1000 });
        values.push({ metricName: `${name}_count`, labels, value: histogram.count });
      }
      return Promise.resolve({ name, help, type: "histogram", aggregator: "sum", values });
    },
  };
  registry.registerMetric(metric as unknown as Metric);
}

/**
 * Registers the `p2p_*` series over `state` (peers, ledger, tunnels, federated, pools). No
 * peer IDs as label values: labels are pools, directions, outcomes, reasons and the workers'
 * LocalAI IDs (`<host>-<name>`, one per worker the balancer has used).
 */
export function registerP2PMetrics(registry: Registry, state: ApiState): void {
  const { network } = state;
  registerProcessMetrics(registry);
  liveCounter(
    registry,
    "p2p_holepunch_total",
    "Hole punching (DCUtR) exchanges by outcome: attempt, success, failure (a relayed connection that stayed relayed after every try)",
    ["result"],
    () => {
      const stats = network.node.services.holePunch?.stats;
      return stats === undefined ? [] : [
        [{ result: "attempt" }, stats.attempts],
        [{ result: "success" }, stats.successes],
        [{ result: "failure" }, stats.failures],
      ];
    },
  );
  liveGauge(
    registry,
    "p2p_relay_reservations",
    "Relay reservations this node holds (held) and that others hold on its relay service (served)",
    ["side"],
    () =>
      [
        [{ side: "held" }, network.node.services.relayClient.reservations().length],
        ...(network.node.services.relay === undefined
          ? []
          : [[{ side: "served" }, network.node.services.relay.reservations.size] as const]),
      ] as never,
  );
  liveGauge(
    registry,
    "p2p_peers",
    "Connected peers",
    [],
    () => [[{}, network.node.getPeers().length]],
  );
  liveCounter(
    registry,
    "p2p_strangers_refused_total",
    "What the peer guard did to peers that had not proved membership: evicted (closed to make room), held_off (disconnected and held off after misbehaving), frame_busy (a gossip frame found the wait for room full: its stream reset), frame_no_room (a frame waited too long for room: connection closed)",
    ["outcome"],
    () => {
      const stats = network.node.services.peerGuard.stats;
      return [
        [{ outcome: "evicted" }, stats.evicted],
        [{ outcome: "held_off" }, stats.punished],
        [{ outcome: "frame_busy" }, stats.framesBusy],
        [{ outcome: "frame_no_room" }, stats.framesNoRoom],
      ];
    },
  );
  liveGauge(
    registry,
    "p2p_stranger_frame_bytes",
    "Bytes of gossip frames from peers that have not proved membership: reserved in the node-wide budget, and its capacity",
    ["state"],
    () => {
      const budget = network.node.services.peerGuard.budget;
      return [[{ state: "reserved" }, budget.used], [{ state: "capacity" }, budget.capacity]];
    },
  );
  liveGauge(
    registry,
    "p2p_stranger_frames_waiting",
    "Gossip frames from peers that have not proved membership waiting for room in the budget",
    [],
    () => [[{}, network.node.services.peerGuard.budget.waiting]],
  );
  liveGauge(registry, "p2p_ledger_index", "Index of the current ledger block", [], () => [[
    {},
    network.ledger.block.Index,
  ]]);
  liveCounter(
    registry,
    "p2p_ledger_blocks_applied_total",
    "Ledger blocks adopted from peers",
    [],
    () => [[
      {},
      network.ledger.stats.applied,
    ]],
  );
  liveCounter(
    registry,
    "p2p_ledger_blocks_published_total",
    "Ledger blocks this node sent: writes and rebroadcasts",
    [],
    () => [[{}, network.ledger.stats.published]],
  );
  liveCounter(
    registry,
    "p2p_ledger_blocks_sent_direct_total",
    "Ledger blocks sent to a single peer that joined, instead of a gossip rebroadcast",
    [],
    () => [[{}, network.ledger.stats.sentDirect]],
  );
  liveCounter(
    registry,
    "p2p_ledger_rebroadcasts_skipped_total",
    "Ledger rebroadcasts skipped, by reason: periodic (peers rebroadcast the block meanwhile), join (every joining peer showed it holds the block)",
    ["reason"],
    () => {
      const stats = network.ledger.stats;
      return [[{ reason: "periodic" }, stats.quiet], [{ reason: "join" }, stats.joinQuiet]];
    },
  );
  liveCounter(
    registry,
    "p2p_ledger_blocks_dropped_total",
    "Ledger gossip messages dropped as malformed, by reason",
    ["reason"],
    () => Object.entries(network.ledger.stats.dropped).map(([reason, n]) => [{ reason }, n ?? 0]),
  );
  liveGauge(
    registry,
    "p2p_tunnel_streams_active",
    "Tunnelled connections open now (services, connect, federated balancer)",
    [],
    () => [[
      {},
      allTunnels(state).active,
    ]],
  );
  liveCounter(
    registry,
    "p2p_tunnel_streams_total",
    "Tunnelled connections since start",
    [],
    () => [[
      {},
      allTunnels(state).total,
    ]],
  );
  liveCounter(
    registry,
    "p2p_tunnel_failed_total",
    "Connections that could not be tunnelled",
    [],
    () => [[
      {},
      allTunnels(state).failed,
    ]],
  );
  liveCounter(
    registry,
    "p2p_tunnel_bytes_total",
    "Bytes through tunnels (services, connect, federated balancer), by direction (out: from local TCP into the network)",
    ["direction"],
    () => {
      const totals = allTunnels(state);
      return [[{ direction: "out" }, totals.bytesSent], [
        { direction: "in" },
        totals.bytesReceived,
      ]];
    },
  );
  liveCounter(
    registry,
    "p2p_federated_connections_total",
    "Client connections of the federated balancer, by outcome",
    ["outcome"],
    () => {
      const stats = state.federated?.();
      if (stats === undefined) return [];
      return [
        [{ outcome: "accepted" }, stats.accepted],
        [{ outcome: "refused" }, stats.refused],
        [{ outcome: "evicted" }, stats.evicted],
        [{ outcome: "idle_closed" }, stats.idleClosed],
        [{ outcome: "no_worker" }, stats.noWorker],
        [{ outcome: "failover" }, stats.failovers],
        [{ outcome: "failed" }, stats.failed],
      ];
    },
  );
  liveGauge(
    registry,
    "p2p_federated_active_connections",
    "Client connections with a tunnel (or opening one)",
    [],
    () => {
      const stats = state.federated?.();
      return stats === undefined ? [] : [[{}, stats.active]];
    },
  );
  liveGauge(
    registry,
    "p2p_federated_waiting_connections",
    "Client connections that have sent nothing yet (no tunnel held)",
    [],
    () => {
      const stats = state.federated?.();
      return stats === undefined ? [] : [[{}, stats.waiting]];
    },
  );
  registerWorkerMetrics(registry, state);
  liveGauge(
    registry,
    "p2p_workers_online",
    "Online workers per pool",
    ["pool"],
    () =>
      state.pools.buckets().map((bucket) => [
        { pool: bucket },
        state.pools.get(bucket).online().length,
      ]),
  );
  liveGauge(
    registry,
    "p2p_workers_known",
    "Workers in the ledger per pool",
    ["pool"],
    () =>
      state.pools.buckets().map((bucket) => [
        { pool: bucket },
        state.pools.get(bucket).workers().length,
      ]),
  );
}

/**
 * The balancer's per-worker series (on `federated`), labelled by worker ID: what the
 * dashboard's per-worker charts show, so that its figures can be checked against a scrape.
 */
function registerWorkerMetrics(registry: Registry, state: ApiState): void {
  const workers = () => state.federated?.()?.workers ?? [];
  liveCounter(
    registry,
    "p2p_federated_worker_connections_total",
    "Client connections the balancer sent to each worker",
    ["worker"],
    () => workers().map((w) => [{ worker: w.id }, w.total]),
  );
  liveCounter(
    registry,
    "p2p_federated_worker_failed_total",
    "Tunnels to each worker that could not be opened",
    ["worker"],
    () => workers().map((w) => [{ worker: w.id }, w.failed]),
  );
  liveGauge(
    registry,
    "p2p_federated_worker_active_connections",
    "Client connections flowing through each worker now",
    ["worker"],
    () => workers().map((w) => [{ worker: w.id }, w.active]),
  );
  liveCounter(
    registry,
    "p2p_federated_worker_bytes_total",
    "Bytes through each worker's tunnels, by direction (to_worker: from clients)",
    ["worker", "direction"],
    () =>
      workers().flatMap((w) => [
        [{ worker: w.id, direction: "to_worker" }, w.bytesSent],
        [{ worker: w.id, direction: "from_worker" }, w.bytesReceived],
      ]),
  );
  liveHistogram(
    registry,
    "p2p_federated_connect_seconds",
    "Time to open a tunnel to each worker (successful attempts)",
    () => workers().map((w) => [{ worker: w.id }, w.connectMs]),
  );
}

/** Adds `GET /metrics` (Prometheus text format) for `registry`. */
export function addMetricsRoute(router: Router, registry: Registry): Router {
  return router.add("GET", "/metrics", async () => {
    try {
      return new Response(await registry.metrics(), {
        headers: { "content-type": registry.contentType },
      });
    } catch (err) {
      return json(
        { error: `Cannot collect metrics: ${err instanceof Error ? err.message : err}` },
        500,
      );
    }
  });
}
