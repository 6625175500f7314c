// Kubernetes target discovery: list + watch the agent pods (src/kube/podWatch.ts) and turn the
// current pod list into targets (targetPods.ts) on every change. The agent compares the result
// with what it has, so a pod update that changes nothing costs nothing.
import type { AgentConfig } from './config.js';
import { watchPods, type PodWatch } from '../src/kube/podWatch.js';
import type { Logger } from '../src/log.js';
import { targetsFromPods, type TargetEntry } from './targetPods.js';

export type KubernetesDiscoveryConfig = NonNullable<AgentConfig['discovery']['kubernetes']>;

export interface TargetSource {
  /** Resolves once the first pod list is loaded. */
  start(): Promise<void>;
  stop(): void;
  readonly synced: boolean;
}

export function kubernetesTargetSource(opts: {
  config: KubernetesDiscoveryConfig;
  self: string;
  network: string;
  log: Logger;
  onTargets(targets: TargetEntry[]): void;
}): TargetSource {
  const { config, log } = opts;
  const namespace = config.namespace ?? process.env.POD_NAMESPACE ?? 'lpm-system';
  let watch: PodWatch | undefined;
  const changed = () => {
    if (watch?.synced) opts.onTargets(targetsFromPods(watch.list(), { self: opts.self, network: opts.network }));
  };
  watch = watchPods({
    connection: config.server ? { server: config.server } : config.kubeconfig ? { kubeconfig: config.kubeconfig } : {},
    namespace,
    labelSelector: config.labelSelector,
    onAdd: changed,
    onUpdate: changed,
    onDelete: changed,
    log,
  });
  const w = watch;
  return {
    async start() {
      await w.start();
      changed();
    },
    stop() {
      w.stop();
    },
    get synced() {
      return w.synced;
    },
  };
}
