// The dashboard's ring buffer, fed synthetic counter snapshots (no node, no timer): rates per
// second from successive counters, p50/p99 over a window of the latency histogram, events,
// the capacity bound, and `since`.
import assert from "node:assert/strict";
import type { CounterSnapshot } from "../../src/api/counters.ts";
import { MetricsHistory } from "../../src/api/history.ts";
import type { FederatedStats } from "../../src/federated/options.ts";
import {
  emptyLatencyHistogram,
  type LatencyHistogram,
  latencyQuantile,
  observeLatency,
} from "../../src/federated/latency_histogram.ts";

type Worker = FederatedStats["workers"][number];

function worker(id: string, fields: Partial<Worker> = {}): Worker {
  return {
    id,
    name: id,
    online: true,
    active: 0,
    opening: 0,
    total: 0,
    failed: 0,
    bytesSent: 0,
    bytesReceived: 0,
    consecutiveFailures: 0,
    backoffUntil: 0,
    connectMs: emptyLatencyHistogram(),
    ...fields,
  };
}

function snapshot(at: number, workers: Worker[], extra: Partial<FederatedStats> = {}) {
  const federated = {
    listen: "127.0.0.1:1",
    strategy: "round-robin",
    targetWorker: undefined,
    accepted: 0,
    active: 0,
    waiting: 0,
    refused: 0,
    evicted: 0,
    idleClosed: 0,
    noWorker: 0,
    failovers: 0,
    failed: 0,
    workers,
    ...extra,
  } as FederatedStats;
  return {
    at,
    peers: workers.length,
    tunnels: { active: 0, total: 0, failed: 0, bytesSent: 0, bytesReceived: 0 },
    federated,
    poolWorkers: workers.map((w) => ({
      pool: "federated",
      id: w.id,
      name: w.name,
      online: w.online,
      offlineReason: w.online ? undefined : "disconnected",
    })),
  } satisfies CounterSnapshot;
}

function histogramOf(values: number[]): LatencyHistogram {
  const h = emptyLatencyHistogram();
  for (const v of values) observeLatency(h, v);
  return h;
}

Deno.test("latencyQuantile: interpolates inside the bucket of the rank, as Prometheus does", () => {
  // 90 tunnels at 0.8 ms (bucket (0.5, 1]), 10 at 40 ms (bucket (25, 50]).
  const h = histogramOf([...Array(90).fill(0.8), ...Array(10).fill(40)]);
  assert.equal(h.count, 100);
  assert.ok(Math.abs(h.sumMs - (90 * 0.8 + 400)) < 1e-9);
  // rank 50 of 90 in (0.5, 1]: 0.5 + 0.5 · 50/90.
  assert.ok(Math.abs(latencyQuantile(h.counts, 0.5) - (0.5 + 0.5 * (50 / 90))) < 1e-9);
  // rank 99: the 9th of 10 in (25, 50].
  assert.ok(Math.abs(latencyQuantile(h.counts, 0.99) - (25 + 25 * 0.9)) < 1e-9);
  // Above the last bound: the highest finite bound.
  assert.equal(latencyQuantile(histogramOf([60_000]).counts, 0.5), 5_000);
});

Deno.test("history: rates per second between samples, latency over the window", () => {
  const history = new MetricsHistory({ capacity: 10, latencyWindow: 2 });
  history.record(snapshot(1_000, [worker("a")]));
  history.record(
    snapshot(3_000, [worker("a", { total: 10, bytesSent: 2048, bytesReceived: 512 })]),
  );
  history.record(snapshot(4_000, [
    worker("a", {
      total: 13,
      failed: 1,
      active: 2,
      bytesSent: 2048,
      bytesReceived: 512,
      connectMs: histogramOf([4, 4, 4]),
    }),
  ]));
  const json = history.read();
  assert.deepEqual(json.at, [1_000, 3_000, 4_000]);
  const a = json.workers.find((w) => w.id === "a")!.series;
  // The first sample has no previous one: no rate.
  assert.deepEqual(a.connectionsPerS, [null, 5, 3]);
  assert.deepEqual(a.bytesToWorkerPerS, [null, 1024, 0]);
  assert.deepEqual(a.bytesFromWorkerPerS, [null, 256, 0]);
  assert.deepEqual(a.failedPerS, [null, 0, 1]);
  assert.deepEqual(a.active, [0, 0, 2]);
  assert.deepEqual(a.connectP50Ms, [null, null, 4]);
  // Two samples later the window no longer holds those three tunnels.
  history.record(snapshot(5_000, [worker("a", { total: 13, connectMs: histogramOf([4, 4, 4]) })]));
  history.record(snapshot(6_000, [worker("a", { total: 13, connectMs: histogramOf([4, 4, 4]) })]));
  assert.deepEqual(history.read().workers[0]!.series.connectP50Ms.slice(-3), [4, 4, null]);
  assert.deepEqual(history.read().totals.connectP50Ms.slice(-3), [4, 4, null]);
});

Deno.test("history: a worker new to the balancer counts from zero", () => {
  const history = new MetricsHistory({ capacity: 10 });
  history.record(snapshot(1_000, [worker("a")]));
  history.record(snapshot(2_000, [worker("a"), worker("b", { total: 4 })]));
  const b = history.read().workers.find((w) => w.id === "b")!.series;
  assert.deepEqual(b.connectionsPerS, [null, 4]);
});

Deno.test("history: a ring of `capacity` samples; `since` returns only newer ones", () => {
  const history = new MetricsHistory({ capacity: 5 });
  for (let i = 0; i < 12; i++) {
    history.record(snapshot(i * 1000, [worker("a", { total: i * 2 })]));
  }
  const json = history.read();
  assert.deepEqual(json.at, [7_000, 8_000, 9_000, 10_000, 11_000]);
  assert.deepEqual(json.workers[0]!.series.connectionsPerS, [2, 2, 2, 2, 2]);
  assert.deepEqual(history.read(9_000).at, [10_000, 11_000]);
  assert.deepEqual(history.read(9_000).workers[0]!.series.connectionsPerS, [2, 2]);
  assert.deepEqual(history.read(11_000).at, []);
});

Deno.test("history: at most maxWorkers series; a worker gone for a whole capacity is forgotten", () => {
  const history = new MetricsHistory({ capacity: 4, maxWorkers: 2 });
  history.record(snapshot(0, [worker("a"), worker("b"), worker("c")]));
  let json = history.read();
  assert.deepEqual(json.workers.map((w) => w.id), ["a", "b"]);
  assert.equal(json.untrackedWorkers, 1);
  for (let i = 1; i <= 4; i++) history.record(snapshot(i * 1000, [worker("c")]));
  json = history.read();
  assert.deepEqual(json.workers.map((w) => w.id), ["c"], "a and b forgotten, room for c");
  assert.equal(json.untrackedWorkers, 0);
});

Deno.test("history: online, offline, failover and failed events, oldest first", () => {
  const history = new MetricsHistory({ capacity: 100 });
  // Offline at the first sample: a starting state, not an event.
  history.record(snapshot(1_000, [worker("a"), worker("b", { online: false })]));
  history.record(snapshot(2_000, [worker("a", { online: false }), worker("b")]));
  history.record(
    snapshot(3_000, [worker("a", { online: false, failed: 2 }), worker("b", { total: 2 })], {
      failovers: 2,
      failed: 1,
    }),
  );
  history.record(snapshot(4_000, [worker("b", { total: 2 })], { failovers: 2, failed: 1 }));
  assert.deepEqual(history.read().events, [
    {
      at: 2_000,
      kind: "offline",
      pool: "federated",
      worker: "a",
      name: "a",
      reason: "disconnected",
    },
    { at: 2_000, kind: "online", pool: "federated", worker: "b", name: "b" },
    { at: 3_000, kind: "failover", count: 2, workers: ["a"] },
    { at: 3_000, kind: "failed", count: 1 },
  ]);
  assert.deepEqual(history.read(2_500).events.map((e) => e.kind), ["failover", "failed"]);
  // b leaving the pool while online is an event too.
  history.record(snapshot(5_000, [], { failovers: 2, failed: 1 }));
  assert.deepEqual(history.read(4_500).events, [
    { at: 5_000, kind: "offline", pool: "federated", worker: "b", name: "b", reason: "removed" },
  ]);
});

Deno.test("history: events are bounded by maxEvents and by the samples held", () => {
  const history = new MetricsHistory({ capacity: 3, maxEvents: 4 });
  for (let i = 0; i < 20; i++) {
    history.record(snapshot(i * 1000, [worker("a", { online: i % 2 === 0 })]));
  }
  const events = history.read().events;
  assert.deepEqual(events.map((e) => e.at), [17_000, 18_000, 19_000]);
});
