import { API_MAX_BODY_BYTES } from "./constants.ts";

/** An HTTP error answered as JSON `{ "error": message }` with its status. */
export class HttpError extends Error {
  readonly status: number;
  /**
   * @param status The HTTP status code.
   * @param message What went wrong, for the client.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/** A route handler: gets the request and the named path parameters. */
export type RouteHandler = (
  request: Request,
  params: Record<string, string>,
) => Response | Promise<Response>;

interface Route {
  method: string;
  pattern: URLPattern;
  handler: RouteHandler;
}

/** A JSON response. */
export function json(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body, null, 2)}\n`, {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/**
 * Reads a JSON request body, answering 400 when it is not JSON and 413 when it is larger than
 * `maxBytes`: a declared length is refused before a byte is read, and a body without one is cut
 * off as soon as it passes the limit (never held whole).
 */
export async function readJson(
  request: Request,
  maxBytes: number = API_MAX_BODY_BYTES,
): Promise<unknown> {
  const tooLarge = (): HttpError =>
    new HttpError(413, `Cannot read request body: larger than ${maxBytes} bytes`);
  if (Number(request.headers.get("content-length") ?? 0) > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    const reader = request.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HttpError(400, "Cannot read request body: not JSON");
  }
}

/**
 * A small method + path router: `/api/ledger/:bucket/:key`-style patterns, 404 and 405
 * answered as JSON, handler errors turned into JSON errors instead of crashing the server.
 */
export class Router {
  #routes: Route[] = [];

  /** Adds a route; `path` uses URLPattern syntax (`/api/pools/:pool`). */
  add(method: string, path: string, handler: RouteHandler): this {
    this.#routes.push({ method, pattern: new URLPattern({ pathname: path }), handler });
    return this;
  }

  /** Answers `request` with the first matching route. */
  handle = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    let pathMatched = false;
    for (const route of this.#routes) {
      const match = route.pattern.exec({ pathname: url.pathname });
      if (match === null) continue;
      pathMatched = true;
      if (
        route.method !== request.method && !(route.method === "GET" && request.method === "HEAD")
      ) {
        continue;
      }
      try {
        return await route.handler(request, decodeParams(match.pathname.groups));
      } catch (err) {
        return errorResponse(err);
      }
    }
    return pathMatched
      ? json({ error: `Cannot ${request.method} ${url.pathname}: method not allowed` }, 405)
      : json({ error: `Cannot find ${url.pathname}` }, 404);
  };
}

function decodeParams(groups: Record<string, string | undefined>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(groups)) {
    if (value === undefined) continue;
    try {
      params[name] = decodeURIComponent(value);
    } catch {
      throw new HttpError(400, `Cannot decode path parameter "${name}"`);
    }
  }
  return params;
}

/** Turns a thrown error into the JSON error response the API promises. */
export function errorResponse(err: unknown): Response {
  if (err instanceof HttpError) return json({ error: err.message }, err.status);
  if (err instanceof Error && err.name === "LedgerWriteError") {
    return json({ error: err.message }, 413);
  }
  return json({ error: err instanceof Error ? err.message : String(err) }, 500);
}
