// GET /metrics of running `p2p` processes: Prometheus text with our `p2p_*` series and
// libp2p's own `libp2p_*` ones, counters that move with the traffic, and no peer IDs as
// label values (they would make one series per peer).
import { type Sample, scrapeMetrics as scrape, valueOf, waitFor } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import {
  apiGet,
  getOnce,
  NODE_TEST,
  PEER_ID_RE,
  type PoolWorker,
  startTestNetwork,
  untilPoolOnline,
} from "./_fixtures.ts";

function has(samples: Sample[], name: string, labels: Record<string, string> = {}): boolean {
  return samples.some((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
}

/** No label value looks like a peer ID, and no known peer ID appears anywhere. */
function assertNoPeerIds(text: string, samples: Sample[], peerIds: string[]): void {
  for (const sample of samples) {
    for (const [key, value] of Object.entries(sample.labels)) {
      assert.doesNotMatch(value, PEER_ID_RE, `${sample.name}{${key}="${value}"}`);
    }
  }
  for (const id of peerIds) assert.ok(!text.includes(id), `peer ID ${id} in /metrics`);
}

Deno.test({
  name: "GET /metrics: Prometheus text, p2p_* and libp2p_* series, counters move, no peer IDs",
  ...NODE_TEST,
  async fn() {
    const net = await startTestNetwork([{ name: "alpha" }, { name: "bravo" }]);
    try {
      const api = net.seed.api;
      const peerIds = [net.seed.start.peerId, ...net.workers.map((w) => w.node.start.peerId)];
      await untilPoolOnline(api, "federated", ["alpha", "bravo"]);

      const first = await scrape(api);
      for (
        const name of [
          "p2p_peers",
          "p2p_ledger_blocks_applied_total",
          "p2p_ledger_blocks_published_total",
          "p2p_ledger_blocks_sent_direct_total",
          "p2p_federated_connections_total",
          "p2p_workers_online",
          "p2p_strangers_refused_total",
          "p2p_stranger_frames_waiting",
        ]
      ) {
        assert.ok(has(first.samples, name), `${name} in:\n${first.text}`);
      }
      assert.ok(valueOf(first.samples, "p2p_peers") >= 2, "the seed sees both workers");
      assert.ok(valueOf(first.samples, "p2p_ledger_blocks_applied_total") >= 1);
      assert.ok(first.samples.some((s) => s.name.startsWith("libp2p_")), "libp2p's own series");
      for (const direction of ["in", "out"]) {
        assert.ok(has(first.samples, "p2p_tunnel_bytes_total", { direction }), direction);
      }
      const accepted = { outcome: "accepted" };
      const acceptedBefore = valueOf(first.samples, "p2p_federated_connections_total", accepted);
      const bytesBefore = ["in", "out"].map((direction) =>
        valueOf(first.samples, "p2p_tunnel_bytes_total", { direction })
      );

      // Five client connections through the balancer.
      for (let i = 0; i < 5; i++) assert.equal((await getOnce(net.balancer)).status, 200);
      const after = await waitFor(async () => {
        const scraped = await scrape(api);
        const value = valueOf(scraped.samples, "p2p_federated_connections_total", accepted);
        return value === acceptedBefore + 5 &&
            valueOf(scraped.samples, "p2p_federated_active_connections") === 0
          ? scraped
          : undefined;
      }, { timeoutMs: 5_000, intervalMs: 100, message: "accepted +5 in /metrics" });
      ["in", "out"].forEach((direction, i) => {
        const value = valueOf(after.samples, "p2p_tunnel_bytes_total", { direction });
        assert.ok(value > bytesBefore[i]!, `p2p_tunnel_bytes_total{direction="${direction}"}`);
      });

      // p2p_workers_online{pool="federated"} is what the pool shows: both workers.
      await waitFor(async () => {
        const { workers } = await apiGet<{ workers: PoolWorker[] }>(api, "/api/pools/federated");
        const { samples } = await scrape(api);
        const gauge = valueOf(samples, "p2p_workers_online", { pool: "federated" });
        return gauge === workers.filter((w) => w.online).length && gauge === 2;
      }, { timeoutMs: 10_000, intervalMs: 100, message: 'p2p_workers_online{pool="federated"} 2' });
      assertNoPeerIds(after.text, after.samples, peerIds);

      // A worker's /metrics: it served the tunnels, and shows no peer IDs either.
      const worker = await scrape(net.workers[0]!.node.api);
      assert.ok(valueOf(worker.samples, "p2p_tunnel_bytes_total", { direction: "in" }) > 0);
      assert.ok(worker.samples.some((s) => s.name.startsWith("libp2p_")));
      assertNoPeerIds(worker.text, worker.samples, peerIds);
    } finally {
      await net.stop();
    }
  },
});

interface HistoryAnswer {
  at: number[];
  workers: { id: string; series: Record<string, (number | null)[]> }[];
}

/** Σ rate × Δt over a history series: what the counter it was derived from moved by. */
function integrate(at: number[], rates: (number | null)[]): number {
  let sum = 0;
  for (let i = 1; i < at.length; i++) sum += (rates[i] ?? 0) * ((at[i]! - at[i - 1]!) / 1000);
  return sum;
}

Deno.test({
  name: "GET /metrics and /api/history: per-worker counters, connect histogram, the same numbers",
  ...NODE_TEST,
  async fn() {
    const net = await startTestNetwork([{ name: "alpha" }, { name: "bravo" }]);
    try {
      const api = net.seed.api;
      await untilPoolOnline(api, "federated", ["alpha", "bravo"]);
      for (let i = 0; i < 8; i++) assert.equal((await getOnce(net.balancer)).status, 200);
      interface Federated {
        accepted: number;
        active: number;
        workers: {
          id: string;
          name: string;
          total: number;
          bytesSent: number;
          bytesReceived: number;
        }[];
      }
      const federated = await waitFor(async () => {
        const stats = await apiGet<Federated>(api, "/api/federated");
        return stats.accepted === 8 && stats.active === 0 ? stats : undefined;
      }, { timeoutMs: 5_000, intervalMs: 50, message: "8 finished connections" });
      assert.deepEqual(federated.workers.map((w) => w.name).sort(), ["alpha", "bravo"]);
      const { samples, text } = await scrape(api);

      for (const w of federated.workers) {
        const worker = { worker: w.id };
        assert.equal(valueOf(samples, "p2p_federated_worker_connections_total", worker), w.total);
        assert.equal(valueOf(samples, "p2p_federated_worker_active_connections", worker), 0);
        const toWorker = { worker: w.id, direction: "to_worker" };
        assert.equal(valueOf(samples, "p2p_federated_worker_bytes_total", toWorker), w.bytesSent);
        // The histogram: cumulative buckets ending in +Inf, one observation per connection.
        const buckets = samples.filter((s) =>
          s.name === "p2p_federated_connect_seconds_bucket" && s.labels.worker === w.id
        );
        assert.equal(buckets.at(-1)?.labels.le, "+Inf", text);
        const counts = buckets.map((b) => b.value);
        assert.ok(counts.every((n, i) => i === 0 || n >= counts[i - 1]!), String(counts));
        assert.equal(counts.at(-1), w.total);
        assert.equal(valueOf(samples, "p2p_federated_connect_seconds_count", worker), w.total);
        assert.ok(valueOf(samples, "p2p_federated_connect_seconds_sum", worker) > 0);
      }
      // Round-robin over two workers: four each.
      assert.deepEqual(federated.workers.map((w) => w.total), [4, 4]);
      // The balancer's per-worker bytes are its tunnel bytes (it serves no other tunnel).
      assert.equal(
        valueOf(samples, "p2p_tunnel_bytes_total", { direction: "out" }),
        federated.workers.reduce((sum, w) => sum + w.bytesSent, 0),
      );

      // The history, sampled from the same counters: its rates add up to them.
      await waitFor(async () => {
        const history = await apiGet<HistoryAnswer>(api, "/api/history");
        return federated.workers.every((w) => {
          const series = history.workers.find((h) => h.id === w.id)?.series;
          if (series === undefined) return false;
          const connections = integrate(history.at, series.connectionsPerS!);
          const bytes = integrate(history.at, series.bytesToWorkerPerS!);
          // Rates are sent with four significant digits.
          return Math.abs(connections - w.total) < 0.05 &&
            Math.abs(bytes - w.bytesSent) <= w.bytesSent * 0.002 &&
            series.connectP50Ms!.some((v) => v !== null && v > 0 && v <= 5_000);
        });
      }, { timeoutMs: 5_000, intervalMs: 200, message: "history rates adding up to /metrics" });
    } finally {
      await net.stop();
    }
  },
});
