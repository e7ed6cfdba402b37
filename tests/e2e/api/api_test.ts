// The HTTP API of running `p2p` processes, as a user (or LocalAI's UI) sees it: pools,
// balancer counters, LocalAI's /api/p2p shapes, health and readiness, JSON errors, and the
// loopback/bearer-token rules of --api-listen.
import { loopbackFlags, runP2P, spawnNode, stopAll, waitFor } from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { generateToken } from "../../../src/token/token.ts";
import {
  apiGet,
  getOnce,
  NODE_TEST,
  type PoolWorker,
  startTestNetwork,
  untilPoolOnline,
} from "./_fixtures.ts";

/** Go's `time.Time` JSON: RFC 3339 with an optional fraction of up to 9 digits. */
const GO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

interface FederatedStats {
  listen: string;
  strategy: string;
  accepted: number;
  active: number;
  noWorker: number;
  workers: { name: string; id: string; active: number; total: number; online: boolean }[];
}

interface NodeData {
  Name: string;
  ID: string;
  TunnelAddress: string;
  ServiceID: string;
  LastSeen: string;
}

interface Count {
  online: number;
  total: number;
}

/** Sends a request and returns the status, content type and decoded JSON body. */
async function call(
  api: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; type: string; body: Record<string, unknown> }> {
  const response = await fetch(`${api}${path}`, { ...init, signal: AbortSignal.timeout(5_000) });
  const type = response.headers.get("content-type") ?? "";
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status}, not JSON: ${text}`);
  }
  return { status: response.status, type, body };
}

/** Asserts a JSON error answer: the status, a JSON content type and a message. */
function assertJsonError(
  answer: { status: number; type: string; body: Record<string, unknown> },
  status: number,
  message: RegExp,
): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.match(answer.type, /^application\/json/);
  assert.equal(typeof answer.body.error, "string");
  assert.match(answer.body.error as string, message);
}

const sum = (ns: number[]): number => ns.reduce((a, b) => a + b, 0);

Deno.test({
  name: "p2p federated API: pools, balancer counters, LocalAI /api/p2p and stats, health",
  ...NODE_TEST,
  async fn() {
    const net = await startTestNetwork([
      { name: "alpha" },
      { name: "bravo" },
      { name: "rpc1", pool: "worker" },
    ]);
    try {
      const api = net.seed.api;

      // Both federated workers are listed online, with LastSeen and live connection counts.
      const pool = await untilPoolOnline(api, "federated", ["alpha", "bravo"]);
      // rpc1 joins on its own schedule: its entry is awaited before /api/p2p lists it.
      await untilPoolOnline(api, "worker", ["rpc1"]);
      for (const worker of pool) {
        assert.match(worker.lastSeen, GO_TIME, `lastSeen of ${worker.name}`);
        assert.match(worker.id, new RegExp(`-${worker.name}$`));
        assert.equal(typeof worker.receivedAgoMs, "number");
        assert.equal(worker.activeConnections, 0);
      }

      // A client connection held open shows as one active connection, then goes away.
      const held = await Deno.connect({
        hostname: "127.0.0.1",
        port: Number(net.balancer.split(":")[1]),
      });
      try {
        await held.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: held\r\n"));
        await waitFor(async () => {
          const { workers } = await apiGet<{ workers: PoolWorker[] }>(api, "/api/pools/federated");
          const fed = await apiGet<FederatedStats>(api, "/api/federated");
          return sum(workers.map((w) => w.activeConnections)) === 1 && fed.active === 1;
        }, { timeoutMs: 5_000, intervalMs: 50, message: "one active connection in the API" });
      } finally {
        held.close();
      }
      await waitFor(
        async () => (await apiGet<FederatedStats>(api, "/api/federated")).active === 0,
        {
          timeoutMs: 5_000,
          intervalMs: 50,
          message: "no active connection once the client closed",
        },
      );

      // Six client connections through the balancer move its counters by six.
      const before = await apiGet<FederatedStats>(api, "/api/federated");
      assert.equal(before.strategy, "round-robin");
      assert.equal(before.listen, net.balancer);
      const bodies: string[] = [];
      for (let i = 0; i < 6; i++) {
        const answer = await getOnce(net.balancer);
        assert.equal(answer.status, 200);
        bodies.push(answer.body.trim());
      }
      // Round-robin: three each (both workers stay online unless the machine is starved).
      const seen = { alpha: 0, bravo: 0 };
      for (const body of bodies) {
        const name = /^hello from (alpha|bravo)$/.exec(body)?.[1] as keyof typeof seen;
        assert.ok(name, body);
        seen[name]++;
      }
      const after = await waitFor(async () => {
        const stats = await apiGet<FederatedStats>(api, "/api/federated");
        return stats.active === 0 && stats.accepted === before.accepted + 6 ? stats : undefined;
      }, { timeoutMs: 5_000, intervalMs: 50, message: "accepted +6 in /api/federated" });
      assert.equal(after.noWorker, 0);
      const totalOf = (s: FederatedStats, name: string): number =>
        s.workers.find((w) => w.name === name)?.total ?? 0;
      // The counters agree with what the clients saw.
      for (const name of ["alpha", "bravo"] as const) {
        assert.equal(totalOf(after, name) - totalOf(before, name), seen[name], `${name}'s total`);
      }
      const pooled = await apiGet<{ workers: PoolWorker[] }>(api, "/api/pools/federated");
      assert.deepEqual(
        pooled.workers.map((w) => [w.name, w.totalConnections - totalOf(before, w.name)]),
        [["alpha", seen.alpha], ["bravo", seen.bravo]],
      );
      assert.ok(seen.alpha >= 1 && seen.bravo >= 1, `both workers answered: ${bodies}`);

      // LocalAI's /api/p2p: exactly its three keys, Go field names, every worker listed.
      const p2p = await apiGet<Record<string, NodeData[]>>(api, "/api/p2p");
      assert.deepEqual(Object.keys(p2p).sort(), [
        "federated_nodes",
        "llama_cpp_nodes",
        "mlx_nodes",
      ]);
      for (const node of [...p2p.federated_nodes!, ...p2p.llama_cpp_nodes!]) {
        assert.deepEqual(Object.keys(node).sort(), [
          "ID",
          "LastSeen",
          "Name",
          "ServiceID",
          "TunnelAddress",
        ]);
        assert.match(node.LastSeen, GO_TIME);
      }
      assert.deepEqual(p2p.federated_nodes!.map((n) => n.Name).sort(), ["alpha", "bravo"]);
      assert.deepEqual(p2p.llama_cpp_nodes!.map((n) => n.Name), ["rpc1"]);
      assert.deepEqual(p2p.mlx_nodes, []);

      // /api/p2p/stats counts online and known workers per LocalAI pool.
      const stats = await waitFor(async () => {
        const s = await apiGet<Record<string, Count>>(api, "/api/p2p/stats");
        return s.llama_cpp_workers?.online === 1 && s.federated?.online === 2 ? s : undefined;
      }, { timeoutMs: 10_000, intervalMs: 100, message: "every worker online in /api/p2p/stats" });
      assert.deepEqual(stats, {
        llama_cpp_workers: { online: 1, total: 1 },
        federated: { online: 2, total: 2 },
        mlx_workers: { online: 0, total: 0 },
      });

      // Health and readiness.
      const health = await call(api, "/healthz");
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: "ok" });
      const ready = await call(api, "/readyz");
      assert.equal(ready.status, 200);
      assert.equal(ready.body.ready, true);
      assert.deepEqual(ready.body.reasons, []);

      // A worker's own API: it does not balance, so /api/federated is a JSON 404.
      const worker = net.workers.find((w) => w.name === "alpha")!.node;
      assertJsonError(
        await call(worker.api, "/api/federated"),
        404,
        /does not run `p2p federated`/,
      );
      assert.equal((await call(worker.api, "/healthz")).status, 200);
    } finally {
      await net.stop();
    }
  },
});

Deno.test({
  name:
    "p2p federated API without workers: /readyz 503 with a reason; bad requests get JSON errors",
  ...NODE_TEST,
  async fn() {
    const seed = await spawnNode(
      ["federated", "--listen", "127.0.0.1:0", ...loopbackFlags()],
      { P2P_TOKEN: generateToken() },
    );
    try {
      const api = seed.api;
      const ready = await call(api, "/readyz");
      assert.equal(ready.status, 503);
      assert.equal(ready.body.ready, false);
      assert.deepEqual(ready.body.reasons, ["no worker online in federated"]);
      assert.equal((await call(api, "/healthz")).status, 200);

      // No worker: a client gets LocalAI's 503 and the counter says so.
      const answer = await getOnce(String(seed.start.listen));
      assert.equal(answer.status, 503);
      assert.match(answer.body, /waiting for nodes to connect/);
      const fed = await apiGet<FederatedStats>(api, "/api/federated");
      assert.equal(fed.noWorker, 1);
      assert.deepEqual(fed.workers, []);
      assert.deepEqual(await apiGet(api, "/api/pools/federated"), {
        pool: "federated",
        bucket: "federated",
        workers: [],
      });

      assertJsonError(await call(api, "/api/nope"), 404, /Cannot find \/api\/nope/);
      assertJsonError(await call(api, "/api/node", { method: "POST" }), 405, /not allowed/);
      assertJsonError(await call(api, "/metrics", { method: "DELETE" }), 405, /not allowed/);
      assertJsonError(
        await call(api, "/api/ledger/demo/key", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: "{not json",
        }),
        400,
        /not JSON/,
      );
      assertJsonError(
        await call(api, "/api/ledger/demo/key", {
          method: "PUT",
          body: JSON.stringify("x".repeat(1024 * 1024 + 10)),
        }),
        413,
        /larger than/,
      );
      assertJsonError(await call(api, "/api/ledger/nobucket"), 404, /bucket "nobucket"/);
      assertJsonError(await call(api, "/api/ledger/nobucket/nokey"), 404, /key "nokey"/);
      assertJsonError(await call(api, "/api/ledger/%E0%A4%A/k"), 400, /decode/);

      // Still answering, and a good write after the bad ones works.
      assert.equal((await call(api, "/healthz")).status, 200);
      const put = await call(api, "/api/ledger/demo/key", {
        method: "PUT",
        body: JSON.stringify({ ok: true }),
      });
      assert.equal(put.status, 200);
      assert.deepEqual(await apiGet(api, "/api/ledger/demo/key"), { ok: true });
    } finally {
      await stopAll([seed]);
    }
    const status = await seed.process.exited;
    assert.equal(status.code, 0, seed.process.stderrText);
  },
});

Deno.test({
  name: "--api-listen 0.0.0.0:0 without --api-token: exit 1 with a one-line error",
  ...NODE_TEST,
  async fn() {
    const flags = loopbackFlags().slice(0, -2);
    const result = await runP2P(
      ["node", ...flags, "--api-listen", "0.0.0.0:0"],
      { env: { P2P_TOKEN: generateToken() }, timeoutMs: 15_000 },
    );
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, "");
    assert.equal(
      result.stderr,
      'error: Cannot serve the API on "0.0.0.0:0": a non-loopback address requires --api-token\n',
    );
  },
});

Deno.test({
  name: "--api-token s3cret: no or wrong bearer → 401 JSON, the right bearer → 200; / is public",
  ...NODE_TEST,
  async fn() {
    const node = await spawnNode(
      ["node", ...loopbackFlags(), "--api-token", "s3cret"],
      { P2P_TOKEN: generateToken() },
    );
    try {
      // The dashboard page holds no data and asks for the token itself: it is public.
      const page = await fetch(`${node.api}/`);
      assert.equal(page.status, 200);
      assert.doesNotMatch(await page.text(), new RegExp(node.start.peerId));
      const paths = [
        "/healthz",
        "/api/node",
        "/metrics",
        "/api/dashboard",
        "/api/history",
        "/api/nope",
      ];
      for (const path of paths) {
        assertJsonError(await call(node.api, path), 401, /bearer token/);
        for (
          const authorization of [
            "Bearer wrong",
            "Bearer s3cret2",
            "Bearer",
            "s3cret",
            "Basic s3cret",
          ]
        ) {
          assertJsonError(
            await call(node.api, path, { headers: { authorization } }),
            401,
            /bearer/,
          );
        }
      }
      const ok = await call(node.api, "/api/node", {
        headers: { authorization: "Bearer s3cret" },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.peerId, node.start.peerId);
      // The scheme is case-insensitive, as HTTP says.
      const lower = await call(node.api, "/healthz", {
        headers: { authorization: "bearer s3cret" },
      });
      assert.equal(lower.status, 200);
      const metrics = await fetch(`${node.api}/metrics`, {
        headers: { authorization: "Bearer s3cret" },
      });
      assert.equal(metrics.status, 200);
      assert.match(await metrics.text(), /^# HELP /m);
      const history = await call(node.api, "/api/history?since=0", {
        headers: { authorization: "Bearer s3cret" },
      });
      assert.equal(history.status, 200);
      assert.ok(Array.isArray(history.body.at) && history.body.at.length > 0, "samples");
      assertJsonError(
        await call(node.api, "/api/history?since=yesterday", {
          headers: { authorization: "Bearer s3cret" },
        }),
        400,
        /^Cannot read since "yesterday": expected ms since the epoch$/,
      );
    } finally {
      await stopAll([node]);
    }
  },
});
