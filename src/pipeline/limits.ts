import { defaultDecodeLimits, type DecodeLimits } from '../decode/types.js';
import { defaultReassemblyLimits, type ReassemblyLimits } from '../reassembly/types.js';
import { defaultDetectionLimits, type DetectionLimits } from '../protocols/dispatch.js';
import type { ProtocolRegistry } from '../protocols/registry.js';
import { defaultParserSettings, type ParserSettings } from '../protocols/types.js';

/**
 * Every named limit of the packet path, as `section.name`, with its default. Only numbers
 * are limits: a switch such as `parser.deferGzipBodies`, which decides what an entry holds
 * for the reader that follows (`tapline tap` sets it), is not one to set from outside.
 */
export function namedLimits(registry: ProtocolRegistry): Map<string, number> {
  const all = new Map<string, number>();
  const add = (section: string, values: object) => {
    for (const [name, value] of Object.entries(values)) if (typeof value === 'number') all.set(`${section}.${name}`, value);
  };
  add('decode', defaultDecodeLimits);
  add('reassembly', defaultReassemblyLimits);
  add('detection', defaultDetectionLimits);
  add('parser', defaultParserSettings);
  for (const def of registry.all) add(def.name, def.limits);
  return all;
}

export interface LimitOverrides {
  decodeLimits: Partial<DecodeLimits>;
  reassemblyLimits: Partial<ReassemblyLimits>;
  detection: Partial<DetectionLimits>;
  settings: Partial<ParserSettings>;
  protocolLimits: Record<string, Record<string, number>>;
}

/** Bad configuration fails at start-up with a coded error that names the setting. */
export class LimitError extends Error {
  constructor(
    readonly code: 'config.unknown_limit' | 'config.bad_limit',
    message: string,
  ) {
    super(message);
    this.name = 'LimitError';
  }
}

/** Parses `section.name=value` settings (e.g. `http.maxHeaderBytes=8192`) against the known limits. */
export function parseLimitOverrides(pairs: readonly string[], registry: ProtocolRegistry): LimitOverrides {
  const known = namedLimits(registry);
  const out: LimitOverrides = { decodeLimits: {}, reassemblyLimits: {}, detection: {}, settings: {}, protocolLimits: {} };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (!known.has(key)) {
      throw new LimitError('config.unknown_limit', `unknown limit ${JSON.stringify(key)}; known: ${[...known.keys()].join(', ')}`);
    }
    const text = eq < 0 ? '' : pair.slice(eq + 1);
    const value = Number(text);
    if (text === '' || !Number.isFinite(value) || value < 0) {
      throw new LimitError('config.bad_limit', `limit ${key} needs a number ≥ 0, got ${JSON.stringify(text)}`);
    }
    const [section, name] = key.split('.', 2) as [string, string];
    const target =
      section === 'decode' ? out.decodeLimits
      : section === 'reassembly' ? out.reassemblyLimits
      : section === 'detection' ? out.detection
      : section === 'parser' ? out.settings
      : (out.protocolLimits[section] ??= {});
    (target as Record<string, number>)[name] = value;
  }
  return out;
}
