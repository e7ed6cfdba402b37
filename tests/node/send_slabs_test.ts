import "../_helpers/mod.ts";
import assert from "node:assert/strict";
import { Uint8ArrayList } from "uint8arraylist";
import { SendSlabs } from "../../src/node/send_slabs.ts";
import { denoNoiseCrypto } from "../../src/node/noise_crypto.ts";
import { sharedOpenSslAead } from "../../src/node/openssl_aead.ts";
import { SlabReader } from "../../src/services/slab_reader.ts";
import { SLAB_READER_MAX_BYTES } from "../../src/services/constants.ts";
import { loopbackPair, writeAll } from "../_helpers/tcp.ts";

Deno.test("SendSlabs: a slab is lent again only once retired and every byte handed out was sealed", () => {
  const slabs = new SendSlabs(1024, 2);
  const slab = slabs.take();
  const first = slab.subarray(0, 300);
  const second = slab.subarray(300, 700);
  slabs.handedOut(first);
  slabs.sealed(first);
  assert.equal(slabs.free, 0, "the reader still fills it");
  slabs.handedOut(second);
  slabs.retire(slab);
  assert.equal(slabs.free, 0, "400 bytes wait to be sealed");
  slabs.sealed(second.subarray(0, 399));
  assert.equal(slabs.free, 0, "one byte waits");
  slabs.sealed(second.subarray(399));
  assert.equal(slabs.free, 1);
  assert.equal(slabs.take(), slab);
  assert.equal(slabs.reused, 1);
});

Deno.test("SendSlabs: a slab sealed more than handed out, or not kept, is never lent again", () => {
  const slabs = new SendSlabs(1024, 2);
  const slab = slabs.take();
  slabs.handedOut(slab.subarray(0, 100));
  slabs.sealed(slab.subarray(0, 100));
  slabs.sealed(slab.subarray(0, 100)); // someone else seals views of it too
  slabs.retire(slab);
  assert.equal(slabs.free, 0);
  assert.notEqual(slabs.take(), slab);

  const none = new SendSlabs(1024, 0);
  const lent = none.take();
  none.handedOut(lent);
  none.sealed(lent);
  none.retire(lent);
  assert.equal(none.free, 0);
  assert.notEqual(none.take(), lent);
  assert.equal(none.reused, 0);

  slabs.sealed(new Uint8Array(10)); // not lent: ignored
});

Deno.test("SendSlabs: the noise cipher reports what it sealed, pieces of lists included", () => {
  const aead = sharedOpenSslAead();
  const slabs = new SendSlabs(4096, 1);
  const crypto = denoNoiseCrypto({ sendSlabs: slabs, ...(aead === undefined ? {} : { aead }) });
  const key = new Uint8Array(32).fill(1);
  const nonce = new Uint8Array(12);
  const slab = slabs.take();
  slab.fill(7, 0, 3000);
  slabs.handedOut(slab.subarray(0, 3000));
  slabs.retire(slab);
  const header = new Uint8Array(12);
  crypto.chaCha20Poly1305Encrypt(
    new Uint8ArrayList(header, slab.subarray(0, 1000)),
    nonce,
    new Uint8Array(0),
    key,
  );
  assert.equal(slabs.free, 0, "2000 bytes not sealed yet");
  const sealed = crypto.chaCha20Poly1305Encrypt(
    slab.subarray(1000, 3000),
    nonce,
    new Uint8Array(0),
    key,
  );
  assert.equal(slabs.free, 1, "every byte sealed");
  // Sealed out of place: overwriting the slab changes nothing already sealed.
  const before = Uint8Array.from(sealed instanceof Uint8Array ? sealed : sealed.subarray());
  slabs.take().fill(0);
  assert.deepEqual(sealed instanceof Uint8Array ? sealed : sealed.subarray(), before);
});

Deno.test("SlabReader: full-size slabs come from the pool once sealed; every byte read intact", async () => {
  const { client, server, close } = await loopbackPair();
  try {
    const slabs = new SendSlabs(SLAB_READER_MAX_BYTES, 4);
    const reader = new SlabReader(server, slabs);
    const total = 32 * SLAB_READER_MAX_BYTES;
    const sent = new Uint8Array(total);
    for (let i = 0; i < total; i++) sent[i] = (i * 31 + (i >> 12)) & 0xff;
    const writing = writeAll(client, sent).then(() => client.closeWrite());
    const seal = ({ view, at }: { view: Uint8Array; at: number }): void => {
      assert.deepEqual(view, sent.subarray(at, at + view.byteLength), `the bytes at ${at}`);
      slabs.sealed(view);
    };
    let at = 0;
    const held: { view: Uint8Array; at: number }[] = [];
    while (true) {
      const view = await reader.read();
      if (view === null) break;
      held.push({ view, at });
      at += view.byteLength;
      // Each view is sealed two reads later (as a paused stream holds views): until then, no
      // read may land in its slab. It must still hold what was sent when it is sealed.
      if (held.length > 2) seal(held.shift()!);
    }
    held.forEach(seal);
    await writing;
    assert.equal(at, total);
    assert.ok(slabs.reused > 0, "slabs were lent again");
  } finally {
    close();
  }
});
