// GET /metrics of running `p2p` processes: Prometheus text with our `p2p_*` series and
// libp2p's own `libp2p_*` ones, counters that move with the traffic, and no peer IDs as
// label values (they would make one series per peer).
import { waitFor } from "../_helpers/mod.ts";
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

/** One sample line of the text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of the Prometheus text format (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (
      const [, key, value] of (match[2] ?? "").matchAll(
        /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
      )
    ) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Scrapes `/metrics`, checking the content type. */
async function scrape(api: string): Promise<{ text: string; samples: Sample[] }> {
  const response = await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  return { text, samples: parseMetrics(text) };
}

/** The value of the sample `name` with exactly `labels`; 0 when absent. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) =>
    s.name === name && JSON.stringify(Object.entries(s.labels).sort()) ===
      JSON.stringify(Object.entries(labels).sort())
  );
  return found?.value ?? 0;
}

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
          "p2p_federated_connections_total",
          "p2p_workers_online",
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
