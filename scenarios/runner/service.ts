// A placed pod in lab mode: a small HTTP request/response service started inside its node's
// namespace (`lpm scenario serve --spec JSON`). On every request it reads the body, calls its
// callees one after the other (their URLs are overlay addresses, so the calls cross the emulated
// links), and answers with as many bytes as the caller asked for (header x-lpm-response-bytes).
// It prints "ready PORT" once it listens and stops on SIGTERM.
import http from 'node:http';
import { z } from 'zod';

export const RESPONSE_BYTES_HEADER = 'x-lpm-response-bytes';
const MAX_BYTES = 64 * 1024 * 1024;

export const serviceSpecSchema = z
  .object({
    pod: z.string().min(1),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    callees: z.array(
      z.object({
        pod: z.string().min(1),
        url: z.string().url(),
        request: z.number().int().min(0).max(MAX_BYTES),
        response: z.number().int().min(0).max(MAX_BYTES),
      }),
    ),
  })
  .strict();
export type ServiceSpec = z.infer<typeof serviceSpecSchema>;

// Payloads are slices of one buffer: the content does not matter, only the bytes on the wire.
const FILL = Buffer.alloc(MAX_BYTES, 0x61);

/** Keep-alive connections without Nagle: a response's last small segment must not wait for an ACK. */
export function newAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, noDelay: true });
}

/** One POST with `request` bytes asking for `response` bytes; resolves when the answer is read. */
export function call(agent: http.Agent, url: string, request: number, response: number, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/octet-stream', 'content-length': request, [RESPONSE_BYTES_HEADER]: response },
        timeout: timeoutMs,
      },
      (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(FILL.subarray(0, request));
  });
}

export function startService(spec: ServiceSpec): Promise<http.Server> {
  const agent = newAgent(256);
  const server = http.createServer({ noDelay: true }, (req, res) => {
    const want = Math.min(MAX_BYTES, Math.max(0, Number(req.headers[RESPONSE_BYTES_HEADER] ?? 0) || 0));
    req.resume();
    req.on('end', () => {
      void (async () => {
        try {
          for (const c of spec.callees) await call(agent, c.url, c.request, c.response);
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': want });
          res.end(FILL.subarray(0, want));
        } catch (err) {
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`${spec.pod}: ${(err as Error).message}`);
        }
      })();
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.host, () => resolve(server));
  });
}

/**
 * `--spec-file FILE`: the spec of a pod whose callees are not placed yet when it starts (lab mode
 * through kube-scheduler: the pod's lab command is fixed when the pod is created). Waits for the
 * file (the runner writes it once every pod is placed), at most `timeoutMs`.
 */
export async function waitSpecFile(file: string, timeoutMs = 30 * 60_000): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  const until = Date.now() + timeoutMs;
  let stop = false;
  const onSignal = () => (stop = true);
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  try {
    while (!stop && Date.now() < until) {
      try {
        return await readFile(file, 'utf8');
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    return undefined;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** `lpm scenario serve --spec JSON` (or --spec-file FILE): runs until SIGTERM/SIGINT. */
export async function serveFromSpec(specText: string | undefined, specFile?: string): Promise<number> {
  const text = specText ?? (specFile ? await waitSpecFile(specFile) : undefined);
  if (!text) {
    process.stderr.write(
      specFile
        ? `scenario serve: no spec in ${specFile} (stopped or timed out waiting for it)\n`
        : 'scenario serve needs --spec JSON (it is started by "lpm scenario run --mode lab")\n',
    );
    return specFile ? 0 : 2;
  }
  let spec: ServiceSpec;
  try {
    spec = serviceSpecSchema.parse(JSON.parse(text));
  } catch (err) {
    process.stderr.write(`scenario serve: bad --spec: ${(err as Error).message}\n`);
    return 2;
  }
  const server = await startService(spec);
  process.stdout.write(`ready ${spec.port}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  return 0;
}
