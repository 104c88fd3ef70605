/**
 * One catalogue of the hub's coded errors. Every error a client can cause gets one of the
 * `api.*` codes in the body `{ error: { code, message, param?, span?, kflCode? } }` with
 * the status given here; `hub.*` codes are configuration faults raised at start-up. The
 * README lists the same codes (errors.test.ts checks that they agree).
 */
import type { KflSpan } from '../kfl/index.js';

export const hubErrorCodes = {
  'api.unauthorized': { status: 401, text: 'no token, or not the right one' },
  'api.bad_param': { status: 400, text: 'a query parameter is missing, unknown or out of range (named in `param`)' },
  'api.bad_kfl': { status: 400, text: 'the KFL query is not valid (`span` says where, `kflCode` what)' },
  'api.bad_filter': { status: 400, text: 'the capture filter (pcap-filter syntax) is not valid' },
  'api.not_found': { status: 404, text: 'no such route or entry' },
  'api.upgrade_required': { status: 426, text: 'a plain GET on the WebSocket route' },
  'api.too_many_streams': { status: 503, text: 'the live-stream client limit is reached' },
  'api.internal': { status: 500, text: 'a fault inside the hub (logged)' },
  'hub.bad_token': { status: 500, text: 'the configured token is empty or holds whitespace' },
  'hub.bad_token_file': { status: 500, text: 'the token file exists but holds no usable token' },
  'hub.bad_limit': { status: 500, text: 'a configured hub limit is not a positive whole number' },
  'hub.listen_failed': { status: 500, text: 'the API could not listen on the address asked for' },
} as const;

export type HubErrorCode = keyof typeof hubErrorCodes;

/** The JSON body of every error response (and of the WebSocket error message). */
export interface HubErrorBody {
  code: HubErrorCode;
  message: string;
  /** The query parameter at fault. */
  param?: string;
  /** For `api.bad_kfl`: where in the query. */
  span?: KflSpan;
  /** For `api.bad_kfl`: the KFL error code (`kfl.expected_value`, …). */
  kflCode?: string;
}

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly status: number;
  readonly param?: string;
  readonly span?: KflSpan;
  readonly kflCode?: string;

  constructor(code: HubErrorCode, message: string, extra: { param?: string; span?: KflSpan; kflCode?: string; cause?: unknown } = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'HubError';
    this.code = code;
    this.status = hubErrorCodes[code].status;
    if (extra.param !== undefined) this.param = extra.param;
    if (extra.span !== undefined) this.span = extra.span;
    if (extra.kflCode !== undefined) this.kflCode = extra.kflCode;
  }

  toJSON(): HubErrorBody {
    const out: HubErrorBody = { code: this.code, message: this.message };
    if (this.param !== undefined) out.param = this.param;
    if (this.span !== undefined) out.span = this.span;
    if (this.kflCode !== undefined) out.kflCode = this.kflCode;
    return out;
  }
}
