/**
 * Opens a stream with a lazy multistream-select, as go-libp2p does for a single protocol: the
 * proposal goes out with the stream's first frame and the caller may send at once, instead of
 * waiting a round trip for the answer (`@libp2p/multistream-select` 7 always waits). For a
 * tunnel that is one round trip less before a new client connection's first byte reaches the
 * serving side.
 *
 * The answer to a proposal echoes it byte for byte (the multistream header, then the
 * protocol), so the stream checks the first bytes it receives against its own proposal and
 * hands on what follows. Anything else (`na`) aborts the stream with an
 * `UnsupportedProtocolError`; the serving side has discarded whatever was sent meanwhile.
 *
 * @module
 */
import {
  type Connection,
  type Stream,
  TooManyOutboundProtocolStreamsError,
  UnsupportedProtocolError,
} from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { appendVarint } from "./varint.ts";

/** The multistream header line, length-prefixed (19 < 128: a one-byte varint). */
export const MULTISTREAM_HEADER_LINE: Uint8Array = Uint8Array.of(
  19,
  ...new TextEncoder().encode("/multistream/1.0.0\n"),
);

/** The muxer of a libp2p 3 `Connection` (a field its type keeps private). */
interface MuxedConnection {
  muxer?: { status?: string; createStream?: () => Promise<Stream> };
}

/** Where a received frame goes (`AbstractMessageStream.onData`, called by the muxer). */
interface DataSink {
  onData(data: Uint8Array | Uint8ArrayList): void;
}

/**
 * The proposal bytes: the multistream header and `protocol`, each length-prefixed.
 *
 * @param protocol The protocol proposed.
 * @returns The bytes, which are also exactly the answer that accepts it.
 */
export function multistreamProposal(protocol: string): Uint8Array {
  const line = new TextEncoder().encode(`${protocol}\n`);
  const prefix: number[] = [];
  appendVarint(line.byteLength, prefix);
  // Built per stream (a measured 1.8 % of a tunnel connection's CPU with a list and concat).
  const out = new Uint8Array(MULTISTREAM_HEADER_LINE.byteLength + prefix.length + line.byteLength);
  out.set(MULTISTREAM_HEADER_LINE);
  out.set(prefix, MULTISTREAM_HEADER_LINE.byteLength);
  out.set(line, MULTISTREAM_HEADER_LINE.byteLength + prefix.length);
  return out;
}

/**
 * How far `received` matches `expected`: `"more"` while it is a prefix of it, `"match"` once
 * it holds all of it, `"mismatch"` as soon as a byte differs.
 */
function compare(received: Uint8ArrayList, expected: Uint8Array): "more" | "match" | "mismatch" {
  let offset = 0;
  // Chunk by chunk: the list's get(i) looks the chunk up again for every byte.
  for (const chunk of received) {
    const length = Math.min(chunk.byteLength, expected.byteLength - offset);
    for (let i = 0; i < length; i++) {
      if (chunk[i] !== expected[offset + i]) return "mismatch";
    }
    offset += length;
    if (offset === expected.byteLength) return "match";
  }
  return "more";
}

/**
 * Strips the answer to `proposal` from the front of what `stream` receives, then restores
 * its normal delivery. A `close()` before the answer waits for it: js-libp2p 3 resets a
 * stream whose remote closed its writable end while the proposal was being handled.
 */
function expectAnswer(stream: Stream, protocol: string, proposal: Uint8Array): void {
  const sink = stream as unknown as DataSink;
  const deliver = sink.onData.bind(stream);
  const close = stream.close.bind(stream);
  const answered = Promise.withResolvers<boolean>();
  const received = new Uint8ArrayList();
  sink.onData = (data) => {
    received.append(data);
    const state = compare(received, proposal);
    if (state === "more") return;
    // The prototype's methods again, from now on.
    delete (sink as Partial<DataSink>).onData;
    delete (stream as Partial<Stream>).close;
    if (state === "mismatch") {
      answered.resolve(false);
      stream.abort(new UnsupportedProtocolError(`Protocol selection failed: ${protocol}`));
      return;
    }
    answered.resolve(true);
    if (received.byteLength > proposal.byteLength) {
      deliver(received.sublist(proposal.byteLength));
    }
  };
  stream.addEventListener("close", () => answered.resolve(false), { once: true });
  stream.close = async (options) => {
    if (await answered.promise) await close(options);
  };
}

/**
 * Opens a `protocol` stream on `connection` without waiting for the peer's answer; falls back
 * to `connection.newStream` where the muxer is not reachable (another libp2p shape).
 *
 * @param connection An open, multiplexed connection.
 * @param protocol The one protocol to speak.
 * @param fallback Options for `newStream` when falling back; its `maxOutboundStreams` (open
 * streams of `protocol` on the connection) is honoured either way.
 * @returns The stream, ready to send.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLibp2pNode } from "./create_node.ts";
 * import { openLazyStream } from "./lazy_select.ts";
 * import { generateTokenConfig } from "../token/token.ts";
 *
 * const options = {
 *   token: generateTokenConfig(),
 *   listen: ["/ip4/127.0.0.1/tcp/0"],
 *   bootstrapPeers: [],
 *   mdns: false,
 * };
 * const server = await createLibp2pNode(options);
 * const client = await createLibp2pNode(options);
 * await server.start();
 * await client.start();
 * try {
 *   await server.handle("/echo/1.0.0", (stream) => {
 *     stream.addEventListener("message", (event) => stream.send(event.data));
 *   });
 *   const connection = await client.dial(server.getMultiaddrs()[0]!);
 *   const stream = await openLazyStream(connection, "/echo/1.0.0");
 *   stream.send(new TextEncoder().encode("sent before the answer"));
 *   const echoed = await new Promise<string>((resolve) => {
 *     stream.addEventListener("message", (event) => {
 *       resolve(new TextDecoder().decode(event.data.subarray()));
 *     });
 *   });
 *   assert.equal(echoed, "sent before the answer");
 * } finally {
 *   await client.stop();
 *   await server.stop();
 * }
 * ```
 */
export async function openLazyStream(
  connection: Connection,
  protocol: string,
  fallback: Parameters<Connection["newStream"]>[1] = {},
): Promise<Stream> {
  const muxer = (connection as unknown as MuxedConnection).muxer;
  const refusedOnLimited = connection.limits !== undefined &&
    fallback.runOnLimitedConnection !== true;
  if (
    connection.status !== "open" || muxer?.status !== "open" ||
    typeof muxer.createStream !== "function" || refusedOnLimited
  ) {
    return await connection.newStream(protocol, fallback);
  }
  // libp2p's own check, which `newStream` would make: the muxer's streams left for other
  // protocols (the connection's pings) are not this protocol's to take.
  const limit = fallback.maxOutboundStreams;
  if (limit !== undefined) {
    let open = 0;
    for (const s of connection.streams) {
      if (s.direction === "outbound" && s.protocol === protocol) open++;
    }
    if (open >= limit) {
      throw new TooManyOutboundProtocolStreamsError(
        `Too many outbound protocol streams for protocol "${protocol}" - ${open}/${limit}`,
      );
    }
  }
  const stream = await muxer.createStream();
  if (typeof (stream as unknown as Partial<DataSink>).onData !== "function") {
    stream.abort(new Error("unexpected stream shape"));
    return await connection.newStream(protocol, fallback);
  }
  selectLazily(stream, protocol);
  return stream;
}

/**
 * Proposes `protocol` on a fresh outbound stream without waiting: sends the proposal, strips
 * the answer from what arrives, aborts the stream if the peer refuses.
 *
 * @param stream A new outbound stream nothing was sent or received on.
 * @param protocol The one protocol to speak.
 */
export function selectLazily(stream: Stream, protocol: string): void {
  stream.protocol = protocol;
  const proposal = multistreamProposal(protocol);
  expectAnswer(stream, protocol, proposal);
  stream.send(proposal);
}
