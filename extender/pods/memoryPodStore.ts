// A PodStore held in memory: for tests, the scenario simulator and `kubernetes.enabled: false`.
// Whoever owns it places pods with set()/delete(); recordChoice() places a pod the extender chose
// for, as the informer-backed store does until its watch confirms the binding.
import type { PodInfo, PodStore } from './podStore.js';

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class MemoryPodStore implements PodStore {
  private readonly byKey = new Map<string, PodInfo>();
  /** Choices recorded by the extender, newest last; the oldest are dropped past 2 × MAX_CHOICES (for tests and the decision log). */
  readonly choices: Array<{ pod: string; node: string }> = [];
  static readonly MAX_CHOICES = 1000;
  ready: boolean;

  constructor(pods: Iterable<PodInfo> = [], ready = true) {
    for (const p of pods) this.set(p);
    this.ready = ready;
  }

  set(pod: PodInfo): void {
    this.byKey.set(key(pod.namespace, pod.name), { ...pod });
  }

  delete(namespace: string, name: string): boolean {
    return this.byKey.delete(key(namespace, name));
  }

  pods(): Iterable<PodInfo> {
    return this.byKey.values();
  }

  get(namespace: string, name: string): PodInfo | undefined {
    return this.byKey.get(key(namespace, name));
  }

  recordChoice(pod: PodInfo, nodeName: string): void {
    this.choices.push({ pod: key(pod.namespace, pod.name), node: nodeName });
    // a long-running `lpm extender` without Kubernetes records every choice: keep memory bounded
    if (this.choices.length > 2 * MemoryPodStore.MAX_CHOICES) this.choices.splice(0, this.choices.length - MemoryPodStore.MAX_CHOICES);
    const known = this.byKey.get(key(pod.namespace, pod.name));
    // a pod the store already sees bound keeps its real node
    if (known?.nodeName) return;
    this.byKey.set(key(pod.namespace, pod.name), { ...(known ?? pod), nodeName });
  }
}
