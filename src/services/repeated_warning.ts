import { REPEATED_WARNING_INTERVAL_MS } from "./constants.ts";

/**
 * Which occurrences of a repeated warning are logged, with no IO: the first one opens a
 * window; the ones inside it are counted; when the window ends with a count, that count is
 * reported and a new window opens. A burst of any size costs one line per window.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { WarningWindow } from "./repeated_warning.ts";
 *
 * const window = new WarningWindow(1_000);
 * assert.equal(window.occur(0), "log");
 * assert.equal(window.occur(10), "suppress");
 * assert.equal(window.occur(20), "suppress");
 * assert.equal(window.end(1_000), 2); // reported: 2 more like it
 * assert.equal(window.end(2_000), 0); // quiet: the next one is logged at once
 * assert.equal(window.occur(2_500), "log");
 * ```
 */
export class WarningWindow {
  readonly intervalMs: number;
  #endsAt = -Infinity;
  #suppressed = 0;

  /** @param intervalMs Length of a window, in ms. */
  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  /** When the current window ends (ms), or `-Infinity` when none is open. */
  get endsAt(): number {
    return this.#endsAt;
  }

  /** An occurrence at `now`: logged when no window is open, else counted. */
  occur(now: number): "log" | "suppress" {
    if (now >= this.#endsAt && this.#suppressed === 0) {
      this.#endsAt = now + this.intervalMs;
      return "log";
    }
    this.#suppressed++;
    return "suppress";
  }

  /** Ends the window at `now`: returns how many were counted; with any, a new window opens. */
  end(now: number): number {
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    this.#endsAt = suppressed > 0 ? now + this.intervalMs : -Infinity;
    return suppressed;
  }
}

/** Where a {@linkcode RepeatedWarning} writes: a logtape `Logger` fits. */
export interface WarningSink {
  warning(message: string, properties?: Record<string, unknown>): void;
}

/**
 * A warning that can repeat once per connection or per stream (a worker that cannot take a
 * connection, a target that is down): logged at once, then at most once per interval with the
 * number of occurrences it stands for, so a flood of connections cannot flood the log.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { RepeatedWarning } from "./repeated_warning.ts";
 *
 * const lines: string[] = [];
 * const sink = { warning: (message: string) => void lines.push(message) };
 * const warning = new RepeatedWarning(sink, "Cannot reach {target}", 50);
 * for (let i = 0; i < 1000; i++) warning.warn({ target: "127.0.0.1:9" });
 * await new Promise((resolve) => setTimeout(resolve, 100));
 * assert.deepEqual(lines, [
 *   "Cannot reach {target}",
 *   "Cannot reach {target} ({repeats} more like it in the last {repeatWindowS} s)",
 * ]);
 * warning.stop();
 * ```
 */
export class RepeatedWarning {
  #sink: WarningSink;
  #message: string;
  #window: WarningWindow;
  #now: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last: Record<string, unknown> = {};

  /**
   * @param sink The logger.
   * @param message The logtape message template.
   * @param intervalMs At most one line per this many ms. @default {10000}
   * @param now The clock. @default {Date.now}
   */
  constructor(
    sink: WarningSink,
    message: string,
    intervalMs: number = REPEATED_WARNING_INTERVAL_MS,
    now: () => number = Date.now,
  ) {
    this.#sink = sink;
    this.#message = message;
    this.#window = new WarningWindow(intervalMs);
    this.#now = now;
  }

  /** One occurrence, with the properties of the message template. */
  warn(properties: Record<string, unknown> = {}): void {
    const now = this.#now();
    if (this.#window.occur(now) === "log") {
      this.#sink.warning(this.#message, properties);
      return;
    }
    this.#last = properties;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#report, Math.max(0, this.#window.endsAt - now));
      // A pending report must not keep a library user's process alive.
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Reports what is pending and stops the timer. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#report();
  }

  #report = (): void => {
    this.#timer = undefined;
    const suppressed = this.#window.end(this.#now());
    if (suppressed === 0) return;
    this.#sink.warning(
      `${this.#message} ({repeats} more like it in the last {repeatWindowS} s)`,
      { ...this.#last, repeats: suppressed, repeatWindowS: this.#window.intervalMs / 1000 },
    );
  };
}
