/**
 * The API's HTTP/1.1 server, on its own accept loop. `Deno.serve` (Deno 2.9) closes neither
 * idle nor slow-header connections (measured: a connection that sends nothing, half a head,
 * or nothing after its answer was still open after 70 s; node:http's headersTimeout is not
 * applied either), and it offers no hook per connection. Here every connection has a deadline
 * in each phase (head, body, answer, keep-alive), the body is handed to the handler as a
 * stream read on demand (a large one is never buffered), and the number of connections is
 * capped, closing the one that waited longest for a request first (one never answered before
 * a keep-alive one).
 */
import { getLogger } from "@logtape/logtape";
import { ACCEPT_RETRY_MS } from "../services/constants.ts";
import { RepeatedWarning } from "../services/repeated_warning.ts";
import {
  API_BODY_TIMEOUT_MS,
  API_HEADER_TIMEOUT_MS,
  API_IDLE_TIMEOUT_MS,
  API_LINGER_BYTES,
  API_LINGER_MS,
  API_MAX_CONNECTIONS,
  API_MAX_HEAD_BYTES,
  API_SHUTDOWN_GRACE_MS,
  API_WRITE_TIMEOUT_MS,
} from "./constants.ts";
import {
  bodyFraming,
  headerValues,
  HttpParseError,
  parseHead,
  reasonPhrase,
  requestHost,
  wantsKeepAlive,
} from "./http_parse.ts";
import { BODY_READ_BYTES, BodyReader, ConnReader } from "./http_reader.ts";
import { errorResponse } from "./router.ts";
import { closeQuietly, writeAll } from "../node/tcp_io.ts";

const log = getLogger(["p2p", "api"]);
const encoder = new TextEncoder();
/** Hop-by-hop and framing headers: the server sets its own. */
const OWN_HEADERS = new Set(["connection", "keep-alive", "content-length", "transfer-encoding"]);

/** Deadlines and caps of an {@linkcode HttpServer}; the defaults are in `constants.ts`. */
export interface HttpLimits {
  maxHeadBytes: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  bodyTimeoutMs: number;
  writeTimeoutMs: number;
  maxConnections: number;
  shutdownGraceMs: number;
}

const DEFAULT_LIMITS: HttpLimits = {
  maxHeadBytes: API_MAX_HEAD_BYTES,
  headerTimeoutMs: API_HEADER_TIMEOUT_MS,
  idleTimeoutMs: API_IDLE_TIMEOUT_MS,
  bodyTimeoutMs: API_BODY_TIMEOUT_MS,
  writeTimeoutMs: API_WRITE_TIMEOUT_MS,
  maxConnections: API_MAX_CONNECTIONS,
  shutdownGraceMs: API_SHUTDOWN_GRACE_MS,
};

/** Options of an {@linkcode HttpServer}. */
export interface HttpServerInit {
  hostname: string;
  port: number;
  handler: (request: Request) => Response | Promise<Response>;
  limits?: Partial<HttpLimits>;
}

/** One client connection: whether a request is being answered, and its deadline. */
interface Client {
  conn: Deno.Conn;
  busy: boolean;
  /** Whether it has been answered once: a keep-alive client, not one that never spoke. */
  answered: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * An HTTP/1.1 server with per-phase deadlines and a connection cap. See the module doc.
 *
 * @throws {Deno.errors.AddrInUse} (from the constructor) The port is taken.
 */
export class HttpServer {
  #listener: Deno.Listener;
  #handler: HttpServerInit["handler"];
  #limits: HttpLimits;
  #clients = new Map<Deno.Conn, Client>();
  #served = new Set<Promise<void>>();
  #closing = false;
  #loop: Promise<void>;
  #acceptFailed = new RepeatedWarning(log, "Cannot accept an API connection: {error}");

  /** Binds and starts accepting. */
  constructor(init: HttpServerInit) {
    this.#handler = init.handler;
    this.#limits = { ...DEFAULT_LIMITS, ...init.limits };
    this.#listener = Deno.listen({ hostname: init.hostname, port: init.port });
    this.#loop = this.#acceptLoop();
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#clients.size;
  }

  /** Stops accepting, lets requests in progress finish (bounded), closes every connection. */
  async shutdown(): Promise<void> {
    this.#closing = true;
    closeQuietly(this.#listener);
    await this.#loop;
    this.#acceptFailed.stop();
    for (const client of this.#clients.values()) if (!client.busy) closeQuietly(client.conn);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#served]),
      new Promise((resolve) => (timer = setTimeout(resolve, this.#limits.shutdownGraceMs))),
    ]);
    clearTimeout(timer);
    for (const client of this.#clients.values()) closeQuietly(client.conn);
    await Promise.allSettled([...this.#served]);
  }

  async #acceptLoop(): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (err) {
        if (this.#closing || err instanceof Deno.errors.BadResource) return;
        // Out of file descriptors, say: keep serving once some are free again.
        this.#acceptFailed.warn({ error: err instanceof Error ? err.message : String(err) });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (this.#clients.size >= this.#limits.maxConnections && !this.#closeLongestWaiting()) {
        closeQuietly(conn);
        continue;
      }
      const client: Client = { conn, busy: false, answered: false, timer: undefined };
      this.#clients.set(conn, client);
      const served = this.#serve(client).catch(() => {}).finally(() => {
        clearTimeout(client.timer);
        this.#clients.delete(conn);
        this.#served.delete(served);
        closeQuietly(conn);
      });
      this.#served.add(served);
    }
  }

  /**
   * Makes room: closes the connection that has waited longest for a request — first among
   * those never answered (idle or slow-header ones), then among keep-alive ones; never a busy
   * one. A legit client's pooled connection outlives a flood of silent ones.
   */
  #closeLongestWaiting(): boolean {
    for (const keepAlive of [false, true]) {
      for (const client of this.#clients.values()) {
        if (client.busy || client.answered !== keepAlive) continue;
        this.#clients.delete(client.conn);
        closeQuietly(client.conn);
        return true;
      }
    }
    return false;
  }

  /** Closes the connection unless disarmed within `ms`. */
  #arm(client: Client, ms: number): void {
    clearTimeout(client.timer);
    client.timer = setTimeout(() => closeQuietly(client.conn), ms);
  }

  #disarm(client: Client): void {
    clearTimeout(client.timer);
    client.timer = undefined;
  }

  /** Waiting for a request: last in line to be closed for room. */
  #waiting(client: Client): void {
    client.busy = false;
    this.#clients.delete(client.conn);
    this.#clients.set(client.conn, client);
  }

  async #serve(client: Client): Promise<void> {
    const reader = new ConnReader(client.conn);
    for (let first = true; !this.#closing; first = false) {
      this.#waiting(client);
      this.#arm(client, first ? this.#limits.headerTimeoutMs : this.#limits.idleTimeoutMs);
      let head: Uint8Array | null;
      try {
        head = await reader.head(this.#limits.maxHeadBytes, () => {
          if (!first) this.#arm(client, this.#limits.headerTimeoutMs);
        });
      } catch (err) {
        if (!(err instanceof HttpParseError)) return;
        await this.#answerError(client, err);
        return await this.#linger(client, reader);
      }
      if (head === null || !this.#clients.has(client.conn)) return;
      client.busy = true;
      this.#disarm(client);
      if (!await this.#answer(client, reader, head)) return await this.#linger(client, reader);
      client.answered = true;
    }
  }

  /**
   * Closes our side after an answer with `connection: close`, then reads (and drops) what the
   * client still sends for a moment: closing with unread bytes would reset the connection and
   * could destroy the answer before the client reads it (a 413 to a large upload).
   */
  async #linger(client: Client, reader: ConnReader): Promise<void> {
    try {
      await client.conn.closeWrite();
    } catch {
      return;
    }
    this.#arm(client, API_LINGER_MS);
    try {
      for (let dropped = 0; dropped < API_LINGER_BYTES;) {
        const chunk = await reader.some(BODY_READ_BYTES);
        if (chunk === null) return;
        dropped += chunk.byteLength;
      }
    } catch {
      // closed by the deadline
    }
  }

  /** Answers one request; whether the connection can carry another. */
  async #answer(client: Client, reader: ConnReader, headBytes: Uint8Array): Promise<boolean> {
    let request: Request;
    let body: BodyReader | undefined;
    let keepAlive: boolean;
    let method: string;
    try {
      const head = parseHead(headBytes);
      const host = requestHost(head);
      const framing = bodyFraming(head);
      method = head.method;
      keepAlive = wantsKeepAlive(head);
      if (framing.kind !== "none") {
        if (method === "GET" || method === "HEAD") {
          throw new HttpParseError(400, `Cannot answer a ${method} request with a body`);
        }
        const expectsContinue = headerValues(head, "expect")
          .some((v) => v.toLowerCase() === "100-continue");
        body = new BodyReader(reader, framing, {
          start: async () => {
            if (expectsContinue) {
              await this.#write(client, encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
            }
            this.#arm(client, this.#limits.bodyTimeoutMs);
          },
          end: () => this.#disarm(client),
        });
      }
      request = new Request(`http://${host}${head.target}`, {
        method,
        headers: new Headers(head.headers),
        body: body?.stream ?? null,
      });
    } catch (err) {
      const status = err instanceof HttpParseError ? err.status : 400;
      const message = err instanceof Error ? err.message : String(err);
      await this.#answerError(client, new HttpParseError(status, message));
      return false;
    }
    let response: Response;
    try {
      response = await this.#handler(request);
    } catch (err) {
      // A body that broke off or was malformed surfaces here, through the handler's read.
      response = errorResponse(err);
    }
    this.#disarm(client);
    // An unread body is still on the wire: the connection cannot carry another request.
    const again = keepAlive && (body === undefined || body.complete) && !this.#closing;
    await this.#respond(client, response, method === "HEAD", again);
    return again;
  }

  async #respond(client: Client, response: Response, head: boolean, keepAlive: boolean) {
    const status = response.status;
    const body = new Uint8Array(await response.arrayBuffer());
    const lines = [`HTTP/1.1 ${status} ${response.statusText || reasonPhrase(status)}`];
    for (const [name, value] of response.headers) {
      if (!OWN_HEADERS.has(name)) lines.push(`${name}: ${value}`);
    }
    const bodiless = status < 200 || status === 204 || status === 304;
    if (!bodiless) lines.push(`content-length: ${body.byteLength}`);
    lines.push(`connection: ${keepAlive ? "keep-alive" : "close"}`);
    lines.push(`date: ${new Date().toUTCString()}`);
    const headBytes = encoder.encode(`${lines.join("\r\n")}\r\n\r\n`);
    if (head || bodiless || body.byteLength === 0) return await this.#write(client, headBytes);
    const message = new Uint8Array(headBytes.byteLength + body.byteLength);
    message.set(headBytes);
    message.set(body, headBytes.byteLength);
    await this.#write(client, message);
  }

  async #answerError(client: Client, err: HttpParseError): Promise<void> {
    client.busy = true;
    const response = errorResponse(err);
    await this.#respond(client, response, false, false).catch(() => {});
  }

  /** Writes within the write deadline (a client that does not read is closed). */
  async #write(client: Client, data: Uint8Array): Promise<void> {
    this.#arm(client, this.#limits.writeTimeoutMs);
    try {
      await writeAll(client.conn, data);
    } finally {
      this.#disarm(client);
    }
  }
}
