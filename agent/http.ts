// The agent's HTTP face: /metrics for Prometheus, /api/v1/links (LinksReport, read by the
// extender's `direct` source), /api/v1/history (the short per-link history), /healthz, /readyz.
import Fastify, { LogController } from 'fastify';
import type { LinksReport } from '../src/linkMetrics.js';
import { listenError } from '../src/listen.js';
import type { Logger } from '../src/log.js';
import type { Registry } from 'prom-client';

export interface AgentHttpSources {
  registry: Registry;
  links(): LinksReport;
  history(): unknown;
  /** Empty when ready; otherwise the reasons it is not. */
  notReady(): string[];
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`listen: "${listen}" is not HOST:PORT`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export interface AgentHttp {
  close(): Promise<void>;
  /** The bound port (useful with port 0). */
  port: number;
}

/** Listens on `listen`; a bind failure rejects with a ListenError (nothing left open). */
export async function startHttp(listen: string, sources: AgentHttpSources, log: Logger): Promise<AgentHttp> {
  // Scrapes every few seconds would drown the log: no per-request lines.
  const app = Fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }) });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', sources.registry.contentType);
    return sources.registry.metrics();
  });
  app.get('/api/v1/links', async () => sources.links());
  app.get('/api/v1/history', async () => sources.history());
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const reasons = sources.notReady();
    if (reasons.length) return reply.code(503).send({ status: 'not ready', reasons });
    return { status: 'ready' };
  });
  const { host, port } = parseListen(listen);
  try {
    await app.listen({ host, port });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw listenError(err, host, port);
  }
  const addr = app.server.address();
  return { close: () => app.close(), port: typeof addr === 'object' && addr ? addr.port : port };
}
