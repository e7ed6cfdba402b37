/** LocalAI's answer when no worker is online. */
export const NO_WORKERS_MESSAGE = "Sorry, waiting for nodes to connect";

const STATUS_TEXT: Record<number, string> = {
  404: "Not Found",
  503: "Service Unavailable",
};

/**
 * The raw HTTP/1.1 answer LocalAI's federated server writes on a TCP connection it cannot
 * route: status line, `Content-Type: text/html`, `Connection: close`, a one-line HTML body.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpAnswer, NO_WORKERS_MESSAGE } from "./http_answer.ts";
 * const text = new TextDecoder().decode(httpAnswer(503, NO_WORKERS_MESSAGE));
 * assert.ok(text.startsWith("HTTP/1.1 503 Service Unavailable\r\n"));
 * assert.ok(text.endsWith("<html><body><h1>Sorry, waiting for nodes to connect</h1></body></html>\r\n"));
 * ```
 */
export function httpAnswer(status: number, message: string): Uint8Array {
  const body = `<html><body><h1>${message}</h1></body></html>\r\n`;
  return new TextEncoder().encode(
    `HTTP/1.1 ${status} ${
      STATUS_TEXT[status] ?? ""
    }\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n${body}`,
  );
}
