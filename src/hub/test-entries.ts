/** Test support: entries of the public shape (src/entries/entry.ts), made by number. */
import type { Entry } from '../entries/index.js';

export interface TestEntryOptions {
  timestamp?: number;
  protocol?: 'http' | 'dns';
  status?: number;
  path?: string;
  node?: string;
}

/** Entry number `n`: an HTTP GET (or a DNS query) at `timestamp` (default 1 700 000 000 000 + n s). */
export function testEntry(n: number, o: TestEntryOptions = {}): Entry {
  const node = o.node ?? 'node-a';
  const stream = String(n).padStart(12, '0');
  const timestamp = o.timestamp ?? 1_700_000_000_000 + n * 1000;
  const protocol = o.protocol ?? 'http';
  const base = {
    id: `${node}/${stream}-0`,
    stream,
    index: 0,
    node: { name: node, ip: '192.0.2.10' },
    timestamp,
    startTime: new Date(timestamp).toISOString(),
    elapsedTime: 1.5,
    src: { ip: '10.1.2.3', port: 40000 + (n % 20000) },
    outgoing: false,
    requestSize: 100,
    responseSize: 200,
    passed: false,
    failed: false,
  };
  if (protocol === 'dns') {
    return {
      ...base,
      protocol: { name: 'dns', version: '0', abbr: 'DNS', layer4: 'udp' },
      dst: { ip: '10.1.9.53', port: 53 },
      request: { id: n & 0xffff, opCode: 'QUERY', questions: [{ name: `host${n}.example`, type: 'A', class: 'IN' }] },
      response: { code: 'NOERROR', answers: [] },
    };
  }
  return {
    ...base,
    protocol: { name: 'http', version: '1.1', abbr: 'HTTP', layer4: 'tcp' },
    dst: { ip: '10.1.9.9', port: 8080 },
    request: { method: 'GET', url: o.path ?? `/item/${n}`, path: o.path ?? `/item/${n}`, host: 'shop', httpVersion: 'HTTP/1.1', headers: {} },
    response: { status: o.status ?? 200, statusText: 'OK', httpVersion: 'HTTP/1.1', headers: {} },
  };
}
