/**
 * Test support: a strict reader of the Prometheus text exposition format 0.0.4 (the
 * format's own rules, not prom-client's code), so tests check that /metrics is something
 * Prometheus will accept. Throws on the first line that breaks a rule.
 *
 *   # HELP <name> <docstring>
 *   # TYPE <name> counter|gauge|histogram|summary|untyped
 *   <name>[{<label>="<value>",…}] <float> [<timestamp>]
 */

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  name: string;
  type?: string;
  help?: string;
  samples: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(text: string, line: number): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`line ${line}: '${text}' is not a float`);
  return Number(text);
}

/** The family a sample belongs to: histogram and summary samples carry suffixes. */
function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  if (families.has(name)) return families.get(name);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (name.endsWith(suffix)) {
      const f = families.get(name.slice(0, -suffix.length));
      if (f && (f.type === 'histogram' || f.type === 'summary')) return f;
    }
  }
  return undefined;
}

export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  if (!text.endsWith('\n')) throw new Error('the text must end with a line feed');
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // any other comment is allowed
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name '${name}'`);
      const f = families.get(name) ?? { name, samples: [] };
      families.set(name, f);
      if (kind === 'TYPE') {
        if (f.type !== undefined) throw new Error(`line ${line}: second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`line ${line}: TYPE for ${name} after its samples`);
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type '${rest}'`);
        f.type = rest;
      } else {
        if (f.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`);
        f.help = rest;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, labelText, valueText] = m;
    const labels: Record<string, string> = {};
    if (labelText) {
      let rest = labelText.slice(1, -1);
      while (rest.length > 0) {
        const lm = /^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,?)/.exec(rest);
        if (!lm) throw new Error(`line ${line}: bad labels ${labelText}`);
        if (!LABEL.test(lm[1])) throw new Error(`line ${line}: bad label name '${lm[1]}'`);
        if (lm[1] in labels) throw new Error(`line ${line}: label '${lm[1]}' twice`);
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        rest = rest.slice(lm[0].length);
        if (lm[3] === '' && rest.length > 0) throw new Error(`line ${line}: labels not separated by commas`);
      }
    }
    let f = familyOf(name, families);
    if (!f) {
      f = { name, samples: [] };
      families.set(name, f);
    }
    f.samples.push({ name, labels, value: parseValue(valueText, line) });
  });
  return families;
}
