/**
 * `GET /api/stream?kfl=…` (WebSocket): the entries matching a KFL query, as they are made.
 *
 * Messages, one JSON object each:
 *   {"type":"ready","query":"<normalized>","warnings":[…]}   once, when the subscription is in place
 *   {"type":"entry","entry":{…}}                             each matching entry
 *   {"type":"dropped","count":n}                             n entries were dropped: the client read too slowly
 *   {"type":"error","error":{code,message,span?,…}}          then the hub closes the socket
 *
 * A bad query is reported after the upgrade (a browser cannot read the body of a refused
 * upgrade), then the socket is closed with 4400; too many clients: `api.too_many_streams`
 * and 1013 ("try again later", RFC 6455 §7.4.1 registry).
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { Entry } from '../entries/index.js';
import { compile, KflError, type CompileOptions, type CompiledQuery } from '../kfl/index.js';
import { HubError } from './errors.js';
import type { HubLimits, HubStreamState } from './hub.js';
import type { HubMetrics } from './metrics.js';
import { createSendQueue } from './send-queue.js';
import type { HubLive } from './types.js';

/** WebSocket close codes the stream uses (4000–4999 are for applications, RFC 6455 §7.4.2). */
export const STREAM_CLOSE = {
  badRequest: 4400,
  tryAgainLater: 1013,
  internal: 1011,
} as const;

export interface StreamDeps {
  live: HubLive;
  limits: HubLimits;
  kfl: Pick<CompileOptions, 'macros'>;
  state: HubStreamState;
  metrics: HubMetrics;
}

function refuse(socket: WebSocket, err: HubError, closeCode: number): void {
  socket.send(JSON.stringify({ type: 'error', error: err.toJSON() }), () => socket.close(closeCode, err.code));
}

export function registerStream(app: FastifyInstance, deps: StreamDeps): void {
  const { live, limits, state, metrics } = deps;

  // Every client of the same query gets the same entry object in one publish loop:
  // serialize it once for all of them.
  let lastEntry: Entry | undefined;
  let lastMessage = '';
  function plainMessage(entry: Entry): string {
    if (entry !== lastEntry) {
      lastEntry = entry;
      lastMessage = '{"type":"entry","entry":' + JSON.stringify(entry) + '}';
    }
    return lastMessage;
  }
  const dropNotice = (count: number): string => '{"type":"dropped","count":' + count + '}';
  const countDrop = (n: number): void => {
    state.dropped += n;
    metrics.streamDropped.inc(n);
  };

  app.route({
    method: 'GET',
    url: '/api/stream',
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { kfl: { type: 'string' }, token: { type: 'string' } },
      },
    },
    // A plain GET gets a coded answer rather than the plugin's empty 404.
    handler: async (_req, reply) => {
      const err = new HubError('api.upgrade_required', 'this route is a WebSocket: connect with Upgrade: websocket');
      return reply.code(err.status).header('upgrade', 'websocket').send({ error: err.toJSON() });
    },
    wsHandler: (socket, req) => {
      // Clients send nothing; anything they do send is ignored (maxPayload bounds it).
      socket.on('message', () => {});
      if (state.clients >= limits.maxStreamClients) {
        refuse(socket, new HubError('api.too_many_streams', `at most ${limits.maxStreamClients} live-stream clients at once`), STREAM_CLOSE.tryAgainLater);
        return;
      }
      let query: CompiledQuery;
      try {
        query = compile((req.query as { kfl?: string }).kfl ?? '', deps.kfl);
      } catch (err) {
        if (err instanceof KflError) {
          refuse(socket, new HubError('api.bad_kfl', err.message, { param: 'kfl', span: err.span, kflCode: err.code }), STREAM_CLOSE.badRequest);
        } else {
          req.log.error({ err }, 'live stream: compiling the query failed');
          refuse(socket, new HubError('api.internal', 'internal error'), STREAM_CLOSE.internal);
        }
        return;
      }

      state.clients++;
      metrics.streamClients.inc();
      const queue = createSendQueue((text, done) => socket.send(text, done), limits.stream, dropNotice, countDrop);
      queue.push(JSON.stringify({ type: 'ready', query: query.normalized, warnings: query.warnings }));
      const redacts = query.redact.length > 0;
      const unsubscribe = live.subscribe((entry) => {
        // This runs inside the publisher's loop: it must not throw and must not wait.
        try {
          if (!query.match(entry)) return;
          queue.push(redacts ? '{"type":"entry","entry":' + JSON.stringify(query.apply(entry)) + '}' : plainMessage(entry));
        } catch (err) {
          req.log.error({ err }, 'live stream: an entry could not be sent');
        }
      });

      let open = true;
      const finish = (): void => {
        if (!open) return;
        open = false;
        unsubscribe();
        queue.close();
        state.clients--;
        metrics.streamClients.dec();
      };
      socket.on('close', finish);
      socket.on('error', (err) => {
        req.log.warn({ err }, 'live stream: socket error');
        finish();
      });
    },
  });
}
