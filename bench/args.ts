/**
 * The command line of `deno task bench`, parsed apart from the run so that bad input is
 * refused before anything starts.
 *
 * @module
 */
import type { ProxyKind } from "./lib/proxy.ts";

/** The parts a run can measure, in the order they run. */
export const PARTS = ["tunnel", "federated", "ledger", "nat", "lifecycle", "scale"] as const;
/** One part of the bench. */
export type Part = typeof PARTS[number];
/** Parts run when none is named: `nat` needs root and the namespace lab, so it is asked for. */
export const DEFAULT_PARTS: readonly Part[] = [
  "tunnel",
  "federated",
  "ledger",
  "lifecycle",
  "scale",
];

/** What the `p2p` processes run: the release build's bundle (as shipped) or `main.ts`. */
export type Entry = "bundle" | "source";

/** Most whole runs one `--repeat` asks for: each full run takes about 15 minutes. */
export const MAX_REPEAT = 10;

/** A parsed command line. */
export interface BenchArgs {
  quick: boolean;
  entry: Entry;
  noIpColocation: boolean;
  ledgerDht: boolean;
  proxy: ProxyKind | "auto";
  out: string;
  parts: Part[];
  /** Whole runs of the parts, one after the other; the goals are judged on their medians. */
  repeat: number;
}

/** The usage text printed by `--help` and after a refused argument. */
export const USAGE =
  `usage: deno task bench [--quick] [--repeat N] [--proxy auto|haproxy|nginx|deno]
       [--out FILE] [--entry bundle|source] [--ledger-dht] [--ledger-no-ip-colocation]
       [${PARTS.join("|")}…]`;

/** A refused command line; the message names the argument. */
export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

/**
 * Parses the bench's arguments.
 *
 * @param argv The arguments after the script.
 * @param defaultOut Where results go without `--out`.
 * @returns The parsed arguments, or `"help"` for `--help`.
 * @throws {BenchUsageError} An unknown argument or a bad value, named in the message.
 */
export function parseBenchArgs(argv: readonly string[], defaultOut: string): BenchArgs | "help" {
  const args: BenchArgs = {
    quick: false,
    entry: "bundle",
    noIpColocation: false,
    ledgerDht: false,
    proxy: "auto",
    out: defaultOut,
    parts: [],
    repeat: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string | undefined =>
      a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
    const flag = a.split("=")[0]!;
    if (a === "--quick") args.quick = true;
    else if (a === "--ledger-no-ip-colocation") args.noIpColocation = true;
    else if (a === "--ledger-dht") args.ledgerDht = true;
    else if (flag === "--proxy") {
      const v = value();
      if (v !== "auto" && v !== "haproxy" && v !== "nginx" && v !== "deno") {
        throw new BenchUsageError(
          `Cannot use --proxy ${v ?? "(missing)"}: auto, haproxy, nginx or deno`,
        );
      }
      args.proxy = v;
    } else if (flag === "--entry") {
      const v = value();
      if (v !== "bundle" && v !== "source") {
        throw new BenchUsageError(`Cannot use --entry ${v ?? "(missing)"}: bundle or source`);
      }
      args.entry = v;
    } else if (flag === "--out") {
      const v = value();
      if (!v) throw new BenchUsageError("Cannot use --out without a file");
      args.out = v;
    } else if (flag === "--repeat") {
      const v = value();
      const n = Number(v);
      if (v === undefined || !/^\d+$/.test(v) || n < 1 || n > MAX_REPEAT) {
        throw new BenchUsageError(
          `Cannot use --repeat ${v ?? "(missing)"}: a whole number of runs from 1 to ${MAX_REPEAT}`,
        );
      }
      args.repeat = n;
    } else if (a === "--help" || a === "-h") return "help";
    else if ((PARTS as readonly string[]).includes(a)) args.parts.push(a as Part);
    else throw new BenchUsageError(`Cannot run the bench with ${a}: unknown argument`);
  }
  if (args.parts.length === 0) args.parts = [...DEFAULT_PARTS];
  return args;
}
