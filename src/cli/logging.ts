import {
  configureSync,
  getJsonLinesFormatter,
  getTextFormatter,
  isLogLevel,
  type LogLevel,
  type LogRecord,
  type Sink,
} from "@logtape/logtape";
import { UsageError } from "./errors.ts";

/** Log output formats. */
export type LogFormat = "text" | "json";

/** Where and how logs are written. */
export interface LoggingOptions {
  level: string;
  format: string;
}

const encoder = new TextEncoder();

function stderrSink(format: (record: LogRecord) => string): Sink {
  // Synchronous: a log line written just before Deno.exit() must not be lost.
  return (record) => {
    Deno.stderr.writeSync(encoder.encode(format(record)));
  };
}

/** Parses `--log-level` (LocalAI's `warn` accepted). */
export function parseLogLevel(value: string): LogLevel {
  const level = value === "warn" ? "warning" : value.toLowerCase();
  if (!isLogLevel(level)) {
    throw new UsageError(
      `Cannot use log level "${value}": expected trace, debug, info, warning, error or fatal`,
    );
  }
  return level;
}

/** Parses `--log-format`. */
export function parseLogFormat(value: string): LogFormat {
  if (value !== "text" && value !== "json") {
    throw new UsageError(`Cannot use log format "${value}": expected text or json`);
  }
  return value;
}

/** Sends the `p2p` loggers to stderr, in text or JSON Lines. Only the CLI calls this. */
export function configureLogging(options: LoggingOptions): void {
  const level = parseLogLevel(options.level);
  const format = parseLogFormat(options.format);
  const formatter = format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ value: "bare", category: "." });
  configureSync({
    reset: true,
    sinks: { stderr: stderrSink(formatter) },
    loggers: [
      { category: ["p2p"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
