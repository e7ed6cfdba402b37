// Noise messages framed by hand: every way a read can cut the wire (inside a length prefix,
// inside a message, several messages at once) delivers the same bytes; a large send goes out
// as messages of at most 65,519 plaintext bytes; a message too short for its tag, or one that
// does not open, ends the stream with an error; a held send shares one message with the rest
// of its turn (under a real yamux: a served stream's acknowledgement and protocol answer).
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { StreamCloseEvent } from "@libp2p/interface";
import { multiaddrConnectionPair, streamPair } from "@libp2p/utils";
import { yamux } from "@libp2p/yamux";
import { Uint8ArrayList } from "uint8arraylist";
import { type Handshake, NoiseFrameStream } from "../../src/node/noise_frames.ts";
import { installYamuxWindowThreshold, opensStream } from "../../src/node/yamux_window.ts";
import { waitFor, withTimeout } from "../_helpers/mod.ts";

const TAG = 16;

/** ChaCha20-Poly1305 with a counter nonce, as a finished noise handshake's cipher states. */
function cipherPair(): { sender: Handshake; receiver: Handshake } {
  const key = randomBytes(32);
  const nonce = (n: number): Uint8Array => {
    const bytes = new Uint8Array(12);
    new DataView(bytes.buffer).setBigUint64(4, BigInt(n), true);
    return bytes;
  };
  let sent = 0;
  let opened = 0;
  const payload = { identityKey: new Uint8Array() };
  const sender: Handshake = {
    payload,
    encrypt(plaintext) {
      const cipher = createCipheriv("chacha20-poly1305", key, nonce(sent++), {
        authTagLength: TAG,
      });
      const body = plaintext instanceof Uint8Array ? plaintext : plaintext.subarray();
      return new Uint8ArrayList(cipher.update(body), cipher.final(), cipher.getAuthTag());
    },
    decrypt: () => assert.fail("the sender does not open"),
  };
  const receiver: Handshake = {
    payload,
    encrypt: () => assert.fail("the receiver does not seal"),
    decrypt(ciphertext) {
      const decipher = createDecipheriv("chacha20-poly1305", key, nonce(opened++), {
        authTagLength: TAG,
      });
      decipher.setAuthTag(ciphertext.subarray(ciphertext.byteLength - TAG));
      const plaintext = decipher.update(ciphertext.subarray(0, ciphertext.byteLength - TAG));
      decipher.final();
      return plaintext;
    },
  };
  return { sender, receiver };
}

/** The wire bytes of one message of `plaintext` bytes, split as a sender must. */
function wireBytes(plaintext: number): number {
  const whole = Math.floor(plaintext / 65_519);
  const rest = plaintext % 65_519;
  return whole * (2 + 65_535) + (rest > 0 ? 2 + rest + TAG : 0);
}

/**
 * The wire bytes `messages` make when sent through a NoiseFrameStream, each once the one
 * before it is on the wire (sends of one turn would share a message).
 */
async function wireOf(sender: Handshake, messages: Uint8Array[]): Promise<Uint8Array> {
  const [near, far] = await streamPair();
  const framed = new NoiseFrameStream(near, sender);
  const wire = new Uint8ArrayList();
  let expected = 0;
  let arrived = (): void => {};
  far.addEventListener("message", (event) => {
    wire.append(event.data);
    if (wire.byteLength >= expected) arrived();
  });
  for (const message of messages) {
    expected += wireBytes(message.byteLength);
    const complete = new Promise<void>((resolve) => (arrived = resolve));
    framed.send(message);
    await withTimeout(complete, 5_000, "the wire bytes");
  }
  framed.abort(new Error("done"));
  return wire.subarray();
}

/** What a NoiseFrameStream delivers when `pieces` arrive as separate reads, then the end. */
async function received(
  receiver: Handshake,
  pieces: (Uint8Array | Uint8ArrayList)[],
): Promise<{ data: Uint8Array; error: Error | undefined }> {
  const [near, far] = await streamPair();
  const framed = new NoiseFrameStream(near, receiver);
  const data = new Uint8ArrayList();
  framed.addEventListener("message", (event) => data.append(event.data));
  const ended = new Promise<Error | undefined>((resolve) => {
    framed.addEventListener("remoteCloseWrite", () => resolve(undefined), { once: true });
    framed.addEventListener("close", (event: StreamCloseEvent) => resolve(event.error), {
      once: true,
    });
  });
  for (const piece of pieces) far.send(piece);
  void far.close().catch(() => {});
  const error = await withTimeout(ended, 5_000, "the end of the framed stream");
  framed.abort(new Error("done"));
  return { data: data.subarray(), error };
}

const text = (value: string): Uint8Array => new TextEncoder().encode(value);

Deno.test("noise frames: every cut of the wire, one or two per read, delivers the same bytes", async () => {
  const { sender } = cipherPair();
  const messages = [text("hello"), text(" noise"), text(" frames!")];
  const wire = await wireOf(sender, messages);
  assert.equal(wire.byteLength, 3 * (2 + TAG) + 19);
  const expected = "hello noise frames!";
  for (let cut = 1; cut < wire.byteLength; cut++) {
    const again = cipherPair();
    // Same key stream per run: rebuild the wire with this run's cipher pair.
    const fresh = await wireOf(again.sender, messages);
    const pieces = [fresh.subarray(0, cut), fresh.subarray(cut)];
    const { data, error } = await received(again.receiver, pieces);
    assert.equal(error, undefined, `cut at ${cut}`);
    assert.equal(new TextDecoder().decode(data), expected, `cut at ${cut}`);
  }
  // Byte by byte, and everything as one list of pieces.
  const bytewise = cipherPair();
  const wire2 = await wireOf(bytewise.sender, messages);
  const oneByOne = [...wire2].map((b) => Uint8Array.of(b));
  const result = await received(bytewise.receiver, oneByOne);
  assert.equal(new TextDecoder().decode(result.data), expected);
  const listed = cipherPair();
  const wire3 = await wireOf(listed.sender, messages);
  const list = new Uint8ArrayList(wire3.subarray(0, 7), wire3.subarray(7, 30), wire3.subarray(30));
  assert.equal(new TextDecoder().decode((await received(listed.receiver, [list])).data), expected);
});

Deno.test("noise frames: a 200 KiB send goes out as messages of at most 65,519 bytes", async () => {
  const { sender, receiver } = cipherPair();
  const big = randomBytes(200 * 1024);
  const wire = await wireOf(sender, [new Uint8Array(big)]);
  const lengths: number[] = [];
  for (let offset = 0; offset < wire.byteLength;) {
    const length = (wire[offset]! << 8) | wire[offset + 1]!;
    lengths.push(length);
    offset += 2 + length;
  }
  assert.deepEqual(lengths, [65_535, 65_535, 65_535, 200 * 1024 - 3 * 65_519 + TAG]);
  const { data, error } = await received(receiver, [
    wire.subarray(0, 70_000),
    wire.subarray(70_000),
  ]);
  assert.equal(error, undefined);
  assert.deepEqual(data, new Uint8Array(big));
});

/** A NoiseFrameStream whose wire bytes are collected, and a promise of its remote's end. */
async function collected(sender: Handshake, holdsTurn?: (data: Uint8ArrayList) => boolean) {
  const [near, far] = await streamPair();
  const framed = new NoiseFrameStream(near, sender, undefined, holdsTurn);
  const wire = new Uint8ArrayList();
  far.addEventListener("message", (event) => wire.append(event.data));
  const farEnded = new Promise<void>((resolve) =>
    far.addEventListener("remoteCloseWrite", () => resolve(), { once: true })
  );
  return { framed, wire, farEnded };
}

/** The plaintext lengths of the messages on `wire`. */
function messageLengths(wire: Uint8ArrayList): number[] {
  const lengths: number[] = [];
  for (let offset = 0; offset < wire.byteLength;) {
    const length = (wire.get(offset) << 8) | wire.get(offset + 1);
    lengths.push(length - TAG);
    offset += 2 + length;
  }
  return lengths;
}

// A stream's acknowledgement, then a protocol answer in two lines: one turn's sends.
const OPENING = ["ACK!", "/multistream/1.0.0\n", "/p2p/x\n"];

Deno.test("noise frames: a held send and the rest of its turn go out as one message, and close sends them", async () => {
  const { sender, receiver } = cipherPair();
  const holdsTurn = (data: Uint8ArrayList) => new TextDecoder().decode(data.subarray()) === "ACK!";
  const { framed, wire, farEnded } = await collected(sender, holdsTurn);
  for (const piece of OPENING) framed.send(text(piece));
  // Closed in the same turn: what is held goes out before the end.
  await framed.close();
  await withTimeout(farEnded, 5_000, "the end of the wire");
  assert.deepEqual(messageLengths(wire), [4 + 19 + 7], "one message");
  const { data, error } = await received(receiver, [wire.subarray()]);
  assert.equal(error, undefined);
  assert.equal(new TextDecoder().decode(data), OPENING.join(""));
});

Deno.test("noise frames: sends not held are sealed as they come, one message each", async () => {
  const { sender } = cipherPair();
  const { framed, wire, farEnded } = await collected(sender, () => false);
  for (const piece of OPENING) framed.send(text(piece));
  await framed.close();
  await withTimeout(farEnded, 5_000, "the end of the wire");
  assert.deepEqual(messageLengths(wire), [4, 19, 7]);
});

Deno.test("noise frames under yamux: a served stream's acknowledgement and protocol answer leave as one message", async () => {
  installYamuxWindowThreshold();
  const toServer = cipherPair();
  const toClient = cipherPair();
  const [clientRaw, serverRaw] = multiaddrConnectionPair();
  const client = new NoiseFrameStream(clientRaw, {
    payload: toServer.sender.payload,
    encrypt: toServer.sender.encrypt,
    decrypt: toClient.receiver.decrypt,
  });
  const server = new NoiseFrameStream(
    serverRaw,
    {
      payload: toClient.sender.payload,
      encrypt: toClient.sender.encrypt,
      decrypt: toServer.receiver.decrypt,
    },
    undefined,
    opensStream,
  );
  const muxers = [client, server].map((framed) =>
    yamux({ enableKeepAlive: false })().createStreamMuxer(framed)
  );
  // What the server's side of the wire carries, from the stream's opening on.
  const wire = new Uint8ArrayList();
  clientRaw.addEventListener("message", (event) => wire.append(event.data));
  const header = text("\x13/multistream/1.0.0\n");
  const protocol = text("\x0a/p2p/echo\n");
  // The server answers as multistream-select does: the header, then (promise hops later) the
  // protocol line.
  muxers[1]!.addEventListener("stream", async (event) => {
    const stream = event.detail;
    // libp2p answers after the frame that opened the stream was handled (and acknowledged).
    await Promise.resolve();
    stream.send(header);
    await Promise.resolve();
    await Promise.resolve();
    stream.send(protocol);
  });
  try {
    const stream = await muxers[0]!.createStream();
    const answered = new Promise<void>((resolve) => {
      let bytes = 0;
      stream.addEventListener("message", (event) => {
        bytes += event.data.byteLength;
        if (bytes >= header.byteLength + protocol.byteLength) resolve();
      });
    });
    stream.send(new Uint8Array([...header, ...protocol]));
    await withTimeout(answered, 5_000, "the protocol answer");
    // The acknowledgement (a 12-byte window update) and two data frames, in one message.
    assert.deepEqual(messageLengths(wire), [
      12 + 12 + header.byteLength + 12 + protocol.byteLength,
    ]);
  } finally {
    for (const muxer of muxers) muxer.abort(new Error("done"));
  }
});

Deno.test("noise frames: a message too short for its tag, or one that does not open, ends the stream", async () => {
  const short = await received(cipherPair().receiver, [Uint8Array.of(0, 5, 1, 2, 3, 4, 5)]);
  assert.equal(short.error?.message, "Invalid chunk");

  const { sender, receiver } = cipherPair();
  const wire = await wireOf(sender, [text("tampered")]);
  wire[5]! ^= 1;
  const tampered = await received(receiver, [wire]);
  assert.ok(tampered.error !== undefined, "the stream ends with an error");
  assert.equal(tampered.data.byteLength, 0);
});

Deno.test("noise frames: the raw connection's end and reset reach the framed stream", async () => {
  const { receiver } = cipherPair();
  const [near, far] = await streamPair();
  const framed = new NoiseFrameStream(near, receiver);
  const remoteClosed = new Promise<void>((resolve) =>
    framed.addEventListener("remoteCloseWrite", () => resolve(), { once: true })
  );
  await far.close();
  await remoteClosed;
  assert.equal(framed.remoteWriteStatus, "closed");
  const closed = new Promise<Error | undefined>((resolve) =>
    framed.addEventListener("close", (event: StreamCloseEvent) => resolve(event.error), {
      once: true,
    })
  );
  far.abort(new Error("gone"));
  assert.ok((await closed) !== undefined, "a reset arrives as an error");
});

Deno.test("noise frames: a message in pieces from several buffers, then another, opens whole", async () => {
  const { sender, receiver } = cipherPair();
  const payload = randomBytes(50_000);
  const wire = await wireOf(sender, [payload, text("after")]);
  const first = wire.byteLength - (2 + 5 + TAG);
  // Contiguous, then a piece in a buffer of its own, then contiguous with that one.
  const own = wire.slice(30_000, first);
  const pieces = [
    wire.subarray(0, 10_000),
    wire.subarray(10_000, 30_000),
    own.subarray(0, 5_000),
    own.subarray(5_000),
    wire.subarray(first),
  ];
  const { data, error } = await received(receiver, pieces);
  assert.equal(error, undefined);
  assert.deepEqual(data.subarray(0, payload.byteLength), new Uint8Array(payload));
  assert.equal(new TextDecoder().decode(data.subarray(payload.byteLength)), "after");
});

Deno.test("noise frames: tell the connection how many bytes are left of the message being read", async () => {
  const { sender, receiver } = cipherPair();
  const wire = await wireOf(sender, [randomBytes(50_000)]);
  const [near, far] = await streamPair();
  const raw = Object.assign(near, {
    readBoundary: undefined as (() => number | undefined) | undefined,
  });
  const framed = new NoiseFrameStream(raw, receiver);
  try {
    const hint = (): number | undefined => raw.readBoundary?.();
    assert.equal(hint(), 0, "between messages");
    const sent = async (from: number, to: number, expected: number | undefined): Promise<void> => {
      far.send(wire.subarray(from, to));
      await waitFor(() => hint() === expected, { timeoutMs: 5_000, message: `${expected} left` });
    };
    await sent(0, 1, undefined); // half a length prefix: the length is not known yet
    await sent(1, 102, wire.byteLength - 102);
    await sent(102, wire.byteLength, 0);
  } finally {
    framed.abort(new Error("done"));
  }
});
