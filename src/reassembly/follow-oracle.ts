/**
 * Test support: the bytes of TCP streams two ways — tshark's `follow,tcp,raw` (the
 * oracle) and this folder's flow table fed by the project's capture reader and decoder —
 * both written as the same text, so a test compares two strings per direction: the
 * bytes in hex, with each hole as ` gap:N ` where tshark prints its marker
 * `[N bytes missing in capture file]`.
 */
import { execFileSync } from 'node:child_process';
import { readCaptureFile } from '../capture/index.js';
import { createDecoder, type DecodedPacket } from '../decode/index.js';
import { createFlowTable } from './flow-table.js';
import type { FlowTableStats } from './stats.js';
import type { CloseReason, ConnectionInfo, Direction, ReassemblyLimits } from './types.js';

/** Builds the text of one direction: hex of the bytes, holes as `gap:N`. */
export class StreamText {
  private readonly parts: string[] = [];
  private hex = '';
  bytes = 0;
  gapBytes = 0;

  data(b: Buffer): void {
    this.hex += b.toString('hex');
    this.bytes += b.length;
  }

  gap(n: number): void {
    if (this.hex !== '') this.parts.push(this.hex);
    this.hex = '';
    this.parts.push(`gap:${n}`);
    this.gapBytes += n;
  }

  toString(): string {
    return this.hex === '' ? this.parts.join(' ') : [...this.parts, this.hex].join(' ');
  }
}

export interface FollowedStream {
  /** `ip:port` of the side tshark calls node 0 (the first sender) and node 1. */
  nodes: [string, string];
  /** What each node sent. */
  sent: [string, string];
}

const MISSING = /^\[(\d+) bytes missing in capture file\]\0?$/;

/** tshark's reassembled bytes of TCP streams `ids`, in one tshark run. */
export function tsharkFollow(file: string, ids: number[]): FollowedStream[] {
  const args = ['-r', file, '-q'];
  for (const id of ids) args.push('-z', `follow,tcp,raw,${id}`);
  const out = execFileSync('tshark', args, { encoding: 'latin1', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });
  const streams: FollowedStream[] = [];
  let nodes: string[] = [];
  let text: [StreamText, StreamText] | null = null;
  for (const line of out.split('\n')) {
    if (line.startsWith('Follow: ')) {
      nodes = [];
      text = [new StreamText(), new StreamText()];
    } else if (text === null || line.startsWith('Filter: ')) {
      continue;
    } else if (line.startsWith('Node ')) {
      nodes.push(line.slice(line.indexOf(':') + 2).trim());
    } else if (line.startsWith('=====')) {
      streams.push({ nodes: [nodes[0], nodes[1]], sent: [text[0].toString(), text[1].toString()] });
      text = null;
    } else if (line.trim() !== '') {
      // Node 1's chunks are indented by a tab.
      const side = line.startsWith('\t') ? text[1] : text[0];
      const bytes = Buffer.from(line.trim(), 'hex');
      const missing = MISSING.exec(bytes.toString('latin1'));
      if (missing) side.gap(Number(missing[1]));
      else side.data(bytes);
    }
  }
  return streams;
}

/** Number of TCP conversations tshark sees (its stream ids are 0 .. n-1). */
export function tsharkTcpStreamCount(file: string): number {
  const out = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'tcp.stream'], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
  let max = -1;
  for (const line of out.split('\n')) if (line !== '') max = Math.max(max, Number(line));
  return max + 1;
}

export interface OurStream {
  conn: ConnectionInfo;
  /** Per direction (0 client → server). */
  sent: [StreamText, StreamText];
  close: CloseReason | '';
}

/** tshark writes IPv6 nodes as `[addr]:port`. */
function unbracket(node: string): string {
  return node.startsWith('[') ? node.slice(1).replace(']:', ':') : node;
}

/** Which of our directions node `ip:port` sent. */
export function directionOf(conn: ConnectionInfo, node: string): Direction {
  return `${conn.client.ip}:${conn.client.port}` === unbracket(node) ? 0 : 1;
}

export function sameEndpoints(conn: ConnectionInfo, nodes: [string, string]): boolean {
  const ours = [`${conn.client.ip}:${conn.client.port}`, `${conn.server.ip}:${conn.server.port}`].sort();
  const theirs = nodes.map(unbracket).sort();
  return ours[0] === theirs[0] && ours[1] === theirs[1];
}

/** Rewrites the packet sequence of a file (each packet a copy of the decoder's reused object). */
export type PacketTransform = (packets: DecodedPacket[]) => DecodedPacket[];

/**
 * Every TCP connection the flow table reports for `file`, in stream-id order. With
 * `transform`, the decoded packets are collected first (copied) and fed in the order
 * (and number) it returns.
 */
export async function reassembleFile(
  file: string,
  limits: Partial<ReassemblyLimits> = {},
  transform?: PacketTransform,
): Promise<{ streams: OurStream[]; stats: FlowTableStats; issues: Record<string, number> }> {
  const decoder = createDecoder();
  const streams: OurStream[] = [];
  const table = createFlowTable({
    limits,
    createHandler(conn) {
      const s: OurStream = { conn, sent: [new StreamText(), new StreamText()], close: '' };
      if (conn.transport === 'tcp') streams.push(s);
      return {
        onData: (dir, data) => s.sent[dir].data(data),
        onGap: (dir, length) => s.sent[dir].gap(length),
        onClose: (reason) => {
          s.close = reason;
        },
      };
    },
  });
  const kept: DecodedPacket[] = [];
  await readCaptureFile(file, (raw) => {
    const p = decoder.decode(raw);
    if (!p) return;
    if (transform) kept.push({ ...p, vlans: [...p.vlans], issues: [] });
    else table.add(p);
  });
  if (transform) for (const p of transform(kept)) table.add(p);
  table.flush();
  return { streams, stats: table.stats, issues: table.issues.toJSON() };
}
