// Smoke test of `deno task bench`: runs `bench/main.ts --quick tunnel` as a subprocess and
// checks the shape of its output. No timing assertions: the figures are only checked to be
// positive numbers.
import assert from "node:assert/strict";
import { runDenoScript } from "../_helpers/process.ts";

const BENCH = new URL("../../bench/main.ts", import.meta.url).pathname;

/** Keys the tunnel part must fill with a positive number. */
const TUNNEL_KEYS = [
  "tunnel_bulk_mbps",
  "proxy_bulk_mbps",
  "direct_bulk_mbps",
  "tunnel_bulk_ratio",
  "tunnel_rtt_p50_ms",
  "proxy_rtt_p50_ms",
  "tunnel_rtt_ratio",
  "tunnel_conn_per_s",
  "idle_rss_mib",
  "bulk_rss_mib",
  "relay_bulk_mbps",
  "relay_rtt_p50_ms",
  "floor_bulk_ratio",
  "floor_rtt_ratio",
  "chacha_seal_ms_per_mib",
  "crypto_bound_mbps",
  "crypto_bound_ratio",
  "deno_empty_rss_mib",
  "modules_rss_mib",
];

/** Keys every run prints (`na` for parts not run). */
const ALL_KEYS = [
  ...TUNNEL_KEYS,
  "federated_conn_per_s",
  "proxy_rr_conn_per_s",
  "federated_conn_ratio",
  "relay_rr_conn_per_s",
  "floor_conn_ratio",
  "federated_errors",
  "ledger_5_ms",
  "ledger_20_ms",
  "ledger_50_ms",
  "ssh_conn_per_s",
  "tunnel_conn_ssh_ratio",
  "failover_sigkill_ms",
  "network_stop_ms",
  "proxy_kind",
];

/** Keys the tunnel part fills where openssh is installed (the `ssh -L` anchor). */
const SSH_KEYS = [
  "ssh_up_mbps",
  "ssh_down_mbps",
  "ssh_rtt_p50_ms",
  "ssh_conn_per_s",
  "tunnel_up_ssh_ratio",
  "tunnel_rtt_p50_ssh_ratio",
  "tunnel_conn_ssh_ratio",
];

function parseKeyValues(line: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const part of line.trim().split(/\s+/)) {
    const eq = part.indexOf("=");
    assert.ok(eq > 0, `not a key=value pair: ${part}`);
    pairs.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return pairs;
}

Deno.test({
  name: "bench --quick tunnel prints key=value figures and writes its JSON",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "p2p-bench-smoke-" });
    try {
      const out = `${dir}/result.json`;
      // The bench stops its own processes; the timeout bounds the bench itself.
      const run = await runDenoScript(BENCH, ["--quick", "tunnel", "--out", out], {
        timeoutMs: 60_000,
      });
      const { stdout, stderr } = run;
      assert.equal(run.code, 0, `bench failed (code ${run.code}):\n${stdout}\n${stderr}`);

      const lines = stdout.trimEnd().split("\n");
      const pairs = parseKeyValues(lines.at(-1) ?? "");
      for (const key of ALL_KEYS) assert.ok(pairs.has(key), `missing key ${key}`);
      for (const key of TUNNEL_KEYS) {
        const value = Number(pairs.get(key));
        assert.ok(Number.isFinite(value) && value > 0, `${key}=${pairs.get(key)}`);
      }
      assert.match(pairs.get("proxy_kind") ?? "", /^(haproxy|nginx|deno)$/);
      // The anchor ran, or the output says why not.
      if (stdout.includes("ssh -L anchor skipped")) {
        assert.equal(pairs.get("ssh_conn_per_s"), "na");
      } else {
        for (const key of SSH_KEYS) {
          const value = Number(pairs.get(key));
          assert.ok(Number.isFinite(value) && value > 0, `${key}=${pairs.get(key)}`);
        }
        assert.ok(stdout.includes("goal "), "the goals are checked on the last lines");
      }

      const json = JSON.parse(await Deno.readTextFile(out));
      assert.equal(json.meta.quick, true);
      assert.deepEqual(json.meta.failures, []);
      const printed = Number(pairs.get("tunnel_bulk_mbps"));
      assert.ok(Math.abs(json.summary.tunnel_bulk_mbps - printed) < 0.01);
      assert.ok(json.tunnel.paths.tunnel.rtt.count > 0);
      assert.ok(json.tunnel.paths.relay.rtt.count > 0);
      // The module graph is loaded on top of the runtime, so it cannot weigh less.
      assert.ok(json.summary.modules_rss_mib > json.summary.deno_empty_rss_mib);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "bench --repeat 2: every run printed, then the goals judged on the medians",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "p2p-bench-repeat-" });
    try {
      const out = `${dir}/result.json`;
      const run = await runDenoScript(
        BENCH,
        ["--quick", "--repeat", "2", "federated", "--out", out],
        { timeoutMs: 90_000 },
      );
      const { stdout, stderr } = run;
      assert.equal(run.code, 0, `bench failed (code ${run.code}):\n${stdout}\n${stderr}`);
      assert.match(stdout, /^=== run 1 of 2 ===$/m);
      assert.match(stdout, /^=== run 2 of 2 ===$/m);
      const over = stdout.slice(stdout.indexOf("=== over 2 runs"));
      assert.match(over, /^goal (met {4}|NOT met) balancer conn\/s .*median of \S+, \S+\)$/m);
      assert.match(over, /^goal met {5}balancer errors: 0 \(target <= 0; sum of 0, 0\)$/m);

      const json = JSON.parse(await Deno.readTextFile(out));
      assert.equal(json.runs.length, 2);
      const ratios: number[] = json.runs.map((r: { summary: Record<string, number> }) =>
        r.summary.federated_conn_ratio
      );
      for (const r of ratios) assert.ok(r > 0, `a run's ratio: ${r}`);
      const median = (ratios[0]! + ratios[1]!) / 2;
      assert.ok(Math.abs(json.summary.federated_conn_ratio - median) < 1e-9);
      const last = parseKeyValues(stdout.trimEnd().split("\n").at(-1) ?? "");
      assert.ok(Math.abs(Number(last.get("federated_conn_ratio")) - median) < 0.001);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("bench: a bad argument is refused before anything starts, naming it", async () => {
  for (const [args, named] of [[["--repeat", "0"], "--repeat 0"], [["tunel"], "tunel"]] as const) {
    const { code, stdout, stderr } = await runDenoScript(BENCH, [...args]);
    assert.equal(code, 2, stderr);
    assert.ok(stderr.split("\n")[0]!.startsWith("bench: Cannot "), stderr);
    assert.ok(stderr.split("\n")[0]!.includes(named), stderr);
    assert.equal(stdout, "", "nothing ran");
  }
});
