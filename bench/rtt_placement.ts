/**
 * Round trips of the tunnel, of `ssh -L` and of two plain Deno relays (the bench's floor: the
 * same two JS processes on the path, no libp2p) side by side under three CPU placements, to tell
 * what code costs from what the scheduler does: `free` (left to the scheduler), `split` (the
 * client side on CPU 0, the serving side on CPU 1) and `one` (every process on CPU 0, where a
 * round trip is the CPU of its chain alone). Needs `taskset` (util-linux), two CPUs and openssh.
 *
 * ```sh
 * deno run -A bench/rtt_placement.ts             # five rounds of 2,000 round trips per placement
 * deno run -A bench/rtt_placement.ts --reps 3
 * P2P_ENTRY=bench/output/bundle/main.js deno run -A bench/rtt_placement.ts   # the release bundle
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { echoRtt } from "./lib/load.ts";
import { startRelayChain } from "./lib/proxy.ts";
import { spawnServer, spawnTunnelPair } from "./lib/spawn.ts";
import { sshAvailable, startSshForward } from "./lib/ssh.ts";
import { fmt, median } from "./lib/stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { reps: { type: "string", default: "5" } },
});
const reps = Number(values.reps);
if (!Number.isInteger(reps) || reps < 1 || reps > 50) {
  console.error(`rtt_placement: Cannot use --reps ${values.reps}: a whole number from 1 to 50`);
  Deno.exit(2);
}
const WARM_ROUND_TRIPS = 25_000;
const ROUND_TRIPS = 2_000;

/** Sets the CPU mask of every thread of each process. */
async function pin(mask: string, pids: readonly number[]): Promise<void> {
  for (const pid of pids) {
    const out = await new Deno.Command("taskset", {
      args: ["-a", "-p", mask, String(pid)],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.code !== 0) {
      throw new Error(`taskset ${mask} ${pid}: ${new TextDecoder().decode(out.stderr).trim()}`);
    }
  }
}

const ssh = await sshAvailable();
if (!ssh.ok || navigator.hardwareConcurrency < 2) {
  console.log(`rtt_placement skipped: ${ssh.ok ? "needs two CPUs" : ssh.note}`);
  Deno.exit(0);
}
const started: { stop(): Promise<void> }[] = [];
try {
  const service = await spawnServer<{ port: number }>("service.ts", []);
  started.push(service.child);
  const forward = await startSshForward(service.info.port);
  started.push(forward);
  const { expose, connect, port: tunnelPort } = await spawnTunnelPair(service.info.port);
  started.push(expose.child, connect.child);
  const relays = await startRelayChain([service.info.port]);
  started.push(relays);
  // As the bench does: V8 optimizes the tunnel's small-message path over the first thousands.
  await echoRtt(tunnelPort, WARM_ROUND_TRIPS, 64, 120_000);
  await echoRtt(forward.port, WARM_ROUND_TRIPS, 64, 120_000);
  await echoRtt(relays.port, WARM_ROUND_TRIPS, 64, 120_000);

  // `ssh` is the client side; every process of the sshd session (the one that moves the bytes
  // and its privilege-separation monitor) is the serving side.
  const { ssh, ...sshdSession } = forward.pids;
  const { front, ...hops } = relays.pids;
  const clientSide = [Deno.pid, connect.child.pid, ssh!, front!];
  const servingSide = [
    service.child.pid,
    expose.child.pid,
    ...Object.values(sshdSession),
    ...Object.values(hops),
  ];
  const placements: Record<string, () => Promise<void>> = {
    free: () => pin("0x3", [...clientSide, ...servingSide]),
    split: async () => (await pin("0x1", clientSide), await pin("0x2", servingSide)),
    one: () => pin("0x1", [...clientSide, ...servingSide]),
  };
  const p50 = new Map<string, { tunnel: number[]; ssh: number[]; relays: number[] }>();
  for (let rep = 0; rep < reps; rep++) {
    for (const [name, place] of Object.entries(placements)) {
      await place();
      const tunnel = await echoRtt(tunnelPort, ROUND_TRIPS, 64, 60_000);
      const viaSsh = await echoRtt(forward.port, ROUND_TRIPS, 64, 60_000);
      const viaRelays = await echoRtt(relays.port, ROUND_TRIPS, 64, 60_000);
      const runs = p50.get(name) ?? { tunnel: [], ssh: [], relays: [] };
      p50.set(name, runs);
      runs.tunnel.push(tunnel.p50Ms);
      runs.ssh.push(viaSsh.p50Ms);
      runs.relays.push(viaRelays.p50Ms);
      console.log(
        `${name} round ${rep + 1}: tunnel p50 ${fmt(tunnel.p50Ms, 3)} p99 ${
          fmt(tunnel.p99Ms, 3)
        } ms; ssh -L p50 ${fmt(viaSsh.p50Ms, 3)} p99 ${fmt(viaSsh.p99Ms, 3)} ms; relays p50 ${
          fmt(viaRelays.p50Ms, 3)
        } ms`,
      );
    }
  }
  await placements.free!();
  const range = (xs: number[]): string =>
    `${fmt(Math.min(...xs), 3)}–${fmt(Math.max(...xs), 3)} (median ${fmt(median(xs), 3)})`;
  for (const [name, runs] of p50) {
    const ratios = runs.tunnel.map((t, i) => t / runs.ssh[i]!);
    console.log(
      `${name}: tunnel p50 ${range(runs.tunnel)} ms, ssh -L ${range(runs.ssh)} ms, relays ${
        range(runs.relays)
      } ms, ratio ${range(ratios)}`,
    );
  }
} finally {
  for (const s of started.reverse()) await s.stop().catch(() => {});
}
