// Serves the extender's web page (GET /, index.html beside this file) and the few settings the
// page needs that the JSON API does not carry: the server's clock and the max ages that make a
// link value stale, so the page marks stale cells exactly as the scoring path judges them.
// The HTML is read once from the package; tsc does not copy it into dist/, so it is looked up
// from the compiled module's directory upwards (dist/extender/web -> extender/web).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { ScoringConfig } from '../scoring/scoring.js';

const PAGE = join('extender', 'web', 'index.html');

/** Path of index.html: beside this module (sources), or under the package root (compiled). */
export function findWebPage(from = dirname(fileURLToPath(import.meta.url))): string | undefined {
  if (existsSync(join(from, 'index.html'))) return join(from, 'index.html');
  let dir = from;
  for (;;) {
    if (existsSync(join(dir, PAGE))) return join(dir, PAGE);
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export interface WebPageSettings {
  /** Server time, unix seconds: the page judges ages against it, not the browser's clock. */
  now: number;
  rttMaxAge: number;
  bandwidthMaxAge: number;
  unknownQuality: number;
}

export function webPageSettings(scoring: ScoringConfig, now = Date.now() / 1000): WebPageSettings {
  return { now, rttMaxAge: scoring.rttMaxAge, bandwidthMaxAge: scoring.bandwidthMaxAge, unknownQuality: scoring.unknownQuality };
}

/** Adds GET / (and /index.html) and GET /web/settings.json to the extender's server. */
export function registerWebPage(app: FastifyInstance, opts: { scoring: ScoringConfig; now?: () => number }): void {
  const file = findWebPage();
  let html: string | undefined;
  let missing = `lpm web page not found (${PAGE} is not in this installation)\n`;
  try {
    if (file) html = readFileSync(file, 'utf8');
  } catch (err) {
    missing = `lpm web page unreadable: ${(err as Error).message}\n`;
  }
  const page = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    if (html === undefined) return reply.code(503).type('text/plain; charset=utf-8').send(missing);
    return reply
      .type('text/html; charset=utf-8')
      // nothing but our own inline script and same-origin fetches; no framing by other sites
      .header(
        'content-security-policy',
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
      )
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(html);
  };
  app.get('/', page);
  app.get('/index.html', page);
  app.get('/web/settings.json', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send(webPageSettings(opts.scoring, opts.now?.())),
  );
}
