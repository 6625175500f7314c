// The pod store without Kubernetes (PodIndex fed by its owner: `lpm extender` with the config's
// pods, demos, sim mode), which can run for days: what it keeps of the extender's choices must
// not grow with every scheduling call, and a caller cannot invent pods or keep a choice alive.
import { describe, expect, it } from 'vitest';
import { PodIndex } from '../../extender/pods/podIndex.js';

describe('PodIndex without Kubernetes', () => {
  it('records choices only for the pods it knows, one assumed placement each, for one window', () => {
    let now = 0;
    const store = new PodIndex({
      now: () => now,
      assumeTtlMs: 30_000,
      pods: Array.from({ length: 50 }, (_, i) => ({ namespace: 'default', name: `p-${i}`, labels: {}, annotations: {} })),
    });
    let recorded = 0;
    for (let i = 0; i < 5000; i++) if (store.recordChoice({ namespace: 'default', name: `p-${i % 100}`, labels: {}, annotations: {} }, `node-${i}`)) recorded++;
    expect(recorded).toBe(2500); // p-50..p-99 are unknown: refused
    expect(store.size).toEqual({ confirmed: 50, assumed: 50 });
    expect([...store.pods()]).toHaveLength(50);
    // the latest choice for a pod places it
    expect(store.get('default', 'p-49')?.nodeName).toBe('node-4949');
    expect(store.get('default', 'p-0')?.nodeName).toBe('node-4900');
    expect(store.get('default', 'p-99')).toBeUndefined();
    // the window closes whatever is sent: the pods are pending again, and stay so
    now = 30_000;
    expect(store.get('default', 'p-0')?.nodeName).toBeUndefined();
    expect(store.recordChoice({ namespace: 'default', name: 'p-0', labels: {}, annotations: {} }, 'node-x')).toBe(false);
    expect(store.size).toEqual({ confirmed: 50, assumed: 0 });
  });

  it('a pod its owner placed keeps its node; an upsert with a node ends the assumption', () => {
    const store = new PodIndex({ pods: [{ namespace: 'default', name: 'db', labels: {}, annotations: {}, nodeName: 'node-a', phase: 'Running' }] });
    store.recordChoice({ namespace: 'default', name: 'db', labels: {}, annotations: {} }, 'node-b');
    expect(store.get('default', 'db')?.nodeName).toBe('node-a');
    store.upsert({ namespace: 'default', name: 'web', labels: {}, annotations: {}, phase: 'Pending' });
    expect(store.recordChoice({ namespace: 'default', name: 'web', labels: {}, annotations: {} }, 'node-b')).toBe(true);
    expect(store.get('default', 'web')?.nodeName).toBe('node-b');
    store.upsert({ namespace: 'default', name: 'web', labels: {}, annotations: {}, nodeName: 'node-c', phase: 'Running' });
    expect(store.get('default', 'web')?.nodeName).toBe('node-c');
    expect(store.size).toEqual({ confirmed: 2, assumed: 0 });
  });
});
