import type { MultiaddrConnection, Transport, Upgrader } from "@libp2p/interface";
import { getNetConfig } from "@libp2p/utils";

/**
 * Limits the inbound connections one remote host may have in the handshake (noise, yamux)
 * at once. libp2p's own limit is node-wide: one host that opens idle sockets and reopens
 * them as they time out fills every slot, and no member can join. With this limit a host
 * holds at most `limit` of them.
 *
 * @param factory The transport factory to wrap.
 * @param limit Handshakes in progress per remote IP.
 * @returns The wrapped factory.
 *
 * @example Usage
 * ```ts
 * import { denoTcp } from "./deno_tcp.ts";
 * import { pendingPerHost } from "./pending_per_host.ts";
 *
 * const transports = [pendingPerHost(denoTcp(), 8)];
 * ```
 */
export function pendingPerHost<C>(
  factory: (components: C) => Transport,
  limit: number,
): (components: C) => Transport {
  return (components) => {
    const inner = factory(components);
    const pending = new Map<string, number>();
    return delegate(inner, {
      createListener: (options) =>
        inner.createListener({ ...options, upgrader: limited(options.upgrader, pending, limit) }),
    });
  };
}

function limited(upgrader: Upgrader, pending: Map<string, number>, limit: number): Upgrader {
  return delegate(upgrader, {
    upgradeInbound: async (maConn: MultiaddrConnection, options) => {
      const host = hostOf(maConn);
      const count = pending.get(host) ?? 0;
      if (count >= limit) {
        const error = new Error(
          `Cannot accept a connection from ${host}: ${limit} handshakes pending`,
        );
        maConn.abort(error);
        throw error;
      }
      pending.set(host, count + 1);
      try {
        return await upgrader.upgradeInbound(maConn, options);
      } finally {
        const left = (pending.get(host) ?? 1) - 1;
        if (left <= 0) pending.delete(host);
        else pending.set(host, left);
      }
    },
  });
}

function hostOf(maConn: MultiaddrConnection): string {
  try {
    return getNetConfig(maConn.remoteAddr).host;
  } catch {
    return maConn.remoteAddr.toString();
  }
}

/**
 * `target` with some members replaced; every other method runs on `target` itself (its
 * private fields stay reachable, which a plain prototype wrapper would break).
 */
function delegate<T extends object>(target: T, overrides: Partial<T>): T {
  const wrapped = Object.create(target) as T;
  for (let proto: object | null = target; proto !== null && proto !== Object.prototype;) {
    for (const key of Reflect.ownKeys(proto)) {
      if (key === "constructor" || Object.hasOwn(wrapped, key)) continue;
      if (Object.hasOwn(overrides, key)) continue;
      const value = Reflect.get(target, key, target);
      if (typeof value === "function") {
        Object.defineProperty(wrapped, key, { value: value.bind(target) });
      }
    }
    proto = Object.getPrototypeOf(proto);
  }
  for (const key of Reflect.ownKeys(overrides)) {
    Object.defineProperty(wrapped, key, { value: overrides[key as keyof T] });
  }
  return wrapped;
}
