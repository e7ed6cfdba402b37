// Workers and the pool view: who is online, how fast a dead worker leaves, and restarts.
import {
  getJson,
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { entrySigner } from "../../../src/ledger/signed_entry.ts";
import { PoolView } from "../../../src/services/pool.ts";
import { startWorker } from "../../../src/services/worker.ts";
import { SERVICES_BUCKET, WORKER_POOL } from "../../../src/services/constants.ts";
import type { Network } from "../../../src/network/network.ts";
import {
  type Backend,
  type Cluster,
  greeter,
  NODE_TEST,
  startBackend,
  startCluster,
  untilEvent,
} from "../../services/_fixtures.ts";

/** Online workers as `name@peerId`. */
function onlineOf(view: PoolView): string[] {
  return view.online().map((w) => `${w.name}@${w.peerId}`);
}

/** Resolves (event-driven) once `name` is online on `peerId`; returns the ms it took. */
async function becomesOnline(
  view: PoolView,
  name: string,
  peerId: string,
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  await untilEvent(
    view,
    "change",
    () => onlineOf(view).includes(`${name}@${peerId}`),
    timeoutMs,
    `worker ${name} online on ${peerId} (online: ${onlineOf(view).join(", ")})`,
  );
  return performance.now() - started;
}

/** Runs `kill`, then measures until the `change` event that removes `name` from the view. */
async function leaveLatency(view: PoolView, name: string, kill: () => unknown): Promise<number> {
  const started = performance.now();
  const left = untilEvent(
    view,
    "change",
    () => !view.online().some((w) => w.name === name),
    10_000,
    `worker ${name} to leave the view`,
  );
  await kill();
  await left;
  return performance.now() - started;
}

Deno.test({
  name:
    "PoolView: three workers online; a stopped node leaves on its closed connection and returns on restart",
  ...NODE_TEST,
  async fn() {
    const backends: Backend[] = [];
    let cluster: Cluster | undefined;
    let view: PoolView | undefined;
    try {
      cluster = await startCluster(4);
      const [consumer, ...workerNodes] = cluster.networks as [Network, ...Network[]];
      const names = ["alpha", "bravo", "charlie"];
      for (const [i, name] of names.entries()) {
        const backend = startBackend(greeter(name));
        backends.push(backend);
        await startWorker(workerNodes[i]!, {
          target: backend.address,
          pool: WORKER_POOL,
          name,
          hostname: "testhost",
        });
      }
      view = new PoolView(consumer, { bucket: WORKER_POOL });
      view.start();
      await untilEvent(view, "change", () => view!.online().length === 3, 10_000, "3 workers");
      assert.deepEqual(
        view.online().map((w) => ({ name: w.name, id: w.id, peerId: w.peerId })),
        names.map((name, i) => ({
          name,
          id: `testhost-${name}`,
          peerId: workerNodes[i]!.peerId.toString(),
        })),
      );

      // bravo's node goes away: it leaves the routing set on the closed link, not after 40 s.
      const ms = await leaveLatency(view, "bravo", () => workerNodes[1]!.stop());
      console.log(`in-process worker stop → left the pool view after ${ms.toFixed(0)} ms`);
      assert.deepEqual(view.online().map((w) => w.name), ["alpha", "charlie"]);
      const bravo = view.workers().find((w) => w.name === "bravo");
      assert.equal(bravo?.online, false);
      // Whichever the view noticed first: the closed connection or the failed ping.
      assert.match(bravo?.offlineReason ?? "", /^(disconnected|unreachable)$/);

      // A new node (fresh key) starts a worker with the same name: it comes back.
      const restarted = await cluster.add();
      await startWorker(restarted, {
        target: backends[1]!.address,
        pool: WORKER_POOL,
        name: "bravo",
        hostname: "testhost",
      });
      const back = await becomesOnline(view, "bravo", restarted.peerId.toString(), 10_000);
      console.log(`restarted worker back in the pool view after ${back.toFixed(0)} ms`);
      assert.deepEqual(view.online().map((w) => w.name), names);
      // One entry per name, pointing at the new node. The new node wrote before it had the
      // network's block, and a block of its own may win for a moment: the other workers write
      // their entries back as soon as they adopt it, so the entries converge rather than hold
      // at every instant.
      const poolNames = () => Object.keys(consumer.ledger.bucket(WORKER_POOL)).sort();
      await untilEvent(
        consumer.ledger,
        "change",
        () => JSON.stringify(poolNames()) === JSON.stringify(names),
        10_000,
        "one pool entry per worker name",
      );
      assert.deepEqual(poolNames(), names);
      // Signed by the new node: readers honour it over anything written under its name.
      const record = consumer.ledger.get(SERVICES_BUCKET, "bravo");
      assert.partialDeepStrictEqual(record, { PeerID: restarted.peerId.toString(), Name: "bravo" });
      assert.equal(entrySigner(SERVICES_BUCKET, "bravo", record), restarted.peerId.toString());
    } finally {
      view?.stop();
      await cluster?.stop();
      await Promise.all(backends.map((b) => b.close()));
    }
  },
});

Deno.test({
  name:
    "p2p worker: kill -9 leaves the pool view on the lost link; a restart keeps one ledger entry",
  ...NODE_TEST,
  async fn() {
    const backend = startBackend(greeter("gpu"));
    let cluster: Cluster | undefined;
    let view: PoolView | undefined;
    const processes: RunningNode[] = [];
    try {
      cluster = await startCluster(1);
      const consumer = cluster.networks[0]!;
      const env = { P2P_TOKEN: cluster.tokenText };
      // No --name: the default name is derived from the host and the target.
      const args = [
        "worker",
        "--target",
        backend.address,
        "--pool",
        WORKER_POOL,
        ...loopbackFlags([cluster.seedAddr]),
      ];
      const first = await spawnNode(args, env);
      processes.push(first);
      const info = first.start.worker as { name: string; id: string; bucket: string };
      assert.match(info.name, /^[a-zA-Z]{10}$/);
      assert.equal(info.bucket, WORKER_POOL);

      view = new PoolView(consumer, { bucket: WORKER_POOL });
      view.start();
      await becomesOnline(view, info.name, first.start.peerId, 15_000);

      const ms = await leaveLatency(view, info.name, () => first.process.child.kill("SIGKILL"));
      console.log(`kill -9 of p2p worker → left the pool view after ${ms.toFixed(0)} ms`);
      assert.equal((await first.process.exited).signal, "SIGKILL");
      // Noticed by the connection or the ping, not by the 40 s staleness window.
      assert.match(
        view.workers().find((w) => w.name === info.name)?.offlineReason ?? "",
        /^(disconnected|unreachable)$/,
      );

      // The same command again: a fresh key, the same name, one ledger entry.
      const second = await spawnNode(args, env);
      processes.push(second);
      const again = second.start.worker as typeof info;
      assert.equal(again.name, info.name);
      assert.equal(again.id, info.id);
      assert.notEqual(second.start.peerId, first.start.peerId);
      const back = await becomesOnline(view, info.name, second.start.peerId, 15_000);
      console.log(`restarted p2p worker back in the pool view after ${back.toFixed(0)} ms`);
      assert.deepEqual(Object.keys(consumer.ledger.bucket(WORKER_POOL)), [info.name]);
      // The restarted worker's own API agrees once it has the network's block.
      const entries = await getJson(second.api, `/api/ledger/${WORKER_POOL}`) as Record<
        string,
        unknown
      >;
      assert.deepEqual(Object.keys(entries), [info.name]);
      const record = await getJson(second.api, `/api/ledger/${SERVICES_BUCKET}/${info.name}`);
      assert.partialDeepStrictEqual(record, { PeerID: second.start.peerId, Name: info.name });
      assert.equal(entrySigner(SERVICES_BUCKET, info.name, record), second.start.peerId);
    } finally {
      view?.stop();
      await stopAll(processes);
      await cluster?.stop();
      await backend.close();
    }
  },
});

Deno.test({
  name:
    "p2p worker: a frozen process (SIGSTOP) leaves the pool view on failed pings, returns on SIGCONT",
  ...NODE_TEST,
  async fn() {
    const backend = startBackend(greeter("gpu"));
    let cluster: Cluster | undefined;
    let view: PoolView | undefined;
    let worker: RunningNode | undefined;
    try {
      cluster = await startCluster(1);
      const consumer = cluster.networks[0]!;
      worker = await spawnNode([
        "worker",
        "--target",
        backend.address,
        "--pool",
        WORKER_POOL,
        "--name",
        "frozen",
        ...loopbackFlags([cluster.seedAddr]),
      ], { P2P_TOKEN: cluster.tokenText });
      view = new PoolView(consumer, { bucket: WORKER_POOL });
      view.start();
      await becomesOnline(view, "frozen", worker.start.peerId, 15_000);

      // The connection stays open; only the pings go unanswered.
      const w = worker;
      const ms = await leaveLatency(view, "frozen", () => w.process.child.kill("SIGSTOP"));
      console.log(`SIGSTOP of p2p worker → left the pool view after ${ms.toFixed(0)} ms`);
      assert.equal(view.workers().find((x) => x.name === "frozen")?.offlineReason, "unreachable");

      worker.process.child.kill("SIGCONT");
      const back = await becomesOnline(view, "frozen", worker.start.peerId, 10_000);
      console.log(`SIGCONT → back in the pool view after ${back.toFixed(0)} ms`);
    } finally {
      view?.stop();
      try {
        worker?.process.child.kill("SIGCONT");
      } catch {
        // exited
      }
      await stopAll([worker]);
      await cluster?.stop();
      await backend.close();
    }
  },
});
