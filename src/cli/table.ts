import type { Entry } from '../entries/index.js';

/** One readable line per entry, the way tshark prints one line per packet. */
export function tableHeader(): string {
  return `${pad('TIME (UTC)', 12)} ${pad('PROTO', 5)} ${pad('SOURCE', 21)}    ${pad('DESTINATION', 21)} ${pad('REQUEST', 48)} ${pad('RESPONSE', 24)} ${'ELAPSED'.padStart(9)}`;
}

export function tableRow(e: Entry): string {
  const time = e.startTime.slice(11, 23);
  const [request, response] = summarize(e);
  const elapsed = e.response === undefined ? '-' : `${e.elapsedTime.toFixed(1)}ms`;
  return `${pad(time, 12)} ${pad(e.protocol.abbr, 5)} ${pad(endpoint(e.src.ip, e.src.port), 21)} -> ${pad(endpoint(e.dst.ip, e.dst.port), 21)} ${pad(request, 48)} ${pad(response, 24)} ${elapsed.padStart(9)}`;
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function pad(s: string, width: number): string {
  return s.length > width ? s.slice(0, width - 1) + '…' : s.padEnd(width);
}

type Loose = Record<string, any>;

function summarize(e: Entry): [string, string] {
  const req = (e.request ?? {}) as Loose;
  const res = e.response as Loose | undefined;
  const error = e.error ? `(${e.error.type})` : '';
  switch (e.protocol.name) {
    case 'http':
    case 'http2':
    case 'grpc':
      return [`${req.method ?? '?'} ${req.host ?? ''}${req.url ?? ''}`, res ? `${res.status} ${res.statusText ?? ''}`.trim() : error];
    case 'dns': {
      const q = Array.isArray(req.questions) && req.questions.length > 0 ? req.questions[0] : {};
      const answers = res && Array.isArray(res.answers) ? res.answers.map((a: Loose) => a.data).join(',') : '';
      return [`${q.type ?? '?'} ${q.name ?? ''}`, res ? `${res.code}${answers ? ' ' + answers : ''}` : error];
    }
    default:
      return [JSON.stringify(req).slice(0, 48), res ? JSON.stringify(res).slice(0, 24) : error];
  }
}
