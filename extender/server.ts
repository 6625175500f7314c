// The extender's HTTP(S) server: kube-scheduler's two verbs plus health, metrics and the JSON API.
// Any non-200 answer is an error to kube-scheduler, so the verbs answer 200 to every well-formed
// request (neutral when we lack data) and 400 only to a malformed one.
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../src/log.js';
import { filterError, getKey, type ExtenderFilterResult } from './protocol.js';
import type { DecisionLog } from './decisionLog.js';
import { handleFilter, handlePrioritize, type HandlerContext } from './handlers.js';
import type { ExtenderMetrics, Verb } from './metrics.js';
import type { PodStore } from './pods/podStore.js';
import type { MatrixCache } from './sources/source.js';
import type { TrafficMatrix } from './peers/trafficMatrix.js';
import { registerWebPage } from './web/routes.js';

export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
  /** Client CA: when set, clients must present a certificate it signed (mutual TLS). */
  ca?: string | Buffer;
}

export interface ServerOptions {
  ctx: HandlerContext;
  cache: MatrixCache;
  /** peers.traffic, when configured. */
  traffic?: MatrixCache<TrafficMatrix> | undefined;
  podStore: PodStore;
  decisions: DecisionLog;
  metrics: ExtenderMetrics;
  bodyLimit: number;
  tls?: TlsMaterial;
  logger?: Logger;
  /** True once a shutdown has begun: /readyz answers 503 while in-flight requests drain. */
  draining?: () => boolean;
}

const VERB_OF: Record<string, Verb> = { '/filter': 'filter', '/prioritize': 'prioritize' };

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { ctx, cache, podStore, decisions, metrics } = opts;
  const fastifyOpts: Record<string, unknown> = {
    bodyLimit: opts.bodyLimit,
    logController: new LogController({ disableRequestLogging: true }),
    // kube-scheduler keeps connections alive across scheduling cycles
    keepAliveTimeout: 65_000,
    // Shutdown (close()): stop listening, close idle keep-alive connections at once, and answer
    // every request already received, normally: a 503 is a scheduling error to kube-scheduler.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
  };
  if (opts.logger) fastifyOpts.loggerInstance = opts.logger;
  if (opts.tls) {
    fastifyOpts.https = {
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...(opts.tls.ca ? { ca: opts.tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
    };
  }
  const app = Fastify(fastifyOpts) as unknown as FastifyInstance;

  // One JSON parser for every content type: kube-scheduler sends application/json, but a missing
  // or odd content type is read as JSON too, and a syntax error says where it is. JSON.parse never
  // touches prototypes; a "__proto__" key is refused anyway (fastify's default does the same).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    const fail = (message: string) => {
      const e = new Error(message) as FastifyError;
      e.statusCode = 400;
      done(e, undefined);
    };
    if (text.trim() === '') return fail('body: empty, expected ExtenderArgs JSON');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return fail(`body: invalid JSON: ${(err as Error).message}`);
    }
    if (text.includes('"__proto__"') && /"__proto__"\s*:/.test(text)) return fail('body: the key "__proto__" is not allowed');
    done(null, parsed);
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    let message = err.message;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `body: larger than bodyLimit (${opts.bodyLimit} bytes; raise bodyLimit in the config)`;
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') message = 'body: empty, expected ExtenderArgs JSON';
    else if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || err.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
      message = `${err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'content-type' : 'content-length'}: ${err.message} (send ExtenderArgs as application/json)`;
    else if (err instanceof SyntaxError) message = `body: invalid JSON: ${err.message}`;
    const verb = VERB_OF[request.routeOptions.url ?? ''];
    if (verb) metrics.decisions.inc({ verb, outcome: 'error' });
    if (status === 500) request.log.error({ err }, 'extender request failed');
    else request.log.warn({ url: request.url, err: message }, 'rejected request');
    void reply.code(status).send(verb === 'filter' ? filterError(message) : { Error: message });
  });

  // Calls received and not yet answered ('close' fires on completion and on a dropped connection).
  app.addHook('onRequest', async (request, reply) => {
    const verb = VERB_OF[request.routeOptions.url ?? ''];
    if (!verb) return;
    metrics.requestsInFlight.inc({ verb });
    reply.raw.once('close', () => metrics.requestsInFlight.dec({ verb }));
  });

  // While draining, every answer closes its connection: the client reconnects (to a live replica)
  // instead of reusing a connection the shutdown would cut.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (opts.draining?.()) void reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const verb = VERB_OF[request.routeOptions.url ?? ''];
    if (verb) metrics.requestDuration.observe({ verb }, reply.elapsedTime / 1000);
  });

  app.post('/filter', async (request, reply) => {
    const a = handleFilter(request.body, ctx);
    const { status, text } = serializeFilter(a.status, a.body);
    return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(text);
  });

  app.post('/prioritize', async (request, reply) => {
    const a = handlePrioritize(request.body, ctx);
    return reply.code(a.status).send(a.body);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    if (opts.draining?.()) return reply.code(503).send({ status: 'shutting down', waiting: ['in-flight requests to drain'] });
    const waiting: string[] = [];
    if (!cache.current) waiting.push(`link matrix (${cache.lastError?.message ?? 'first refresh pending'})`);
    if (!podStore.ready) waiting.push('pod cache (initial list pending)');
    if (waiting.length) return reply.code(503).send({ status: 'not ready', waiting });
    return { status: 'ready' };
  });

  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(body);
  });

  app.get('/api/v1/links', async () => {
    const snap = cache.current;
    return {
      source: cache.source.type,
      refreshedAt: snap?.refreshedAt ?? null,
      lastError: cache.lastError ?? null,
      sourceStatus: cache.source.status?.() ?? null,
      nodes: snap?.matrix.nodes() ?? [],
      ...(snap ? snap.matrix.toJSON() : { builtAt: null, links: [] }),
    };
  });

  app.get('/api/v1/traffic', async (_request, reply) => {
    const t = opts.traffic;
    if (!t) return reply.code(404).send({ error: 'no traffic source configured (peers.traffic)' });
    const snap = t.current;
    return {
      refreshedAt: snap?.refreshedAt ?? null,
      lastError: t.lastError ?? null,
      sourceStatus: t.source.status?.() ?? null,
      ...(snap ? snap.matrix.toJSON() : { builtAt: null, pairs: [] }),
    };
  });

  app.get<{ Querystring: { limit?: string; pod?: string; verb?: string } }>('/api/v1/decisions', async (request, reply) => {
    const q = request.query;
    let limit: number | undefined;
    if (q.limit !== undefined) {
      limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1) return reply.code(400).send({ error: 'limit: must be a positive integer' });
    }
    const list = decisions.list({
      ...(limit !== undefined ? { limit } : {}),
      ...(q.pod ? { pod: q.pod } : {}),
      ...(q.verb ? { verb: q.verb } : {}),
    });
    return { decisions: list };
  });

  registerWebPage(app, { scoring: ctx.scoring, ...(ctx.now ? { now: ctx.now } : {}) });

  return app;
}

/**
 * The filter answer as JSON. In NodeList mode it echoes the request's Node objects, and a Node nested
 * deeper than JSON.stringify's stack allows cannot be echoed: that is a malformed request (400
 * naming the node), not a server error. Serialising here costs nothing extra: fastify would do it.
 */
export function serializeFilter(status: number, body: ExtenderFilterResult): { status: number; text: string } {
  try {
    return { status, text: JSON.stringify(body) };
  } catch (err) {
    const items = body.Nodes?.items ?? [];
    const bad = items.find((item) => {
      try {
        JSON.stringify(item);
        return false;
      } catch {
        return true;
      }
    });
    const meta = bad && typeof bad === 'object' ? getKey(bad as Record<string, unknown>, 'metadata') : undefined;
    const name = meta && typeof meta === 'object' ? getKey(meta as Record<string, unknown>, 'name') : undefined;
    const where = bad === undefined ? 'body' : `Nodes.items: node "${String(name)}"`;
    return { status: 400, text: JSON.stringify(filterError(`${where}: cannot be echoed back (${(err as Error).message}; nested too deeply?)`)) };
  }
}
