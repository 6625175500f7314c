import { describe, expect, it } from 'vitest';
import { addressOnNetwork, parseL2smNetworks } from '../../src/l2sm.js';

describe('l2sm/networks annotation', () => {
  it('reads a comma list', () => {
    expect(parseL2smNetworks('net-a, net-b')).toEqual({
      ok: true,
      value: [
        { name: 'net-a', ips: [] },
        { name: 'net-b', ips: [] },
      ],
    });
  });
  it('reads the JSON form with static addresses', () => {
    expect(parseL2smNetworks('[{"name": "ping-network", "ips": ["10.0.0.1/24"]}]')).toEqual({
      ok: true,
      value: [{ name: 'ping-network', ips: ['10.0.0.1'] }],
    });
  });
  it('rejects garbage with a reason', () => {
    const r = parseL2smNetworks('[{"nom": 1}]');
    expect(r.ok).toBe(false);
    expect(parseL2smNetworks('Net A!').ok).toBe(false);
    expect(parseL2smNetworks('[oops').ok).toBe(false);
  });
});

describe('addressOnNetwork', () => {
  it('prefers Multus network-status and falls back to the static address', () => {
    const status = JSON.stringify([
      { name: 'cilium', interface: 'eth0', ips: ['10.244.1.5'], default: true },
      { name: 'lpm-system/lpm-measurement', interface: 'net1', ips: ['10.200.0.7'] },
    ]);
    expect(addressOnNetwork({ 'k8s.v1.cni.cncf.io/network-status': status }, 'lpm-measurement')).toBe('10.200.0.7');
    expect(addressOnNetwork({ 'l2sm/networks': '[{"name":"lpm-measurement","ips":["10.200.0.9/24"]}]' }, 'lpm-measurement')).toBe(
      '10.200.0.9',
    );
    expect(addressOnNetwork({ 'l2sm/networks': 'lpm-measurement' }, 'lpm-measurement')).toBeUndefined();
  });
});
