/**
 * Noise transport messages framed by hand. After the handshake, `@libp2p/noise` reads its
 * 2-byte length-prefixed messages through libp2p's generic length-prefixed decoder: every
 * read is appended to a `Uint8ArrayList`, each length is read across its pieces, each message
 * is cut out as a sub-list and each plaintext handed up as a list of its own, with an event
 * per message. In profiles of round trips that framing was 11 % of a tunnel process's CPU.
 *
 * {@linkcode framedNoise} keeps `@libp2p/noise` for everything that decides security (the XX
 * handshake, its payload and signature checks, the cipher states and their nonces) and
 * replaces only the message stream around the finished handshake: messages that arrive whole
 * are opened where they lie, a message split across reads is collected into one buffer of
 * its exact size, and the plaintexts of one read go up together. The bytes on the wire are
 * the same: 2-byte big-endian length, then ChaCha20-Poly1305 ciphertext and tag, at most
 * 65,535 bytes.
 *
 * @module
 */
import type {
  AbortOptions,
  ConnectionEncrypter,
  MessageStream,
  MessageStreamDirection,
  SecureConnectionOptions,
  SecuredConnection,
  StreamCloseEvent,
} from "@libp2p/interface";
import type { NoiseComponents, NoiseExtensions, NoiseInit } from "@libp2p/noise";
import { noise } from "@libp2p/noise";
import { publicKeyFromProtobuf } from "@libp2p/crypto/keys";
import { peerIdFromPublicKey } from "@libp2p/peer-id";
import { AbstractMessageStream, lpStream, type SendResult } from "@libp2p/utils";
import { Uint8ArrayList } from "uint8arraylist";
import type { BoundaryReads } from "./deno_tcp_connection.ts";
import {
  CHACHA_TAG_BYTES,
  NOISE_MAX_MESSAGE_BYTES,
  NOISE_MAX_PLAINTEXT_BYTES,
} from "./deno_tcp_constants.ts";

const LENGTH_BYTES = 2;

/** What a finished `@libp2p/noise` handshake hands over (its cipher states, wrapped). */
export interface Handshake {
  payload: { identityKey: Uint8Array; extensions?: NoiseExtensions & { streamMuxers?: string[] } };
  encrypt(plaintext: Uint8Array | Uint8ArrayList): Uint8Array | Uint8ArrayList;
  decrypt(ciphertext: Uint8Array, dst?: Uint8Array): Uint8Array | Uint8ArrayList;
}

/** `@libp2p/noise`'s per-message counters (registered when the node has metrics). */
interface PacketCounters {
  encryptedPackets: { increment(): void };
  decryptedPackets: { increment(): void };
  decryptErrors: { increment(): void };
}

/** The members of `@libp2p/noise`'s `Noise` this module uses (private in its types). */
interface NoiseInternals {
  metrics?: PacketCounters;
  performHandshakeInitiator(
    connection: unknown,
    privateKey: NoiseComponents["privateKey"],
    log: MessageStream["log"],
    remoteIdentityKey: unknown,
    options?: SecureConnectionOptions,
  ): Promise<Handshake>;
  performHandshakeResponder: NoiseInternals["performHandshakeInitiator"];
  getStreamMuxer(protocols: string[] | undefined): SecuredConnection["streamMuxer"];
}

function encodeLength(target: Uint8Array, offset: number, length: number): void {
  target[offset] = length >> 8;
  target[offset + 1] = length & 0xff;
}

/**
 * The encrypted stream over a connection whose handshake is done: the same events, state
 * changes and back-pressure as `@libp2p/noise`'s, with the framing above.
 */
export class NoiseFrameStream extends AbstractMessageStream {
  readonly #raw: MessageStream;
  readonly #handshake: Handshake;
  readonly #counters: PacketCounters | undefined;
  /** The first byte of a length prefix that a read cut in two. */
  #lengthHigh: number | undefined;
  /** A message split across reads, collected at its exact size. */
  #partial: Uint8Array | undefined;
  #partialFilled = 0;
  readonly #holdsTurn: ((data: Uint8ArrayList) => boolean) | undefined;
  /** Held until the end of this turn (see `sendData`), not sealed yet. */
  #pending = new Uint8ArrayList();
  #sealScheduled = false;
  /** The raw connection asked us to wait for its `drain`. */
  #rawFull = false;

  /**
   * @param raw The connection the handshake ran on.
   * @param handshake Its result: the cipher states.
   * @param counters `@libp2p/noise`'s packet counters, kept counting.
   * @param holdsTurn Whether a send opens a batch held until the end of the turn (see
   * `sendData`); without it every send is sealed at once.
   */
  constructor(
    raw: MessageStream,
    handshake: Handshake,
    counters?: PacketCounters,
    holdsTurn?: (data: Uint8ArrayList) => boolean,
  ) {
    super({
      log: raw.log,
      inactivityTimeout: raw.inactivityTimeout,
      maxReadBufferLength: raw.maxReadBufferLength,
      direction: raw.direction as MessageStreamDirection,
    });
    this.#raw = raw;
    this.#handshake = handshake;
    this.#counters = counters;
    this.#holdsTurn = holdsTurn;
    if ("readBoundary" in raw) (raw as BoundaryReads).readBoundary = this.#toBoundary;
    raw.addEventListener("message", (event) => {
      try {
        this.#receive(event.data);
      } catch (err) {
        this.abort(err instanceof Error ? err : new Error(String(err)));
      }
    });
    raw.addEventListener("close", (event: StreamCloseEvent) => {
      if (event.error === undefined) this.onTransportClosed();
      else if (event.local === true) this.abort(event.error);
      else this.onRemoteReset();
    });
    raw.addEventListener("drain", () => {
      this.#rawFull = false;
      this.safeDispatchEvent("drain");
    });
    raw.addEventListener("remoteCloseWrite", () => this.onRemoteCloseWrite());
  }

  /** Bytes left of the message being read: 0 between messages, unknown mid-prefix. */
  #toBoundary = (): number | undefined => {
    if (this.#lengthHigh !== undefined) return undefined;
    return this.#partial === undefined ? 0 : this.#partial.byteLength - this.#partialFilled;
  };

  #receive(data: Uint8Array | Uint8ArrayList): void {
    const plaintexts = new Uint8ArrayList();
    if (data instanceof Uint8Array) this.#frames(data, plaintexts);
    else for (const piece of data) this.#frames(piece, plaintexts);
    if (plaintexts.byteLength > 0) this.onData(plaintexts);
  }

  /** Opens every message `chunk` completes, in place where it holds one whole. */
  #frames(chunk: Uint8Array, out: Uint8ArrayList): void {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#partial !== undefined) {
        const take = Math.min(
          this.#partial.byteLength - this.#partialFilled,
          chunk.byteLength - offset,
        );
        this.#partial.set(chunk.subarray(offset, offset + take), this.#partialFilled);
        this.#partialFilled += take;
        offset += take;
        if (this.#partialFilled === this.#partial.byteLength) {
          const message = this.#partial;
          this.#partial = undefined;
          this.#open(message, out);
        }
        continue;
      }
      let length: number;
      if (this.#lengthHigh !== undefined) {
        length = (this.#lengthHigh << 8) | chunk[offset]!;
        this.#lengthHigh = undefined;
        offset += 1;
      } else if (chunk.byteLength - offset >= LENGTH_BYTES) {
        length = (chunk[offset]! << 8) | chunk[offset + 1]!;
        offset += LENGTH_BYTES;
      } else {
        this.#lengthHigh = chunk[offset]!;
        return;
      }
      if (chunk.byteLength - offset >= length) {
        this.#open(chunk.subarray(offset, offset + length), out);
        offset += length;
      } else {
        this.#partial = new Uint8Array(length);
        this.#partialFilled = 0;
      }
    }
  }

  #open(message: Uint8Array, out: Uint8ArrayList): void {
    if (message.byteLength < CHACHA_TAG_BYTES) throw new Error("Invalid chunk");
    // Opened in place, as @libp2p/noise does: the ciphertext is not read again.
    const dst = message.subarray(0, message.byteLength - CHACHA_TAG_BYTES);
    let plaintext: Uint8Array | Uint8ArrayList;
    try {
      plaintext = this.#handshake.decrypt(message, dst);
    } catch (err) {
      this.#counters?.decryptErrors.increment();
      throw err;
    }
    this.#counters?.decryptedPackets.increment();
    if (plaintext instanceof Uint8Array) out.append(plaintext);
    else out.appendAll([...plaintext]);
  }

  /** Seals `data` as messages of at most {@linkcode NOISE_MAX_PLAINTEXT_BYTES}. */
  #seal(data: Uint8ArrayList): Uint8ArrayList {
    const out = new Uint8ArrayList();
    const count = Math.ceil(data.byteLength / NOISE_MAX_PLAINTEXT_BYTES);
    const lengths = new Uint8Array(count * LENGTH_BYTES);
    for (let i = 0; i < count; i++) {
      const start = i * NOISE_MAX_PLAINTEXT_BYTES;
      const end = Math.min(start + NOISE_MAX_PLAINTEXT_BYTES, data.byteLength);
      const piece = count === 1 ? data : data.sublist(start, end);
      const sealed = this.#handshake.encrypt(piece);
      this.#counters?.encryptedPackets.increment();
      const prefix = lengths.subarray(i * LENGTH_BYTES, (i + 1) * LENGTH_BYTES);
      encodeLength(prefix, 0, sealed.byteLength);
      out.append(prefix);
      if (sealed instanceof Uint8Array) out.append(sealed);
      else out.appendAll([...sealed]);
    }
    return out;
  }

  /**
   * Seals `data` as it comes, except a send that `holdsTurn` picks (a stream's opening): it
   * and whatever follows in the same turn of the event loop are held and sealed together at
   * the turn's end. A stream's acknowledgement and the two lines of its protocol answer then
   * cost one encryption, one write and, on the other side, one read and one opening, instead
   * of three each. Not every send: holding a lone request or answer to the turn's end
   * lengthened round trips by 7-10 %. A full message is sealed at once.
   */
  override sendData(data: Uint8ArrayList): SendResult {
    if (!this.#sealScheduled && this.#holdsTurn?.(data) !== true) {
      return { sentBytes: data.byteLength, canSendMore: this.#sendSealed(data) };
    }
    this.#pending.append(data);
    if (this.#pending.byteLength >= NOISE_MAX_PLAINTEXT_BYTES) this.#sealPending();
    else if (!this.#sealScheduled) {
      this.#sealScheduled = true;
      setImmediate(this.#sealAtTurnEnd);
    }
    return { sentBytes: data.byteLength, canSendMore: !this.#rawFull };
  }

  #sealAtTurnEnd = (): void => {
    this.#sealScheduled = false;
    this.#sealPending();
  };

  #sealPending(): void {
    if (this.#pending.byteLength === 0) return;
    const pending = this.#pending;
    this.#pending = new Uint8ArrayList();
    // Aborted meanwhile: what was pending is dropped, as an abort drops unsent bytes.
    if (this.#raw.status === "open") this.#sendSealed(pending);
  }

  /** Seals `data` and hands it to the raw connection; false while it asks us to wait. */
  #sendSealed(data: Uint8ArrayList): boolean {
    if (!this.#raw.send(this.#seal(data))) this.#rawFull = true;
    return !this.#rawFull;
  }

  override sendReset(err: Error): void {
    this.#pending = new Uint8ArrayList();
    this.#raw.abort(err);
  }

  override sendPause(): void {
    this.#raw.pause();
  }

  override sendResume(): void {
    this.#raw.resume();
  }

  override close(options?: AbortOptions): Promise<void> {
    this.#sealPending();
    return this.#raw.close(options);
  }
}

/** 2-byte big-endian length prefixes for the handshake messages. */
function handshakeLengthEncoder(length: number): Uint8Array {
  const prefix = new Uint8Array(LENGTH_BYTES);
  encodeLength(prefix, 0, length);
  return prefix;
}
handshakeLengthEncoder.bytes = LENGTH_BYTES;

function handshakeLengthDecoder(data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < LENGTH_BYTES) throw new RangeError("Could not decode int16BE");
  return data instanceof Uint8Array ? (data[0]! << 8) | data[1]! : data.getUint16(0);
}
handshakeLengthDecoder.bytes = LENGTH_BYTES;

/** Options of {@linkcode framedNoise}. */
export interface FramedNoiseInit extends NoiseInit {
  /** Which sends open a batch sealed at the turn's end (see `NoiseFrameStream.sendData`). */
  holdsTurn?: (data: Uint8ArrayList) => boolean;
}

/**
 * `@libp2p/noise` with {@linkcode NoiseFrameStream} around each secured connection: a
 * connection encrypter in js-libp2p's component shape, for `connectionEncrypters`.
 *
 * @param init As `noise(init)`, plus `holdsTurn` for {@linkcode NoiseFrameStream}.
 * @returns The encrypter factory.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { framedNoise } from "./noise_frames.ts";
 *
 * assert.equal(typeof framedNoise({}), "function");
 * ```
 */
export function framedNoise(
  init: FramedNoiseInit = {},
): (components: NoiseComponents) => ConnectionEncrypter<NoiseExtensions> {
  const { holdsTurn, ...noiseInit } = init;
  const stock = noise(noiseInit);
  return (components) => {
    const inner = stock(components);
    const internals = inner as unknown as NoiseInternals;
    const secure = async (
      connection: MessageStream,
      options: SecureConnectionOptions | undefined,
      initiator: boolean,
    ): Promise<SecuredConnection<NoiseExtensions>> => {
      const log = connection.log?.newScope("noise") ?? connection.log;
      const framed = lpStream(connection, {
        lengthEncoder: handshakeLengthEncoder,
        lengthDecoder: handshakeLengthDecoder,
        maxDataLength: NOISE_MAX_MESSAGE_BYTES,
      });
      const handshake =
        await (initiator
          ? internals.performHandshakeInitiator
          : internals.performHandshakeResponder).call(
            inner,
            framed,
            components.privateKey,
            log,
            options?.remotePeer?.publicKey,
            options,
          );
      const extensions = handshake.payload.extensions;
      const streamMuxer = options?.skipStreamMuxerNegotiation === true
        ? undefined
        : internals.getStreamMuxer.call(inner, extensions?.streamMuxers);
      return {
        connection: new NoiseFrameStream(
          framed.unwrap(),
          handshake,
          internals.metrics,
          holdsTurn,
        ),
        ...(extensions === undefined ? {} : { remoteExtensions: extensions }),
        remotePeer: peerIdFromPublicKey(publicKeyFromProtobuf(handshake.payload.identityKey)),
        ...(streamMuxer === undefined ? {} : { streamMuxer }),
      };
    };
    return Object.assign(inner, {
      secureOutbound: (connection: MessageStream, options?: SecureConnectionOptions) =>
        secure(connection, options, true),
      secureInbound: (connection: MessageStream, options?: SecureConnectionOptions) =>
        secure(connection, options, false),
    });
  };
}
