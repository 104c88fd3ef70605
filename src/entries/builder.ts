import { toMillis, elapsedMillis, toRfc3339Nanos } from '../common/time.js';
import type { ParsedItem } from '../protocols/types.js';
import type { ConnectionInfo } from '../reassembly/types.js';
import type { Entry } from './entry.js';

export interface EntryBuilderOptions {
  /** The node the traffic was seen on (offline: the host name, or `--node`). */
  nodeName: string;
  nodeIp?: string;
}

export type EntryBuilder = (conn: ConnectionInfo, item: ParsedItem, index: number) => Entry;

/** Turns a parser's item into the public Entry: ids, endpoints (request sender is `src`), timings. */
export function createEntryBuilder(opts: EntryBuilderOptions): EntryBuilder {
  const node = opts.nodeIp === undefined ? { name: opts.nodeName } : { name: opts.nodeName, ip: opts.nodeIp };
  return (conn, item, index) => {
    const from = item.reversed ? conn.server : conn.client;
    const to = item.reversed ? conn.client : conn.server;
    const entry: Entry = {
      id: `${opts.nodeName}/${conn.id}-${index}`,
      stream: conn.id,
      index,
      node,
      protocol: item.protocol,
      timestamp: Math.floor(toMillis(item.startSec, item.startNsec)),
      startTime: toRfc3339Nanos(item.startSec, item.startNsec),
      elapsedTime: Math.max(0, Math.round(elapsedMillis(item.startSec, item.startNsec, item.endSec, item.endNsec) * 1000) / 1000),
      src: { ip: from.ip, port: from.port },
      dst: { ip: to.ip, port: to.port },
      outgoing: false,
      request: item.request,
      response: item.response,
      requestSize: item.requestSize,
      responseSize: item.responseSize,
      passed: false,
      failed: false,
    };
    // A side that never came (pair-not-found) is left out, not stored as undefined: an
    // entry is plain JSON data however it is kept (the store serializes it with V8's
    // serializer, which would keep an undefined property).
    if (entry.request === undefined) delete entry.request;
    if (entry.response === undefined) delete entry.response;
    if (item.error !== undefined) entry.error = item.error;
    if (item.issues !== undefined && item.issues.length > 0) entry.issues = item.issues;
    return entry;
  };
}
