/**
 * Who may connect and talk to this node: a deny list and an application gate, applied to
 * connections (as a libp2p connection gater) and to every incoming message.
 *
 * @module
 */

import type { ConnectionGater, MultiaddrConnection, PeerId } from "@libp2p/interface";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["p2p", "messaging", "trust"]);

/**
 * Decides whether a peer may connect: `true` admits it. It sees the peer ID (proven by the
 * handshake) and the remote address of the connection being opened or accepted. A gate that
 * throws denies.
 */
export type Gate = (peerId: string, addresses: string[]) => boolean | Promise<boolean>;

/** Options of a {@linkcode TrustPolicy}. */
export interface TrustPolicyInit {
  /** The application's gate; absent: every peer not denied is admitted. */
  gate?: Gate;
  /** Peers denied from the start. */
  deny?: Iterable<string>;
}

/**
 * The deny list and the gate. {@linkcode TrustPolicy.connectionGater} applies them to
 * connections; the messaging protocol applies {@linkcode TrustPolicy.isDenied} to every
 * message too, so a peer denied while connected is refused at once.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrustPolicy } from "./trust.ts";
 *
 * const trust = new TrustPolicy({ gate: (peerId) => peerId !== "12D3KooWEvil" });
 * assert.equal(await trust.admits("12D3KooWGood", []), true);
 * assert.equal(await trust.admits("12D3KooWEvil", []), false);
 * trust.deny("12D3KooWGood");
 * assert.equal(await trust.admits("12D3KooWGood", []), false);
 * trust.allow("12D3KooWGood");
 * assert.equal(trust.isDenied("12D3KooWGood"), false);
 * ```
 */
export class TrustPolicy {
  #gate: Gate | undefined;
  #denied: Set<string>;

  /**
   * Constructs a new instance.
   *
   * @param init The gate and the initial deny list.
   */
  constructor(init: TrustPolicyInit = {}) {
    this.#gate = init.gate;
    this.#denied = new Set(init.deny ?? []);
  }

  /**
   * Adds a peer to the deny list.
   *
   * @param peerId The peer.
   */
  deny(peerId: string): void {
    this.#denied.add(peerId);
  }

  /**
   * Removes a peer from the deny list (the gate still applies).
   *
   * @param peerId The peer.
   */
  allow(peerId: string): void {
    this.#denied.delete(peerId);
  }

  /**
   * Whether a peer is on the deny list.
   *
   * @param peerId The peer.
   * @returns `true` if denied.
   */
  isDenied(peerId: string): boolean {
    return this.#denied.has(peerId);
  }

  /** The deny list. */
  get denied(): string[] {
    return [...this.#denied];
  }

  /**
   * Whether a peer may connect: not denied, and admitted by the gate.
   *
   * @param peerId The peer.
   * @param addresses The addresses of the connection.
   * @returns `true` if admitted.
   */
  async admits(peerId: string, addresses: string[]): Promise<boolean> {
    if (this.#denied.has(peerId)) return false;
    if (this.#gate === undefined) return true;
    try {
      return (await this.#gate(peerId, addresses)) === true;
    } catch (error) {
      log.warning("The gate failed for peer {peerId}, denying: {error}", {
        peerId,
        error: String(error),
      });
      return false;
    }
  }

  /**
   * The libp2p connection gater of this policy: it refuses to dial denied peers, and refuses
   * connections (inbound and outbound) once the handshake has proven the peer's identity, if
   * the peer is denied or not admitted by the gate.
   *
   * @returns The gater, for libp2p's `connectionGater` option.
   */
  connectionGater(): ConnectionGater {
    const deny = async (peerId: PeerId, maConn: MultiaddrConnection): Promise<boolean> =>
      !(await this.admits(peerId.toString(), [maConn.remoteAddr.toString()]));
    return {
      denyDialPeer: (peerId: PeerId): boolean => this.#denied.has(peerId.toString()),
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
    };
  }
}
