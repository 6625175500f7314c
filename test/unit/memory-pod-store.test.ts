// MemoryPodStore backs `lpm extender` without Kubernetes (demos, sim mode), which can run for days:
// its record of the extender's choices must not grow with every scheduling call.
import { describe, expect, it } from 'vitest';
import { MemoryPodStore } from '../../extender/pods/memoryPodStore.js';

describe('MemoryPodStore', () => {
  it('keeps a bounded history of choices, newest last, while every choice still places its pod', () => {
    const store = new MemoryPodStore();
    for (let i = 0; i < 5000; i++) store.recordChoice({ namespace: 'default', name: `p-${i % 50}`, labels: {}, annotations: {} }, `node-${i}`);
    expect(store.choices.length).toBeLessThanOrEqual(2 * MemoryPodStore.MAX_CHOICES);
    expect(store.choices.length).toBeGreaterThanOrEqual(MemoryPodStore.MAX_CHOICES);
    expect(store.choices.at(-1)).toEqual({ pod: 'default/p-49', node: 'node-4999' });
    // the first choice for a pod places it; later ones do not move it
    expect(store.get('default', 'p-0')?.nodeName).toBe('node-0');
  });
});
