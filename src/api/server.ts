import { getLogger } from "@logtape/logtape";
import { json } from "./router.ts";

const log = getLogger(["p2p", "api"]);

/** The API's listen address was not usable. */
export class ApiListenError extends Error {
  /**
   * @param message What is wrong, naming the address.
   * @param options The underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ApiListenError";
  }
}

/** Options of {@linkcode serveApi}. */
export interface ServeApiOptions {
  /** `HOST:PORT` (`:PORT` means 127.0.0.1). */
  listen: string;
  /** Bearer token required on every request; mandatory when the host is not loopback. */
  apiToken?: string | undefined;
  handler: (request: Request) => Promise<Response>;
}

/** A running API server. */
export interface ApiServer {
  /** The bound `host:port`. */
  readonly address: string;
  /** Stops accepting and closes the server. */
  shutdown(): Promise<void>;
}

/** Splits `HOST:PORT`; an empty host is 127.0.0.1 (the API is loopback by default). */
export function parseHostPort(text: string, flag: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new ApiListenError(`Cannot use ${flag} "${text}": expected HOST:PORT`);
  }
  return { hostname: match[1] ?? (match[2] || "127.0.0.1"), port };
}

/** Whether `hostname` is a loopback name or address. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}

/**
 * Serves `handler` over HTTP. Binding a non-loopback address requires an API token, and with
 * a token every request must carry `Authorization: Bearer <token>`.
 *
 * @throws {ApiListenError} The address is malformed, not loopback without a token, or taken.
 */
export function serveApi(options: ServeApiOptions): ApiServer {
  const { hostname, port } = parseHostPort(options.listen, "--api-listen");
  if (!isLoopback(hostname) && !options.apiToken) {
    throw new ApiListenError(
      `Cannot serve the API on "${options.listen}": a non-loopback address requires --api-token`,
    );
  }
  const handler = options.apiToken
    ? withBearer(options.apiToken, options.handler)
    : options.handler;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, onListen: () => {} }, handler);
  } catch (err) {
    throw new ApiListenError(
      `Cannot serve the API on "${options.listen}": ${err instanceof Error ? err.message : err}`,
      { cause: err },
    );
  }
  const address = `${formatHost(server.addr.hostname)}:${server.addr.port}`;
  log.info("API listening on http://{address}", { address });
  return { address, shutdown: () => server.shutdown() };
}

function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

function withBearer(
  token: string,
  handler: (request: Request) => Promise<Response>,
): (request: Request) => Promise<Response> {
  return (request) => {
    // The auth scheme is case-insensitive (RFC 9110 §11.1): "bearer x" is "Bearer x".
    const match = /^bearer +(.*)$/i.exec(request.headers.get("authorization") ?? "");
    if (match === null || !timingSafeEqual(match[1] ?? "", token)) {
      return Promise.resolve(
        json({ error: "Cannot authorize request: missing or wrong bearer token" }, 401),
      );
    }
    return handler(request);
  };
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
