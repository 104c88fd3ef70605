import { closeSync, createWriteStream, existsSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { formatKflError, type KflError } from '../kfl/index.js';
import { fileErrorText } from '../common/file-errors.js';
import { DEFAULT_HUB, defaultDataDir, joinDashValues, parseTime, UsageError } from './args.js';

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

/** Flags whose value may be "-15m" style (joinDashValues). */
const TIME_FLAGS = ['--from', '--to'];

/** The hub did not answer: no connection, no such host, a port fetch refuses. */
class HubUnreachable extends Error {}

/** `fetch` of a hub URL; a failure to connect says which hub and why. */
async function hubFetch(hub: string, path: string, token: string): Promise<Response> {
  try {
    return await fetch(`${hub}${path}`, { headers: { authorization: `Bearer ${token}` } });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') throw new HubUnreachable(`no tap answers at ${hub} (is "tapline tap" running?)`);
    throw new HubUnreachable(`cannot reach ${hub}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
}

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
      args: joinDashValues(argv, TIME_FLAGS),
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
      const res = await hubFetch(hub, `/api/entries?${q}`, token);
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
      args: joinDashValues(argv, TIME_FLAGS),
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
    // The file is written beside its name and renamed once whole: a failed export leaves
    // no file, and one that cannot be written at all fails before the tap is asked.
    const output = values.output;
    const part = output === '-' ? undefined : join(dirname(output), `.${basename(output)}.part-${process.pid}`);
    if (part !== undefined) {
      if (existsSync(output) && statSync(output).isDirectory()) throw new OutputProblem(`${output}: a directory`);
      try {
        closeSync(openSync(part, 'w'));
      } catch (e) {
        const missing = (e as { code?: string }).code === 'ENOENT';
        throw new OutputProblem(`${output}: ${missing ? `no such folder ${dirname(output)}` : (fileErrorText(e) ?? (e as Error).message)}`);
      }
    }
    try {
      const res = await hubFetch(hub, `/api/pcap?${q}`, token);
      if (!res.ok || res.body === null) {
        err.write(`tapline export: ${await apiError(res, values.kfl)}\n`);
        return res.status === 400 ? 2 : 1;
      }
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), part === undefined ? out : createWriteStream(part));
      if (part !== undefined) {
        try {
          renameSync(part, output);
        } catch (e) {
          throw new OutputProblem(`${output}: ${fileErrorText(e) ?? (e as Error).message}`);
        }
      }
      return 0;
    } finally {
      if (part !== undefined) rmSync(part, { force: true });
    }
  } catch (e) {
    return failure('export', e, err);
  }
}

/** The -o file of an export cannot be written. */
class OutputProblem extends Error {}

function failure(command: string, e: unknown, err: NodeJS.WriteStream): number {
  const code = (e as { code?: string }).code;
  if (e instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
    err.write(`tapline ${command}: ${(e as Error).message}\n`);
    return 2;
  }
  err.write(`tapline ${command}: ${e instanceof HubUnreachable || e instanceof OutputProblem ? '' : 'failed: '}${(e as Error).message}\n`);
  return 1;
}
