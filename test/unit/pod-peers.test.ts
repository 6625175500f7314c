import { describe, expect, it } from 'vitest';
import { MULTUS_NETWORK_STATUS_ANNOTATION } from '../../src/l2sm.js';
import { mergeTargets, targetsFromPods } from '../../agent/targetPods.js';
import type { PodLike } from '../../src/kube/pod.js';

const pod = (name: string, node: string | undefined, podIP?: string, annotations: Record<string, string> = {}, extra: Partial<PodLike> = {}): PodLike => ({
  metadata: { name, annotations },
  spec: node ? { nodeName: node } : {},
  status: { phase: 'Running', ...(podIP ? { podIP } : {}) },
  ...extra,
});
const status = (network: string, ip: string) => ({
  [MULTUS_NETWORK_STATUS_ANNOTATION]: JSON.stringify([
    { name: 'cbr0', interface: 'eth0', ips: ['10.244.0.5'], default: true },
    { name: `lpm-system/${network}`, interface: 'net1', ips: [`${ip}/24`] },
  ]),
});

describe('targetsFromPods', () => {
  it('names targets by node, prefers the L2S-M address, falls back to the pod IP, skips self', () => {
    const targets = targetsFromPods(
      [
        pod('agent-a', 'node-a', '10.244.0.2', status('lpm-measurement', '10.0.0.1')),
        pod('agent-b', 'node-b', '10.244.1.2', status('lpm-measurement', '10.0.0.2')),
        pod('agent-c', 'node-c', '10.244.2.2'),
        pod('agent-d', 'node-d', '10.244.3.2', status('other-net', '10.9.0.4')),
      ],
      { self: 'node-a', network: 'lpm-measurement' },
    );
    expect(targets).toEqual([
      { name: 'node-b', address: '10.0.0.2' },
      { name: 'node-c', address: '10.244.2.2' },
      { name: 'node-d', address: '10.244.3.2' },
    ]);
  });

  it('uses a static address from l2sm/networks when Multus has not reported yet', () => {
    const targets = targetsFromPods([pod('agent-b', 'node-b', undefined, { 'l2sm/networks': '[{"name":"lpm-measurement","ips":["10.0.0.7/24"]}]' })], {
      self: 'node-a',
      network: 'lpm-measurement',
    });
    expect(targets).toEqual([{ name: 'node-b', address: '10.0.0.7' }]);
  });

  it('skips pods without node, without address, terminating, or finished', () => {
    const targets = targetsFromPods(
      [
        pod('unscheduled', undefined, '10.244.0.9'),
        pod('pending', 'node-b'),
        pod('gone', 'node-c', '10.244.2.2', {}, { metadata: { name: 'gone', deletionTimestamp: new Date() } }),
        pod('failed', 'node-d', '10.244.3.2', {}, { status: { phase: 'Failed', podIP: '10.244.3.2' } }),
        pod('bad-ip', 'node-e', 'not-an-ip'),
      ],
      { self: 'node-a', network: 'lpm-measurement' },
    );
    expect(targets).toEqual([]);
  });

  it('two agent pods on one node (a rollout) give one target, the same on every agent', () => {
    const pods = [pod('agent-b-2', 'node-b', '10.244.1.9'), pod('agent-b-1', 'node-b', '10.244.1.2')];
    const one = targetsFromPods(pods, { self: 'node-a', network: 'n' });
    const other = targetsFromPods([...pods].reverse(), { self: 'node-a', network: 'n' });
    expect(one).toEqual([{ name: 'node-b', address: '10.244.1.2' }]);
    expect(other).toEqual(one);
  });
});

describe('mergeTargets', () => {
  it('static entries win, self is dropped, result sorted by code unit', () => {
    expect(
      mergeTargets(
        [{ name: 'node-b', address: '10.0.0.2' }],
        [
          { name: 'node-b', address: '10.9.9.9' },
          { name: 'Node-z', address: '10.0.0.9' },
          { name: 'node-a', address: '10.0.0.1' },
          { name: 'node-c', address: '10.0.0.3' },
        ],
        'node-a',
      ),
    ).toEqual([
      { name: 'Node-z', address: '10.0.0.9' },
      { name: 'node-b', address: '10.0.0.2' },
      { name: 'node-c', address: '10.0.0.3' },
    ]);
  });
});
