/**
 * HTTP/1.1 request parsing for the API's own server (no IO): the head, how the body is
 * framed, chunk-size lines. Strict where leniency has been a smuggling vector: one Host, no
 * header folding, no Content-Length next to Transfer-Encoding, origin-form targets only.
 */

import { HttpError } from "./router.ts";

/** A request the API cannot parse; answered with `status` and the connection closed. */
export class HttpParseError extends HttpError {
  /**
   * @param status The HTTP status to answer (400, 431, 501, 505).
   * @param message What is wrong, for the client.
   */
  constructor(status: number, message: string) {
    super(status, message);
    this.name = "HttpParseError";
  }
}

/** A parsed request line and header block. */
export interface RequestHead {
  method: string;
  /** Origin-form: starts with `/`. */
  target: string;
  /** `1.1` or `1.0`. */
  version: "1.1" | "1.0";
  headers: [name: string, value: string][];
}

/** How the body of a request is framed. */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked" };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HOST = /^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const latin1 = new TextDecoder("latin1");

/**
 * Where the head ends: the index just past its empty line (`\r\n\r\n`), or -1.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { headEnd } from "./http_parse.ts";
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest");
 * assert.equal(headEnd(bytes), bytes.length - 4);
 * assert.equal(headEnd(bytes.subarray(0, 10)), -1);
 * ```
 */
export function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Parses a request head (request line, headers, the empty line).
 *
 * @throws {HttpParseError} A malformed line, header or target, or an unsupported version.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHead } from "./http_parse.ts";
 * const head = parseHead(new TextEncoder().encode("PUT /a?b HTTP/1.1\r\nHost: x:1\r\n\r\n"));
 * assert.deepEqual(head, {
 *   method: "PUT",
 *   target: "/a?b",
 *   version: "1.1",
 *   headers: [["host", "x:1"]],
 * });
 * ```
 */
export function parseHead(bytes: Uint8Array): RequestHead {
  const lines = latin1.decode(bytes).split("\r\n");
  // RFC 9112 §2.2: empty lines before the request line are ignored.
  while (lines[0] === "") lines.shift();
  const requestLine = /^(\S+) (\S+) HTTP\/(\d\.\d)$/.exec(lines.shift() ?? "");
  if (requestLine === null) throw new HttpParseError(400, "Cannot parse the request line");
  const [, method = "", target = "", version] = requestLine;
  if (!TOKEN.test(method)) throw new HttpParseError(400, "Cannot parse the request method");
  if (version !== "1.1" && version !== "1.0") {
    throw new HttpParseError(505, `Cannot speak HTTP/${version}: only HTTP/1.1 and 1.0`);
  }
  if (!target.startsWith("/")) {
    throw new HttpParseError(400, "Cannot use a request target that is not a path");
  }
  const headers: [string, string][] = [];
  for (const line of lines) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      throw new HttpParseError(400, "Cannot parse a header line (folded or without a name)");
    }
    headers.push([name.toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return { method, target, version, headers };
}

/** The values of header `name` (lower case) in `head`. */
export function headerValues(head: RequestHead, name: string): string[] {
  return head.headers.filter(([n]) => n === name).map(([, v]) => v);
}

/**
 * The request's `Host`: exactly one, a host name or IP literal with an optional port.
 *
 * @throws {HttpParseError} None, several, or a malformed one (400).
 */
export function requestHost(head: RequestHead): string {
  const hosts = headerValues(head, "host");
  if (hosts.length !== 1) {
    throw new HttpParseError(400, `Cannot answer a request with ${hosts.length} Host headers`);
  }
  const host = hosts[0]!;
  if (!HOST.test(host)) throw new HttpParseError(400, `Cannot use Host "${host}": malformed`);
  return host;
}

/**
 * How the body is framed: Content-Length, chunked, or none.
 *
 * @throws {HttpParseError} Both framings, a transfer coding other than `chunked` (501), or
 * a Content-Length that is not one number (400).
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { bodyFraming, parseHead } from "./http_parse.ts";
 * const head = (h: string) => parseHead(new TextEncoder().encode(`POST / HTTP/1.1\r\n${h}\r\n\r\n`));
 * assert.deepEqual(bodyFraming(head("Content-Length: 5")), { kind: "length", length: 5 });
 * assert.deepEqual(bodyFraming(head("Transfer-Encoding: chunked")), { kind: "chunked" });
 * assert.deepEqual(bodyFraming(head("Host: a")), { kind: "none" });
 * ```
 */
export function bodyFraming(head: RequestHead): BodyFraming {
  const codings = headerValues(head, "transfer-encoding");
  const lengths = headerValues(head, "content-length").flatMap((v) => v.split(","))
    .map((v) => v.trim());
  if (codings.length > 0) {
    if (lengths.length > 0) {
      throw new HttpParseError(400, "Cannot frame a body with both Content-Length and chunked");
    }
    if (codings.join(",").trim().toLowerCase() !== "chunked") {
      throw new HttpParseError(501, `Cannot decode Transfer-Encoding "${codings.join(", ")}"`);
    }
    return { kind: "chunked" };
  }
  if (lengths.length === 0) return { kind: "none" };
  if (!lengths.every((v) => /^\d{1,15}$/.test(v)) || new Set(lengths).size !== 1) {
    throw new HttpParseError(400, "Cannot use the request's Content-Length");
  }
  const length = Number(lengths[0]);
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

/**
 * The size of a chunk from its size line (extensions ignored).
 *
 * @throws {HttpParseError} Not a hexadecimal size (400).
 */
export function chunkSize(line: string): number {
  const match = /^([0-9A-Fa-f]{1,12})[ \t]*(?:;.*)?$/.exec(line);
  if (match === null) throw new HttpParseError(400, "Cannot parse a chunk size");
  return parseInt(match[1]!, 16);
}

/** Whether the connection stays open after this request (HTTP/1.1 unless `close`). */
export function wantsKeepAlive(head: RequestHead): boolean {
  const tokens = headerValues(head, "connection").join(",").toLowerCase().split(",")
    .map((t) => t.trim());
  if (tokens.includes("close")) return false;
  return head.version === "1.1" || tokens.includes("keep-alive");
}

const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

/** The reason phrase of a status line (empty for statuses the API does not use). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? "";
}
