// One local tunnel per online worker (`LLAMACPP_GRPC_SERVERS`): PoolTunnels and `p2p discover`.
import {
  loopbackFlags,
  type RunningNode,
  spawnNode,
  stopAll,
  waitFor,
} from "../../_helpers/mod.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { PoolTunnels } from "../../../src/services/discover.ts";
import { startWorker } from "../../../src/services/worker.ts";
import { WORKER_POOL } from "../../../src/services/constants.ts";
import type { Network } from "../../../src/network/network.ts";
import {
  type Backend,
  closeQuietly,
  type Cluster,
  connectTo,
  greeter,
  NODE_TEST,
  readLine,
  startBackend,
  startCluster,
  untilEvent,
} from "../../services/_fixtures.ts";

/** Connects through a local tunnel and returns the worker backend's greeting. */
async function greetingVia(address: string): Promise<string> {
  const conn = await connectTo(address);
  try {
    return await readLine(conn, 10_000);
  } finally {
    closeQuietly(conn);
  }
}

/** Starts one worker per name on `nodes`, each serving a backend that greets with its name. */
async function startWorkers(nodes: Network[], names: string[], backends: Backend[]): Promise<void> {
  for (const [i, name] of names.entries()) {
    const backend = startBackend(greeter(name));
    backends.push(backend);
    await startWorker(nodes[i]!, {
      target: backend.address,
      pool: WORKER_POOL,
      name,
      hostname: "testhost",
    });
  }
}

Deno.test({
  name: "PoolTunnels: one tunnel per online worker; a dead worker's tunnel closes with it",
  ...NODE_TEST,
  async fn() {
    const backends: Backend[] = [];
    let cluster: Cluster | undefined;
    let tunnels: PoolTunnels | undefined;
    try {
      cluster = await startCluster(4);
      const [consumer, ...workerNodes] = cluster.networks as [Network, ...Network[]];
      const names = ["alpha", "bravo", "charlie"];
      await startWorkers(workerNodes, names, backends);

      tunnels = new PoolTunnels(consumer, { bucket: WORKER_POOL });
      await tunnels.start();
      const t = tunnels;
      await untilEvent(t, "change", () => t.tunnels().length === 3, 10_000, "three tunnels");
      const list = t.tunnels();
      assert.deepEqual(list.map((x) => x.worker.name), names);
      assert.equal(t.addressList(), list.map((x) => x.address).join(","));
      for (const tunnel of list) {
        assert.match(tunnel.address, /^127\.0\.0\.1:\d+$/);
        assert.equal(await greetingVia(tunnel.address), tunnel.worker.name);
      }

      // bravo's node dies: the list drops it and its local port closes.
      const bravoAddress = list[1]!.address;
      const started = performance.now();
      const changed = untilEvent(
        t,
        "change",
        () => t.tunnels().length === 2 || undefined,
        10_000,
        "the list without bravo",
      );
      await workerNodes[1]!.stop();
      await changed;
      const ms = performance.now() - started;
      console.log(`PoolTunnels: new list ${ms.toFixed(0)} ms after the worker's node stopped`);
      assert.deepEqual(t.tunnels().map((x) => x.worker.name), ["alpha", "charlie"]);
      assert.equal(t.addressList(), [list[0]!.address, list[2]!.address].join(","));
      await assert.rejects(connectTo(bravoAddress), Deno.errors.ConnectionRefused);

      // bravo comes back (new node, same name): a new tunnel reaches it.
      const restarted = await cluster.add();
      await startWorkers([restarted], ["bravo"], backends);
      await untilEvent(t, "change", () => t.tunnels().length === 3, 10_000, "bravo back");
      const bravo = t.tunnels().find((x) => x.worker.name === "bravo")!;
      assert.equal(bravo.worker.peerId, restarted.peerId.toString());
      assert.equal(await greetingVia(bravo.address), "bravo");
    } finally {
      await tunnels?.stop();
      await cluster?.stop();
      await Promise.all(backends.map((b) => b.close()));
    }
  },
});

/** The comma lists `p2p discover` printed (the lines after the JSON start line). */
function printedLists(node: RunningNode): string[] {
  return node.process.stdoutLines.filter((line) => !line.startsWith("{"));
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * The `LLAMACPP_GRPC_SERVERS` values of the running processes (zombies excluded) whose
 * environment carries `P2P_TEST_RUN=<run>`: the `--exec` commands of one test and whatever
 * they started. Linux `/proc` only; elsewhere an empty list.
 */
function execProcesses(run: string): string[] {
  if (Deno.build.os !== "linux") return [];
  const values: string[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      const environ = Deno.readTextFileSync(`/proc/${entry.name}/environ`).split("\0");
      if (!environ.includes(`P2P_TEST_RUN=${run}`)) continue;
      const value = environ.find((v) => v.startsWith("LLAMACPP_GRPC_SERVERS="));
      if (value !== undefined) values.push(value.slice("LLAMACPP_GRPC_SERVERS=".length));
    } catch {
      // exited meanwhile, or not ours
    }
  }
  return values;
}

Deno.test({
  name: "p2p discover prints, writes (--output) and re-execs (--exec) the list when a worker dies",
  ...NODE_TEST,
  async fn() {
    const backends: Backend[] = [];
    const dir = await Deno.makeTempDir({ prefix: "p2p-discover-" });
    const output = join(dir, "servers.txt");
    const execLog = join(dir, "exec.log");
    const run = crypto.randomUUID(); // marks the --exec processes of this test
    let cluster: Cluster | undefined;
    let discover: RunningNode | undefined;
    try {
      cluster = await startCluster(3);
      const [, ...workerNodes] = cluster.networks as [Network, ...Network[]];
      await startWorkers(workerNodes, ["alpha", "bravo"], backends);

      discover = await spawnNode([
        "discover",
        "--pool",
        WORKER_POOL,
        "--output",
        output,
        "--exec",
        `echo "$LLAMACPP_GRPC_SERVERS" >> '${execLog}'; sleep 60`,
        ...loopbackFlags([cluster.seedAddr]),
      ], { P2P_TOKEN: cluster.tokenText, P2P_TEST_RUN: run });
      const d = discover;
      const twoAddresses = await waitFor(
        () => printedLists(d).find((line) => line.split(",").length === 2),
        { timeoutMs: 15_000, message: "a list of two tunnels on stdout" },
      );
      const [alphaAddress, bravoAddress] = twoAddresses.split(",") as [string, string];
      assert.equal(await greetingVia(alphaAddress), "alpha");
      assert.equal(await greetingVia(bravoAddress), "bravo");
      await waitFor(async () => (await readIfExists(output)) === `${twoAddresses}\n`, {
        message: "--output holding the list",
      });
      await waitFor(
        async () => (await readIfExists(execLog))?.trimEnd().split("\n").at(-1) === twoAddresses,
        { message: "--exec run with the list" },
      );
      const execRuns = (await Deno.readTextFile(execLog)).trimEnd().split("\n").length;

      // alpha's node dies: a new list, its tunnel closed, the file rewritten and
      // the command restarted with the new value.
      const printedBefore = printedLists(d).length;
      const started = performance.now();
      await workerNodes[0]!.stop();
      const newList = await waitFor(
        () => printedLists(d).slice(printedBefore).find((line) => line === bravoAddress),
        { timeoutMs: 10_000, message: `the list ${bravoAddress} on stdout` },
      );
      const ms = performance.now() - started;
      console.log(`p2p discover printed the new list ${ms.toFixed(0)} ms after the worker died`);
      await assert.rejects(connectTo(alphaAddress), Deno.errors.ConnectionRefused);
      assert.equal(await greetingVia(bravoAddress), "bravo", "the other tunnel is unchanged");
      await waitFor(async () => (await readIfExists(output)) === `${newList}\n`, {
        timeoutMs: 5_000,
        message: "--output rewritten with the new list",
      });
      const runs = await waitFor(async () => {
        const lines = (await readIfExists(execLog))?.trimEnd().split("\n") ?? [];
        return lines.length > execRuns && lines.at(-1) === newList && lines;
      }, { timeoutMs: 10_000, message: "--exec restarted with the new list" });
      assert.equal(runs.length, execRuns + 1, `one restart: ${JSON.stringify(runs)}`);
      // The previous run is gone, its `sleep 60` included (not orphaned by the restart).
      await waitFor(() => !execProcesses(run).includes(twoAddresses), {
        timeoutMs: 3_000,
        message: `the previous --exec run to end (running: ${execProcesses(run)})`,
      });
      // Written atomically: no temporary file is left beside it.
      assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort(), [
        "exec.log",
        "servers.txt",
      ]);

      const status = await d.process.stop("SIGTERM");
      assert.equal(status.code, 0, d.process.stderrText);
      await waitFor(() => execProcesses(run).length === 0, {
        timeoutMs: 3_000,
        message: `the --exec command to end with discover (running: ${execProcesses(run)})`,
      });
    } finally {
      await stopAll([discover]);
      await cluster?.stop();
      await Promise.all(backends.map((b) => b.close()));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
