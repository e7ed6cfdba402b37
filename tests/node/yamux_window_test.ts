// The go-yamux window-update rule: a stream grants window only once half of it is used (or
// when flags must go out); its window doubles while data comes within four round trips, once
// it received 16 KiB since its last update (a few small frames do not count). A stream's
// opening (held to the end of its turn) is told apart from the rest.
import assert from "node:assert/strict";
import { StreamState, YamuxStream } from "@libp2p/yamux/stream";
import { Uint8ArrayList } from "uint8arraylist";
import { installYamuxWindowThreshold, opensStream } from "../../src/node/yamux_window.ts";

const KiB = 1024;
const ACK = 2;

interface Frame {
  type: number;
  flag: number;
  length: number;
}

/** The fields `sendWindowUpdate` reads, as a fresh stream has them, and the frames it sends. */
function streamState(init: {
  state?: StreamState;
  received: number;
  sinceEpochMs: number;
  rtt: number;
  flags?: number;
}) {
  const frames: Frame[] = [];
  const window = 256 * KiB;
  const fields = {
    state: init.state ?? StreamState.Established,
    recvWindow: window,
    recvWindowCapacity: window - init.received,
    maxStreamWindowSize: 2048 * KiB,
    epochStart: Date.now() - init.sinceEpochMs,
    streamId: 3,
    getRTT: () => init.rtt,
    getSendFlags: () => init.flags ?? 0,
    sendFrame: (header: Frame) => frames.push(header) > 0,
  };
  return { fields, frames };
}

function sendWindowUpdate(fields: object): void {
  assert.ok(installYamuxWindowThreshold(), "the rule installs on this @libp2p/yamux");
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate(this: object): void };
  proto.sendWindowUpdate.call(fields);
}

Deno.test("yamux window: a small frame early in a stream's life sends no update", () => {
  // A request of a few dozen bytes, at once (our rule before 2026-12-07 doubled the window
  // here and sent an update per frame: four per tunnelled request/response).
  const { fields, frames } = streamState({ received: 64, sinceEpochMs: 0, rtt: 0 });
  sendWindowUpdate(fields);
  assert.deepEqual(frames, []);
  assert.equal(fields.recvWindow, 256 * KiB, "the window does not grow either");
});

Deno.test("yamux window: a bulk frame early in a stream's life doubles the window and grants it", () => {
  const { fields, frames } = streamState({ received: 64 * KiB, sinceEpochMs: 2, rtt: 10 });
  sendWindowUpdate(fields);
  assert.equal(frames.length, 1);
  assert.equal(frames[0]!.length, 512 * KiB - 192 * KiB);
  assert.equal(fields.recvWindow, 512 * KiB);
  assert.equal(fields.recvWindowCapacity, 512 * KiB);
});

Deno.test("yamux window: below 16 KiB used, no growth and no update even within the round trips", () => {
  const { fields, frames } = streamState({ received: 16 * KiB - 1, sinceEpochMs: 0, rtt: 10 });
  sendWindowUpdate(fields);
  assert.deepEqual(frames, []);
  assert.equal(fields.recvWindow, 256 * KiB);
});

Deno.test("yamux window: half a window used slowly grants it at the same size", () => {
  const { fields, frames } = streamState({ received: 128 * KiB, sinceEpochMs: 500, rtt: 20 });
  sendWindowUpdate(fields);
  assert.deepEqual(frames.map((f) => f.length), [128 * KiB]);
  assert.equal(fields.recvWindow, 256 * KiB);
});

Deno.test("yamux window: flags go out at once, with what there is to grant", () => {
  const { fields, frames } = streamState({
    state: StreamState.SYNReceived,
    received: 42,
    sinceEpochMs: 0,
    rtt: 0,
    flags: ACK,
  });
  sendWindowUpdate(fields);
  assert.deepEqual(frames.map((f) => [f.flag, f.length]), [[ACK, 42]]);
  assert.equal(fields.recvWindow, 256 * KiB, "no growth on a flags-only update");
});

/** A yamux frame header: version 0, `type`, `flags`, stream 3, `length`; then `payload`. */
function frame(type: number, flags: number, payload: number[] = []): Uint8ArrayList {
  const length = payload.length;
  return new Uint8ArrayList(
    Uint8Array.of(0, type, flags >> 8, flags & 0xff, 0, 0, 0, 3, 0, 0, 0, length, ...payload),
  );
}

Deno.test("yamux window: a stream's opening is held to the turn's end, the rest is not", () => {
  const [DATA, WINDOW, PING] = [0, 1, 2];
  const [SYN, FIN] = [1, 4];
  assert.equal(opensStream(frame(WINDOW, ACK)), true, "a new stream's acknowledgement");
  assert.equal(opensStream(frame(DATA, SYN, [1, 2])), true, "data opening a stream");
  assert.equal(opensStream(frame(DATA, ACK, [1, 2])), true, "data acknowledging a stream");
  assert.equal(opensStream(frame(WINDOW, 0)), false, "a window update");
  assert.equal(opensStream(frame(WINDOW, FIN)), false, "a half-close");
  assert.equal(opensStream(frame(PING, 0)), false, "a ping");
  assert.equal(opensStream(frame(DATA, 0, [1, 2])), false, "a request or an answer");
  assert.equal(opensStream(new Uint8ArrayList(Uint8Array.of(0, 1))), false, "too short");
});
