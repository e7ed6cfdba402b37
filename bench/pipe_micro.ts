/**
 * In-process micro-benchmark of the libp2p data path alone (no bridge, no TCP client): two
 * nodes in one process, one stream, N MiB one way. Prints CPU ms per MiB (both ends).
 *
 * ```sh
 * deno run -A bench/pipe_micro.ts [--mib 200] [--transport deno|node] [--chunk 65536] [--reps 3]
 *   [--crypto default|tuned|<bytes>]   # noise: stock switch, Deno-tuned, or node:crypto from <bytes>
 * P2P_TUNING=yamux:stock deno run -A bench/pipe_micro.ts   # one window update per data frame
 * ```
 *
 * @module
 */
import { installDenoShims } from "../src/node/deno_shims.ts";
installDenoShims();
import { parseArgs } from "node:util";
import process from "node:process";
import { createLibp2p } from "libp2p";
import { tcp } from "@libp2p/tcp";
import { noise } from "@libp2p/noise";
import { yamux } from "@libp2p/yamux";
import type { Stream } from "@libp2p/interface";
import { denoTcp } from "../src/node/deno_tcp.ts";
import { denoNoiseCrypto } from "../src/node/noise_crypto.ts";
import { installYamuxWindowThreshold } from "../src/node/yamux_window.ts";
import { tuningFromEnv } from "../src/node/tuning.ts";
if (tuningFromEnv().yamux === "half") installYamuxWindowThreshold();

const { values } = parseArgs({
  args: Deno.args,
  options: {
    mib: { type: "string", default: "200" },
    transport: { type: "string", default: "deno" },
    chunk: { type: "string", default: "65536" },
    reps: { type: "string", default: "3" },
    crypto: { type: "string", default: "default" },
  },
});

const cryptoImpl = values.crypto === "default" ? undefined : denoNoiseCrypto(
  values.crypto === "tuned"
    ? {}
    : { encryptFrom: Number(values.crypto), decryptFrom: Number(values.crypto) },
);

async function mk() {
  return await createLibp2p({
    addresses: { listen: ["/ip4/127.0.0.1/tcp/0"] },
    transports: [values.transport === "deno" ? denoTcp() : tcp()],
    connectionEncrypters: [noise(cryptoImpl === undefined ? {} : { crypto: cryptoImpl })],
    streamMuxers: [yamux({ streamOptions: { maxStreamWindowSize: 2 * 1024 * 1024 } })],
  });
}

const a = await mk();
const b = await mk();
let received = 0;
let done: (() => void) | undefined;
await b.handle("/pipe/1", (stream: Stream) => {
  stream.addEventListener("message", (e) => {
    received += e.data.byteLength;
  });
  stream.addEventListener("end", () => {
    done?.();
    void stream.close();
  });
});
const chunkSize = Number(values.chunk);
const bytes = Number(values.mib) * 1024 * 1024;
for (let rep = 0; rep < Number(values.reps); rep++) {
  const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, "/pipe/1");
  received = 0;
  const finished = new Promise<void>((r) => (done = r));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let sent = 0; sent < bytes; sent += chunkSize) {
    const buf = new Uint8Array(chunkSize);
    if (!stream.send(buf)) {
      await new Promise<void>((r) => stream.addEventListener("drain", () => r(), { once: true }));
    }
  }
  await stream.close();
  await finished;
  const dt = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const mib = received / 1048576;
  console.log(
    `${values.transport} crypto=${values.crypto} chunk=${chunkSize}: ${mib.toFixed(0)} MiB in ${
      dt.toFixed(0)
    } ms = ${(mib / (dt / 1000)).toFixed(0)} MiB/s; cpu ${
      ((cpu.user + cpu.system) / 1000 / mib).toFixed(2)
    } ms/MiB (user ${(cpu.user / 1000 / mib).toFixed(2)}, sys ${
      (cpu.system / 1000 / mib).toFixed(2)
    })`,
  );
}
await a.stop();
await b.stop();
Deno.exit(0);
