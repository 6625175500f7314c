// Wires one extender together: config -> metric source + matrix cache, pod store, decision log,
// metrics and the HTTP server. Used by `lpm extender`, by the scenario simulator and by tests
// (which pass their own source and pod store).
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { scoringConfig, type ExtenderConfig } from './config.js';
import type { Logger } from '../src/log.js';
import { DecisionLog } from './decisionLog.js';
import type { HandlerContext, Prepared } from './handlers.js';
import { PreparedCache } from './preparedCache.js';
import { PodIndex } from './pods/podIndex.js';
import { ExtenderMetrics } from './metrics.js';
import type { PodStore } from './pods/podStore.js';
import { buildReadApiServer, buildServer, type TlsMaterial } from './server.js';
import { DEFAULT_ASSUME_TTL_MS } from './pods/podIndex.js';
import { EventRecorder, type EventRecorderOptions, type PodEventSink } from './events.js';
import { listenError } from '../src/listen.js';
import { createSource } from './sources/index.js';
import { MatrixCache, type MetricSource } from './sources/source.js';
import { TrafficSource } from './sources/traffic.js';
import type { TrafficMatrix } from './peers/trafficMatrix.js';

export interface ExtenderOptions {
  config: ExtenderConfig;
  /** Default: a PodIndex with config.pods (the command passes the informer-backed cache). */
  podStore?: PodStore;
  /** Default: built from config.source. */
  source?: MetricSource;
  logger?: Logger;
  /** Unix seconds; tests move time. */
  now?: () => number;
  /**
   * Kubernetes Events on pods whose annotations were ignored (kubernetes.events): a sink, or the
   * options of an EventRecorder (the command passes the API connection).
   */
  events?: PodEventSink | Omit<EventRecorderOptions, 'onResult' | 'log'>;
}

export interface Extender {
  app: FastifyInstance;
  /** The read API and web page on their own listener (readApi.listen: HOST:PORT), else undefined. */
  readApiApp: FastifyInstance | undefined;
  /** Its URL, once started. */
  readonly readApiUrl: string | undefined;
  cache: MatrixCache;
  /** Traffic between apps (peers.traffic), when configured. */
  traffic: MatrixCache<TrafficMatrix> | undefined;
  podStore: PodStore;
  metrics: ExtenderMetrics;
  decisions: DecisionLog;
  /**
   * Listens, then starts the matrix refresh loop; resolves with the bound URL. A listen failure
   * rejects with a ListenError, and nothing is left running.
   */
  start(listen?: { host: string; port: number }, readApiListen?: { host: string; port: number }): Promise<string>;
  /**
   * Graceful stop (SIGTERM): /readyz turns 503 and answers say `Connection: close`; after
   * `delaySeconds` (still serving, so a Service can take the endpoint out first) the listener
   * closes (new connections are refused), idle keep-alive connections close, and every request
   * already received is answered. `timeoutSeconds` after that, connections still open are cut.
   */
  shutdown(opts?: { delaySeconds?: number; timeoutSeconds?: number }): Promise<{ forced: boolean; drainedSeconds: number }>;
  /** shutdown() without a time bound. */
  close(): Promise<void>;
  /** True once shutdown() or close() has begun. */
  readonly draining: boolean;
}

/** "0.0.0.0:8888" / "[::1]:8888" / ":8888" -> host and port. */
export function splitListen(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(':');
  const host = listen.slice(0, at).replace(/^\[(.*)\]$/, '$1') || '0.0.0.0';
  return { host, port: Number(listen.slice(at + 1)) };
}

async function readTls(tls: ExtenderConfig['tls']): Promise<TlsMaterial | undefined> {
  if (!tls) return undefined;
  const read = async (file: string, field: string) => {
    try {
      return await readFile(file);
    } catch (err) {
      throw new Error(`tls.${field}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    cert: await read(tls.cert, 'cert'),
    key: await read(tls.key, 'key'),
    ...(tls.clientCA ? { ca: await read(tls.clientCA, 'clientCA') } : {}),
    ...(tls.clientNames ? { clientNames: tls.clientNames } : {}),
  };
}

const urlOf = (app: FastifyInstance, tls: boolean): string => {
  const addr = app.server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${tls ? 'https' : 'http'}://${host}:${addr.port}`;
};

export async function createExtender(opts: ExtenderOptions): Promise<Extender> {
  const { config, logger } = opts;
  const podStore =
    opts.podStore ??
    new PodIndex({
      pods: config.pods.map((p) => ({
        namespace: p.namespace,
        name: p.name,
        labels: p.labels,
        annotations: p.annotations,
        ...(p.nodeName ? { nodeName: p.nodeName } : {}),
        ...(p.phase ? { phase: p.phase } : {}),
      })),
      // as with a watch: nothing confirms a choice here, so it lasts the bind-race window only
      assumeTtlMs: DEFAULT_ASSUME_TTL_MS,
    });
  const source = opts.source ?? createSource(config.source);
  let cache: MatrixCache | undefined;
  const metrics = new ExtenderMetrics(() => cache);
  const countRefresh = (source: string, result: 'success' | 'error') => metrics.sourceRefreshes.inc({ source, result });
  cache = new MatrixCache(source, {
    ...(logger ? { logger } : {}),
    onRefresh: countRefresh,
  });
  const t = config.peers.traffic;
  const traffic = t
    ? new MatrixCache(
        new TrafficSource({
          url: t.url,
          query: t.query,
          labels: {
            sourceApp: t.sourceLabel,
            targetApp: t.targetLabel,
            sourceNamespace: t.sourceNamespaceLabel,
            targetNamespace: t.targetNamespaceLabel,
            podLabel: t.podLabel,
          },
          interval: t.interval,
          timeout: t.timeout,
        }),
        {
          ...(logger ? { logger } : {}),
          what: 'traffic matrix',
          onRefresh: countRefresh,
        },
      )
    : undefined;
  const decisions = new DecisionLog(config.decisions.keep, { maxBytes: config.decisions.maxBytes, maxDecisionBytes: config.decisions.maxDecisionBytes });
  const events =
    opts.events === undefined || 'annotationsIgnored' in opts.events
      ? opts.events
      : new EventRecorder({ ...opts.events, onResult: (result) => metrics.podEvents.inc({ result }), ...(logger ? { log: logger } : {}) });
  const ctx: HandlerContext = {
    podStore,
    matrix: () => cache.current,
    scoring: scoringConfig(config),
    peers: {
      networks: config.peers.networks,
      ignoreNetworks: config.peers.ignoreNetworks,
      defaultWeight: config.peers.defaultWeight,
      policy: config.peers.crossNamespace,
      maxPeers: config.peers.maxPeers,
      maxPeerNodes: config.peers.maxPeerNodes,
      // until the first answer (or with Prometheus never reached): no traffic peers, never an error
      ...(traffic ? { traffic: (pod) => traffic.current?.matrix.rulesFor(pod) ?? [] } : {}),
    },
    decisions,
    detailNodes: config.decisions.detailNodes,
    metrics,
    // filter's work for a pod, reused by the prioritize call of the same cycle
    prepared: new PreparedCache<Prepared>(),
    ...(traffic ? { trafficMatrix: () => traffic.current?.matrix } : {}),
    ...(logger ? { logger } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(events ? { events } : {}),
  };
  const tls = await readTls(config.tls);
  let draining = false;
  const app = buildServer({
    draining: () => draining,
    ctx,
    cache,
    traffic,
    podStore,
    decisions,
    metrics,
    bodyLimit: config.bodyLimit,
    ...(tls ? { tls } : {}),
    ...(logger ? { logger } : {}),
    http: config.http,
    readApi: config.readApi.listen === 'main',
  });
  const readListen = config.readApi.listen;
  const readTlsMaterial = config.readApi.tls ? tls : undefined;
  const readApiApp =
    readListen === 'main' || readListen === 'off'
      ? undefined
      : buildReadApiServer({ ctx, cache, traffic, decisions, metrics, tls: readTlsMaterial, logger, http: config.http });
  let readApiUrl: string | undefined;

  const shutdown = async ({ delaySeconds = 0, timeoutSeconds = Infinity } = {}): Promise<{ forced: boolean; drainedSeconds: number }> => {
    const started = performance.now();
    draining = true;
    if (delaySeconds > 0) await new Promise((r) => setTimeout(r, delaySeconds * 1000));
    let forced = false;
    let timer: NodeJS.Timeout | undefined;
    const closed = app.close();
    const readClosed = readApiApp?.close();
    if (Number.isFinite(timeoutSeconds))
      timer = setTimeout(() => {
        forced = true;
        logger?.warn({ timeoutSeconds }, 'shutdown: requests still open after the timeout, closing their connections');
        app.server.closeAllConnections();
        readApiApp?.server.closeAllConnections();
      }, timeoutSeconds * 1000);
    try {
      await Promise.all([cache.stop(), traffic?.stop(), closed, readClosed]);
    } finally {
      clearTimeout(timer);
    }
    return { forced, drainedSeconds: (performance.now() - started) / 1000 };
  };

  return {
    app,
    readApiApp,
    get readApiUrl() {
      return readApiUrl;
    },
    cache,
    traffic,
    podStore,
    metrics,
    decisions,
    async start(listen = splitListen(config.listen), readApiListen?: { host: string; port: number }) {
      // Bind first: an extender that cannot listen must not load or refresh anything (the caller
      // exits on the ListenError).
      try {
        await app.listen({ host: listen.host, port: listen.port });
      } catch (err) {
        await app.close().catch(() => undefined);
        await readApiApp?.close().catch(() => undefined);
        throw listenError(err, listen.host, listen.port);
      }
      if (readApiApp) {
        const at = readApiListen ?? splitListen(readListen);
        try {
          await readApiApp.listen({ host: at.host, port: at.port });
        } catch (err) {
          await Promise.all([app.close(), readApiApp.close()].map((p) => p.catch(() => undefined)));
          throw listenError(err, at.host, at.port, 'readApi');
        }
        readApiUrl = urlOf(readApiApp, !!readTlsMaterial);
      }
      cache.start();
      traffic?.start();
      return urlOf(app, !!tls);
    },
    get draining() {
      return draining;
    },
    shutdown,
    async close() {
      await shutdown();
    },
  };
}
