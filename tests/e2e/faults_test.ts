// Faults under load, with processes on loopback: `p2p federated` in front of three
// `p2p worker`s, clients in loops through the balancer. Every client connection is bounded and
// classified (fixtures: ok with every byte checked by sha256, a clean close with a correct
// prefix, refused, 503; corrupt and timeout always fail). The steps share one cluster and run
// in order: a slow worker, a worker whose target dies and returns, `kill -9` of a worker,
// `kill -9` of the balancer and its restart.
import assert from "node:assert/strict";
import {
  type ClientResult,
  federatedView,
  type FedProcesses,
  fetchThrough,
  type HeldConnection,
  hold,
  HOST,
  Load,
  percentile,
  startFedProcesses,
  tally,
  withTimeout,
} from "./_fixtures.ts";
import { getJson, waitFor } from "../_helpers/mod.ts";

/** A hang guard for ends and reroutes (the measured times are reported, not asserted). */
const HANG_GUARD_MS = 15_000;
const DOWNLOAD = 256 * 1024;

function assertNoHangOrCorruption(results: ClientResult[], what: string): void {
  const bad = results.filter((r) => r.outcome === "timeout" || r.outcome === "corrupt");
  assert.equal(
    bad.length,
    0,
    `${what}: ${bad.length} connection(s) hung or were corrupted: ${
      JSON.stringify(bad.slice(0, 3))
    } (all: ${JSON.stringify(tally(results))})`,
  );
}

Deno.test({
  name: "faults: slow worker, dying target, kill -9 of a worker and of the balancer, under load",
  async fn(t) {
    const cluster: FedProcesses = await startFedProcesses(["w1", "w2", "w3"]);
    const [w1, w2, w3] = cluster.workers as [
      FedProcesses["workers"][0],
      FedProcesses["workers"][0],
      FedProcesses["workers"][0],
    ];
    const report: string[] = [];
    try {
      await t.step(
        "a slow worker does not block the others (least-connections shifts load)",
        async () => {
          w3.backend.delayMs = 1_500;
          const load = new Load(() => cluster.address, { lanes: 6, bytes: 0 });
          await waitFor(() => load.results.filter((r) => r.outcome === "ok").length >= 150, {
            timeoutMs: 20_000,
            message: "150 answers under load",
          });
          const results = await load.stop();
          w3.backend.delayMs = 0;
          assertNoHangOrCorruption(results, "slow worker");
          const notOk = results.filter((r) => r.outcome !== "ok");
          assert.equal(notOk.length, 0, `failed answers: ${JSON.stringify(tally(results))}`);
          const slow = results.filter((r) => r.worker === "w3");
          const fast = results.filter((r) => r.worker !== "w3");
          const fastMs = fast.map((r) => r.endedAt - r.startedAt).sort((a, b) => a - b);
          const share = slow.length / results.length;
          report.push(
            `slow worker: ${results.length} answers, w3 (1.5 s backend) took ${slow.length} (${
              (share * 100).toFixed(1)
            } %), fast p50 ${percentile(fastMs, 50)} ms p95 ${percentile(fastMs, 95)} ms`,
          );
          // Least-connections keeps about one lane per worker on the slow one (≈ 2 of 6 lanes);
          // round-robin would send it a third of all connections and stall half the lanes.
          assert.ok(slow.length >= 1, "the slow worker was never used (it is online)");
          assert.ok(
            share < 0.1,
            `the slow worker got ${(share * 100).toFixed(1)} % of connections`,
          );
        },
      );

      await t.step(
        "a worker whose target dies: clients go through the others; it is used again once the target is back",
        async () => {
          const load = new Load(() => cluster.address, { lanes: 4, bytes: 64 * 1024 });
          await waitFor(() => load.results.some((r) => r.worker === "w2"), {
            timeoutMs: 10_000,
            message: "w2 to serve under load",
          });
          const diedAt = Date.now();
          await w2.backend.stop();
          // Keep it down for 40 connections and at least two failed attempts on w2.
          await waitFor(async () => {
            if (load.between(diedAt).length < 40) return false;
            const v = await federatedView(cluster);
            return (v.workers.find((w) => w.id === w2.id)?.failed ?? 0) >= 2;
          }, { timeoutMs: 15_000, intervalMs: 50, message: "40 connections and 2 tries of w2" });
          const view = await federatedView(cluster);
          const backoffUntil = view.workers.find((w) => w.id === w2.id)!.backoffUntil;
          const returnedAt = Date.now();
          w2.backend.start();
          // Used again once its backoff ends (bounded by that backoff plus a margin).
          const bound = Math.max(0, backoffUntil - returnedAt) + 3_000;
          await waitFor(
            () => load.results.some((r) => r.worker === "w2" && r.startedAt >= returnedAt),
            { timeoutMs: bound, message: `w2 to be used again within ${bound} ms of its return` },
          );
          const backAt = load.results.find((r) => r.worker === "w2" && r.startedAt >= returnedAt)!;
          const results = await load.stop();
          assertNoHangOrCorruption(results, "dying target");
          // Connections started after the target died (those in flight on it may be cut).
          const during = results.filter((r) =>
            r.startedAt >= diedAt + 50 && r.startedAt < returnedAt
          );
          const failed = during.filter((r) => r.outcome !== "ok");
          assert.ok(during.length > 0, "no client ran while the target was down");
          assert.equal(
            failed.length,
            0,
            `clients failed while w2's target was down: ${JSON.stringify(tally(during))}`,
          );
          assert.ok(!during.some((r) => r.worker === "w2"));
          report.push(
            `dying target: down ${
              returnedAt - diedAt
            } ms, ${during.length} connections meanwhile all ok (${
              JSON.stringify(tally(during))
            }), cut in flight ${
              results.filter((r) => r.outcome === "closed").length
            }, w2 used again ${backAt.startedAt - returnedAt} ms after its return (backoff left ${
              Math.max(0, backoffUntil - returnedAt)
            } ms)`,
          );
        },
      );

      await t.step(
        "kill -9 of a worker under load: clean ends, routed around once its connection closes",
        async () => {
          const load = new Load(() => cluster.address, { lanes: 6, bytes: DOWNLOAD });
          await waitFor(() => load.results.filter((r) => r.worker === "w3").length >= 3, {
            timeoutMs: 15_000,
            message: "w3 to serve under load",
          });
          // Connections held open through every worker when w3 dies.
          const held: HeldConnection[] = [];
          await waitFor(async () => {
            held.push(await hold(cluster.address));
            return held.some((h) => h.worker === "w3") && held.length >= 3;
          }, { timeoutMs: 10_000, message: "held connections through w3 and another worker" });
          const killedAt = Date.now();
          w3.node.process.child.kill("SIGKILL");
          // Those through w3 end (EOF or reset, never a hang); the others live.
          const throughW3 = held.filter((h) => h.worker === "w3");
          const endedAt = await withTimeout(
            Promise.all(throughW3.map((h) => h.ended)),
            HANG_GUARD_MS,
            "connections held through the killed worker to end",
          );
          const heldEndMs = Math.max(...endedAt) - killedAt;
          const others = held.filter((h) => h.worker !== "w3");
          assert.ok(others.every((h) => !h.done), "a connection through a live worker ended");
          for (const h of held) h.close();
          // The balancer's view drops it on the closed connection: the fast path, not missed
          // pings (those would say "unreachable").
          const dropped = await waitFor(async () => {
            const { workers } = await getJson(cluster.federated.api, "/api/pools/federated") as {
              workers: { id: string; online: boolean; offlineReason?: string }[];
            };
            const view = workers.find((w) => w.id === w3.id);
            return view?.online === false ? view : undefined;
          }, { timeoutMs: HANG_GUARD_MS, intervalMs: 25, message: "w3 offline at the balancer" });
          const offlineAt = Date.now();
          const offlineMs = offlineAt - killedAt;
          assert.equal(dropped.offlineReason, "disconnected");
          // Load continues for a while after that.
          await waitFor(
            () => load.between(offlineAt).filter((r) => r.outcome === "ok").length >= 30,
            { timeoutMs: 20_000, message: "30 connections after w3 left the pool view" },
          );
          const results = await load.stop();
          assertNoHangOrCorruption(results, "kill -9 worker");
          const allowed = new Set(["ok", "closed"]);
          const unclean = results.filter((r) => !allowed.has(r.outcome));
          assert.equal(unclean.length, 0, `unclean ends: ${JSON.stringify(tally(results))}`);
          const after = load.between(offlineAt);
          assert.ok(
            after.every((r) => r.outcome === "ok" && r.worker !== "w3"),
            `once w3 left the pool view: ${JSON.stringify(tally(after))}`,
          );
          const cut = results.filter((r) => r.outcome === "closed");
          const firstWindow = load.between(killedAt, offlineAt);
          report.push(
            `kill -9 worker: ${throughW3.length} held connection(s) through it ended within ${heldEndMs} ms, ${others.length} through others stayed open; offline at the balancer after ${offlineMs} ms; ${results.length} connections (${
              JSON.stringify(tally(results))
            }); ${cut.length} cut in flight (clean close, correct prefix); until it left the view ${
              JSON.stringify(tally(firstWindow))
            }`,
          );
        },
      );

      await t.step(
        "kill -9 of the balancer under load, restart: routable again, then every client answered",
        async () => {
          const load = new Load(() => cluster.address, { lanes: 4, bytes: DOWNLOAD });
          await waitFor(() => load.results.filter((r) => r.outcome === "ok").length >= 10, {
            timeoutMs: 15_000,
            message: "10 answers before the kill",
          });
          const killedAt = Date.now();
          cluster.federated.process.child.kill("SIGKILL");
          await cluster.federated.process.exited;
          // Restarted on the same client port, joining through the surviving workers.
          const spawnedAt = Date.now();
          const restarted = await cluster.startFederated([w1.node.addr, w2.node.addr]);
          const listeningAt = Date.now();
          await waitFor(
            () => load.between(listeningAt).some((r) => r.outcome === "ok"),
            { timeoutMs: 15_000, message: "a client to succeed through the restarted balancer" },
          );
          const firstOk = load.between(listeningAt).find((r) => r.outcome === "ok")!;
          await waitFor(
            () => load.between(firstOk.endedAt).filter((r) => r.outcome === "ok").length >= 10,
            {
              timeoutMs: 15_000,
              message: "10 answers after the restart",
            },
          );
          const results = await load.stop();
          assertNoHangOrCorruption(results, "kill -9 balancer");
          const routableMs = firstOk.endedAt - listeningAt;
          report.push(
            `kill -9 balancer: ${
              JSON.stringify(tally(load.between(killedAt, listeningAt)))
            } while down; restart took ${
              listeningAt - spawnedAt
            } ms to its start line, first success ${routableMs} ms after it (${
              firstOk.endedAt - spawnedAt
            } ms after spawn); before: ${JSON.stringify(tally(load.between(0, killedAt)))}`,
          );
          // After the first success everything succeeds.
          const later = load.between(firstOk.endedAt);
          assert.ok(later.every((r) => r.outcome === "ok"), JSON.stringify(tally(later)));
          assert.match(restarted.start.peerId, /^12D3KooW/);
          // And the balancer answers a plain request through a live worker.
          const check = await fetchThrough(cluster.address, 0);
          assert.equal(check.outcome, "ok");
          assert.ok(check.worker === "w1" || check.worker === "w2", String(check.worker));
        },
      );
    } finally {
      console.log(`faults (${HOST}):\n  ${report.join("\n  ")}`);
      await cluster.stop();
    }
  },
});
