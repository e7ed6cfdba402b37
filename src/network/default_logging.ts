import { configureSync, getConfig, getConsoleSink } from "@logtape/logtape";

/**
 * Gives a program that did not configure LogTape the warnings and errors of p2p on the
 * console, so that failures are never silent. A program (or the CLI) that configured LogTape
 * before its first network starts keeps its own configuration.
 */
export function ensureDefaultLogging(): void {
  if (getConfig() !== null) return;
  configureSync({
    sinks: { console: getConsoleSink() },
    loggers: [
      { category: ["p2p"], lowestLevel: "warning", sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}
