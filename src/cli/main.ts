import { CommanderError } from "commander";
import { buildCli, type CliContext } from "./cli.ts";
import { processEnv } from "./env.ts";
import { exitCodeOf } from "./errors.ts";
import { processIo } from "./io.ts";

/**
 * Runs the CLI with `args` and returns the exit code: the single error → exit boundary.
 */
export async function runCli(
  args: readonly string[],
  context: CliContext = { io: processIo, env: processEnv },
): Promise<number> {
  try {
    await buildCli(context).parseAsync([...args], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return 0;
    return exitCodeOf(err, context.io);
  }
}
