// Pod list + watch against the Kubernetes API: the one I/O corner of `src/`, a thin wrapper over
// @kubernetes/client-node 1.4's informer (ListWatch) shared by the agent (target discovery) and the
// extender (pod placement cache), so both follow pods the same way.
//
//   const w = watchPods({ connection: { kubeconfig: '/etc/lpm/kubeconfig' },
//                         fieldSelector: 'spec.nodeName=node-1', onAdd, onUpdate, onDelete, log });
//   await w.start();   // resolves once the first list is loaded (w.synced), or when stop() is called
//   w.list();          // the pods known now; w.resourceVersion: the last version seen
//   ...; w.stop();     // final: a PodWatch is not restarted after stop()
// Callbacks and list() get slim V1Pod objects (see below); onError is informational only.
//
// Connection (`KubeConnection`): `server` alone is used as is, without credentials (`kubectl proxy`
// on http://127.0.0.1:8001, a test's fake API); `kubeconfig` is a file (its current context; with
// `server` too, its credentials against that URL); `inCluster` the pod's service account; with
// none, KUBECONFIG / ~/.kube/config / the in-cluster service account (loadFromDefault).
// Needs RBAC list and watch on pods (in the namespace, or cluster-wide without `namespace`).
//
// What this adds to the library's informer (whose behaviour in 1.4 is: a clean end of the watch →
// resume from the last resourceVersion; 410 Gone (HTTP or ERROR event) → relist, reporting pods
// that vanished meanwhile as deletions; any other error → an 'error' callback and *no* restart):
// - every error is logged (never thrown) and followed by a restart after a capped backoff, which
//   resumes from the last resourceVersion or relists;
// - watches ask for `timeoutSeconds` (the server ends them, like client-go) and a client-side
//   watchdog aborts a watch that outlives it (a half-open connection), then resumes;
// - watches that end right after opening back off instead of spinning;
// - `allowWatchBookmarks` keeps the resourceVersion fresh, so resumes rarely need a relist;
// - lists are paged (`limit`/`continue`, falling back to one unpaged list if the token expires);
// - pods are slimmed before the informer stores them (metadata without managedFields and
//   kubectl's last-applied annotation; spec.nodeName/hostNetwork; status.phase/podIP(s)/hostIP),
//   so a 5000-node cluster's pods fit in memory. Pass `fullObjects: true` to keep everything.
// - callbacks that throw are logged and do not break the informer; none fire after stop().
import { CoreV1Api, KubeConfig, ListWatch, Watch, type V1Pod, type V1PodList } from '@kubernetes/client-node';
import { createLogger, type Logger } from '../log.js';

export interface KubeConnection {
  /** Path to a kubeconfig file (its current context is used). */
  kubeconfig?: string;
  /** API server URL: alone, used without credentials (kubectl proxy, tests); with `kubeconfig`, overrides its URL. */
  server?: string;
  /** Use the pod's service account (KUBERNETES_SERVICE_HOST + /var/run/secrets/...). */
  inCluster?: boolean;
}

export interface WatchPodsOptions {
  connection: KubeConnection;
  /** Watch one namespace; all namespaces when absent. */
  namespace?: string;
  /** Kubernetes label selector, e.g. `app=web,tier!=db`. */
  labelSelector?: string;
  /** Kubernetes field selector, e.g. `spec.nodeName=node-1`. */
  fieldSelector?: string;
  onAdd?(pod: V1Pod): void;
  onUpdate?(pod: V1Pod): void;
  onDelete?(pod: V1Pod): void;
  /** Called for every error (after it is logged); the watch restarts on its own. */
  onError?(err: unknown): void;
  log?: Logger;
  /** Restart backoff after errors: starts at `min`, doubles up to `max` (ms). Default 1 s .. 30 s. */
  retryDelayMs?: { min: number; max: number };
  /** Server-side watch timeout (seconds); the watch is then resumed. Default 300. */
  watchTimeoutSeconds?: number;
  /** List page size. Default 500. */
  pageSize?: number;
  /** Keep pods as the API sends them instead of the slim form. Default false. */
  fullObjects?: boolean;
}

export interface PodWatch {
  /** Starts listing and watching; resolves once the first list is loaded, or on stop(). */
  start(): Promise<void>;
  /** Stops for good: aborts the watch, cancels retries; no callback fires afterwards. */
  stop(): void;
  /** True once the first list has been loaded (stays true while resuming or relisting). */
  readonly synced: boolean;
  /** The pods currently known (slim unless `fullObjects`). */
  list(): readonly V1Pod[];
  /** The last resourceVersion seen (list, event or bookmark); '' before the first list. */
  readonly resourceVersion: string;
}

/** Builds the client configuration for a connection (throws with a clear message if unusable). */
export function kubeConfigFor(connection: KubeConnection): KubeConfig {
  const kc = new KubeConfig();
  let server: string | undefined;
  if (connection.server) {
    let url: URL;
    try {
      url = new URL(connection.server);
    } catch {
      throw new Error(`kubernetes.server: "${connection.server}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`kubernetes.server: "${connection.server}" must be an http:// or https:// URL`);
    }
    server = connection.server.replace(/\/+$/, '');
  }
  if (connection.kubeconfig) {
    try {
      kc.loadFromFile(connection.kubeconfig);
    } catch (err) {
      throw new Error(`kubernetes.kubeconfig: cannot load "${connection.kubeconfig}": ${(err as Error).message}`);
    }
  } else if (server) {
    // client-node refuses plain http unless skipTLSVerify is set (there is no TLS to verify then).
    kc.loadFromClusterAndUser({ name: 'lpm', server, skipTLSVerify: server.startsWith('http:') }, { name: 'lpm' });
  } else if (connection.inCluster) {
    if (!process.env.KUBERNETES_SERVICE_HOST) {
      throw new Error('kubernetes.inCluster: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)');
    }
    kc.loadFromCluster();
  } else {
    kc.loadFromDefault();
  }
  const current = kc.getCurrentCluster();
  if (!current) throw new Error('kubernetes: the kubeconfig has no current cluster');
  if (server && connection.kubeconfig) {
    // server + kubeconfig: the kubeconfig's credentials against this URL.
    kc.loadFromOptions({
      clusters: kc.clusters.map((c) => (c.name === current.name ? { ...c, server, ...(server.startsWith('http:') ? { skipTLSVerify: true } : {}) } : c)),
      users: kc.users,
      contexts: kc.contexts,
      currentContext: kc.currentContext,
    });
  }
  return kc;
}

/** A readable one-line description of a client-node / fetch error. */
export function describeKubeError(err: unknown): string {
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- not an object here: a primitive (or a function)
  if (!(err instanceof Error) && typeof err !== 'object') return String(err);
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string; name?: string; cause?: unknown };
  const status = typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    let message: string | undefined;
    let body = e.body;
    if (typeof body === 'string') {
      const text = body;
      try {
        body = JSON.parse(text);
      } catch {
        message = text.slice(0, 200);
      }
    }
    if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') {
      message = (body as { message: string }).message;
    }
    message ??= status === 410 ? 'Gone' : e.message?.split('\n')[0];
    const hint = status === 401 || status === 403 ? ' (the service account needs list and watch on pods)' : '';
    return `HTTP ${status}: ${message}${hint}`;
  }
  const code = typeof e.code === 'string' ? ` (${e.code})` : '';
  const cause = e.cause instanceof Error ? `: ${e.cause.message}` : '';
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- an error object without a message: its own String() is all there is
  return `${e.message ?? String(err)}${code}${cause}`;
}

// A watch that ended this soon after opening counts as "quick": repeated quick ends back off.
const QUICK_END_MS = 1000;
// Extra time past the server-side timeout before the client gives up on a silent watch:
// the timeout again, at most 30 s.
const WATCHDOG_GRACE_MAX_MS = 30_000;
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function watchPods(opts: WatchPodsOptions): PodWatch {
  return new PodWatcher(opts);
}

class PodWatcher implements PodWatch {
  private readonly log: Logger;
  private readonly informer: ListWatch<V1Pod>;
  private readonly retry: { min: number; max: number };
  private readonly timeoutSeconds: number;
  private stopped = false;
  private started = false;
  private _synced = false;
  private listLoaded = false;
  private errorStreak = 0;
  private quickEnds = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private resolveStart!: () => void;
  private readonly startPromise = new Promise<void>((resolve) => (this.resolveStart = resolve));

  constructor(private readonly opts: WatchPodsOptions) {
    this.log = opts.log ?? createLogger('pod-watch');
    this.retry = opts.retryDelayMs ?? { min: 1000, max: 30_000 };
    this.timeoutSeconds = opts.watchTimeoutSeconds ?? 300;
    const kc = kubeConfigFor(opts.connection);
    const api = kc.makeApiClient(CoreV1Api);
    const path = opts.namespace ? `/api/v1/namespaces/${encodeURIComponent(opts.namespace)}/pods` : '/api/v1/pods';
    this.informer = new ListWatch<V1Pod>(
      path,
      new GuardedWatch(kc, this),
      () => this.listAll(api),
      false,
      opts.labelSelector,
      opts.fieldSelector,
    );
    this.informer.on('add', (pod) => this.call('onAdd', pod));
    this.informer.on('update', (pod) => this.call('onUpdate', pod));
    this.informer.on('delete', (pod) => this.call('onDelete', pod));
    this.informer.on('error', (err) => this.failed(err));
  }

  get synced(): boolean {
    return this._synced;
  }

  list(): readonly V1Pod[] {
    return this.informer.list();
  }

  get resourceVersion(): string {
    return this.informer.latestResourceVersion();
  }

  start(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.started) {
      this.started = true;
      this.log.info(
        { namespace: this.opts.namespace ?? '(all)', labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector },
        'watching pods',
      );
      this.runInformer();
    }
    return this.startPromise;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    void this.informer.stop();
    this.resolveStart();
  }

  // --- hooks for GuardedWatch ---

  get isStopped(): boolean {
    return this.stopped;
  }

  get logger(): Logger {
    return this.log;
  }

  get watchTimeoutSeconds(): number {
    return this.timeoutSeconds;
  }

  /** ListWatch opens a watch right after it has applied a list: the first time, we are synced. */
  beforeWatch(): number {
    if (this.listLoaded && !this._synced) {
      this._synced = true;
      this.log.info({ pods: this.informer.list().length }, 'pod list loaded');
      this.resolveStart();
    }
    return this.quickEnds >= 2 ? this.backoff(this.quickEnds - 1) : 0;
  }

  watchEnded(durationMs: number): void {
    this.quickEnds = durationMs < QUICK_END_MS ? this.quickEnds + 1 : 0;
  }

  /** Something arrived: the connection works, so the next error starts the backoff afresh. */
  healthy(): void {
    this.errorStreak = 0;
  }

  slim(pod: V1Pod): V1Pod {
    return this.opts.fullObjects ? pod : slimPod(pod);
  }

  // --- internals ---

  private runInformer(): void {
    this.informer.start().catch((err: unknown) => this.failed(err));
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.errorStreak++;
    const delay = this.backoff(this.errorStreak);
    this.log.warn({ err: describeKubeError(err), retryInMs: delay }, 'pod watch failed; restarting');
    try {
      this.opts.onError?.(err);
    } catch (cbErr) {
      this.log.error({ err: String(cbErr) }, 'onError callback threw');
    }
    if (this.restartTimer) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) this.runInformer();
    }, delay);
    this.restartTimer.unref?.();
  }

  private backoff(attempt: number): number {
    return Math.min(this.retry.max, this.retry.min * 2 ** Math.max(0, attempt - 1));
  }

  private call(name: 'onAdd' | 'onUpdate' | 'onDelete', pod: V1Pod): void {
    if (this.stopped) return;
    try {
      this.opts[name]?.(pod);
    } catch (err) {
      this.log.error({ err: String(err), pod: `${pod.metadata?.namespace}/${pod.metadata?.name}` }, `${name} callback threw`);
    }
  }

  /** Lists every page; the list's resourceVersion is the first page's (one consistent snapshot). */
  private async listAll(api: CoreV1Api): Promise<V1PodList> {
    const pageSize = this.opts.pageSize ?? 500;
    let result: V1PodList;
    try {
      result = await this.listPages(api, pageSize);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 410) throw err;
      this.log.info('list continue token expired; listing in one request');
      result = await this.listPages(api, 0);
    }
    this.listLoaded = true;
    this.healthy();
    return result;
  }

  private async listPages(api: CoreV1Api, limit: number): Promise<V1PodList> {
    const { namespace, labelSelector, fieldSelector } = this.opts;
    const items: V1Pod[] = [];
    let resourceVersion: string | undefined;
    let cont: string | undefined;
    do {
      const params = {
        labelSelector,
        fieldSelector,
        ...(limit > 0 ? { limit } : {}),
        ...(cont ? { _continue: cont } : {}),
      };
      const page = namespace
        ? await api.listNamespacedPod({ namespace, ...params })
        : await api.listPodForAllNamespaces(params);
      resourceVersion ??= page.metadata?.resourceVersion;
      for (const pod of page.items) items.push(this.slim(pod));
      cont = page.metadata?._continue || undefined;
    } while (cont && !this.stopped);
    return { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion }, items };
  }
}

/**
 * The library's Watch with the guards ListWatch lacks: no connection after stop(), an abort when
 * stop() raced the connect, a watchdog, quick-end backoff, and slim pods before ListWatch stores them.
 */
class GuardedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly owner: PodWatcher,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const owner = this.owner;
    const log = owner.logger;
    const delay = owner.beforeWatch();
    if (delay > 0) {
      log.debug({ delayMs: delay }, 'watch keeps ending at once; waiting before resuming');
      await new Promise((resolve) => setTimeout(resolve, delay).unref?.());
    }
    if (owner.isStopped) return new AbortController();

    const started = Date.now();
    let finished = false;
    let watchdogFired = false;
    let watchdog: NodeJS.Timeout | undefined;
    const guardedDone = (err: unknown): void => {
      if (finished) return;
      finished = true;
      clearTimeout(watchdog);
      owner.watchEnded(Date.now() - started);
      if (owner.isStopped) return; // our own abort: not an error
      if (watchdogFired) {
        log.warn({ timeoutSeconds: owner.watchTimeoutSeconds }, 'pod watch silent past its timeout; resuming');
        done(null);
        return;
      }
      const failure = err as { statusCode?: unknown; code?: unknown } | null | undefined;
      if (failure && (failure.statusCode === 410 || failure.code === 410)) log.info('pod watch resourceVersion expired (410); relisting');
      else if (!err) log.debug('pod watch ended; resuming');
      done(err);
    };
    const guardedCallback = (phase: string, obj: unknown, watchObj?: unknown): void => {
      if (owner.isStopped) return;
      if (phase === 'ERROR') {
        const status = obj as { code?: unknown; message?: unknown } | null | undefined;
        if (status?.code === 410) log.info({ message: status?.message }, 'pod watch resourceVersion expired (410); relisting');
        else log.warn({ code: status?.code, message: status?.message }, 'pod watch ERROR event');
      } else {
        owner.healthy();
        if (phase !== 'BOOKMARK' && obj && typeof obj === 'object') obj = owner.slim(obj);
      }
      callback(phase, obj, watchObj);
    };

    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: owner.watchTimeoutSeconds };
    log.debug({ path, resourceVersion: queryParams.resourceVersion }, 'opening pod watch');
    const controller = await super.watch(path, params, guardedCallback, guardedDone);
    if (owner.isStopped) {
      controller.abort();
    } else if (!finished) {
      watchdog = setTimeout(
        () => {
          watchdogFired = true;
          controller.abort();
        },
        owner.watchTimeoutSeconds * 1000 + Math.min(WATCHDOG_GRACE_MAX_MS, owner.watchTimeoutSeconds * 1000),
      );
      watchdog.unref?.();
    }
    return controller;
  }
}

/** The fields lpm reads, in the V1Pod shape (list items carry Dates, watch events strings: normalised). */
export function slimPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  let annotations = m.annotations;
  if (annotations && LAST_APPLIED in annotations) {
    annotations = { ...annotations };
    delete annotations[LAST_APPLIED];
  }
  const slim: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
      annotations,
      ownerReferences: m.ownerReferences,
      creationTimestamp: toDate(m.creationTimestamp),
      deletionTimestamp: toDate(m.deletionTimestamp),
    },
    spec: { containers: [], nodeName: pod.spec?.nodeName, hostNetwork: pod.spec?.hostNetwork },
    status: {
      phase: pod.status?.phase,
      podIP: pod.status?.podIP,
      podIPs: pod.status?.podIPs,
      hostIP: pod.status?.hostIP,
    },
  };
  return slim;
}

function toDate(v: Date | string | undefined): Date | undefined {
  if (v === undefined || v === null) return undefined;
  return v instanceof Date ? v : new Date(v);
}
