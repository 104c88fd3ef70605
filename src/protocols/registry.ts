import type { ProtocolDefinition } from './types.js';

/** A registration that cannot work fails at start-up with a coded error (fastify style). */
export class ProtocolRegistrationError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolRegistrationError';
  }
}

export interface ProtocolRegistry {
  readonly all: readonly ProtocolDefinition[];
  get(name: string): ProtocolDefinition | undefined;
  /**
   * The protocols to probe for a flow, those whose port hints include one of the flow's
   * ports first (ports only decide the order, never whether a protocol is tried).
   */
  candidates(transport: 'tcp' | 'udp', portA: number, portB: number): readonly ProtocolDefinition[];
}

const NAME = /^[a-z][a-z0-9-]*$/;

export function createRegistry(defs: readonly ProtocolDefinition[]): ProtocolRegistry {
  const byName = new Map<string, ProtocolDefinition>();
  for (const def of defs) {
    if (!NAME.test(def.name)) {
      throw new ProtocolRegistrationError('registry.bad_name', `protocol name ${JSON.stringify(def.name)} must match ${NAME}`);
    }
    if (byName.has(def.name)) {
      throw new ProtocolRegistrationError('registry.duplicate', `protocol ${def.name} is registered twice`);
    }
    if (typeof def.probe !== 'function' || typeof def.createParser !== 'function') {
      throw new ProtocolRegistrationError('registry.incomplete', `protocol ${def.name} needs probe() and createParser()`);
    }
    for (const [limit, value] of Object.entries(def.limits)) {
      if (!Number.isFinite(value) || value < 0) {
        throw new ProtocolRegistrationError('registry.bad_limit', `protocol ${def.name}: limit ${limit} = ${value} is not a non-negative number`);
      }
    }
    byName.set(def.name, def);
  }
  const all = [...byName.values()];
  const forTransport = {
    tcp: all.filter((d) => d.transport !== 'udp'),
    udp: all.filter((d) => d.transport !== 'tcp'),
  };
  // Only hinted ports change the order, so the cache is keyed by them alone: a flow's
  // ephemeral client port does not make a new entry (one per flow would grow without end).
  const hintedPorts = new Set(all.flatMap((d) => d.portHints));
  const orderCache = new Map<number, readonly ProtocolDefinition[]>();
  return {
    all,
    get: (name) => byName.get(name),
    candidates(transport, portA, portB) {
      const a = hintedPorts.has(portA) ? portA : 0;
      const b = hintedPorts.has(portB) ? portB : 0;
      if (a === 0 && b === 0) return forTransport[transport];
      const key = (transport === 'tcp' ? 0 : 1) * 2 ** 32 + Math.min(a, b) * 65536 + Math.max(a, b);
      let list = orderCache.get(key);
      if (list === undefined) {
        const hinted = (d: ProtocolDefinition) => d.portHints.includes(a) || d.portHints.includes(b);
        const base = forTransport[transport];
        list = [...base.filter(hinted), ...base.filter((d) => !hinted(d))];
        orderCache.set(key, list);
      }
      return list;
    },
  };
}
