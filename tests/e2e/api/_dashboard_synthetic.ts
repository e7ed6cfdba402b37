// A synthetic node behind the dashboard page, for Chromium tests that need a state no real
// loopback network has: 50 nodes, relayed and limited paths (NAT traversal's fields), hostile
// names, 5 minutes of history with events. The page is served by the real router (same HTML,
// same CSP); the API answers come from `SyntheticNode`, through Playwright's request routing,
// so nothing listens and nothing leaves the browser.
import type { Page, Route } from "playwright-core";
import { addDashboardRoutes } from "../../../src/api/dashboard_routes.ts";
import { Router } from "../../../src/api/router.ts";
import type { ApiState } from "../../../src/api/state.ts";
import type { HistoryJson } from "../../../src/api/history.ts";

/** Where the synthetic node "is": a loopback discard port nothing listens on. */
export const ORIGIN = "http://127.0.0.1:9";
export const SELF = "12D3KooWSyntheticSelfNodexxxxxxxxxxxxxxxxxxxxxxx";
export const XSS_WORKER = `<img src=x onerror="window.__xss='worker'">`;
export const XSS_BUCKET = `"><svg onload="window.__xss='bucket'">`;
export const XSS_MEMBER = `<script>window.__xss='member'</script>`;

const BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

/** A peer ID-shaped name: readable start, a base58 tail that differs per name (as real ones do). */
export function peerId(name: string): string {
  let hash = 2166136261;
  let tail = "";
  for (let i = 0; tail.length < 44 - Math.min(name.length, 20); i++) {
    hash = Math.imul(hash ^ name.charCodeAt(i % name.length), 16777619) >>> 0;
    tail += BASE58[hash % 58];
  }
  return `12D3KooW${name.slice(0, 20)}${tail}`;
}
export const RELAY = peerId("relay");
export const RELAYED = peerId("natted");
export const LIMITED = peerId("limited");
export const DIRECT = peerId("direct");

interface Worker {
  name: string;
  id: string;
  peerId: string;
  online: boolean;
  offlineReason?: string;
}

/** The synthetic node: its API answers, and a history that grows by one sample per poll. */
export class SyntheticNode {
  readonly pools: { bucket: string; workers: Worker[] }[];
  readonly peers: Record<string, unknown>[];
  readonly members: string[];
  node: Record<string, unknown>;
  #at: number[] = [];
  #series = new Map<string, Record<string, (number | null)[]>>();
  #events: HistoryJson["events"] = [];
  #tick = 0;

  /** `nodes` workers, peers and members in all (50 by default), the first 5 workers charted. */
  constructor({ workers = 32, peers = 10, members = 8 } = {}) {
    const federated: Worker[] = [];
    const llama: Worker[] = [];
    for (let i = 0; i < workers; i++) {
      const name = i === 3 ? XSS_WORKER : `${i < 20 ? "api" : "rpc"}-${String(i).padStart(2, "0")}`;
      const worker = {
        name,
        id: `host-${i}`,
        peerId: peerId(`worker${i}`),
        online: i % 7 !== 5,
        ...(i % 7 === 5 ? { offlineReason: "disconnected" } : {}),
      };
      (i < 20 ? federated : llama).push(worker);
    }
    this.pools = [
      { bucket: "federated", workers: federated },
      { bucket: "worker", workers: llama },
    ].filter((p) => p.workers.length > 0);
    const all = [...federated, ...llama];
    this.peers = [
      ...all.filter((w) => w.online).map((w) => ({ peerId: w.peerId, direction: "inbound" })),
      { peerId: RELAY, direction: "outbound", relayed: false, member: true, latencyMs: 12.5 },
      { peerId: RELAYED, direction: "outbound", relayed: true, relay: RELAY, member: true },
      { peerId: LIMITED, relayed: true, relay: RELAY, limits: { bytes: 131072, seconds: 120 } },
      { peerId: DIRECT, direction: "inbound" }, // no NAT fields: direct
      ...Array.from({ length: Math.max(0, peers - 4) }, (_, i) => ({
        peerId: peerId(`peer${i}`),
        member: i % 3 !== 0,
      })),
    ];
    this.members = [
      XSS_MEMBER,
      ...Array.from({ length: Math.max(0, members - 1) }, (_, i) => peerId(`member${i}`)),
    ];
    this.node = { peerId: SELF, addresses: ["/ip4/127.0.0.1/tcp/4001"], version: "0.1.0" };
    const start = 1_700_000_000_000;
    for (let i = 0; i < 300; i++) this.#sample(start + i * 1000);
    const charted = federated.slice(0, 5);
    this.#events = [
      {
        at: start + 120_000,
        kind: "offline",
        pool: "federated",
        worker: charted[1]!.id,
        name: charted[1]!.name,
        reason: "disconnected",
      },
      { at: start + 180_000, kind: "failover", count: 2, workers: [charted[1]!.id] },
      {
        at: start + 240_000,
        kind: "online",
        pool: "federated",
        worker: charted[1]!.id,
        name: charted[1]!.name,
      },
    ];
  }

  /** The workers with charts (the first five of the federated pool). */
  get charted(): Worker[] {
    return this.pools[0]!.workers.slice(0, 5);
  }

  #sample(at: number): void {
    this.#at.push(at);
    const t = this.#tick++;
    for (const [i, worker] of this.pools[0]!.workers.slice(0, 5).entries()) {
      const wave = 3 + 2 * Math.sin((t + i * 13) / 9);
      const gap = i === 1 && t >= 120 && t < 240; // offline for two minutes
      const series = this.#series.get(worker.id) ?? {};
      const push = (name: string, value: number | null) =>
        (series[name] ??= []).push(gap ? null : value);
      push("connectionsPerS", wave);
      push("failedPerS", 0);
      push("active", Math.round(wave / 2));
      push("bytesToWorkerPerS", wave * 900);
      push("bytesFromWorkerPerS", wave * 300);
      push("connectP50Ms", 1.5 + i * 0.2);
      push("connectP99Ms", 6 + i);
      this.#series.set(worker.id, series);
    }
  }

  #history(since: number): HistoryJson {
    // Every poll after the first brings one new sample: the charts have to move.
    if (Number.isFinite(since)) this.#sample(this.#at.at(-1)! + 1000);
    const keep = this.#at.map((t, i) => [t, i] as const).filter(([t]) => t > since).map(([, i]) =>
      i
    );
    const pick = (values: (number | null)[]) => keep.map((i) => values[i] ?? null);
    const workers = this.charted.map((w) => ({
      id: w.id,
      name: w.name,
      series: Object.fromEntries(
        Object.entries(this.#series.get(w.id)!).map(([k, v]) => [k, pick(v)]),
      ),
    }));
    const total = (name: string) =>
      keep.map((i) =>
        workers.reduce((sum, w) => sum + (this.#series.get(w.id)![name]![i] ?? 0), 0)
      );
    return {
      intervalMs: 1000,
      capacity: 900,
      latencyWindowMs: 10_000,
      at: keep.map((i) => this.#at[i]!),
      totals: {
        peers: keep.map(() => this.peers.length),
        tunnelsActive: total("active"),
        tunnelBytesInPerS: total("bytesFromWorkerPerS"),
        tunnelBytesOutPerS: total("bytesToWorkerPerS"),
        connectionsPerS: total("connectionsPerS"),
        connectP50Ms: keep.map(() => 1.7),
        connectP99Ms: keep.map(() => 8.5),
      },
      workers: workers as unknown as HistoryJson["workers"],
      events: this.#events.filter((e) => e.at > since),
      untrackedWorkers: 0,
    };
  }

  /** The answer to an API path, as the real node would give it. */
  answer(url: URL): unknown {
    switch (url.pathname) {
      case "/api/dashboard":
        return {
          node: {
            peerId: SELF,
            role: "federated",
            version: "0.1.0",
            uptimeS: 3600,
            addresses: ["/ip4/127.0.0.1/tcp/4001"],
            ledgerIndex: 42,
          },
          peers: [],
          pools: this.pools.map((p) => ({
            bucket: p.bucket,
            workers: p.workers.map((w) => ({
              ...w,
              addresses: [],
              lastSeen: "",
              receivedAgoMs: 2000,
              activeConnections: 1,
              totalConnections: 10,
            })),
          })),
          members: this.members,
          proven: [],
          federated: null,
          ledger: [{ bucket: "users", keys: this.members.length }, { bucket: XSS_BUCKET, keys: 1 }],
          at: this.#at.at(-1),
        };
      case "/api/peers":
        return this.peers;
      case "/api/node":
        return this.node;
      case "/api/history":
        return this.#history(Number(url.searchParams.get("since") ?? -Infinity) || -Infinity);
    }
    return undefined;
  }
}

/** Serves the real page at `ORIGIN/` and `node`'s answers to `page`; returns the API paths asked. */
export async function serveSynthetic(page: Page, node: SyntheticNode): Promise<string[]> {
  const asked: string[] = [];
  const pageRouter = addDashboardRoutes(new Router(), {} as ApiState);
  await page.route(`${ORIGIN}/**`, async (route: Route) => {
    const url = new URL(route.request().url());
    if (url.pathname === "/") {
      const response = await pageRouter.handle(new Request(url));
      return route.fulfill({
        status: response.status,
        headers: Object.fromEntries(response.headers),
        body: await response.text(),
      });
    }
    asked.push(url.pathname + url.search);
    const body = node.answer(url);
    if (body === undefined) return route.fulfill({ status: 404, body: "{}" });
    return route.fulfill({
      status: 200,
      contentType: "application/json",
      body: JSON.stringify(body),
    });
  });
  return asked;
}
