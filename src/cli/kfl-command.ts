/**
 * `tapline kfl check QUERY [--json]` — validates a query and explains it (the normalised
 * expression, the push-down plan, warnings); on an error prints the query with a caret
 * under the span and exits 2.
 * `tapline kfl fields [--json] [--protocol P]` — prints the field catalogue.
 */
import { compile, fieldCatalogue, formatKflError, KflError, type FieldInfo } from '../kfl/index.js';

const USAGE = `usage: tapline kfl check QUERY [--json]
       tapline kfl fields [--json] [--protocol P]`;

/** Exit codes: 0 fine (and --help, on stdout), 1 bad usage, 2 the query is not valid KFL. */
export async function runKflCommand(args: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out.write(USAGE + '\n');
    return 0;
  }
  const flags = parseFlags(rest);
  if (!flags) {
    err.write(USAGE + '\n');
    return 1;
  }
  if (sub === 'check') return check(flags, out, err);
  if (sub === 'fields') return fields(flags, out, err);
  err.write(USAGE + '\n');
  return 1;
}

interface Flags {
  json: boolean;
  protocol?: string;
  positional: string[];
}

function parseFlags(args: string[]): Flags | null {
  const flags: Flags = { json: false, positional: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') flags.json = true;
    else if (a === '--protocol' || a === '-p') {
      const v = args[++i];
      if (v === undefined) return null;
      flags.protocol = v;
    } else if (a.startsWith('--protocol=')) flags.protocol = a.slice('--protocol='.length);
    else if (a === '--') flags.positional.push(...args.slice(i + 1)), (i = args.length);
    else flags.positional.push(a);
  }
  return flags;
}

function check(flags: Flags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  if (flags.positional.length !== 1) {
    err.write('tapline kfl check takes one QUERY (quote it)\n' + USAGE + '\n');
    return 1;
  }
  const query = flags.positional[0];
  try {
    const q = compile(query);
    if (flags.json) {
      out.write(
        JSON.stringify({ ok: true, normalized: q.normalized, plan: q.plan, warnings: q.warnings, limit: q.limit ?? null, redact: q.redact, protocols: q.protocols }, null, 2) +
          '\n',
      );
      return 0;
    }
    const lines = [`normalized: ${q.normalized === '' ? '(empty: matches every entry)' : q.normalized}`];
    if (q.limit !== undefined) lines.push(`limit:      ${q.limit}`);
    if (q.redact.length) lines.push(`redact:     ${q.redact.map((p) => p.join('.')).join(', ')}`);
    lines.push(`plan:       ${JSON.stringify(q.plan)}`);
    if (q.warnings.length === 0) lines.push('warnings:   none');
    else for (const w of q.warnings) lines.push('warning: ' + formatKflError(query, w));
    out.write(lines.join('\n') + '\n');
    return 0;
  } catch (e) {
    if (!(e instanceof KflError)) throw e;
    if (flags.json) out.write(JSON.stringify({ ok: false, error: e.toJSON() }, null, 2) + '\n');
    else err.write(formatKflError(query, e) + '\n');
    return 2;
  }
}

function fields(flags: Flags, out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  let rows: FieldInfo[] = fieldCatalogue();
  if (flags.protocol !== undefined) {
    const p = flags.protocol;
    if (!rows.some((r) => r.protocols.includes(p))) {
      const known = [...new Set(rows.flatMap((r) => r.protocols))].sort().join(', ');
      err.write(`unknown protocol '${p}'; the catalogue knows: ${known}\n`);
      return 1;
    }
    rows = rows.filter((r) => r.protocols.length === 0 || r.protocols.includes(p));
  }
  if (flags.json) {
    out.write(JSON.stringify(rows, null, 2) + '\n');
    return 0;
  }
  const pw = Math.max(...rows.map((r) => r.path.length));
  const tw = Math.max(...rows.map((r) => r.type.length));
  const text = rows.map((r) => {
    const where = r.protocols.length === 0 ? '' : ` [${r.protocols.join(', ')}]`;
    return `${r.path.padEnd(pw)}  ${r.type.padEnd(tw)}  ${r.description}${flags.protocol ? '' : where}`;
  });
  out.write(text.join('\n') + '\n');
  return 0;
}
