// The `direct` source: scrapes each agent's GET /api/v1/links (validated with linksReportSchema)
// and merges the reports. Each agent's last good report is kept, so one agent down does not empty
// its links: their values keep their measurement timestamps and age into "stale" on their own.
import { request } from 'undici';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { linksReportSchema, type LinksReport } from '../../src/linkMetrics.js';
import { FetchHealth } from './fetchHealth.js';
import type { MetricSource } from './source.js';

interface AgentState {
  url: string;
  report?: LinksReport;
  health: FetchHealth;
}

export class DirectSource implements MetricSource {
  readonly type = 'direct';
  private readonly agents: AgentState[];

  constructor(
    agentUrls: readonly string[],
    readonly interval = 10,
    private readonly timeout = 3,
  ) {
    this.agents = agentUrls.map((u) => ({
      url: new URL('api/v1/links', u.endsWith('/') ? u : `${u}/`).toString(),
      health: new FetchHealth(),
    }));
  }

  private async scrape(a: AgentState, signal: AbortSignal): Promise<void> {
    try {
      a.report = await a.health.track(() => this.fetchReport(a.url, signal));
    } catch (err) {
      throw new Error(`${a.url}: ${(err as Error).message}`);
    }
  }

  private async fetchReport(url: string, signal: AbortSignal): Promise<LinksReport> {
    const res = await request(url, {
      method: 'GET',
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.timeout * 1000)]),
      headers: { accept: 'application/json' },
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new Error(`HTTP ${res.statusCode}`);
    }
    const parsed = linksReportSchema.safeParse(await res.body.json());
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`malformed report at ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    return parsed.data;
  }

  async fetch(signal: AbortSignal): Promise<LinkMatrix> {
    const results = await Promise.allSettled(this.agents.map((a) => this.scrape(a, signal)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length === this.agents.length)
      throw new Error(`no agent answered: ${failed.map((f) => (f.reason as Error).message).join('; ')}`);
    return LinkMatrix.fromReports(this.agents.flatMap((a) => (a.report ? [a.report] : [])));
  }

  status(): unknown {
    return this.agents.map((a) => ({
      url: a.url,
      ok: a.health.lastError === undefined && a.report !== undefined,
      ...a.health.status(),
      links: a.report?.links.length ?? 0,
    }));
  }
}
