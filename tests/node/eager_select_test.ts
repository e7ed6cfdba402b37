// The eager answer: a whole proposal on a stream's first frame is answered as the stream opens
// (one data frame with the acknowledgement), anything else goes to libp2p's multistream-select
// untouched, and libp2p's per-protocol inbound limit still holds.
import assert from "node:assert/strict";
import type { Stream, StreamMuxer, StreamMuxerFactory } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { eagerSelect, proposedProtocol } from "../../src/node/eager_select.ts";
import {
  MULTISTREAM_HEADER_LINE,
  multistreamProposal,
  openLazyStream,
} from "../../src/node/lazy_select.ts";
import { NODE_TEST, startLibp2pPair } from "../_helpers/mod.ts";

const PROTOCOL = "/edgevpn/service/0.1";
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);
const text = (data: Uint8Array | Uint8ArrayList): string =>
  new TextDecoder().decode(data instanceof Uint8Array ? data : data.subarray());

Deno.test("eager select: the proposal is read from the front of a stream's first bytes", () => {
  const proposal = multistreamProposal(PROTOCOL);
  assert.deepEqual(proposedProtocol(new Uint8ArrayList(proposal, bytes("GET /"))), {
    protocol: PROTOCOL,
    length: proposal.byteLength,
  });
  // Split across chunks of the list.
  const split = new Uint8ArrayList(proposal.subarray(0, 7), proposal.subarray(7));
  assert.equal(proposedProtocol(split)?.protocol, PROTOCOL);
  // A two-byte length prefix.
  const long = `/${"x".repeat(200)}`;
  assert.equal(proposedProtocol(new Uint8ArrayList(multistreamProposal(long)))?.protocol, long);
});

Deno.test("eager select: anything but one whole proposal is left to multistream-select", () => {
  const proposal = multistreamProposal(PROTOCOL);
  const line = (value: string): Uint8Array => new Uint8Array([value.length, ...bytes(value)]);
  const cases: [string, Uint8Array][] = [
    ["half a proposal", proposal.subarray(0, proposal.byteLength - 1)],
    ["the header alone", MULTISTREAM_HEADER_LINE],
    ["another header", new Uint8Array([...line("/multistream/2.0.0\n"), ...line(`${PROTOCOL}\n`)])],
    ["no header", line(`${PROTOCOL}\n`)],
    ["no newline", new Uint8Array([...MULTISTREAM_HEADER_LINE, ...line(`${PROTOCOL}x`)])],
    ["an empty protocol", new Uint8Array([...MULTISTREAM_HEADER_LINE, ...line("\n")])],
    ["not UTF-8", new Uint8Array([...MULTISTREAM_HEADER_LINE, 3, 0xff, 0xfe, 0x0a])],
    ["a 3-byte length", new Uint8Array([...MULTISTREAM_HEADER_LINE, 0x80, 0x80, 0x01, 0x0a])],
    [
      "a protocol over 1024 bytes",
      multistreamProposal(`/${"x".repeat(1100)}`),
    ],
  ];
  for (const [name, data] of cases) {
    assert.equal(proposedProtocol(new Uint8ArrayList(data)), undefined, name);
  }
});

/** A yamux-shaped muxer of a fake factory: creates a stream on SYN, then hands it the data. */
function fakeMuxer(): {
  factory: StreamMuxerFactory;
  opened: { protocol: string; sent: string[] }[];
  delivered: string[];
} {
  const opened: { protocol: string; sent: string[] }[] = [];
  const delivered: string[] = [];
  const muxer = {
    handleStreamMessage(frame: { header: { type: number; flag: number }; data?: Uint8ArrayList }) {
      if ((frame.header.flag & 1) !== 0) {
        const sent: string[] = [];
        const stream = { protocol: "", send: (data: Uint8Array) => sent.push(text(data)) };
        this.onRemoteStream(stream as unknown as Stream);
        opened.push({ protocol: stream.protocol, sent });
      }
      if (frame.data !== undefined && frame.data.byteLength > 0) delivered.push(text(frame.data));
    },
    onRemoteStream(_stream: Stream) {},
  };
  return {
    factory: { protocol: "/yamux/1.0.0", createStreamMuxer: () => muxer as unknown as StreamMuxer },
    opened,
    delivered,
  };
}

Deno.test("eager select: a handled proposal on a SYN data frame is answered as the stream opens", () => {
  const fake = fakeMuxer();
  const registrar = {
    getHandler(protocol: string) {
      if (protocol !== PROTOCOL) throw new Error(`no handler for ${protocol}`);
      return {};
    },
  };
  const factory = eagerSelect(() => fake.factory)({ registrar });
  const muxer = factory.createStreamMuxer({} as never) as unknown as {
    handleStreamMessage(frame: unknown): void;
  };
  const proposal = multistreamProposal(PROTOCOL);
  const data = { type: 0, flag: 1, streamID: 1, length: 0 };
  muxer.handleStreamMessage({ header: data, data: new Uint8ArrayList(proposal, bytes("hello")) });
  assert.deepEqual(fake.opened[0], { protocol: PROTOCOL, sent: [text(proposal)] });
  assert.deepEqual(fake.delivered, ["hello"], "the stream gets what follows the proposal");

  // Not handled: na is multistream-select's to say; the bytes stay.
  const other = multistreamProposal("/other/1.0.0");
  muxer.handleStreamMessage({ header: { ...data, streamID: 3 }, data: new Uint8ArrayList(other) });
  assert.deepEqual(fake.opened[1], { protocol: "", sent: [] });
  assert.equal(fake.delivered[1], text(other));

  // A SYN on a window update (go-yamux opens so), then the proposal: the long way.
  muxer.handleStreamMessage({ header: { type: 1, flag: 1, streamID: 5, length: 0 } });
  muxer.handleStreamMessage({
    header: { ...data, flag: 0, streamID: 5 },
    data: new Uint8ArrayList(proposal),
  });
  assert.deepEqual(fake.opened[2], { protocol: "", sent: [] });
  assert.equal(fake.delivered[2], text(proposal));
});

Deno.test({
  name: "eager select: a js-libp2p peer's answer is one data frame with the acknowledgement",
  ...NODE_TEST,
  async fn() {
    const { server, client, stop } = await startLibp2pPair({ tuning: { select: "eager" } });
    try {
      await server.handle(PROTOCOL, (stream) => {
        stream.addEventListener("message", (event) => {
          stream.send(bytes(`echo: ${text(event.data)}`));
          void stream.close();
        });
      }, { maxInboundStreams: 1 });
      const connection = await client.dial(server.getMultiaddrs()[0]!);
      // The frames the client's muxer receives (yamux header: type, flags, stream, length).
      const muxer = (connection as unknown as { muxer: { handleFrame(frame: unknown): void } })
        .muxer;
      const frames: { type: number; flag: number; streamID: number; length: number }[] = [];
      const handleFrame = muxer.handleFrame;
      muxer.handleFrame = function (frame) {
        frames.push((frame as { header: (typeof frames)[number] }).header);
        handleFrame.call(this, frame);
      };
      const stream = await openLazyStream(connection, PROTOCOL);
      const answer = new Promise<string>((resolve) =>
        stream.addEventListener("message", (event) => resolve(text(event.data)), { once: true })
      );
      stream.send(bytes("request"));
      assert.equal(await answer, "echo: request");
      const first = frames.find((frame) => String(frame.streamID) === stream.id);
      assert.deepEqual(first, {
        type: 0,
        flag: 2, // ACK
        streamID: Number(stream.id),
        length: multistreamProposal(PROTOCOL).byteLength,
      });

      // libp2p's inbound limit for the protocol (1) still holds for eagerly answered streams.
      const held = await openLazyStream(connection, PROTOCOL);
      held.send(bytes("held"));
      const second = await openLazyStream(connection, PROTOCOL);
      const closed = new Promise<string | undefined>((resolve) =>
        second.addEventListener("close", (event) => resolve(event.error?.name), { once: true })
      );
      second.send(bytes("over the limit"));
      assert.equal(await closed, "StreamResetError");
      held.abort(new Error("done"));
    } finally {
      await stop();
    }
  },
});
