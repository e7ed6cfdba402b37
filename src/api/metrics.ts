import { collectDefaultMetrics, Counter, Gauge, Registry } from "prom-client";
import { type TunnelStats, tunnelTotals } from "../services/stats.ts";
import { json, type Router } from "./router.ts";
import type { ApiState } from "./state.ts";

/**
 * A dedicated registry for one process: libp2p's own `libp2p_*` series (passed to the node)
 * and ours (`p2p_*`). Dedicated because `@libp2p/prometheus-metrics` resets the global one.
 */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "p2p_" });
  return registry;
}

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
 * This node's tunnel ends: services and connections (process-wide totals) plus the federated
 * balancer's connections, which it counts itself. Directions as in {@linkcode TunnelStats}:
 * the balancer's bytes from clients go into the network (`bytesOut`).
 */
function allTunnels(state: ApiState): TunnelStats {
  const totals = { ...tunnelTotals };
  for (const worker of state.federated?.().workers ?? []) {
    totals.active += worker.active;
    totals.total += worker.total;
    totals.failed += worker.failed;
    totals.bytesOut += worker.bytesIn;
    totals.bytesIn += worker.bytesOut;
  }
  return totals;
}

/**
 * Registers the `p2p_*` series over `state` (peers, ledger, tunnels, federated, pools). No
 * peer IDs as label values: labels are pools, directions, outcomes and reasons.
 */
export function registerP2PMetrics(registry: Registry, state: ApiState): void {
  const { network } = state;
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
      return [[{ direction: "out" }, totals.bytesOut], [{ direction: "in" }, totals.bytesIn]];
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
