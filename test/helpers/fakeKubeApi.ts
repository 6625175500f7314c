// A real HTTP server (node:http on 127.0.0.1, ephemeral port) speaking the part of the Kubernetes
// API that an informer on pods uses, so tests exercise @kubernetes/client-node's real list + watch
// code over a real socket:
//   GET /api/v1/pods, GET /api/v1/namespaces/{ns}/pods
//     list: `labelSelector` (k=v, k==v, k!=v, k, !k), `fieldSelector` (metadata.name,
//     metadata.namespace, spec.nodeName, status.phase with = / == / !=), `limit` + `continue`
//     paging from a snapshot, `metadata.resourceVersion` on the list.
//     watch (`watch=true`): newline-delimited events ADDED/MODIFIED/DELETED, each object carrying
//     its resourceVersion; events newer than `resourceVersion` are replayed first; without an RV
//     (or "0") the current state is sent as ADDED; selector transitions appear as ADDED/DELETED
//     like the real watch cache; `timeoutSeconds` closes the stream; `allowWatchBookmarks` is
//     accepted (BOOKMARK via sendBookmark()); an RV older than the last compaction gets an ERROR
//     event with code 410 (the modern apiserver) or HTTP 410 (compact({ mode: 'status' })).
// Test controls: addPod, updatePod, deletePod, closeWatches, stallWatches, endWatchesAtOnce,
// compact, failNext, expireNextContinue, sendBookmark, stop, and the
// `requests` log (method + path + query of every request) to check what the client really sends.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface FakePodInput {
  namespace?: string;
  name: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  nodeName?: string;
  phase?: string;
}

export interface FakePodUpdate {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** null clears spec.nodeName. */
  nodeName?: string | null;
  phase?: string;
}

/** The JSON shape of a pod as served (a small but valid v1 Pod). */
export interface FakePod {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: { nodeName?: string; containers: Array<{ name: string; image: string }> };
  status: { phase: string };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** The Accept header (the fake only speaks JSON). */
  accept?: string;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEvent {
  rv: number;
  type: EventType;
  /** State after the event (for DELETED: the last state, with the deletion's RV). */
  pod: FakePod;
  /** State before the event, to turn selector transitions into ADDED/DELETED. */
  prev?: FakePod;
}

type Predicate = (pod: FakePod) => boolean;

interface OpenWatch {
  res: ServerResponse;
  /** A half-open connection: nothing is written and the timeout never fires. */
  stalled?: boolean;
  matches: Predicate;
  namespace?: string;
  bookmarks: boolean;
  timer?: NodeJS.Timeout;
}

interface Snapshot {
  rv: number;
  items: FakePod[];
}

class BadRequest extends Error {}

export class FakeKubeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly pods = new Map<string, FakePod>();
  private history: HistoryEvent[] = [];
  private rv = 1;
  private compactedRv = 0;
  private compactMode: 'event' | 'status' = 'event';
  private readonly watches = new Set<OpenWatch>();
  private readonly snapshots = new Map<string, Snapshot>();
  private endAtOnce = false;
  private expireContinues = 0;
  private failures: Array<{ status: number; match?: 'list' | 'watch' }> = [];
  private server!: Server;
  url = '';

  static async start(): Promise<FakeKubeApi> {
    const api = new FakeKubeApi();
    api.server = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      api.server.once('error', reject);
      api.server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = api.server.address() as AddressInfo;
    api.url = `http://127.0.0.1:${port}`;
    return api;
  }

  /** Current resourceVersion of the store. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  get openWatchCount(): number {
    return this.watches.size;
  }

  /** Requests of one kind so far (watch=true or not). */
  requestsOf(kind: 'list' | 'watch'): RecordedRequest[] {
    return this.requests.filter((r) => (r.query.watch === 'true') === (kind === 'watch'));
  }

  addPod(input: FakePodInput): FakePod {
    const namespace = input.namespace ?? 'default';
    const key = `${namespace}/${input.name}`;
    if (this.pods.has(key)) throw new Error(`fake kube api: pod ${key} already exists`);
    const pod: FakePod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: input.name,
        namespace,
        uid: input.uid ?? randomUUID(),
        resourceVersion: String(++this.rv),
        creationTimestamp: new Date().toISOString(),
        labels: { ...(input.labels ?? {}) },
        annotations: { ...(input.annotations ?? {}) },
      },
      spec: { ...(input.nodeName ? { nodeName: input.nodeName } : {}), containers: [{ name: 'app', image: 'busybox' }] },
      status: { phase: input.phase ?? (input.nodeName ? 'Running' : 'Pending') },
    };
    this.pods.set(key, pod);
    this.record({ rv: this.rv, type: 'ADDED', pod });
    return structuredClone(pod);
  }

  /** Changes a pod (e.g. binds it or moves it to another node) and emits MODIFIED. */
  updatePod(namespace: string, name: string, update: FakePodUpdate): FakePod {
    const key = `${namespace}/${name}`;
    const prev = this.pods.get(key);
    if (!prev) throw new Error(`fake kube api: no pod ${key}`);
    const pod = structuredClone(prev);
    pod.metadata.resourceVersion = String(++this.rv);
    if (update.labels) pod.metadata.labels = { ...update.labels };
    if (update.annotations) pod.metadata.annotations = { ...update.annotations };
    if (update.nodeName === null) delete pod.spec.nodeName;
    else if (update.nodeName !== undefined) pod.spec.nodeName = update.nodeName;
    if (update.phase) pod.status.phase = update.phase;
    this.pods.set(key, pod);
    this.record({ rv: this.rv, type: 'MODIFIED', pod, prev });
    return structuredClone(pod);
  }

  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const prev = this.pods.get(key);
    if (!prev) throw new Error(`fake kube api: no pod ${key}`);
    this.pods.delete(key);
    const pod = structuredClone(prev);
    pod.metadata.resourceVersion = String(++this.rv);
    this.record({ rv: this.rv, type: 'DELETED', pod, prev });
  }

  /** Ends every open watch stream cleanly (like an apiserver restart or a proxy timeout). */
  closeWatches(): number {
    const n = this.watches.size;
    for (const w of [...this.watches]) this.endWatch(w);
    return n;
  }

  /**
   * Forgets the event history and list snapshots: a watch from an older resourceVersion then
   * fails with 410 Gone, as etcd compaction does. `event` answers 200 + an ERROR event (what the
   * watch cache sends), `status` answers HTTP 410. Open watches are closed so clients must resume.
   */
  compact(opts: { mode?: 'event' | 'status'; closeWatches?: boolean } = {}): void {
    this.compactMode = opts.mode ?? 'event';
    this.compactedRv = this.rv;
    this.history = [];
    this.snapshots.clear();
    if (opts.closeWatches ?? true) this.closeWatches();
  }

  /** The next `count` matching requests answer HTTP `status` (a Status body) instead. */
  failNext(count: number, status = 500, match?: 'list' | 'watch'): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, ...(match ? { match } : {}) });
  }

  /**
   * Makes the open watches behave like half-open connections (a peer that vanished without a
   * FIN): the socket stays open but no event or timeout ever arrives. New watches are normal.
   */
  stallWatches(): number {
    for (const w of this.watches) {
      w.stalled = true;
      if (w.timer) clearTimeout(w.timer);
    }
    return this.watches.size;
  }

  /** The next `count` list requests with a continue token answer 410 Expired (token too old). */
  expireNextContinue(count = 1): void {
    this.expireContinues += count;
  }

  /** While on, every new watch is ended right after its replay (a misbehaving proxy). */
  endWatchesAtOnce(on: boolean): void {
    this.endAtOnce = on;
  }

  /** Sends a BOOKMARK with the current resourceVersion to watches that asked for bookmarks. */
  sendBookmark(): void {
    for (const w of this.watches) {
      if (w.bookmarks) {
        this.writeEvent(w, 'BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } });
      }
    }
  }

  async stop(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- request handling ---

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams.entries());
    this.requests.push({ method: req.method ?? 'GET', path: url.pathname, query, ...(req.headers.accept ? { accept: req.headers.accept } : {}) });
    if (req.headers.accept && !/json|\*\/\*/.test(req.headers.accept)) {
      return this.status(res, 406, 'NotAcceptable', `only application/json is served, not ${req.headers.accept}`);
    }
    try {
      const route = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?pods$/.exec(url.pathname);
      if (req.method !== 'GET' || !route) {
        return this.status(res, 404, 'NotFound', `the server could not find the requested resource (${req.method} ${url.pathname})`);
      }
      const isWatch = query.watch === 'true' || query.watch === '1';
      const failIdx = this.failures.findIndex((f) => !f.match || f.match === (isWatch ? 'watch' : 'list'));
      if (failIdx >= 0) {
        const [failure] = this.failures.splice(failIdx, 1);
        return this.status(res, failure!.status, 'InternalError', 'injected failure');
      }
      const namespace = route[1] ? decodeURIComponent(route[1]) : undefined;
      const matches = this.predicate(namespace, query.labelSelector, query.fieldSelector);
      if (isWatch) this.watch(res, query, matches, namespace);
      else this.list(res, query, matches);
    } catch (err) {
      if (err instanceof BadRequest) return this.status(res, 400, 'BadRequest', err.message);
      this.status(res, 500, 'InternalError', (err as Error).message);
    }
  }

  private list(res: ServerResponse, query: Record<string, string>, matches: Predicate): void {
    let snapshot: Snapshot;
    let offset = 0;
    let snapshotId: string;
    if (query.continue) {
      let token: { id: string; offset: number };
      try {
        token = JSON.parse(Buffer.from(query.continue, 'base64url').toString('utf8'));
      } catch {
        throw new BadRequest('invalid continue token');
      }
      if (this.expireContinues > 0) {
        this.expireContinues--;
        this.snapshots.delete(token.id);
      }
      const found = this.snapshots.get(token.id);
      if (!found) {
        return this.status(res, 410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
      }
      snapshot = found;
      snapshotId = token.id;
      offset = token.offset;
    } else {
      const items = [...this.pods.values()].filter(matches).sort((a, b) => key(a).localeCompare(key(b)));
      snapshot = { rv: this.rv, items: items.map((p) => structuredClone(p)) };
      snapshotId = randomUUID();
    }
    const limit = query.limit ? Number(query.limit) : 0;
    if (!Number.isInteger(limit) || limit < 0) throw new BadRequest(`limit: "${query.limit}" is not a non-negative integer`);
    const end = limit > 0 ? Math.min(offset + limit, snapshot.items.length) : snapshot.items.length;
    const items = snapshot.items.slice(offset, end);
    const metadata: Record<string, unknown> = { resourceVersion: String(snapshot.rv) };
    if (end < snapshot.items.length) {
      this.snapshots.set(snapshotId, snapshot);
      metadata.continue = Buffer.from(JSON.stringify({ id: snapshotId, offset: end })).toString('base64url');
      metadata.remainingItemCount = snapshot.items.length - end;
    } else {
      this.snapshots.delete(snapshotId);
    }
    // Items in a real list carry no kind/apiVersion.
    const body = { kind: 'PodList', apiVersion: 'v1', metadata, items: items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private watch(res: ServerResponse, query: Record<string, string>, matches: Predicate, namespace?: string): void {
    const rvParam = query.resourceVersion ?? '';
    const fromRv = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (fromRv !== undefined && !Number.isInteger(fromRv)) throw new BadRequest(`resourceVersion: "${rvParam}" is not valid`);
    const tooOld = fromRv !== undefined && fromRv < this.compactedRv;
    if (tooOld && this.compactMode === 'status') {
      return this.status(res, 410, 'Expired', `too old resource version: ${fromRv} (${this.compactedRv})`);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: OpenWatch = { res, matches, bookmarks: query.allowWatchBookmarks === 'true', ...(namespace ? { namespace } : {}) };
    if (tooOld) {
      this.writeEvent(w, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${fromRv} (${this.compactedRv})`,
        reason: 'Expired',
        code: 410,
      });
      res.end();
      return;
    }
    this.watches.add(w);
    res.on('close', () => {
      if (w.timer) clearTimeout(w.timer);
      this.watches.delete(w);
    });
    if (fromRv === undefined) {
      for (const pod of [...this.pods.values()].filter(matches)) this.writeEvent(w, 'ADDED', pod);
    } else {
      for (const ev of this.history) if (ev.rv > fromRv) this.deliver(w, ev);
    }
    if (this.endAtOnce) return this.endWatch(w);
    const timeout = Number(query.timeoutSeconds);
    if (Number.isFinite(timeout) && timeout > 0) w.timer = setTimeout(() => this.endWatch(w), timeout * 1000);
  }

  private record(ev: HistoryEvent): void {
    this.history.push(ev);
    for (const w of this.watches) this.deliver(w, ev);
  }

  /** Sends an event as a watch with this selector sees it (selector transitions included). */
  private deliver(w: OpenWatch, ev: HistoryEvent): void {
    const now = w.matches(ev.pod);
    const before = ev.prev ? w.matches(ev.prev) : false;
    if (ev.type === 'ADDED') {
      if (now) this.writeEvent(w, 'ADDED', ev.pod);
    } else if (ev.type === 'DELETED') {
      if (before) this.writeEvent(w, 'DELETED', ev.pod);
    } else if (now && before) this.writeEvent(w, 'MODIFIED', ev.pod);
    else if (now) this.writeEvent(w, 'ADDED', ev.pod);
    else if (before) this.writeEvent(w, 'DELETED', ev.pod);
  }

  private writeEvent(w: OpenWatch, type: string, object: unknown): void {
    if (!w.res.writableEnded && !w.stalled) w.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private endWatch(w: OpenWatch): void {
    if (w.timer) clearTimeout(w.timer);
    this.watches.delete(w);
    if (!w.res.writableEnded) w.res.end();
  }

  private status(res: ServerResponse, code: number, reason: string, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  }

  private predicate(namespace: string | undefined, labelSelector?: string, fieldSelector?: string): Predicate {
    const checks: Predicate[] = [];
    if (namespace) checks.push((p) => p.metadata.namespace === namespace);
    for (const req of splitSelector(labelSelector)) checks.push(labelRequirement(req));
    for (const req of splitSelector(fieldSelector)) checks.push(fieldRequirement(req));
    return (p) => checks.every((c) => c(p));
  }
}

function key(p: FakePod): string {
  return `${p.metadata.namespace}/${p.metadata.name}`;
}

function splitSelector(s: string | undefined): string[] {
  return (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}

function labelRequirement(req: string): Predicate {
  const m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(req);
  if (m) {
    const [, k, op, v] = m as unknown as [string, string, string, string];
    return op === '!=' ? (p) => p.metadata.labels[k] !== v : (p) => p.metadata.labels[k] === v;
  }
  const exists = /^(!?)([A-Za-z0-9._/-]+)$/.exec(req);
  if (exists) {
    const [, not, k] = exists as unknown as [string, string, string];
    return not ? (p) => !(k in p.metadata.labels) : (p) => k in p.metadata.labels;
  }
  throw new BadRequest(`unable to parse requirement: "${req}" (the fake API supports =, ==, !=, key, !key)`);
}

const FIELDS: Record<string, (p: FakePod) => string> = {
  'metadata.name': (p) => p.metadata.name,
  'metadata.namespace': (p) => p.metadata.namespace,
  'spec.nodeName': (p) => p.spec.nodeName ?? '',
  'status.phase': (p) => p.status.phase,
};

function fieldRequirement(req: string): Predicate {
  const m = /^([^!=]+)(==|=|!=)(.*)$/.exec(req);
  if (!m) throw new BadRequest(`invalid field selector: "${req}"`);
  const [, field, op, value] = m as unknown as [string, string, string, string];
  const get = FIELDS[field];
  if (!get) throw new BadRequest(`field label not supported: ${field}`);
  return op === '!=' ? (p) => get(p) !== value : (p) => get(p) === value;
}
