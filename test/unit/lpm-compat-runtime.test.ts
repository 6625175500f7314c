// Binding to an interface (ping -I IFACE, iperf3 --bind-dev on client and servers), waiting for
// the interface, and the NetworkTopology export loop, without tools or network.
import { describe, expect, it } from 'vitest';
import { pingArgs } from '../../agent/tools/ping.js';
import { iperf3ClientArgs } from '../../agent/tools/iperf3Client.js';
import { iperf3ServerArgs } from '../../agent/tools/iperf3Server.js';
import { InterfaceWatch, interfaceExists } from '../../agent/interfaceWatch.js';
import { TopologyExporter } from '../../extender/export/exporter.js';
import type { NetworkTopology } from '../../extender/export/networkTopology.js';
import { LinkMatrix } from '../../src/linkMatrix.js';
import { createLogger } from '../../src/log.js';
import { waitUntil } from '../helpers/waitFor.js';

describe('interface binding', () => {
  it('ping -I IFACE (instead of the address), iperf3 --bind-dev on client and server', () => {
    const ping = pingArgs({ target: '10.0.0.2', source: '10.0.0.1', interface: 'lpm-probe', count: 10, spacing: 1, timeout: 2, size: 56 });
    expect(ping.slice(-3)).toEqual(['-I', 'lpm-probe', '10.0.0.2']);
    expect(ping.filter((a) => a === '-I')).toHaveLength(1);
    const client = iperf3ClientArgs({ target: '10.0.0.2', port: 5202, bindDev: 'lpm-probe', mode: 'udp', duration: 10, omit: 0, parallel: 1, udpRate: 125_000 });
    expect(client.join(' ')).toBe('-c 10.0.0.2 -p 5202 -t 10 -O 0 -P 1 -J --connect-timeout 3000 --bind-dev lpm-probe -u -b 1000000');
    expect(iperf3ServerArgs({ port: 5202, idleTimeout: 30, bindDev: 'lpm-probe' })).toEqual([
      '-s', '-p', '5202', '--idle-timeout', '30', '--forceflush', '--bind-dev', 'lpm-probe',
    ]);
  });

  it('refuses names that are not interface names', () => {
    expect(() => pingArgs({ target: '10.0.0.2', interface: '../x', count: 1, spacing: 1, timeout: 1, size: 56 })).toThrow(/not an interface name/);
    expect(() => iperf3ServerArgs({ port: 1, idleTimeout: 1, bindDev: 'a b' })).toThrow(/not an interface name/);
  });

  it('interfaceExists reads the namespace\'s /sys/class/net', async () => {
    expect(await interfaceExists('lo')).toBe(true);
    expect(await interfaceExists('lpm-nope0')).toBe(false);
    expect(await interfaceExists('../lo')).toBe(false);
  });

  it('InterfaceWatch reports the first state and every change', async () => {
    let present = false;
    const seen: boolean[] = [];
    const w = new InterfaceWatch('probe0', (p) => seen.push(p), 10, async () => present);
    expect(await w.start()).toBe(false);
    expect(seen).toEqual([false]);
    present = true;
    await waitUntil('appeared', () => seen.length === 2);
    present = false;
    await waitUntil('gone', () => seen.length === 3);
    w.stop();
    expect(seen).toEqual([false, true, false]);
  });
});

describe('TopologyExporter', () => {
  const NOW = Date.now() / 1000;
  const full = new LinkMatrix(NOW);
  full.set('a', 'b', 'rtt_seconds', { value: 0.001, timestamp: NOW });

  it('writes each refresh, skips an empty matrix, survives a failing source', async () => {
    const answers: Array<LinkMatrix | Error> = [new LinkMatrix(NOW), full, new Error('prometheus down'), full];
    const written: NetworkTopology[] = [];
    const ex = new TopologyExporter({
      source: {
        type: 'fake',
        interval: 1,
        fetch: async () => {
          const a = answers.shift()!;
          if (a instanceof Error) throw a;
          return a;
        },
      },
      name: 'l2sm',
      namespace: 'ns',
      interval: 1,
      maxAge: 60,
      write: async (o) => {
        written.push(o);
      },
      log: createLogger('test', 'silent'),
    });
    expect(await ex.refresh()).toBe('empty');
    expect(await ex.refresh()).toBe('applied');
    expect(await ex.refresh()).toBe('error');
    expect(await ex.refresh()).toBe('applied');
    expect(ex.counts).toEqual({ applied: 2, empty: 1, error: 1 });
    expect(written.map((w) => w.spec.links.map((l) => l.name))).toEqual([
      ['a-a', 'a-b', 'b-b'],
      ['a-a', 'a-b', 'b-b'],
    ]);
  });
});
