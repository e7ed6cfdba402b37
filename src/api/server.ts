import { listenFailure, parseTarget } from "../services/target.ts";
import { getLogger } from "@logtape/logtape";
import { type AllowedHost, isLoopback, normalizeHostname, withHostGuard } from "./host_guard.ts";
import { HttpServer } from "./http_server.ts";
import { json } from "./router.ts";

const log = getLogger(["p2p", "api"]);

/** The API's listen address was not usable. */
export class ApiListenError extends Error {
  /**
   * Creates the error.
   *
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
  /** Hosts the API answers for besides loopback and its own address (`--api-allowed-hosts`). */
  allowedHosts?: AllowedHost[] | undefined;
  handler: (request: Request) => Promise<Response>;
}

/** A running API server. */
export interface ApiServer {
  /** The bound `host:port`. */
  readonly address: string;
  /** Stops accepting and closes the server. */
  shutdown(): Promise<void>;
}

/**
 * Serves `handler` over HTTP. Binding a non-loopback address requires an API token, and with
 * a token every request but the dashboard page must carry `Authorization: Bearer <token>`.
 * Requests for a foreign `Host`, and state changes from a foreign `Origin`, get 403 (see
 * `host_guard.ts`).
 *
 * @throws {ApiListenError} The address is malformed, not loopback without a token, or taken.
 */
export function serveApi(options: ServeApiOptions): ApiServer {
  const { hostname, port } = apiAddress(options.listen);
  if (!isLoopback(hostname) && !options.apiToken) {
    throw new ApiListenError(
      `Cannot serve the API on "${options.listen}": a non-loopback address requires --api-token`,
    );
  }
  const authorized = options.apiToken
    ? withBearer(options.apiToken, options.handler)
    : options.handler;
  const handler = withHostGuard(
    { bound: boundHostnames(hostname), allowed: options.allowedHosts ?? [] },
    authorized,
  );
  let server: HttpServer;
  try {
    server = new HttpServer({ hostname, port, handler });
  } catch (err) {
    throw new ApiListenError(
      `Cannot serve the API on --api-listen "${options.listen}": ${listenFailure(err)}`,
      { cause: err },
    );
  }
  const address = `${formatHost(server.addr.hostname)}:${server.addr.port}`;
  log.info("API listening on http://{address}", { address });
  return { address, shutdown: () => server.shutdown() };
}

function apiAddress(text: string): { hostname: string; port: number } {
  try {
    return parseTarget(text, "--api-listen", "127.0.0.1");
  } catch (err) {
    throw new ApiListenError(err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** The names the API is reached by when bound to `hostname`: every local address for a wildcard. */
function boundHostnames(hostname: string): string[] {
  if (hostname !== "0.0.0.0" && hostname !== "::") return [normalizeHostname(hostname)];
  return Deno.networkInterfaces().map((i) => normalizeHostname(i.address));
}

function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

function withBearer(
  token: string,
  handler: (request: Request) => Promise<Response>,
): (request: Request) => Promise<Response> {
  return (request) => {
    // The dashboard page holds no data: a browser loads it, then the page asks for the token
    // and sends it with every fetch (a navigation cannot carry a bearer).
    if (isDashboardPage(request)) return handler(request);
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

function isDashboardPage(request: Request): boolean {
  return (request.method === "GET" || request.method === "HEAD") &&
    new URL(request.url).pathname === "/";
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
