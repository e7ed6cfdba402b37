// The relay's splice between two streams: bytes both ways, a half-close carried across while
// the other direction goes on, the data limit and the circuit's signal ending both streams.
import assert from "node:assert/strict";
import type { Stream } from "@libp2p/interface";
import { streamPair } from "@libp2p/utils";
import { CircuitLimitError, spliceStreams } from "../../src/node/relay_splice.ts";

/** Two ends joined through a splice, as a relay joins a circuit's source and destination. */
async function circuit(limits: { signal?: AbortSignal; dataBytes?: bigint } = {}) {
  const [source, relayHop] = await streamPair();
  const [relayStop, destination] = await streamPair();
  const done = spliceStreams(relayHop, relayStop, {
    signal: limits.signal ?? new AbortController().signal,
    ...(limits.dataBytes === undefined ? {} : { dataBytes: limits.dataBytes }),
  });
  return { source, destination, relayHop, relayStop, done };
}

function collect(stream: Stream): { text: () => string } {
  let text = "";
  stream.addEventListener("message", (event) => {
    text += new TextDecoder().decode(event.data.subarray());
  });
  return { text: () => text };
}

function ended(stream: Stream): Promise<void> {
  return new Promise((resolve) => stream.addEventListener("end", () => resolve(), { once: true }));
}

function closed(stream: Stream): Promise<Error | undefined> {
  return new Promise((resolve) =>
    stream.addEventListener("close", (event) => resolve(event.error), { once: true })
  );
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

Deno.test("relay splice: bytes go both ways; a half-close crosses, the other way goes on", async () => {
  const { source, destination, done } = await circuit();
  const atDestination = collect(destination);
  const atSource = collect(source);
  const destinationEnded = ended(destination);
  source.send(bytes("request"));
  await source.close();
  await destinationEnded;
  assert.equal(atDestination.text(), "request");

  const sourceEnded = ended(source);
  destination.send(bytes("answer after the request ended"));
  await destination.close();
  await sourceEnded;
  assert.equal(atSource.text(), "answer after the request ended");
  await done;
});

Deno.test("relay splice: the data limit counts both ways and ends both streams", async () => {
  const { source, destination, done } = await circuit({ dataBytes: 10n });
  const sourceClosed = closed(source);
  const destinationClosed = closed(destination);
  const atDestination = collect(destination);
  source.send(bytes("12345"));
  destination.send(bytes("1234"));
  source.send(bytes("12")); // 11 bytes in all
  await done;
  assert.equal(atDestination.text(), "12345", "what is over the limit is not relayed");
  assert.ok(await sourceClosed !== undefined, "the source is reset");
  assert.ok(await destinationClosed !== undefined, "the destination is reset");
});

Deno.test("relay splice: the circuit's signal ends both streams with its reason", async () => {
  const controller = new AbortController();
  const { relayHop, relayStop, done } = await circuit({ signal: controller.signal });
  const hopClosed = closed(relayHop);
  const stopClosed = closed(relayStop);
  controller.abort(new CircuitLimitError(1n));
  await done;
  assert.ok((await hopClosed) instanceof CircuitLimitError);
  assert.ok((await stopClosed) instanceof CircuitLimitError);
});

Deno.test("relay splice: a reset on one side resets the other", async () => {
  const { source, destination, done } = await circuit();
  const destinationClosed = closed(destination);
  source.abort(new Error("gone"));
  await done;
  assert.ok(await destinationClosed !== undefined);
});
