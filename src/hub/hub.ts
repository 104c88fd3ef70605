/**
 * The hub's HTTP and WebSocket API (README.md documents every route). It serves the entry
 * store, the live entries, the packet ring and the counters it is given through the
 * interfaces of types.ts, and knows nothing of how they are made.
 */
import { Transform } from 'node:stream';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { KflError, type CompileOptions } from '../kfl/index.js';
import { HubError } from './errors.js';
import { createHubMetrics } from './metrics.js';
import { DEFAULT_SEND_QUEUE_LIMITS, type SendQueueLimits } from './send-queue.js';
import { registerStream } from './stream.js';
import { checkToken, tokenMatches, tokenOfRequest } from './token.js';
import type { EntryOrder, HubEntrySource, HubLive, HubPcapSource, HubStats } from './types.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route answers without a token (only /healthz). */
    public?: boolean;
  }
}

export interface HubLimits {
  /** Entries per page when the client gives no `limit`. */
  defaultPageSize: number;
  /** The largest `limit` a client may ask for. */
  maxPageSize: number;
  /** Live-stream clients at once; one more is refused with `api.too_many_streams`. */
  maxStreamClients: number;
  /** The outbox of each live-stream client (send-queue.ts). */
  stream: SendQueueLimits;
}

export const DEFAULT_HUB_LIMITS: HubLimits = {
  defaultPageSize: 100,
  maxPageSize: 1000,
  maxStreamClients: 64,
  stream: DEFAULT_SEND_QUEUE_LIMITS,
};

export interface HubOptions {
  entries: HubEntrySource;
  pcap: HubPcapSource;
  live: HubLive;
  stats: HubStats;
  /** Every route but /healthz needs it. */
  token: string;
  /** /metrics serves this registry; the hub adds its own metrics to it. */
  metrics: Registry;
  /** Log requests (the token is cut out of logged URLs). Default false. */
  logger?: boolean;
  limits?: Partial<Omit<HubLimits, 'stream'>> & { stream?: Partial<SendQueueLimits> };
  /** How the live stream compiles KFL: the same user macros as the store's. */
  kfl?: Pick<CompileOptions, 'macros'>;
}

/** The hub's own counters, shown under `stream` in /api/stats. */
export interface HubStreamState {
  clients: number;
  dropped: number;
}

/** Fastify's Ajv options: coerce query strings to numbers; reject unknown parameters rather than drop them silently. */
const ajv = { customOptions: { coerceTypes: true, removeAdditional: false, useDefaults: false, allErrors: false } };

const timeParam = { type: 'integer', minimum: 0, description: 'ms since the epoch' } as const;

function resolveLimits(given: HubOptions['limits']): HubLimits {
  const limits: HubLimits = {
    ...DEFAULT_HUB_LIMITS,
    ...given,
    stream: { ...DEFAULT_HUB_LIMITS.stream, ...given?.stream },
  };
  const all: [string, number][] = [
    ['defaultPageSize', limits.defaultPageSize],
    ['maxPageSize', limits.maxPageSize],
    ['maxStreamClients', limits.maxStreamClients],
    ...Object.entries(limits.stream).map(([k, v]): [string, number] => ['stream.' + k, v]),
  ];
  for (const [name, v] of all) {
    if (!Number.isInteger(v) || v < 1) throw new HubError('hub.bad_limit', `hub limit ${name} must be a positive whole number, not ${String(v)}`);
  }
  if (limits.defaultPageSize > limits.maxPageSize) {
    throw new HubError('hub.bad_limit', `hub limit defaultPageSize (${limits.defaultPageSize}) is above maxPageSize (${limits.maxPageSize})`);
  }
  return limits;
}

/** `?token=…` cut out of a URL before it is logged. */
export function redactTokenInUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/g, '$1[REDACTED]');
}

/** Maps anything a route throws to the catalogue (errors.ts). */
export function toHubError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof KflError) {
    return new HubError('api.bad_kfl', err.message, { param: 'kfl', span: err.span, kflCode: err.code });
  }
  const e = err as FastifyError & { code?: unknown; validation?: { keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }[] };
  if (e && Array.isArray(e.validation) && e.validation.length > 0) {
    const v = e.validation[0];
    const param =
      typeof v.params.additionalProperty === 'string'
        ? v.params.additionalProperty
        : typeof v.params.missingProperty === 'string'
          ? v.params.missingProperty
          : v.instancePath.replace(/^\//, '');
    const message = v.keyword === 'additionalProperties' ? `unknown parameter '${param}'` : `parameter '${param}' ${v.message ?? 'is not valid'}`;
    return new HubError('api.bad_param', message, { param, cause: err });
  }
  if (e && e.code === 'pcap.bad_filter') return new HubError('api.bad_filter', e.message, { param: 'filter', cause: err });
  if (e && e.code === 'store.bad_cursor') return new HubError('api.bad_param', "parameter 'cursor' is not one this hub gave", { param: 'cursor', cause: err });
  if (e && typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Fastify's own client errors (a malformed URL, …): still a bad parameter of the request.
    return new HubError('api.bad_param', e.message, { cause: err });
  }
  return new HubError('api.internal', 'internal error', { cause: err });
}

function sendError(reply: FastifyReply, err: HubError): FastifyReply {
  return reply.code(err.status).type('application/json; charset=utf-8').send({ error: err.toJSON() });
}

/** A compact UTC stamp for file names: 20240102T030405Z. */
function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Builds the hub (not yet listening: `startHub`, or `app.inject` in tests). Fails at once
 * with `hub.bad_token` / `hub.bad_limit` on bad configuration.
 */
export function createHub(opts: HubOptions): FastifyInstance {
  checkToken(opts.token);
  const limits = resolveLimits(opts.limits);
  const { entries, pcap, live, stats, token, metrics: registry } = opts;
  const hubMetrics = createHubMetrics(registry);
  const streamState: HubStreamState = { clients: 0, dropped: 0 };

  const app = Fastify({
    ajv,
    logger: opts.logger
      ? {
          serializers: {
            req: (req: FastifyRequest) => ({ method: req.method, url: redactTokenInUrl(req.url), remoteAddress: req.ip }),
          },
        }
      : false,
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toHubError(err);
    if (e.code === 'api.internal') req.log.error({ err }, 'internal error');
    return sendError(reply, e);
  });

  app.setNotFoundHandler((req, reply) => sendError(reply, new HubError('api.not_found', `no route ${req.method} ${redactTokenInUrl(req.url).split('?')[0]}`)));

  app.register(websocket, {
    options: { maxPayload: 64 * 1024 },
    // Say why the stream ends (1001 "going away", RFC 6455 §7.4.1) rather than no code at all.
    preClose(done) {
      for (const client of this.websocketServer.clients) client.close(1001, 'the hub is shutting down');
      this.websocketServer.close();
      done();
    },
  });

  // After the WebSocket plugin, so its own onRequest hook (which marks upgrade requests,
  // and closes their socket when they are refused) runs before a refusal here.
  app.after(() => {
    app.addHook('onRequest', async (req, reply) => {
      if (req.routeOptions.config?.public === true) return;
      const given = tokenOfRequest(req.headers, req.query);
      if (given !== undefined && tokenMatches(token, given)) return;
      reply.header('www-authenticate', 'Bearer realm="tapline"');
      return sendError(
        reply,
        new HubError('api.unauthorized', given === undefined ? 'a token is needed: Authorization: Bearer TOKEN, or ?token=TOKEN' : 'the token is not right'),
      );
    });

    app.addHook('onResponse', async (req, reply) => {
      hubMetrics.requests.inc({ route: req.routeOptions.url ?? 'none', status: String(reply.statusCode) });
    });
  });

  app.register(async (api) => {
    api.get('/healthz', { config: { public: true } }, async () => ({ ok: true }));

    api.get(
      '/api/entries',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              kfl: { type: 'string' },
              from: timeParam,
              to: timeParam,
              limit: { type: 'integer', minimum: 1, maximum: limits.maxPageSize },
              cursor: { type: 'string', minLength: 1 },
              order: { type: 'string', enum: ['asc', 'desc'] },
              token: { type: 'string' },
            },
          },
        },
      },
      async (req) => {
        const q = req.query as { kfl?: string; from?: number; to?: number; limit?: number; cursor?: string; order?: EntryOrder };
        if (q.from !== undefined && q.to !== undefined && q.from > q.to) {
          throw new HubError('api.bad_param', `parameter 'from' (${q.from}) is after 'to' (${q.to})`, { param: 'from' });
        }
        const query: Parameters<HubEntrySource['query']>[0] = { limit: q.limit ?? limits.defaultPageSize, order: q.order ?? 'desc' };
        if (q.kfl !== undefined) query.kfl = q.kfl;
        if (q.from !== undefined) query.from = q.from;
        if (q.to !== undefined) query.to = q.to;
        if (q.cursor !== undefined) query.cursor = q.cursor;
        const page = entries.query(query);
        return { entries: page.entries, cursor: page.cursor ?? null };
      },
    );

    // Entry ids hold a '/' (node/stream-index): a wildcard takes them whether or not the
    // client encoded it as %2F.
    api.get('/api/entries/*', async (req, reply) => {
      const id = (req.params as { '*': string })['*'];
      const entry = id === '' ? undefined : entries.get(id);
      if (!entry) return sendError(reply, new HubError('api.not_found', `no entry with id '${id}'`));
      return entry;
    });

    api.get('/api/stats', async () => ({
      ...stats.snapshot(),
      store: entries.stats(),
      stream: { ...streamState },
    }));

    api.get('/metrics', async (req, reply) => {
      const text = await registry.metrics();
      return reply.type(registry.contentType).send(text);
    });

    api.get(
      '/api/pcap',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { kfl: { type: 'string' }, filter: { type: 'string' }, from: timeParam, to: timeParam, token: { type: 'string' } },
          },
        },
      },
      async (req, reply) => {
        const q = req.query as { kfl?: string; filter?: string; from?: number; to?: number };
        // No window means all the ring holds: the ring is bounded, so the download is.
        const to = q.to ?? Date.now();
        const from = q.from ?? 0;
        if (from > to) throw new HubError('api.bad_param', `parameter 'from' (${from}) is after 'to' (${to})`, { param: 'from' });
        const request: Parameters<HubPcapSource['exportPcap']>[0] = { from, to };
        if (q.kfl !== undefined && q.kfl !== '') request.kfl = q.kfl;
        if (q.filter !== undefined && q.filter !== '') request.filter = q.filter;

        // The status line waits for the first byte, so a bad query still gets its 400 and
        // span; after it, a failure can only cut the download short.
        let hasStarted = false;
        let markStarted!: () => void;
        const started = new Promise<'started'>((resolve) => (markStarted = () => resolve('started')));
        const body = new Transform({
          transform(chunk, _enc, cb) {
            hasStarted = true;
            markStarted();
            cb(null, chunk);
          },
        });
        const done = pcap.exportPcap(request, body);
        done.then(
          () => body.end(),
          (err: unknown) => {
            if (!hasStarted) {
              // The error handler answers with the coded error; nobody reads `body`.
              body.destroy();
              return;
            }
            // Fastify is piping `body`: the error ends the download short.
            req.log.warn({ err }, 'pcap export failed after the download started');
            body.destroy(err instanceof Error ? err : new Error(String(err)));
          },
        );
        await Promise.race([started, done]);
        return reply
          .header('content-type', 'application/vnd.tcpdump.pcapng')
          .header('content-disposition', `attachment; filename="tapline-${fileStamp(from)}-${fileStamp(to)}.pcapng"`)
          .header('cache-control', 'no-store')
          .send(body);
      },
    );

    registerStream(api, {
      live,
      limits,
      kfl: opts.kfl ?? {},
      state: streamState,
      metrics: hubMetrics,
    });
  });

  return app;
}

/**
 * Listens on host:port (port 0: any free port) and returns the base URL. A failure is
 * `hub.listen_failed` naming the address (EADDRINUSE, EACCES, …).
 */
export async function startHub(app: FastifyInstance, where: { host: string; port: number }): Promise<{ url: string; port: number }> {
  try {
    await app.listen({ host: where.host, port: where.port });
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new HubError('hub.listen_failed', `the API cannot listen on ${where.host}:${where.port} (${why})`, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : where.port;
  const host = where.host.includes(':') ? `[${where.host}]` : where.host;
  return { url: `http://${host}:${port}`, port };
}
