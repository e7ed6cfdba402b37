import { CommanderError } from "commander";

/** Bad command-line input: a flag value or argument that cannot be used. */
export class UsageError extends Error {
  /**
   * @param message What is wrong, naming the input.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The names of errors that are the user's to fix: printed as one line, exit code 1. */
const USER_ERRORS = new Set([
  "UsageError",
  "InvalidTokenError",
  "IdentityError",
  "ApiListenError",
  "AllowedHostError",
  "ApiRequestError",
  "LedgerWriteError",
  "InvalidAddressError",
]);

/** Where the error boundary writes. */
export interface ErrorOutput {
  stderr(text: string): void;
}

/**
 * The one error → exit-code boundary of the CLI. Known errors print `error: <message>` on
 * one line; commander already printed its own; anything else is a bug and keeps its stack.
 *
 * @returns The process exit code.
 */
export function exitCodeOf(err: unknown, out: ErrorOutput): number {
  if (err instanceof CommanderError) return err.exitCode;
  if (err instanceof Error && isUserError(err)) {
    out.stderr(`error: ${oneLine(err.message)}\n`);
    return 1;
  }
  if (err instanceof Deno.errors.AddrInUse) {
    out.stderr(`error: ${oneLine(err.message)}\n`);
    return 1;
  }
  out.stderr(`error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  return 1;
}

function isUserError(err: Error): boolean {
  return USER_ERRORS.has(err.name);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
