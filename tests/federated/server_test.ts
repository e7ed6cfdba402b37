// The federated balancer end to end: clients → FederatedServer → tunnels → workers → named
// backends. In-process nodes where nothing is killed; `p2p` processes where one is.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
  withTimeout,
} from "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import type { FederatedStats } from "../../src/federated/server.ts";
import {
  closedPort,
  closeQuietly,
  connectTo,
  endOf,
  type FedCluster,
  type HeldConnection,
  nameVia,
  NODE_TEST,
  openHeld,
  parseAnswer,
  Pattern,
  patternSha256,
  readAll,
  request,
  startFedCluster,
  startNamedBackend,
  untilOnline,
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

/** Runs `fn` with a three-worker cluster, stopped afterwards whatever happens. */
async function withCluster(
  fn: (cluster: FedCluster) => Promise<void>,
  names = NAMES,
): Promise<void> {
  const cluster = await startFedCluster(names);
  try {
    await fn(cluster);
  } finally {
    await cluster.stop();
  }
}

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

function tally(names: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

function closeAll(held: (HeldConnection | undefined)[]): void {
  for (const h of held) if (h !== undefined) closeQuietly(h.conn);
}

// ---------------------------------------------------------------------------------------
// Strategies

Deno.test({
  name: "round-robin over 600 short connections: exactly 200 answers from each worker",
  ...NODE_TEST,
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
  ...NODE_TEST,
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
  ...NODE_TEST,
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
  ...NODE_TEST,
  async fn() {
    await withCluster(async (cluster) => {
      // A pool nobody serves (the workers of the cluster are in "federated").
      const server = await cluster.startServer({ bucket: "empty_federated" });
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
  ...NODE_TEST,
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
  name: "over maxConnections: extra connections are closed when they speak, counted as refused",
  ...NODE_TEST,
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
  ...NODE_TEST,
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
  ...NODE_TEST,
  async fn() {
    await withCluster(async (cluster) => {
      const server = await cluster.startServer();
      await untilOnline(server, cluster.workers.map((w) => w.id));
      const size = 8 * MiB;

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
      assert.ok(alpha.bytesIn >= size && alpha.bytesOut >= size, JSON.stringify(alpha));
    }, ["alpha"]);
  },
});

// ---------------------------------------------------------------------------------------
// Processes: a worker killed, the balancer drained and restarted

Deno.test({
  name:
    "a worker process killed while clients connect: every later connection succeeds, its open ones end",
  ...NODE_TEST,
  async fn() {
    await withCluster(async (cluster) => {
      const backend = startNamedBackend("delta");
      let delta: RunningNode | undefined;
      const held: HeldConnection[] = [];
      try {
        delta = await spawnNode(
          [
            "worker",
            "--target",
            backend.address,
            "--name",
            "delta",
            ...loopbackFlags([
              cluster.seedAddr,
            ]),
          ],
          { P2P_TOKEN: cluster.tokenText },
        );
        const deltaId = `${Deno.hostname()}-delta`;
        const server = await cluster.startServer({ strategy: "round-robin" });
        await untilOnline(server, [...IDS.slice(0, 2), deltaId]);
        for (let i = 0; i < 6; i++) held.push(await openHeld(server.address));
        assert.deepEqual(tally(held.map((h) => h.name)), { alpha: 2, beta: 2, delta: 2 });

        // 20 clients one after the other; the worker is killed after the 3rd.
        const answers: string[] = [];
        let exitedAt = 0;
        for (let i = 0; i < 20; i++) {
          if (i === 3) {
            delta.process.child.kill("SIGKILL");
            void delta.process.exited.then(() => (exitedAt = Date.now()));
          }
          answers.push(await nameVia(server.address, 10_000));
        }
        assert.equal(answers.length, 20);
        await withTimeout(delta.process.exited, 5_000, "the killed worker to exit");

        // The connections open on the killed worker end (closed or reset, not hung).
        const onDelta = held.filter((h) => h.name === "delta");
        const ends = await Promise.all(onDelta.map((h) => endOf(h, 10_000)));
        assert.equal(ends.length, 2);
        // A client closes its side after the end; the balancer then releases the slots.
        for (const h of onDelta) closeQuietly(h.conn);
        // The pool view drops it within ~2 s of its death.
        await untilOnline(server, IDS.slice(0, 2), 5_000);
        const droppedAfter = Date.now() - exitedAt;
        assert.ok(droppedAfter <= 2_000, `dropped ${droppedAfter} ms after the exit`);
        // The others keep their connections.
        // (and the last client's connection to another worker finished: a cut tunnel is
        // released at once, sooner than that one may be)
        const others = () =>
          JSON.stringify(
            server.stats().workers.filter((w) => w.name !== "delta").map((w) => [w.name, w.active]),
          );
        const stats = await waitFor(
          () =>
            server.stats().workers.find((w) => w.name === "delta")?.active === 0 &&
            others() === JSON.stringify([["alpha", 2], ["beta", 2]]) && server.stats(),
          { message: "delta's connections released", timeoutMs: 5_000 },
        ).catch(() => server.stats());
        assert.deepEqual(
          stats.workers.filter((w) => w.name !== "delta").map((w) => [w.name, w.active]),
          [["alpha", 2], ["beta", 2]],
        );
        assert.equal(stats.failed, 0);
        console.log(
          `  after the kill: ${tally(answers.slice(3)).delta ?? 0} answers from delta, ` +
            `${stats.failovers} failovers, dropped from the view ${droppedAfter} ms after exit; ` +
            `its open connections ended with ${ends.join(", ")}`,
        );
      } finally {
        closeAll(held);
        await stopAll([delta]);
        await backend.close();
      }
    }, NAMES.slice(0, 2));
  },
});

/** Spawns `p2p federated` on loopback, bootstrapping to the cluster's seed. */
function spawnFederated(cluster: FedCluster, listen: string, extra: string[] = []) {
  return spawnNode(
    ["federated", "--listen", listen, ...extra, ...loopbackFlags([cluster.seedAddr])],
    { P2P_TOKEN: cluster.tokenText },
  );
}

Deno.test({
  name: "SIGTERM on p2p federated: it stops accepting, the open connection finishes, exit 0",
  ...NODE_TEST,
  async fn() {
    await withCluster(async (cluster) => {
      let fed: RunningNode | undefined;
      let slow: HeldConnection | undefined;
      try {
        fed = await spawnFederated(cluster, "127.0.0.1:0", ["--drain-timeout", "20"]);
        const listen = String(fed.start.listen);
        await waitFor(async () => (await request(listen, "/", 5_000)).status === 200, {
          message: "the worker routable through p2p federated",
        });
        slow = await openHeld(listen, "/slow");
        assert.equal(slow.name, "alpha");
        const process = fed.process;
        process.child.kill("SIGTERM");
        await waitFor(() => process.stderrLines.some((l) => l.includes("Draining 1 connection")), {
          message: "the drain to start",
        });
        // It no longer accepts…
        await assert.rejects(connectTo(listen), Deno.errors.ConnectionRefused);
        // …and still serves the open connection to its end.
        cluster.workers[0]!.backend.release();
        const rest = await withTimeout(readAll(slow.conn), 10_000, "the rest of the slow answer");
        assert.equal(slow.rest + decoder.decode(rest), "done\n");
        closeQuietly(slow.conn); // the client closes once it has the whole answer
        const status = await withTimeout(process.exited, 15_000, "p2p federated to exit");
        assert.equal(status.code, 0, process.stderrText);
      } finally {
        if (slow !== undefined) closeQuietly(slow.conn);
        await stopAll([fed]);
      }
    }, ["alpha"]);
  },
});

Deno.test({
  name:
    "p2p federated restarted with the same token: the workers are routable within 2 s of its start line",
  ...NODE_TEST,
  async fn() {
    await withCluster(async (cluster) => {
      let first: RunningNode | undefined;
      let second: RunningNode | undefined;
      try {
        first = await spawnFederated(cluster, "127.0.0.1:0", ["--strategy", "round-robin"]);
        const listen = String(first.start.listen);
        await waitFor(async () => (await request(listen, "/", 5_000)).status === 200, {
          message: "the workers routable through the first p2p federated",
        });
        await first.process.stop("SIGKILL");
        await assert.rejects(connectTo(listen), Deno.errors.ConnectionRefused);

        second = await spawnFederated(cluster, listen, ["--strategy", "round-robin"]);
        const started = Date.now();
        // Answers before the pool is known are LocalAI's 503; poll until a worker answers.
        let polls = 0;
        await waitFor(async () => {
          polls++;
          return (await request(listen, "/", 2_000)).status === 200;
        }, { message: "a worker routable through the restarted p2p federated", timeoutMs: 5_000 });
        const firstAnswer = Date.now() - started;
        // Every worker, not just one: three answers in a row name all three (round-robin).
        await waitFor(async () => {
          const names = await Promise.all([0, 1, 2].map(() => nameVia(listen, 2_000)));
          return new Set(names).size === 3;
        }, { message: "all three workers routable", timeoutMs: 5_000 });
        const allThree = Date.now() - started;
        console.log(
          `  after the restart: first answer ${firstAnswer} ms, all three workers ${allThree} ms ` +
            `after the start line (${polls} polls)`,
        );
        assert.ok(allThree <= 2_000, `routable ${allThree} ms after the start line`);
        const stats = await getJson(second.api, "/api/federated") as FederatedStats;
        assert.deepEqual(stats.workers.map((w) => [w.name, w.online]), [
          ["alpha", true],
          ["beta", true],
          ["gamma", true],
        ]);
      } finally {
        await stopAll([first, second]);
      }
    });
  },
});
