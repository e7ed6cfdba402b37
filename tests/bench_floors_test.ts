// The bulk bound the bench derives from the cipher's cost and the plain relay's CPU.
import assert from "node:assert/strict";
import { chachaCost, cryptoBoundMiBs } from "../bench/floors.ts";

const RELAY = { harness: 0.3, service: 0.3, front: 0.6, hop0: 0.6 };

Deno.test("cryptoBoundMiBs: the machine bounds it when the cores are shared by every process", () => {
  // Busiest relay: 0.6 + 1.5 = 2.1 ms/MiB → 476 MiB/s; all processes: 1.8 + 3 ms/MiB on
  // 2 cores → 2000 / 4.8 = 416.7 MiB/s.
  const bound = cryptoBoundMiBs(
    RELAY,
    "front",
    "hop0",
    { sealMsPerMiB: 1.5, openMsPerMiB: 1.5 },
    2,
  );
  assert.ok(Math.abs(bound - 2000 / 4.8) < 1e-9, String(bound));
});

Deno.test("cryptoBoundMiBs: one JS thread bounds it when cores are plenty", () => {
  const cipher = { sealMsPerMiB: 3, openMsPerMiB: 1 };
  // The sealing side: 0.6 + 3 ms/MiB, whichever relay it is.
  assert.ok(Math.abs(cryptoBoundMiBs(RELAY, "front", "hop0", cipher, 64) - 1000 / 3.6) < 1e-9);
  assert.ok(Math.abs(cryptoBoundMiBs(RELAY, "hop0", "front", cipher, 64) - 1000 / 3.6) < 1e-9);
});

Deno.test("cryptoBoundMiBs: an unknown side gives NaN, not a bound", () => {
  const bound = cryptoBoundMiBs(RELAY, "connect", "hop0", { sealMsPerMiB: 1, openMsPerMiB: 1 }, 2);
  assert.ok(Number.isNaN(bound));
});

Deno.test("chachaCost: sealing and opening cost a positive, finite time per MiB", () => {
  const cost = chachaCost(30);
  for (const v of [cost.sealMsPerMiB, cost.openMsPerMiB]) {
    assert.ok(Number.isFinite(v) && v > 0, String(v));
  }
});
