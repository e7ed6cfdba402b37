// One HTTP request over its own TCP connection, with any headers (fetch forbids setting Host).
import { closeQuietly, connectTo, readAll, writeAll } from "../_helpers/tcp.ts";
import { withTimeout } from "../_helpers/wait.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A raw answer: status, lower-case headers, body text. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses `HTTP/1.1 …` text (one answer, no chunked body). */
export function parseAnswer(raw: string): RawAnswer {
  const split = raw.indexOf("\r\n\r\n");
  const head = split < 0 ? raw : raw.slice(0, split);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body: split < 0 ? "" : raw.slice(split + 4),
  };
}

/**
 * Sends `method path` to `address` with exactly `headers` (Host included) and an optional JSON
 * body, with `Connection: close`, and reads the answer to EOF (bounded).
 */
export async function rawRequest(
  address: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<RawAnswer> {
  const payload = body === undefined ? "" : JSON.stringify(body);
  const lines = [`${method} ${path} HTTP/1.1`, "Connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body !== undefined) {
    lines.push(
      "Content-Type: application/json",
      `Content-Length: ${encoder.encode(payload).length}`,
    );
  }
  const conn = await connectTo(address);
  try {
    return await withTimeout(
      (async () => {
        await writeAll(conn, encoder.encode(`${lines.join("\r\n")}\r\n\r\n${payload}`));
        return parseAnswer(decoder.decode(await readAll(conn)));
      })(),
      10_000,
      `${method} ${path} on ${address}`,
    );
  } finally {
    closeQuietly(conn);
  }
}
