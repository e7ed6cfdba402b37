import assert from "node:assert/strict";
import type { Stream } from "@libp2p/interface";
import { ByteBudget } from "../../src/node/byte_budget.ts";
import { type FrameViolation, GuardedStream } from "../../src/node/guarded_stream.ts";

/** The part of a libp2p stream a `GuardedStream` uses: message events, pause, abort. */
class FakeStream extends EventTarget {
  paused = false;
  aborted: Error | undefined;
  deliver(data: Uint8Array): void {
    this.dispatchEvent(Object.assign(new Event("message"), { data }));
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  abort(err: Error): void {
    this.aborted = err;
  }
}

function guarded(member: boolean, budget: ByteBudget, violations: FrameViolation[] = []) {
  const raw = new FakeStream();
  const stream = new GuardedStream(raw as unknown as Stream, {
    isMember: () => member,
    proven: () => new Promise<boolean>(() => {}),
    budget,
    maxFrameBytes: 1024,
    deadlineMs: () => 10_000,
    waitMs: 10_000,
    onViolation: (why) => violations.push(why),
  });
  const received: Uint8Array[] = [];
  stream.addEventListener("message", (event) => {
    received.push((event as Event & { data: Uint8Array }).data);
  });
  return { raw, received };
}

/** Lets the guard's pump run: it hands bytes on in promise callbacks. */
function turn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A read buffer holding a frame of `length` bytes after its one-byte header, and spare room. */
function readBuffer(length: number): Uint8Array {
  const buffer = new Uint8Array(4096);
  buffer[0] = length;
  buffer.fill(7, 1, 1 + length);
  return buffer;
}

Deno.test("GuardedStream: a stranger's frame is passed on as copies, which free the read buffer", async () => {
  const budget = new ByteBudget(1000);
  const { raw, received } = guarded(false, budget);
  const buffer = readBuffer(100);
  raw.deliver(buffer.subarray(0, 51)); // the header and half the frame
  await turn();
  assert.equal(budget.used, 100);
  raw.deliver(buffer.subarray(51, 101));
  await turn();
  const body = received.slice(1);
  assert.equal(body.reduce((sum, part) => sum + part.byteLength, 0), 100);
  // A view would keep the whole 4 KiB read buffer alive for as long as the frame is held.
  for (const part of body) assert.notEqual(part.buffer, buffer.buffer);
  assert.equal(budget.used, 0); // the frame ended: its reservation is given back
});

Deno.test("GuardedStream: a member's frame is passed on as views of the read buffer", async () => {
  const budget = new ByteBudget(1000);
  const { raw, received } = guarded(true, budget);
  const buffer = readBuffer(100);
  raw.deliver(buffer.subarray(0, 101));
  await turn();
  assert.equal(received.reduce((sum, part) => sum + part.byteLength, 0), 101);
  for (const part of received) assert.equal(part.buffer, buffer.buffer);
  assert.equal(budget.used, 0);
});

Deno.test("GuardedStream: an oversize frame ends the stream, a frame without room pauses it", async () => {
  const violations: FrameViolation[] = [];
  const oversize = guarded(false, new ByteBudget(1000), violations);
  oversize.raw.deliver(Uint8Array.of(0x81, 0x10)); // 2049 bytes > maxFrameBytes 1024
  await turn();
  assert.deepEqual(violations, ["oversize"]);
  assert.match(String(oversize.raw.aborted), /gossip frame refused: oversize/);

  const full = new ByteBudget(100);
  assert.equal(full.tryReserve(100), true);
  const waiting = guarded(false, full);
  waiting.raw.deliver(readBuffer(50).subarray(0, 51));
  await turn();
  assert.equal(waiting.raw.paused, true);
  assert.equal(waiting.received.reduce((sum, part) => sum + part.byteLength, 0), 1);
  full.release(100);
  await turn();
  assert.equal(waiting.raw.paused, false);
  // Room came: the frame went on, and ended (its reservation is back).
  assert.equal(waiting.received.reduce((sum, part) => sum + part.byteLength, 0), 51);
  assert.equal(full.used, 0);
  waiting.raw.dispatchEvent(new Event("close"));
});

Deno.test("GuardedStream: a stranger's frame that finds the wait for room full ends its stream", async () => {
  const budget = new ByteBudget(100, 1);
  assert.equal(budget.tryReserve(100), true);
  const violations: FrameViolation[] = [];
  const first = guarded(false, budget, violations);
  first.raw.deliver(readBuffer(50).subarray(0, 1));
  await turn();
  assert.equal(first.raw.paused, true); // waits: the one place in the wait
  assert.equal(budget.waiting, 1);
  const second = guarded(false, budget, violations);
  second.raw.deliver(readBuffer(50).subarray(0, 1));
  await turn();
  assert.deepEqual(violations, ["busy"]);
  assert.match(String(second.raw.aborted), /gossip frame refused: busy/);
  assert.equal(first.raw.aborted, undefined);
  // A waiting stream that closes gives its place back at once.
  first.raw.dispatchEvent(new Event("close"));
  await turn();
  assert.equal(budget.waiting, 0);
  const third = guarded(false, budget, violations);
  third.raw.deliver(readBuffer(50).subarray(0, 1));
  await turn();
  assert.equal(third.raw.paused, true);
  assert.deepEqual(violations, ["busy"]);
  third.raw.dispatchEvent(new Event("close"));
});
