/**
 * Options of tests that run libp2p nodes in the test's own process, the one exception to the
 * sanitizers: after `stop()` js-libp2p leaves unref'd `AbortSignal.timeout` timers (dials,
 * identify, ping, the connection manager's own stop) and the peer store's BroadcastChannel;
 * they fire or close harmlessly later, but Deno's op and resource sanitizers count them.
 */
export const NODE_TEST = { sanitizeOps: false, sanitizeResources: false } as const;

/**
 * Polls `check` until it returns a value other than `undefined`/`false`, or fails after
 * `timeoutMs` with `message`. Every wait in the tests is bounded by this.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  { timeoutMs = 10_000, intervalMs = 25, message = "condition" }: {
    timeoutMs?: number;
    intervalMs?: number;
    message?: string;
  } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `Timed out after ${timeoutMs} ms waiting for ${message}${last ? `: ${String(last)}` : ""}`,
  );
}

/** Resolves when `promise` does, rejects if it takes longer than `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out after ${timeoutMs} ms: ${what}`)),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves with `check()`'s value as soon as it is truthy: checked at once, then after each
 * `type` event of `target`. Rejects after `timeoutMs`. (The event-driven form of waitFor.)
 */
export function untilEvent<T>(
  target: EventTarget,
  type: string,
  check: () => T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  let listener: (() => void) | undefined;
  const found = new Promise<T>((resolve) => {
    const first = check();
    if (first !== undefined && first !== false) return resolve(first);
    listener = () => {
      const value = check();
      if (value !== undefined && value !== false) resolve(value);
    };
    target.addEventListener(type, listener);
  });
  return withTimeout(found, timeoutMs, what).finally(() => {
    if (listener !== undefined) target.removeEventListener(type, listener);
  });
}
