// Memory and refresh time of the extender's link matrix at scale: the real `prometheus` source
// (PrometheusSource + MatrixCache, as the extender runs them) refreshing from a stand-in
// Prometheus on loopback that serves the answers Prometheus would give for `nodes` agents each
// measuring `peers` others (peers = nodes - 1: a full mesh), built once. The source runs in a
// child process of its own (matrixScaleChild.ts), so its memory is the extender's alone: refresh
// seconds (HTTP, JSON.parse, validation, matrix build, and from the second on the merge with the
// previous matrix), the resident memory after the refreshes (after a GC) and at its peak, the heap,
// and one evaluation of a pod with 10 peer nodes against every node on that matrix (the first
// builds the 10 columns it reads).
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { linkQueries } from '../extender/sources/prometheusLinkQueries.js';
import { prometheusAnswers } from './matrixRefreshCase.js';

export interface MatrixScaleShape {
  nodes: number;
  /** Peers each agent measures; nodes - 1 is the full mesh. */
  peers: number;
}

export interface MatrixScaleResult extends MatrixScaleShape {
  links?: number;
  samples?: number;
  /** Bytes of one refresh's answers together. */
  answerMiB?: number;
  /** Seconds per refresh: the first, then the next ones (merged with the previous matrix). */
  refreshSeconds?: number[];
  /** The source's process after the refreshes and a GC, and its peak. */
  rssMiB?: number;
  peakRssMiB?: number;
  heapMiB?: number;
  /** The Node heap limit it ran with. */
  heapLimitMiB?: number;
  /** evaluate() of a pod with 10 peer nodes against every node: the first (columns built) and the next. */
  evaluateMs?: { first: number; next: number };
  /** Why there is no measurement (e.g. out of memory). */
  error?: string;
}

export interface ChildRequest {
  url: string;
  refreshes: number;
  timeoutSeconds: number;
}

export type ChildReply =
  | ({ type: 'result' } & Required<Pick<MatrixScaleResult, 'links' | 'refreshSeconds' | 'rssMiB' | 'peakRssMiB' | 'heapMiB' | 'heapLimitMiB' | 'evaluateMs'>>)
  | { type: 'error'; message: string };

/**
 * A stand-in Prometheus: each query of linkQueries() (recording rules, any label matcher)
 * answered with its canned body, by key.
 */
export async function serveAnswers(bodies: ReadonlyMap<string, Buffer>): Promise<{ server: Server; url: string }> {
  const byQuery = new Map(linkQueries().map((q) => [q.query, bodies.get(q.key)] as const));
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const query = new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get('query') ?? '';
      const body = byQuery.get(query.split('{')[0]!);
      if (!body) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'error', errorType: 'bad_data', error: `unknown query ${query}` }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
    });
  });
  // the source keeps its connections between refreshes; large answers take long to write
  server.keepAliveTimeout = 120_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function runChild(req: ChildRequest, execArgv: string[]): Promise<ChildReply> {
  const entry = fileURLToPath(new URL('./matrixScaleChild.js', import.meta.url));
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--no-warnings', '--expose-gc', ...execArgv] });
  try {
    return await new Promise<ChildReply>((resolve) => {
      child.once('message', (m: ChildReply) => resolve(m));
      child.once('exit', (code, signal) =>
        resolve({ type: 'error', message: `the source's process exited (${signal ?? `code ${code}`}) before it answered: out of memory?` }),
      );
      child.send(req);
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export async function runMatrixScale(
  shapes: readonly MatrixScaleShape[],
  opts: { refreshes: number; timeoutSeconds: number; log?: (line: string) => void },
): Promise<MatrixScaleResult[]> {
  const out: MatrixScaleResult[] = [];
  for (const shape of shapes) {
    const t0 = performance.now();
    const answers = prometheusAnswers(shape.nodes, shape.peers, Date.now() / 1000);
    const bodies = new Map([...answers].map(([k, text]) => [k, Buffer.from(text)] as const));
    answers.clear();
    const bytes = [...bodies.values()].reduce((s, b) => s + b.length, 0);
    const links = shape.nodes * shape.peers;
    opts.log?.(`  ${shape.nodes} nodes x ${shape.peers} peers: ${links} links, answers ${(bytes / 2 ** 20).toFixed(0)} MiB built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const { server, url } = await serveAnswers(bodies);
    try {
      const r = await runChild({ url, refreshes: opts.refreshes, timeoutSeconds: opts.timeoutSeconds }, []);
      const base = { ...shape, samples: 8 * links, answerMiB: Math.round((bytes / 2 ** 20) * 10) / 10 };
      if (r.type === 'error') out.push({ ...base, error: r.message });
      else {
        const { type: _type, ...m } = r;
        out.push({ ...base, ...m });
      }
      const last = out.at(-1)!;
      opts.log?.(
        last.error
          ? `    ${last.error}`
          : `    refresh ${last.refreshSeconds!.map((s) => s.toFixed(2)).join(', ')} s, RSS ${last.rssMiB} MiB (peak ${last.peakRssMiB}), heap ${last.heapMiB} MiB`,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
    }
  }
  return out;
}
