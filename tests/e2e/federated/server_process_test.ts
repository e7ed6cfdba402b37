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
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import type { FederatedStats } from "../../../src/federated/options.ts";
import {
  closeAllHeld as closeAll,
  closeQuietly,
  connectTo,
  endOf,
  type FedCluster,
  type HeldConnection,
  nameVia,
  openHeld,
  readAll,
  request,
  startNamedBackend,
  tallyNames as tally,
  untilOnline,
  withFedCluster as withCluster,
  WORKER_HOST,
} from "../../federated/_fixtures.ts";

const NAMES = ["alpha", "beta", "gamma"];
const IDS = NAMES.map((n) => `${WORKER_HOST}-${n}`);
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------
// Strategies

// ---------------------------------------------------------------------------------------
// Processes: a worker killed, the balancer drained and restarted

Deno.test({
  name:
    "a worker process killed while clients connect: every later connection succeeds, its open ones end",
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
        // The pool view drops it on the lost link (the time is printed below).
        await untilOnline(server, IDS.slice(0, 2), 5_000);
        const droppedAfter = Date.now() - exitedAt;
        // The others keep their connections (and the last client's connection to another
        // worker has finished: a cut tunnel is released at once, maybe sooner than that one).
        const others = () =>
          JSON.stringify(
            server.stats().workers.filter((w) => w.name !== "delta").map((w) => [w.name, w.active]),
          );
        const stats = await waitFor(
          () =>
            server.stats().workers.find((w) => w.name === "delta")?.active === 0 &&
            others() === JSON.stringify([["alpha", 2], ["beta", 2]]) && server.stats(),
          { message: "delta's connections released", timeoutMs: 10_000 },
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
    "p2p federated restarted with the same token: all three workers are routable again, not restarted",
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
        }, { message: "a worker routable through the restarted p2p federated", timeoutMs: 15_000 });
        const firstAnswer = Date.now() - started;
        // Every worker, not just one: three answers in a row name all three (round-robin).
        await waitFor(async () => {
          const names = await Promise.all([0, 1, 2].map(() => nameVia(listen, 2_000)));
          return new Set(names).size === 3;
        }, { message: "all three workers routable", timeoutMs: 15_000 });
        const allThree = Date.now() - started;
        console.log(
          `  after the restart: first answer ${firstAnswer} ms, all three workers ${allThree} ms ` +
            `after the start line (${polls} polls)`,
        );
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
