// The federated balancer end to end: clients → FederatedServer → tunnels → workers → named
// backends. In-process nodes where nothing is killed; `p2p` processes where one is.
import { waitFor, withTimeout } from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  closeAllHeld as closeAll,
  closedPort,
  closeQuietly,
  connectTo,
  type HeldConnection,
  nameVia,
  openHeld,
  parseAnswer,
  Pattern,
  patternSha256,
  readAll,
  request,
  tallyNames as tally,
  untilOnline,
  withFedCluster as withCluster,
  WORKER_HOST,
  writeAll,
} from "./_fixtures.ts";

const NAMES = ["alpha", "beta", "gamma"];
const IDS = NAMES.map((n) => `${WORKER_HOST}-${n}`);
const MiB = 1024 * 1024;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** LocalAI's answer when no worker is online, byte for byte. */
const NO_WORKER_ANSWER = "HTTP/1.1 503 Service Unavailable\r\n" +
  "Content-Type: text/html\r\n" +
  "Connection: close\r\n" +
  "\r\n" +
  "<html><body><h1>Sorry, waiting for nodes to connect</h1></body></html>\r\n";

/** Runs `tasks` with at most `limit` in flight. */
async function pooled<T>(count: number, limit: number, task: (i: number) => Promise<T>) {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }));
  return results;
}

// ---------------------------------------------------------------------------------------
// Strategies

Deno.test({
  name: "round-robin over 600 short connections: exactly 200 answers from each worker",
  async fn() {
    await withCluster(async (cluster) => {
      const server = await cluster.startServer({ strategy: "round-robin" });
      await untilOnline(server, IDS);
      const names = await pooled(600, 8, () => nameVia(server.address));
      assert.deepEqual(tally(names), { alpha: 200, beta: 200, gamma: 200 });
      // The balancer's books close once the last client has gone.
      const stats = await waitFor(() => server.stats().active === 0 && server.stats(), {
        message: "every connection released",
        timeoutMs: 5_000,
      });
      assert.equal(stats.accepted, 600);
      assert.equal(stats.failovers, 0);
      assert.deepEqual(stats.workers.map((w) => [w.name, w.total, w.active]), [
        ["alpha", 200, 0],
        ["beta", 200, 0],
        ["gamma", 200, 0],
      ]);
    });
  },
});

Deno.test({
  name: "least-connections with 30 long-lived connections keeps live counts within 1",
  async fn() {
    await withCluster(async (cluster) => {
      const server = await cluster.startServer({ strategy: "least-connections" });
      await untilOnline(server, IDS);
      // Short connections first, all finished: they must not skew the live counts.
      for (let i = 0; i < 7; i++) await nameVia(server.address);
      const held: HeldConnection[] = [];
      try {
        // Opened in bursts of 10 at once, as clients do.
        for (let burst = 0; burst < 3; burst++) {
          held.push(
            ...await Promise.all(Array.from({ length: 10 }, () => openHeld(server.address))),
          );
        }
        const active = server.stats().workers.map((w) => w.active);
        assert.equal(active.reduce((a, b) => a + b, 0), 30);
        assert.ok(Math.max(...active) - Math.min(...active) <= 1, `live counts ${active}`);
        // What the clients saw agrees with the balancer's counters.
        const seen = tally(held.map((h) => h.name));
        assert.deepEqual(
          server.stats().workers.map((w) => seen[w.name] ?? 0),
          active,
        );
        // Closing the connections on one worker sends the next ones there.
        for (const h of held.filter((h) => h.name === "beta")) closeQuietly(h.conn);
        await waitFor(
          () => server.stats().workers.find((w) => w.name === "beta")?.active === 0,
          { message: "beta's connections released", timeoutMs: 5_000 },
        );
        const next = await openHeld(server.address);
        held.push(next);
        assert.equal(next.name, "beta");
      } finally {
        closeAll(held);
      }
    });
  },
});

Deno.test({
  name: "--target-worker pins every connection, by ID and by name; unknown → 503 naming it",
  async fn() {
    await withCluster(async (cluster) => {
      const byId = await cluster.startServer({ targetWorker: `${WORKER_HOST}-beta` });
      const byName = await cluster.startServer({ targetWorker: "gamma" });
      const unknown = await cluster.startServer({ targetWorker: "nobody" });
      await untilOnline(byId, IDS);
      await untilOnline(byName, IDS);
      await untilOnline(unknown, IDS);
      const viaId = await pooled(20, 4, () => nameVia(byId.address));
      assert.deepEqual(tally(viaId), { beta: 20 });
      const viaName = await pooled(20, 4, () => nameVia(byName.address));
      assert.deepEqual(tally(viaName), { gamma: 20 });
      // The counters name the real worker, whichever way it was pinned.
      for (const [server, name] of [[byId, "beta"], [byName, "gamma"]] as const) {
        const stats = await waitFor(() => server.stats().active === 0 && server.stats(), {
          message: "every connection released",
          timeoutMs: 5_000,
        });
        assert.deepEqual(
          stats.workers.filter((w) => w.total > 0).map((w) => ({
            id: w.id,
            name: w.name,
            online: w.online,
            total: w.total,
          })),
          [{ id: `${WORKER_HOST}-${name}`, name, online: true, total: 20 }],
        );
      }
      assert.equal(byName.stats().targetWorker, "gamma");

      const answer = await request(unknown.address);
      assert.equal(answer.status, 503);
      assert.match(answer.head, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
      assert.match(answer.body, /nobody/);
      assert.equal(unknown.stats().noWorker, 1);
    });
  },
});

// ---------------------------------------------------------------------------------------
// No worker, failover, limits

Deno.test({
  name: "no worker online: the client gets LocalAI's exact 503 answer",
  async fn() {
    await withCluster(async (cluster) => {
      // A pool nobody serves (the workers of the cluster are in "federated").
      const server = await cluster.startServer({ pool: "empty_federated" });
      for (let i = 0; i < 3; i++) {
        const answer = await request(server.address);
        assert.equal(answer.raw, NO_WORKER_ANSWER);
      }
      assert.equal(server.stats().noWorker, 3);
      assert.equal(server.stats().accepted, 3);
    }, []);
  },
});

Deno.test({
  name: "a worker whose backend is down: every client still gets an answer (failover)",
  async fn() {
    await withCluster(async (cluster) => {
      const down = await cluster.addWorker("delta", `127.0.0.1:${closedPort()}`);
      const server = await cluster.startServer({ strategy: "round-robin" });
      await untilOnline(server, [...IDS, down.id]);
      const names = await pooled(40, 4, () => nameVia(server.address));
      assert.equal(names.length, 40);
      assert.ok(!names.includes("delta"));
      assert.deepEqual(Object.keys(tally(names)).sort(), NAMES);
      const stats = server.stats();
      const delta = stats.workers.find((w) => w.id === down.id)!;
      assert.ok(stats.failovers > 0, `failovers: ${stats.failovers}`);
      assert.equal(stats.failed, 0);
      assert.equal(delta.total, 0);
      assert.ok(delta.failed > 0);
      console.log(
        `  failovers: ${stats.failovers} over 40 connections; delta failed ${delta.failed} times`,
      );
    });
  },
});

Deno.test({
  name:
    "confirmFirst (nothing sent before a worker confirms): a worker whose backend is down, every client still gets an answer",
  async fn() {
    await withCluster(async (cluster) => {
      const down = await cluster.addWorker("delta", `127.0.0.1:${closedPort()}`);
      const server = await cluster.startServer({ strategy: "round-robin", confirmFirst: true });
      await untilOnline(server, [...IDS.slice(0, 1), down.id]);
      const names = await pooled(20, 4, () => nameVia(server.address));
      assert.deepEqual(tally(names), { alpha: 20 });
      const stats = server.stats();
      assert.ok(stats.failovers > 0, `failovers: ${stats.failovers}`);
      assert.equal(stats.failed, 0);
      assert.ok(stats.workers.find((w) => w.id === down.id)!.failed > 0);
    }, NAMES.slice(0, 1));
  },
});

Deno.test({
  name: "over maxConnections: extra connections are closed when they speak, counted as refused",
  async fn() {
    await withCluster(async (cluster) => {
      const server = await cluster.startServer({ maxConnections: 2 });
      await untilOnline(server, IDS);
      const held: HeldConnection[] = [];
      try {
        held.push(await openHeld(server.address), await openHeld(server.address));
        for (let i = 0; i < 3; i++) {
          const conn = await connectTo(server.address);
          try {
            // The tunnel would open on the first byte: the cap applies then.
            await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: test\r\n\r\n"));
            // Closed by the balancer without a byte: EOF (or a reset), never an answer.
            const got = await withTimeout(
              readAll(conn).then((b) => decoder.decode(b), () => ""),
              5_000,
              "the refused connection to be closed",
            );
            assert.equal(got, "");
          } finally {
            closeQuietly(conn);
          }
        }
        assert.equal(server.stats().refused, 3);
        assert.equal(server.stats().active, 2);
        // Below the cap again, connections are served.
        closeQuietly(held.pop()!.conn);
        await waitFor(() => server.stats().active === 1, {
          message: "the closed connection released",
          timeoutMs: 5_000,
        });
        assert.ok(NAMES.includes(await nameVia(server.address)));
        assert.equal(server.stats().refused, 3);
      } finally {
        closeAll(held);
      }
    });
  },
});

// ---------------------------------------------------------------------------------------
// Bytes

Deno.test({
  name:
    "half-close through the balancer: the client uploads, shuts its write side, gets the answer",
  async fn() {
    await withCluster(async (cluster) => {
      const server = await cluster.startServer();
      await untilOnline(server, cluster.workers.map((w) => w.id));
      const body = encoder.encode("hello through the balancer\n".repeat(1000));
      const conn = await connectTo(server.address);
      try {
        const answer = await withTimeout(
          (async () => {
            await writeAll(conn, encoder.encode("POST /upload HTTP/1.1\r\nHost: test\r\n\r\n"));
            await writeAll(conn, body);
            await conn.closeWrite();
            return parseAnswer(decoder.decode(await readAll(conn)));
          })(),
          10_000,
          "the upload's answer",
        );
        const sha = createHash("sha256").update(body).digest("hex");
        assert.equal(answer.status, 200);
        assert.equal(answer.body, `alpha ${body.byteLength} ${sha}\n`);
      } finally {
        closeQuietly(conn);
      }
    }, ["alpha"]);
  },
});

Deno.test({
  name: "bytes through the balancer are exact: sha256 of 8 MiB up and 8 MiB down",
  async fn() {
    await withCluster(async (cluster) => {
      const server = await cluster.startServer();
      await untilOnline(server, cluster.workers.map((w) => w.id));
      const size = 8 * MiB;
      // A worker that confirmed on its connection before gets the client's first bytes with
      // the stream's opening, the rest through the bridge: the upload below goes that way.
      assert.equal(await nameVia(server.address), "alpha");

      // Upload: the backend hashes what arrives.
      const up = await connectTo(server.address);
      try {
        const hash = createHash("sha256");
        const answer = await withTimeout(
          Promise.all([
            (async () => {
              await writeAll(up, encoder.encode("POST /upload HTTP/1.1\r\nHost: t\r\n\r\n"));
              const pattern = new Pattern(11);
              for (let left = size; left > 0;) {
                const chunk = pattern.next(Math.min(Pattern.CHUNK, left));
                hash.update(chunk);
                await writeAll(up, chunk);
                left -= chunk.byteLength;
              }
              await up.closeWrite();
            })(),
            readAll(up),
          ]),
          30_000,
          "the 8 MiB upload",
        );
        assert.equal(
          parseAnswer(decoder.decode(answer[1])).body,
          `alpha ${size} ${hash.digest("hex")}\n`,
        );
      } finally {
        closeQuietly(up);
      }

      // Download: the client hashes what arrives after the name line.
      const down = await connectTo(server.address);
      try {
        await writeAll(down, encoder.encode(`GET /download?bytes=${size} HTTP/1.1\r\n\r\n`));
        const raw = await withTimeout(readAll(down), 30_000, "the 8 MiB download");
        const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" +
          "alpha\n";
        const prefix = encoder.encode(head);
        assert.equal(decoder.decode(raw.subarray(0, prefix.byteLength)), head);
        const payload = raw.subarray(prefix.byteLength);
        assert.equal(payload.byteLength, size);
        assert.equal(createHash("sha256").update(payload).digest("hex"), patternSha256(size));
      } finally {
        closeQuietly(down);
      }
      const alpha = await waitFor(() => server.stats().active === 0 && server.stats().workers[0], {
        message: "both connections released",
        timeoutMs: 5_000,
      });
      assert.ok(alpha.bytesSent >= size && alpha.bytesReceived >= size, JSON.stringify(alpha));
    }, ["alpha"]);
  },
});
