import { Command } from "@commander-js/extra-typings";
import { inspectToken } from "../token/derive.ts";
import { decodeToken, generateToken } from "../token/token.ts";
import type { EnvReader } from "./env.ts";
import { UsageError } from "./errors.ts";
import type { CliIo } from "./io.ts";
import { NODE_ENV, parsePositiveInt } from "./node_flags.ts";
import { resolveSecret } from "./secrets.ts";

/** `p2p token` and `p2p token inspect`. */
export function tokenCommand(io: CliIo, env: EnvReader): Command {
  const token = new Command("token")
    .description("print a new network token (edgevpn format) on stdout")
    .option("--dht-interval <seconds>", "rendezvous rotation interval", "30")
    .option("--otp-interval <seconds>", "gossip topic and seal key rotation interval", "9000")
    .action((opts) => {
      const dhtInterval = parsePositiveInt("--dht-interval", opts.dhtInterval);
      const otpInterval = parsePositiveInt("--otp-interval", opts.otpInterval);
      io.stdout(`${generateToken({ dhtInterval, otpInterval })}\n`);
    });
  token.command("inspect")
    .description(
      "print the token's fields and the values derived at a time (rendezvous, CID, topic) as JSON",
    )
    .argument("[token]", `the token ${`(env: ${NODE_ENV.token.join(", ")})`}`)
    .option("--token-file <file>", `file holding the token (env: ${NODE_ENV.tokenFile.join(", ")})`)
    .option("--at <unix>", "the time to derive at, in unix seconds (default: now)")
    .action((tokenArg, opts) => {
      const text = resolveSecret({
        flag: "token argument",
        value: tokenArg,
        fileFlag: "--token-file",
        file: opts.tokenFile,
        env: NODE_ENV.token,
        fileEnv: NODE_ENV.tokenFile,
      }, env)?.text;
      if (text === undefined) {
        throw new UsageError(
          "Cannot inspect token: no token given (argument, --token-file or P2P_TOKEN)",
        );
      }
      const at = opts.at === undefined ? Date.now() / 1000 : parseUnixTime(opts.at);
      const inspection = inspectToken(decodeToken(text), at, text.trim());
      io.stdout(`${JSON.stringify(inspection, null, 2)}\n`);
    });
  return token as unknown as Command;
}

function parseUnixTime(text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(`Cannot use --at "${text}": not a unix time in seconds`);
  }
  return value;
}
