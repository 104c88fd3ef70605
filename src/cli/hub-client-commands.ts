import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { formatKflError, type KflError } from '../kfl/index.js';
import { DEFAULT_HUB, defaultDataDir, parseTime, UsageError } from './args.js';

export const queryHelp = `Usage: tapline query [--hub URL] [--token TOKEN] [--kfl QUERY] [options]

Prints stored entries from a running tap (its hub API) as JSON lines, newest first.

  --hub URL       the tap's API (default ${DEFAULT_HUB})
  --token TOKEN   API token (default: read from the data folder's token file)
  --data DIR      data folder holding the token (default: $TAPLINE_DATA or ~/.local/share/tapline)
  --kfl QUERY     which entries (default: all)
  --from TIME     ms since the epoch, RFC 3339, or relative like -15m
  --to TIME       (exclusive) same forms; default now
  --limit N       print at most N entries (default: all that match)
  --order asc|desc  oldest or newest first (default desc)
`;

export const exportHelp = `Usage: tapline export [--hub URL] [--token TOKEN] (--kfl QUERY | --filter EXPR) [options] -o FILE

Writes one PCAPNG of the packets a running tap kept in its packet ring: all packets of the
connections of the entries matching a KFL query, or the packets matching a capture filter,
within a time window. The file's section comment says what was asked.

  --hub URL       the tap's API (default ${DEFAULT_HUB})
  --token TOKEN   API token (default: read from the data folder's token file)
  --data DIR      data folder holding the token
  --kfl QUERY     packets of the connections of the matching entries
  --filter EXPR   packets matching a pcap-filter expression
  --from TIME     start of the window (default -15m)
  --to TIME       end of the window (default now)
  -o FILE         where to write (- for standard output)
`;

interface Common {
  hub: string;
  token: string;
}

function common(values: { hub?: string; token?: string; data?: string }): Common {
  const hub = (values.hub ?? DEFAULT_HUB).replace(/\/+$/, '');
  let token = values.token;
  if (token === undefined) {
    const file = join(values.data ?? defaultDataDir(), 'token');
    if (!existsSync(file)) throw new UsageError(`no --token given and no token file at ${file}`);
    token = readFileSync(file, 'utf8').trim();
  }
  return { hub, token };
}

/** The hub's JSON error, with the KFL caret when it has a span. */
async function apiError(res: Response, kfl: string | undefined): Promise<string> {
  let body: { error?: { code?: string; kflCode?: string; message?: string; span?: KflError['span'] } } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    /* not JSON */
  }
  const e = body.error;
  // The caret line names the KFL code (kfl.expected_value), as `tapline read --kfl` does, not the API's api.bad_kfl.
  if (e?.span && kfl !== undefined) return formatKflError(kfl, { message: e.message ?? '', span: e.span, code: e.kflCode ?? e.code ?? '' } as KflError);
  return `${res.status} ${e?.message ?? res.statusText}${e?.code ? ` [${e.code}]` : ''}`;
}

export async function runQueryCommand(argv: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        hub: { type: 'string' }, token: { type: 'string' }, data: { type: 'string' }, kfl: { type: 'string' },
        from: { type: 'string' }, to: { type: 'string' }, limit: { type: 'string' }, order: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      out.write(queryHelp);
      return 0;
    }
    const { hub, token } = common(values);
    const max = values.limit === undefined ? Infinity : Number(values.limit);
    if (!(max >= 0)) throw new UsageError(`--limit takes a number, not ${JSON.stringify(values.limit)}`);
    const order = values.order ?? 'desc';
    if (order !== 'asc' && order !== 'desc') throw new UsageError('--order takes asc or desc');
    let printed = 0;
    let cursor: string | undefined;
    do {
      const q = new URLSearchParams({ order, limit: String(Math.min(1000, Math.max(1, max - printed))) });
      if (values.kfl) q.set('kfl', values.kfl);
      if (values.from) q.set('from', String(parseTime(values.from, '--from')));
      if (values.to) q.set('to', String(parseTime(values.to, '--to')));
      if (cursor) q.set('cursor', cursor);
      const res = await fetch(`${hub}/api/entries?${q}`, { headers: { authorization: `Bearer ${token}` } });
      if (!res.ok) {
        err.write(`tapline query: ${await apiError(res, values.kfl)}\n`);
        return res.status === 400 ? 2 : 1;
      }
      const page = (await res.json()) as { entries: unknown[]; cursor?: string | null };
      for (const e of page.entries) {
        if (printed >= max) break;
        out.write(JSON.stringify(e) + '\n');
        printed++;
      }
      cursor = page.cursor ?? undefined; // the hub sends null on the last page
    } while (cursor !== undefined && printed < max);
    return 0;
  } catch (e) {
    return failure('query', e, err);
  }
}

export async function runExportCommand(argv: string[], out: NodeJS.WriteStream, err: NodeJS.WriteStream): Promise<number> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        hub: { type: 'string' }, token: { type: 'string' }, data: { type: 'string' }, kfl: { type: 'string' },
        filter: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, output: { type: 'string', short: 'o' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      out.write(exportHelp);
      return 0;
    }
    if (values.kfl === undefined && values.filter === undefined) throw new UsageError('give --kfl QUERY or --filter EXPR');
    if (values.output === undefined) throw new UsageError('give -o FILE (or -o - for standard output)');
    const { hub, token } = common(values);
    const now = Date.now();
    const q = new URLSearchParams({ from: String(parseTime(values.from ?? '-15m', '--from', now)), to: String(parseTime(values.to ?? 'now', '--to', now)) });
    if (values.kfl) q.set('kfl', values.kfl);
    if (values.filter) q.set('filter', values.filter);
    const res = await fetch(`${hub}/api/pcap?${q}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok || res.body === null) {
      err.write(`tapline export: ${await apiError(res, values.kfl)}\n`);
      return res.status === 400 ? 2 : 1;
    }
    const target = values.output === '-' ? out : createWriteStream(values.output);
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), target);
    return 0;
  } catch (e) {
    return failure('export', e, err);
  }
}

function failure(command: string, e: unknown, err: NodeJS.WriteStream): number {
  if (e instanceof UsageError || (e as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    err.write(`tapline ${command}: ${(e as Error).message}\n`);
    return 2;
  }
  const cause = (e as { cause?: { code?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') {
    err.write(`tapline ${command}: no tap answers at that address (is "tapline tap" running?)\n`);
    return 1;
  }
  err.write(`tapline ${command}: ${(e as Error).message}\n`);
  return 1;
}
