import type { Uint8ArrayList } from "uint8arraylist";
import type { BufferPool } from "../node/buffer_pool.ts";
import { WRITE_PARTS_BATCH_BYTES } from "./constants.ts";

/**
 * Writes the parts of a list in as few writes as possible: consecutive parts are copied
 * into a pooled buffer of up to {@linkcode WRITE_PARTS_BATCH_BYTES} and written together (a
 * copy of a few hundred KiB costs less than a system call per part); a part as large as a
 * batch is written on its own. `write` must have finished with its argument when it resolves.
 *
 * @param data The parts, in order.
 * @param write Writes one buffer completely.
 * @param batches Where the batch buffer is borrowed from (lent for the call, given back).
 */
export async function writeParts(
  data: Uint8ArrayList,
  write: (buf: Uint8Array) => Promise<void>,
  batches?: BufferPool,
): Promise<void> {
  const parts = [...data];
  if (parts.length === 1) return await write(parts[0]!);
  const batch = batches?.take() ?? new Uint8Array(WRITE_PARTS_BATCH_BYTES);
  try {
    let i = 0;
    while (i < parts.length) {
      const first = parts[i]!;
      if (first.byteLength * 2 > batch.byteLength || i + 1 === parts.length) {
        await write(first);
        i++;
        continue;
      }
      let at = 0;
      while (i < parts.length && at + parts[i]!.byteLength <= batch.byteLength) {
        batch.set(parts[i]!, at);
        at += parts[i]!.byteLength;
        i++;
      }
      await write(batch.subarray(0, at));
    }
  } finally {
    batches?.giveBack(batch);
  }
}
