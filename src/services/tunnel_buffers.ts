import { type SharedKey, sharedKey } from "../network/components.ts";
import { BufferPool } from "../node/buffer_pool.ts";
import type { SendSlabs } from "../node/send_slabs.ts";
import { WRITE_PARTS_BATCH_BYTES, WRITE_PARTS_POOL } from "./constants.ts";

/** The buffers one network's tunnels reuse instead of allocating them per read or write. */
export interface TunnelBuffers {
  /** Read slabs of the TCP side, back once the cipher sealed every byte of them. */
  slabs: SendSlabs;
  /** Batch buffers a stream's pieces are copied into to reach TCP in one write. */
  writeBatches: BufferPool;
}

/** The tunnel buffers of a network: its node's send slabs and a pool of write batches. */
export const TUNNEL_BUFFERS: SharedKey<TunnelBuffers> = sharedKey("tunnel buffers", (network) => ({
  slabs: network.node.services.sendSlabs,
  writeBatches: new BufferPool(WRITE_PARTS_BATCH_BYTES, WRITE_PARTS_POOL),
}));
