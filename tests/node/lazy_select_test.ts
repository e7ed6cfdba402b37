// Lazy multistream-select: the caller sends before the answer; the answer is stripped however
// it arrives; a refusal aborts the stream; a close waits for the answer; a real js-libp2p peer
// serves a stream whose data and end came with the proposal; the per-protocol stream cap holds.
import assert from "node:assert/strict";
import type { Stream } from "@libp2p/interface";
import { streamPair } from "@libp2p/utils";
import { multistreamProposal, openLazyStream, selectLazily } from "../../src/node/lazy_select.ts";
import { NODE_TEST, startLibp2pPair } from "../_helpers/mod.ts";

const PROTOCOL = "/edgevpn/service/0.1";
const text = (data: Uint8Array): string => new TextDecoder().decode(data);
const bytes = (value: string): Uint8Array => new TextEncoder().encode(value);

/** Everything `stream` delivers until it ends or closes. */
function received(stream: Stream): Promise<string> {
  return new Promise((resolve) => {
    let all = "";
    stream.addEventListener("message", (event) => (all += text(event.data.subarray())));
    stream.addEventListener("end", () => resolve(all), { once: true });
    stream.addEventListener("close", () => resolve(all), { once: true });
  });
}

/** The first `length` bytes `stream` delivers. */
function firstBytes(stream: Stream, length: number): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: number[] = [];
    const onMessage = (event: { data: { subarray(): Uint8Array } }): void => {
      chunks.push(...event.data.subarray());
      if (chunks.length < length) return;
      stream.removeEventListener("message", onMessage);
      resolve(Uint8Array.from(chunks.slice(0, length)));
    };
    stream.addEventListener("message", onMessage);
  });
}

Deno.test("lazy select: the proposal and the caller's bytes go out before any answer", async () => {
  const [client, server] = await streamPair();
  const proposal = multistreamProposal(PROTOCOL);
  const atServer = firstBytes(server, proposal.byteLength + 5);
  selectLazily(client, PROTOCOL);
  client.send(bytes("hello"));
  const first = await atServer;
  assert.deepEqual(first.subarray(0, proposal.byteLength), proposal);
  assert.equal(text(first.subarray(proposal.byteLength)), "hello");
  assert.equal(client.protocol, PROTOCOL);
});

Deno.test("lazy select: an answer in pieces is stripped, what follows it is delivered", async () => {
  const [client, server] = await streamPair();
  selectLazily(client, PROTOCOL);
  const atClient = received(client);
  const answer = multistreamProposal(PROTOCOL);
  server.send(answer.subarray(0, 3));
  server.send(answer.subarray(3, 25));
  server.send(new Uint8Array([...answer.subarray(25), ...bytes("response")]));
  server.send(bytes(" and more"));
  await server.close();
  assert.equal(await atClient, "response and more");
});

Deno.test("lazy select: a refusal aborts the stream with UnsupportedProtocolError", async () => {
  const [client, server] = await streamPair();
  selectLazily(client, PROTOCOL);
  const closed = new Promise<Error | undefined>((resolve) =>
    client.addEventListener("close", (event) => resolve(event.error), { once: true })
  );
  const header = multistreamProposal(PROTOCOL).subarray(0, 20); // the multistream header
  server.send(new Uint8Array([...header, 3, ...bytes("na\n")]));
  const error = await closed;
  assert.equal(error?.name, "UnsupportedProtocolError");
});

Deno.test("lazy select: a close before the answer is sent after it", async () => {
  const [client, server] = await streamPair();
  let serverSawEnd = false;
  const ended = new Promise<void>((resolve) =>
    server.addEventListener("remoteCloseWrite", () => {
      serverSawEnd = true;
      resolve();
    }, { once: true })
  );
  selectLazily(client, PROTOCOL);
  client.send(bytes("request"));
  const closing = client.close();
  // A negative can only be checked over a while: 50 ms is many round trips of a stream pair.
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(serverSawEnd, false, "the end waits for the answer");
  server.send(multistreamProposal(PROTOCOL));
  await closing;
  await ended;
});

Deno.test({
  name: "lazy select: a js-libp2p peer serves data and an end sent with the proposal",
  ...NODE_TEST,
  async fn() {
    const { server, client, stop } = await startLibp2pPair();
    try {
      await server.handle(PROTOCOL, (stream) => {
        const all = received(stream);
        void all.then((request) => {
          stream.send(bytes(`echo: ${request}`));
          return stream.close();
        });
      });
      await server.handle("/other/1.0.0", () => {});
      const connection = await client.dial(server.getMultiaddrs()[0]!);
      const stream = await openLazyStream(connection, PROTOCOL);
      const answer = received(stream);
      stream.send(bytes("whole request"));
      await stream.close();
      assert.equal(await answer, "echo: whole request");

      // The per-protocol cap newStream would enforce holds here too (it keeps the
      // connection's ping streams free).
      const capped = { maxOutboundStreams: 2 };
      const held = [
        await openLazyStream(connection, PROTOCOL, capped),
        await openLazyStream(connection, PROTOCOL, capped),
      ];
      await assert.rejects(
        openLazyStream(connection, PROTOCOL, capped),
        { name: "TooManyOutboundProtocolStreamsError" },
      );
      for (const stream of held) stream.abort(new Error("done"));

      const refused = await openLazyStream(connection, "/not/served/1.0.0");
      const closed = new Promise<Error | undefined>((resolve) =>
        refused.addEventListener("close", (event) => resolve(event.error), { once: true })
      );
      assert.equal((await closed)?.name, "UnsupportedProtocolError");
    } finally {
      await stop();
    }
  },
});

Deno.test("lazy select: the proposal is multistream's two length-prefixed lines", () => {
  const lines = ["/multistream/1.0.0\n", `${PROTOCOL}\n`];
  const expected = lines.flatMap((line) => [line.length, ...bytes(line)]);
  assert.deepEqual([...multistreamProposal(PROTOCOL)], expected);
  // A protocol of 128 bytes or more takes a two-byte length.
  const long = `/${"x".repeat(140)}`;
  const proposal = multistreamProposal(long);
  assert.deepEqual([...proposal.subarray(20, 22)], [(long.length + 1) % 128 | 0x80, 1]);
  assert.equal(text(proposal.subarray(22)), `${long}\n`);
});
