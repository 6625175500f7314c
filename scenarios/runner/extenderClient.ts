// The driver's side of the extender protocol: POST /filter and /prioritize over HTTP, as
// kube-scheduler does, and validation of the answers with the wire schemas (a malformed answer
// is an error, as it would be for kube-scheduler).
import { request } from 'undici';
import { extenderFilterResultSchema, hostPriorityListSchema } from '../../extender/protocol.js';
import { extenderArgs } from './podObject.js';

export interface FilterAnswer {
  passed: string[];
  /** Node -> why it was removed (FailedNodes and FailedAndUnresolvableNodes). */
  failed: Record<string, string>;
}

export class ExtenderCallError extends Error {
  override name = 'ExtenderCallError';
}

export class ExtenderClient {
  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  private async post(verb: 'filter' | 'prioritize', body: unknown): Promise<unknown> {
    const url = `${this.baseUrl.replace(/\/$/, '')}/${verb}`;
    let res;
    try {
      res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new ExtenderCallError(`extender ${url}: ${(err as Error).message}`);
    }
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new ExtenderCallError(`extender ${url}: HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    try {
      return JSON.parse(text);
    } catch {
      throw new ExtenderCallError(`extender ${url}: answer is not JSON: ${text.slice(0, 200)}`);
    }
  }

  async filter(pod: Record<string, unknown>, nodes: readonly string[]): Promise<FilterAnswer> {
    const body = await this.post('filter', extenderArgs(pod, nodes));
    const r = extenderFilterResultSchema.safeParse(body);
    if (!r.success) throw new ExtenderCallError(`extender /filter: malformed answer: ${r.error.issues[0]!.message}`);
    if (r.data.Error) throw new ExtenderCallError(`extender /filter: Error: ${r.data.Error}`);
    const passed = r.data.NodeNames ?? [];
    const unknown = passed.filter((n) => !nodes.includes(n));
    if (unknown.length) throw new ExtenderCallError(`extender /filter returned nodes it was not offered: ${unknown.join(', ')}`);
    return { passed, failed: { ...r.data.FailedNodes, ...r.data.FailedAndUnresolvableNodes } };
  }

  async prioritize(pod: Record<string, unknown>, nodes: readonly string[]): Promise<Map<string, number>> {
    const body = await this.post('prioritize', extenderArgs(pod, nodes));
    const r = hostPriorityListSchema.safeParse(body);
    if (!r.success) throw new ExtenderCallError(`extender /prioritize: malformed answer: ${r.error.issues[0]!.message}`);
    const scores = new Map<string, number>();
    for (const h of r.data) if (nodes.includes(h.Host)) scores.set(h.Host, h.Score);
    return scores;
  }
}
