import assert from "node:assert/strict";
import { p2pEntry } from "../../bench/lib/entry.ts";

/** Output of a finished `p2p` run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run a script to completion. */
export interface RunOptions {
  /** Added to the child's environment (which has `NO_COLOR=1`). */
  env?: Record<string, string>;
  /** Bound of the whole run, ms. @default {30000} */
  timeoutMs?: number;
  /** Written to the child's stdin, which is closed after it (no stdin when absent). */
  stdin?: string;
}

/** Runs `p2p args…` (main.ts under `deno run -A`) to completion, bounded by `timeoutMs`. */
export function runP2P(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return runDenoScript(p2pEntry(), args, options);
}

/** Runs `deno run -A script args…` to completion, bounded by `timeoutMs`. */
export async function runDenoScript(
  script: string,
  args: string[],
  { env = {}, timeoutMs = 30_000, stdin }: RunOptions = {},
): Promise<RunResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { NO_COLOR: "1", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const child = command.spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: withoutDenoLockNotice(decoder.decode(out.stderr)),
  };
}

/**
 * `stderr` without the notice Deno itself prints when processes started together wait for
 * the project's `node_modules` lock (seen once on a loaded CI machine, six `p2p token` runs
 * at once): the runtime's, not p2p's output, which is what the tests judge.
 */
function withoutDenoLockNotice(stderr: string): string {
  return stderr.replace(/^Blocking waiting for file lock on [^\n]*\n/gm, "");
}

/** How to start a {@linkcode LineProcess}. */
export interface LineProcessOptions {
  /** Extra environment variables (`NO_COLOR=1` is always set). */
  env?: Record<string, string>;
  /** Whether the test writes to the child's stdin (see {@linkcode LineProcess.writeLine}). */
  stdin?: boolean;
}

/** A long-running child process whose output lines are collected as they arrive. */
export class LineProcess {
  readonly child: Deno.ChildProcess;
  readonly stdoutLines: string[] = [];
  readonly stderrLines: string[] = [];
  readonly exited: Promise<Deno.CommandStatus>;
  #readers: Promise<void>[];
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  constructor(
    command: string,
    args: string[],
    { env = {}, stdin = false }: LineProcessOptions = {},
  ) {
    this.child = new Deno.Command(command, {
      args,
      env: { NO_COLOR: "1", ...env },
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = stdin ? this.child.stdin.getWriter() : undefined;
    this.#readers = [
      collectLines(this.child.stdout, this.stdoutLines),
      collectLines(this.child.stderr, this.stderrLines),
    ];
    this.exited = this.child.status;
  }

  /** Writes `line` and a newline to the child's stdin (started with `stdin: true`). */
  async writeLine(line: string): Promise<void> {
    if (this.#stdin === undefined) throw new Error("Cannot write: the process has no stdin pipe");
    await this.#stdin.write(new TextEncoder().encode(`${line}\n`));
  }

  /** Sends `signal` and waits (bounded) for the exit; SIGKILL if it does not come. */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 5_000): Promise<Deno.CommandStatus> {
    // Not awaited: a child that stopped reading must not stall the stop.
    this.#stdin?.close().catch(() => {});
    try {
      this.child.kill(signal);
    } catch {
      // already exited
    }
    const timer = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }, timeoutMs);
    try {
      const status = await this.exited;
      // A grandchild holding the pipes open must not stall the test: bound the drain.
      let drainTimer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all(this.#readers),
        new Promise((resolve) => (drainTimer = setTimeout(resolve, 2_000))),
      ]);
      clearTimeout(drainTimer);
      return status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Everything written to stderr so far, for failure messages. */
  get stderrText(): string {
    return this.stderrLines.join("\n");
  }
}

/** A long-running `p2p` process (main.ts under `deno run -A`). */
export class P2PProcess extends LineProcess {
  constructor(args: string[], env: Record<string, string> = {}) {
    super(Deno.execPath(), ["run", "-A", p2pEntry(), ...args], { env });
  }
}

async function collectLines(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    into.push(...parts);
  }
  if (rest !== "") into.push(rest);
}

/**
 * Asserts a command that failed on bad input: exit 1, nothing on stdout, exactly one `error:`
 * line matching `pattern` and no stack trace. Unless `afterStart`, stderr holds nothing else
 * (it failed before any node started and logged).
 */
export function assertCliError(
  result: RunResult,
  pattern: RegExp,
  { afterStart = false }: { afterStart?: boolean } = {},
): void {
  const context = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
  assert.equal(result.code, 1, context);
  assert.equal(result.stdout, "", context);
  const lines = result.stderr.split("\n").filter((l) => l.trim() !== "");
  const errors = lines.filter((l) => l.startsWith("error: "));
  assert.equal(errors.length, 1, context);
  assert.match(errors[0]!, pattern, context);
  assert.ok(!lines.some((l) => /^\s+at /.test(l)), `a stack trace was printed\n${context}`);
  if (!afterStart) assert.equal(lines.length, 1, context);
}
