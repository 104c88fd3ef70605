import type { ProtocolTag } from '../protocols/types.js';

/** One side of an entry; Kubernetes identity fields are filled by enrichment when known. */
export interface EntryEndpoint {
  ip: string;
  port: number;
  name?: string;
  namespace?: string;
  pod?: string;
  service?: string;
  node?: string;
  labels?: Record<string, string>;
  process?: string;
}

/** The public contract (DESIGN.md "The entry"): KFL, scripts, API, UI and exports see this JSON. */
export interface Entry {
  id: string;
  stream: string;
  index: number;
  node: { name: string; ip?: string };
  protocol: ProtocolTag;
  /** ms since epoch: first packet of the request. */
  timestamp: number;
  startTime: string;
  /** ms: request's first byte → response's last byte. */
  elapsedTime: number;
  src: EntryEndpoint;
  dst: EntryEndpoint;
  outgoing: boolean;
  request?: Record<string, unknown>;
  response?: Record<string, unknown>;
  requestSize: number;
  responseSize: number;
  passed: boolean;
  failed: boolean;
  error?: { type: string; msg: string };
  /** Issue codes met on the way to this entry (Tapline's addition). */
  issues?: string[];
}
