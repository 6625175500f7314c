// Readiness probes of the control plane's processes over loopback: HTTP(S) GET with the lab CA
// and client certificate (kube-apiserver), or without verification (kube-scheduler's serving
// certificate is self-signed in memory; /healthz needs no credentials).
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { isAlive } from '../processes.js';
import type { ProcessRecord } from '../state.js';

export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  /** Skip verification of the server certificate. */
  insecure?: boolean;
}

export async function tlsAgent(tls: TlsFiles): Promise<Agent> {
  return new Agent({
    connect: {
      ...(tls.ca ? { ca: await readFile(tls.ca) } : {}),
      ...(tls.cert ? { cert: await readFile(tls.cert) } : {}),
      ...(tls.key ? { key: await readFile(tls.key) } : {}),
      rejectUnauthorized: !tls.insecure,
    },
  });
}

/** GET url: status and body text, or the connection error's message. */
export async function probe(url: string, agent?: Agent, timeoutMs = 2000): Promise<{ status: number; body: string } | { error: string }> {
  try {
    const res = await request(url, { signal: AbortSignal.timeout(timeoutMs), ...(agent ? { dispatcher: agent } : {}) });
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    const e = err as Error & { cause?: Error };
    return { error: `${e.message}${e.cause ? `: ${e.cause.message}` : ''}` };
  }
}

async function tail(file: string, lines = 8): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim().split('\n').slice(-lines).join('\n') || '(empty log)';
  } catch {
    return '(no log)';
  }
}

/**
 * Polls `url` until it answers 200 (and `ok(body)` when given). Fails early when the process
 * exits, quoting the end of its log.
 */
export async function waitHttpReady(
  what: string,
  url: string,
  proc: ProcessRecord,
  opts: { agent?: Agent; timeoutMs?: number; ok?: (body: string) => boolean } = {},
): Promise<void> {
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  let last = '';
  while (Date.now() < until) {
    if (!(await isAlive(proc))) throw new Error(`${what} exited during start-up; end of ${proc.log}:\n${await tail(proc.log)}`);
    const r = await probe(url, opts.agent);
    if ('status' in r && r.status === 200 && (!opts.ok || opts.ok(r.body))) return;
    last = 'status' in r ? `HTTP ${r.status} ${r.body.slice(0, 300)}` : r.error;
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${(opts.timeoutMs ?? 60_000) / 1000}s at ${url} (${last}); end of ${proc.log}:\n${await tail(proc.log)}`);
}
