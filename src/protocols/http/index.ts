/**
 * HTTP/1.0 and HTTP/1.1 (RFC 9112): detection by content, an incremental parser per
 * connection, FIFO request/response pairing. The entry shape is in README.md.
 */
import type { ConnectionInfo, Direction } from '../../reassembly/types.js';
import { defineProtocol, type ParserContext, type ProbeResult, type ProtocolParser } from '../types.js';
import { defaultHttpLimits, HttpParser } from './parser.js';
import { classifyStartLine, LINE_MORE, LINE_NO } from './start-line.js';

export { HttpParser, defaultHttpLimits } from './parser.js';
export type { HttpLimits } from './parser.js';
export { KNOWN_METHODS } from './start-line.js';

/** Bytes of an unfinished request line the probe waits for before saying `no`. */
const PROBE_MAX_LINE = 8 * 1024;

/**
 * A request line with a known method (`GET /x HTTP/1.1`) or a status line
 * (`HTTP/1.1 200`) at the start of either direction; ports play no part.
 */
export function probeHttp(data: Buffer, _dir: Direction, _conn: ConnectionInfo): ProbeResult {
  // RFC 9112 2.2: "a server that is expecting to receive and parse a request-line SHOULD
  // ignore at least one empty line (CRLF) received prior to the request-line."
  let off = 0;
  while (off < data.length && off < 4 && (data[off] === 0x0d || data[off] === 0x0a)) off++;
  const kind = classifyStartLine(data, off, data.length, true);
  if (kind === LINE_NO) return 'no';
  if (kind === LINE_MORE) return data.length - off > PROBE_MAX_LINE ? 'no' : 'more';
  return 'match';
}

export const http = defineProtocol({
  name: 'http',
  transport: 'tcp',
  portHints: [80, 8080, 8000, 8008, 8081, 8888, 3000, 5000, 9000, 9090],
  probe: probeHttp,
  createParser: (ctx: ParserContext): ProtocolParser => new HttpParser(ctx),
  limits: { ...defaultHttpLimits },
});
