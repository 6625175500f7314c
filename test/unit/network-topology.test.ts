// The NetworkTopology the export writes: valid quantities (not the original's "500000.00ns" and
// "10002M"), stable names and order, a self-link per node, only fresh values.
import { describe, expect, it } from 'vitest';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { bandwidthBits, buildNetworkTopology, latencyNanos, roundSignificant } from '../../extender/export/networkTopology.js';

const NOW = 1_800_000_000;
const QUANTITY = /^(\d+(\.\d+)?)(k|M|G|T|P|E)?$/;

describe('quantities', () => {
  it('latencyNanos: whole nanoseconds, 3 significant digits', () => {
    expect(latencyNanos(0.0005)).toBe('500000');
    expect(latencyNanos(0.000512345)).toBe('512000');
    expect(latencyNanos(0.0081234)).toBe('8120000');
    expect(latencyNanos(0)).toBe('0');
    expect(() => latencyNanos(-1)).toThrow();
  });

  it('bandWidthBits: bits per second with the largest whole SI suffix', () => {
    expect(bandwidthBits(117_500_000)).toBe('940M');
    expect(bandwidthBits(125_000_000)).toBe('1G');
    expect(bandwidthBits(154_321_000)).toBe('1230M');
    expect(bandwidthBits(2_487_000)).toBe('19900k');
    expect(bandwidthBits(12.5)).toBe('100');
    for (const b of [1, 999, 1234, 5e6, 1.17e8, 3.3e9]) expect(bandwidthBits(b)).toMatch(QUANTITY);
  });

  it('roundSignificant', () => {
    expect(roundSignificant(941.234e6)).toBe(941e6);
    expect(roundSignificant(0)).toBe(0);
  });
});

describe('buildNetworkTopology', () => {
  const m = new LinkMatrix(NOW);
  m.set('b', 'a', 'rtt_seconds', { value: 0.009, timestamp: NOW - 5 });
  m.set('a', 'b', 'rtt_seconds', { value: 0.0085, timestamp: NOW - 5 });
  m.set('a', 'b', 'bandwidth_bytes_per_second', { value: 2_500_000, timestamp: NOW - 100 });
  m.set('a', 'c', 'bandwidth_bytes_per_second', { value: 1_000_000, timestamp: NOW - 7200 }); // stale
  m.set('c', 'a', 'packet_loss_ratio', { value: 0, timestamp: NOW }); // neither RTT nor bandwidth

  it('nodes, self-links and measured links, sorted, with valid quantities', () => {
    const t = buildNetworkTopology(m, { name: 'l2sm', namespace: 'swm', now: NOW, maxAge: 3600 });
    expect(t).toEqual({
      apiVersion: 'qos-scheduler.siemens.com/v1alpha1',
      kind: 'NetworkTopology',
      metadata: { name: 'l2sm', namespace: 'swm' },
      spec: {
        networkImplementation: 'L2SM',
        physicalBase: '',
        nodes: [
          { name: 'a', type: 'COMPUTE' },
          { name: 'b', type: 'COMPUTE' },
        ],
        links: [
          { name: 'a-a', source: 'a', target: 'a', capabilities: { latencyNanos: '0' } },
          { name: 'a-b', source: 'a', target: 'b', capabilities: { bandWidthBits: '20M', latencyNanos: '8500000' } },
          { name: 'b-a', source: 'b', target: 'a', capabilities: { latencyNanos: '9000000' } },
          { name: 'b-b', source: 'b', target: 'b', capabilities: { latencyNanos: '0' } },
        ],
      },
    });
  });

  it('the same matrix always gives the same object; a shorter maxAge drops old values', () => {
    const o = { name: 'l2sm', namespace: 'swm', now: NOW, maxAge: 3600 };
    expect(JSON.stringify(buildNetworkTopology(m, o))).toBe(JSON.stringify(buildNetworkTopology(m, o)));
    const t = buildNetworkTopology(m, { ...o, maxAge: 60 });
    expect(t.spec.links.find((l) => l.name === 'a-b')!.capabilities).toEqual({ latencyNanos: '8500000' });
    expect(buildNetworkTopology(new LinkMatrix(NOW), o).spec).toMatchObject({ nodes: [], links: [] });
  });

  it('colliding names (dashes in node names) get a hash each', () => {
    const x = new LinkMatrix(NOW);
    x.set('a-b', 'c', 'rtt_seconds', { value: 0.001, timestamp: NOW });
    x.set('a', 'b-c', 'rtt_seconds', { value: 0.001, timestamp: NOW });
    const names = buildNetworkTopology(x, { name: 'l2sm', namespace: 'n', now: NOW, maxAge: 60 }).spec.links.map((l) => l.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((n) => n.startsWith('a-b-c-'))).toHaveLength(2);
  });
});
