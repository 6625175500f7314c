// The extender's HTTP(S) server: kube-scheduler's two verbs plus health, metrics and the JSON API.
// Any non-200 answer is an error to kube-scheduler, so the verbs answer 200 to every well-formed
// request (neutral when we lack data) and 400 only to a malformed one.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '../src/log.js';
import { filterError } from '../src/extenderProtocol.js';
import type { DecisionLog } from './decisionLog.js';
import { handleFilter, handlePrioritize, type HandlerContext } from './handlers.js';
import type { ExtenderMetrics, Verb } from './metrics.js';
import type { PodStore } from './podStore.js';
import type { MatrixCache } from './sources/source.js';
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
  podStore: PodStore;
  decisions: DecisionLog;
  metrics: ExtenderMetrics;
  bodyLimit: number;
  tls?: TlsMaterial;
  logger?: Logger;
}

const VERB_OF: Record<string, Verb> = { '/filter': 'filter', '/prioritize': 'prioritize' };

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { ctx, cache, podStore, decisions, metrics } = opts;
  const fastifyOpts: Record<string, unknown> = {
    bodyLimit: opts.bodyLimit,
    disableRequestLogging: true,
    // kube-scheduler keeps connections alive across scheduling cycles
    keepAliveTimeout: 65_000,
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

  // kube-scheduler sends application/json; accept a missing or odd content type as JSON too
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      const e = new Error(`body: invalid JSON: ${(err as Error).message}`) as FastifyError;
      e.statusCode = 400;
      done(e, undefined);
    }
  });

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    let message = err.message;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') message = `body: larger than bodyLimit (${opts.bodyLimit} bytes; raise bodyLimit in the config)`;
    else if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') message = 'body: empty, expected ExtenderArgs JSON';
    else if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON') message = `body: invalid JSON: ${err.message}`;
    const verb = VERB_OF[request.routeOptions.url ?? ''];
    if (verb) metrics.decisions.inc({ verb, outcome: 'error' });
    if (status === 500) request.log.error({ err }, 'extender request failed');
    else request.log.warn({ url: request.url, err: message }, 'rejected request');
    void reply.code(status).send(verb === 'filter' ? filterError(message) : { Error: message });
  });

  app.addHook('onResponse', async (request, reply) => {
    const verb = VERB_OF[request.routeOptions.url ?? ''];
    if (verb) metrics.requestDuration.observe({ verb }, reply.elapsedTime / 1000);
  });

  app.post('/filter', async (request, reply) => {
    const a = handleFilter(request.body, ctx);
    return reply.code(a.status).send(a.body);
  });

  app.post('/prioritize', async (request, reply) => {
    const a = handlePrioritize(request.body, ctx);
    return reply.code(a.status).send(a.body);
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
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
