import { API_MAX_HEAD_BYTES } from "./constants.ts";
import { type BodyFraming, chunkSize, headEnd, HttpParseError } from "./http_parse.ts";

const latin1 = new TextDecoder("latin1");
const EMPTY = new Uint8Array(0);
/** Read size while waiting for a head: small, since idle connections hold it. */
const HEAD_READ_BYTES = 4 * 1024;
/** Read size of a body. */
export const BODY_READ_BYTES = 64 * 1024;

/** Buffered reads of one connection. */
export class ConnReader {
  #conn: Deno.Conn;
  #pending: Uint8Array = EMPTY;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  async #fill(size: number): Promise<boolean> {
    const buffer = new Uint8Array(size);
    const n = await this.#conn.read(buffer);
    if (n === null) return false;
    const joined = new Uint8Array(this.#pending.byteLength + n);
    joined.set(this.#pending);
    joined.set(buffer.subarray(0, n), this.#pending.byteLength);
    this.#pending = joined;
    return true;
  }

  /** The next head, `null` on a clean EOF before it; `onFirstByte` once its first byte is in. */
  async head(maxBytes: number, onFirstByte: () => void): Promise<Uint8Array | null> {
    let started = false;
    while (true) {
      // Empty lines between requests are allowed (RFC 9112 §2.2).
      while (this.#pending[0] === 13 && this.#pending[1] === 10) {
        this.#pending = this.#pending.subarray(2);
      }
      if (!started && this.#pending.byteLength > 0) {
        started = true;
        onFirstByte();
      }
      const end = headEnd(this.#pending);
      if (end > maxBytes || (end < 0 && this.#pending.byteLength > maxBytes)) {
        throw new HttpParseError(431, `Cannot read a request head over ${maxBytes} bytes`);
      }
      if (end >= 0) {
        const head = this.#pending.subarray(0, end);
        this.#pending = this.#pending.subarray(end);
        return head;
      }
      if (!await this.#fill(HEAD_READ_BYTES)) {
        if (this.#pending.byteLength === 0) return null;
        throw new HttpParseError(400, "Cannot read the request: it ended inside its head");
      }
    }
  }

  /** Up to `max` bytes (buffered ones first); `null` at EOF. */
  async some(max: number): Promise<Uint8Array | null> {
    if (this.#pending.byteLength > 0) {
      const chunk = this.#pending.subarray(0, max);
      this.#pending = this.#pending.subarray(chunk.byteLength);
      return chunk;
    }
    const buffer = new Uint8Array(Math.min(max, BODY_READ_BYTES));
    const n = await this.#conn.read(buffer);
    return n === null ? null : buffer.subarray(0, n);
  }

  /** One CRLF-terminated line (without it). */
  async line(maxBytes: number): Promise<string> {
    while (true) {
      const end = this.#pending.findIndex((b, i) => b === 10 && this.#pending[i - 1] === 13);
      if (end >= 0) {
        const line = latin1.decode(this.#pending.subarray(0, end - 1));
        this.#pending = this.#pending.subarray(end + 1);
        return line;
      }
      if (this.#pending.byteLength > maxBytes) {
        throw new HttpParseError(400, `Cannot read a chunk line over ${maxBytes} bytes`);
      }
      if (!await this.#fill(HEAD_READ_BYTES)) {
        throw new HttpParseError(400, "Cannot read the request body: it ended early");
      }
    }
  }
}

/**
 * A request body, read from the connection only as the handler asks for it. `complete` says
 * whether it was read to its end: if not, the connection cannot carry another request.
 */
export class BodyReader {
  complete = false;
  readonly stream: ReadableStream<Uint8Array>;

  /**
   * @param reader The connection.
   * @param framing Content-Length or chunked.
   * @param deadline `start` runs before the first read (it may send `100 Continue` and arms
   *   the body's deadline), `end` once the body has been read to its end.
   */
  constructor(
    reader: ConnReader,
    framing: BodyFraming,
    deadline: { start: () => Promise<void>; end: () => void },
  ) {
    let started = false;
    let remaining = framing.kind === "length" ? framing.length : 0;
    let chunkEnded = false;
    const next = async (): Promise<Uint8Array | null> => {
      if (framing.kind === "chunked" && remaining === 0) {
        if (chunkEnded && (await reader.line(2)) !== "") {
          throw new HttpParseError(400, "Cannot read a chunk: no CRLF after its data");
        }
        remaining = chunkSize(await reader.line(1024));
        if (remaining === 0) {
          while ((await reader.line(API_MAX_HEAD_BYTES)) !== "") {
            // trailer fields are ignored
          }
          return null;
        }
      }
      if (remaining === 0) return null;
      const chunk = await reader.some(Math.min(remaining, BODY_READ_BYTES));
      if (chunk === null) {
        throw new HttpParseError(400, "Cannot read the request body: it ended early");
      }
      remaining -= chunk.byteLength;
      chunkEnded = remaining === 0;
      return chunk;
    };
    this.stream = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!started) {
          started = true;
          await deadline.start();
        }
        const chunk = await next();
        if (chunk === null) {
          this.complete = true;
          deadline.end();
          controller.close();
        } else controller.enqueue(chunk);
      },
    }, { highWaterMark: 0 });
  }
}
