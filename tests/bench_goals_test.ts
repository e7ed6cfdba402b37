// The bench's command line and its verdicts over several runs (`--repeat`).
import assert from "node:assert/strict";
import { BenchUsageError, DEFAULT_PARTS, parseBenchArgs } from "../bench/args.ts";
import { goalLines, medianSummary } from "../bench/goals.ts";

const OUT = "/tmp/latest.json";

Deno.test("parseBenchArgs: parts, flags and --repeat in both spellings", () => {
  const args = parseBenchArgs(["tunnel", "--repeat", "3", "federated", "--proxy=nginx"], OUT);
  assert.ok(args !== "help");
  assert.deepEqual(args.parts, ["tunnel", "federated"]);
  assert.equal(args.repeat, 3);
  assert.equal(args.proxy, "nginx");
  assert.equal(args.out, OUT);
  const defaults = parseBenchArgs(["--repeat=2"], OUT);
  assert.ok(defaults !== "help");
  assert.equal(defaults.repeat, 2);
  assert.deepEqual(defaults.parts, DEFAULT_PARTS);
  assert.equal(parseBenchArgs(["--help"], OUT), "help");
});

Deno.test("parseBenchArgs: bad input is refused, naming it", () => {
  const refused: [string[], RegExp][] = [
    [["--repeat", "0"], /^Cannot use --repeat 0: a whole number of runs from 1 to 10$/],
    [["--repeat", "11"], /--repeat 11/],
    [["--repeat", "2.5"], /--repeat 2\.5/],
    [["--repeat", "x"], /--repeat x/],
    [["--repeat"], /--repeat \(missing\)/],
    [["--proxy", "squid"], /--proxy squid/],
    [["--entry=binary"], /--entry binary/],
    [["--out="], /--out without a file/],
    [["tunel"], /^Cannot run the bench with tunel: unknown argument$/],
  ];
  for (const [argv, message] of refused) {
    assert.throws(() => parseBenchArgs(argv, OUT), (err: unknown) => {
      assert.ok(err instanceof BenchUsageError, `${argv.join(" ")}: ${err}`);
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("medianSummary: medians of numbers, failures added up, words kept", () => {
  const runs = [
    {
      tunnel_up_ssh_ratio: 0.903,
      federated_errors: 0,
      ledger_incomplete: 1,
      proxy_kind: "haproxy",
    },
    {
      tunnel_up_ssh_ratio: 1.255,
      federated_errors: 2,
      ledger_incomplete: 0,
      proxy_kind: "haproxy",
    },
    {
      tunnel_up_ssh_ratio: 1.113,
      federated_errors: 0,
      ledger_incomplete: NaN,
      proxy_kind: "nginx",
    },
  ];
  const s = medianSummary(runs);
  assert.equal(s.tunnel_up_ssh_ratio, 1.113);
  // One run's two errors stay visible: a median of 0, 2, 0 would hide them.
  assert.equal(s.federated_errors, 2);
  assert.equal(s.ledger_incomplete, 1);
  assert.equal(s.proxy_kind, "haproxy/nginx");
  // A figure no run measured stays unmeasured.
  assert.ok(Number.isNaN(medianSummary([{ a: NaN }, { a: NaN }]).a));
});

Deno.test("goalLines over runs: the verdict is the median's, not the best run's", () => {
  const runs = [
    { tunnel_down_ssh_ratio: 0.9, federated_errors: 0 },
    { tunnel_down_ssh_ratio: 1.2, federated_errors: 0 },
    { tunnel_down_ssh_ratio: 0.95, federated_errors: 3 },
  ];
  const lines = goalLines(medianSummary(runs), runs);
  assert.deepEqual(lines, [
    "goal NOT met tunnel download ÷ ssh -L: 0.950 (target >= 1; median of 0.900, 1.200, 0.950)",
    "goal NOT met balancer errors: 3 (target <= 0; sum of 0, 0, 3)",
  ]);
  // One run alone: the line as a single run prints it.
  assert.deepEqual(goalLines({ tunnel_down_ssh_ratio: 1.048 }), [
    "goal met     tunnel download ÷ ssh -L: 1.048 (target >= 1)",
  ]);
});

Deno.test("goalLines: a figure just short of its bound is not printed as the bound", () => {
  assert.deepEqual(goalLines({ tunnel_conn_ssh_ratio: 0.59962 }), [
    "goal NOT met tunnel new conn/s ÷ ssh -L: 0.5996 (target >= 0.6)",
  ]);
  assert.deepEqual(goalLines({ tunnel_conn_ssh_ratio: 0.6 }), [
    "goal met     tunnel new conn/s ÷ ssh -L: 0.600 (target >= 0.6)",
  ]);
  assert.deepEqual(goalLines({ tunnel_conn_ssh_ratio: 0.6004 }), [
    "goal met     tunnel new conn/s ÷ ssh -L: 0.6004 (target >= 0.6)",
  ]);
});
