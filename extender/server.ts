// The extender's HTTP(S) server: kube-scheduler's two verbs plus health, metrics and the JSON API.
// Any non-200 answer is an error to kube-scheduler, so the verbs answer 200 to every well-formed
// request (neutral when we lack data) and 400 only to a malformed one.
//
// Callers are not trusted (docs/security.md): requests must arrive within `http.headersTimeout`
// / `http.requestTimeout` (408 and closed otherwise), idle connections close, at most
// `http.maxConnections` are open; with mutual TLS, `tls.clientNames` restricts which client
// certificates are served. The read API and the web page (pod names, peers, nodes) can be on the
// main port, on a listener of their own (buildReadApiServer), or off.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Logger } from '../src/log.js';
import { filterError, getKey, type ExtenderFilterResult } from './protocol.js';
import { serializeDecisions, type DecisionLog } from './decisionLog.js';
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
  /** With `ca`: only client certificates naming one of these (subject CN or a DNS SAN) are served. */
  clientNames?: readonly string[];
}

/** The server's limits against slow and idle clients (config `http`, seconds). */
export interface HttpLimits {
  headersTimeout: number;
  requestTimeout: number;
  idleTimeout: number;
  keepAliveTimeout: number;
  maxRequestsPerSocket: number;
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  headersTimeout: 10,
  requestTimeout: 30,
  idleTimeout: 120,
  keepAliveTimeout: 65,
  maxRequestsPerSocket: 0,
  maxConnections: 1024,
};

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
  /** Default DEFAULT_HTTP_LIMITS. */
  http?: HttpLimits;
  /** Serve the read API and web page on this server (default true); false: buildReadApiServer or none. */
  readApi?: boolean;
}

/** The fastify options for the limits and TLS, shared by both listeners. */
function serverOptions(limits: HttpLimits, tls: TlsMaterial | undefined, logger: Logger | undefined): Record<string, unknown> {
  const nodeHttp = {
    headersTimeout: limits.headersTimeout * 1000,
    requestTimeout: limits.requestTimeout * 1000,
    // how often Node checks those two (default 30 s: a slow client would get up to 30 s more)
    connectionsCheckingInterval: Math.round(Math.max(100, Math.min(5000, (Math.min(limits.headersTimeout, limits.requestTimeout) * 1000) / 5))),
  };
  const o: Record<string, unknown> = {
    logController: new LogController({ disableRequestLogging: true }),
    // kube-scheduler keeps connections alive across scheduling cycles
    keepAliveTimeout: limits.keepAliveTimeout * 1000,
    requestTimeout: limits.requestTimeout * 1000,
    connectionTimeout: limits.idleTimeout * 1000,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    // Shutdown (close()): stop listening, close idle keep-alive connections at once, and answer
    // every request already received, normally: a 503 is a scheduling error to kube-scheduler.
    forceCloseConnections: 'idle',
    return503OnClosing: false,
    http: nodeHttp,
  };
  if (logger) o.loggerInstance = logger;
  if (tls)
    o.https = {
      ...nodeHttp,
      cert: tls.cert,
      key: tls.key,
      ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
    };
  return o;
}

/** The names a client certificate carries: its subject CN and its DNS subject alternative names. */
export function certificateNames(cert: { subject?: { CN?: string | string[] }; subjectaltname?: string } | undefined): string[] {
  if (!cert) return [];
  const cn = cert.subject?.CN;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) if (part.startsWith('DNS:')) names.push(part.slice(4));
  return names;
}

/** Connection limit and client-name check: the parts of the limits fastify has no option for. */
function guardConnections(app: FastifyInstance, limits: HttpLimits, tls: TlsMaterial | undefined, metrics: ExtenderMetrics): void {
  app.server.maxConnections = limits.maxConnections;
  app.server.on('drop', () => metrics.connectionsRejected.inc({ reason: 'max_connections' }));
  const allowed = tls?.ca && tls.clientNames?.length ? new Set(tls.clientNames) : undefined;
  if (!allowed) return;
  // judged once per connection (a certificate cannot change on it)
  const verdicts = new WeakMap<Socket, string | null>();
  app.addHook('onRequest', async (request, reply) => {
    const socket = request.raw.socket;
    let refused = verdicts.get(socket);
    if (refused === undefined) {
      const names = certificateNames((socket as TLSSocket).getPeerCertificate?.());
      refused = names.some((n) => allowed.has(n)) ? null : names.join(', ') || 'none';
      verdicts.set(socket, refused);
      if (refused !== null) metrics.connectionsRejected.inc({ reason: 'client_name' });
    }
    if (refused !== null) {
      request.log.warn({ names: refused }, 'client certificate refused (tls.clientNames)');
      return reply.code(403).header('connection', 'close').send({ Error: `client certificate (${refused}) is not among tls.clientNames` });
    }
  });
}

const decisionsQuery = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, 'must be a positive integer')
    .transform(Number)
    .refine((n) => n >= 1, 'must be a positive integer')
    .optional(),
  pod: z.string().max(400).optional(),
  verb: z.string().max(20).optional(),
});

export interface ReadApiOptions {
  ctx: HandlerContext;
  cache: MatrixCache;
  traffic?: MatrixCache<TrafficMatrix> | undefined;
  decisions: DecisionLog;
}

/** GET /api/v1/matrix, /api/v1/traffic, /api/v1/decisions and the web page. */
export function registerReadApi(app: FastifyInstance, opts: ReadApiOptions): void {
  const { cache, decisions, ctx } = opts;
  app.get('/api/v1/matrix', async () => {
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

  // Never a 5xx: the log is bounded in bytes (decisionLog.ts), the answer too (what does not fit
  // is counted in `truncated`), and anything unexpected is an empty list with the error.
  app.get('/api/v1/decisions', async (request, reply) => {
    const q = decisionsQuery.safeParse(request.query);
    if (!q.success) {
      const issue = q.error.issues[0]!;
      return reply.code(400).send({ error: `${issue.path.join('.') || 'query'}: ${issue.message}` });
    }
    let text: string;
    try {
      const { limit, pod, verb } = q.data;
      const list = decisions.list({ ...(limit !== undefined ? { limit } : {}), ...(pod ? { pod } : {}), ...(verb ? { verb } : {}) });
      text = serializeDecisions(list, decisions.maxBytes + 1024 * 1024);
    } catch (err) {
      request.log.error({ err }, 'decisions could not be served');
      text = JSON.stringify({ decisions: [], error: `decisions could not be served: ${(err as Error).message}` });
    }
    return reply.type('application/json; charset=utf-8').send(text);
  });

  registerWebPage(app, { scoring: ctx.scoring, ...(ctx.now ? { now: ctx.now } : {}) });
}

export interface ReadApiServerOptions extends ReadApiOptions {
  metrics: ExtenderMetrics;
  tls?: TlsMaterial | undefined;
  logger?: Logger | undefined;
  http?: HttpLimits;
}

/** The read API and web page on a listener of their own (config readApi.listen: HOST:PORT). */
export function buildReadApiServer(opts: ReadApiServerOptions): FastifyInstance {
  const limits = opts.http ?? DEFAULT_HTTP_LIMITS;
  const app = Fastify(serverOptions(limits, opts.tls, opts.logger)) as unknown as FastifyInstance;
  guardConnections(app, limits, opts.tls, opts.metrics);
  app.get('/healthz', async () => ({ status: 'ok' }));
  registerReadApi(app, opts);
  return app;
}

const VERB_OF: Record<string, Verb> = { '/filter': 'filter', '/prioritize': 'prioritize' };

export function buildServer(opts: ServerOptions): FastifyInstance {
  const { ctx, cache, podStore, decisions, metrics } = opts;
  const limits = opts.http ?? DEFAULT_HTTP_LIMITS;
  const app = Fastify({ ...serverOptions(limits, opts.tls, opts.logger), bodyLimit: opts.bodyLimit }) as unknown as FastifyInstance;
  guardConnections(app, limits, opts.tls, metrics);

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

  if (opts.readApi !== false) registerReadApi(app, { ctx, cache, traffic: opts.traffic, decisions });

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
