// Command lines the agent hands to execa: the flags the fixtures were captured with, and no
// address that is not an IP ever reaches a tool.
import { describe, expect, it } from 'vitest';
import { iperf3ServerArgs } from '../../agent/tools/iperf3Server.js';
import { iperf3ClientArgs } from '../../agent/tools/iperf3Client.js';
import { pingArgs } from '../../agent/tools/ping.js';

describe('runner command lines', () => {
  it('ping: count, spacing, timeout, deadline, size, source, target', () => {
    expect(pingArgs({ target: '10.0.0.2', source: '10.0.0.1', count: 5, spacing: 0.2, timeout: 1, size: 56 })).toEqual(
      ['-n', '-c', '5', '-i', '0.2', '-W', '1', '-w', '3', '-s', '56', '-I', '10.0.0.1', '10.0.0.2'],
    );
    expect(pingArgs({ target: 'fd00::2', count: 1, spacing: 0.05, timeout: 0.5, size: 16 })).toEqual(
      ['-n', '-c', '1', '-i', '0.05', '-W', '0.5', '-w', '2', '-s', '16', 'fd00::2'],
    );
  });

  it('iperf3 client: whole seconds, JSON, bind, UDP rate in bit/s', () => {
    expect(
      iperf3ClientArgs({ target: '10.0.0.2', port: 5201, source: '10.0.0.1', mode: 'tcp', duration: 2.5, omit: 0, parallel: 1, udpRate: 0 }),
    ).toEqual(['-c', '10.0.0.2', '-p', '5201', '-t', '3', '-O', '0', '-P', '1', '-J', '--connect-timeout', '3000', '-B', '10.0.0.1']);
    expect(
      iperf3ClientArgs({ target: '10.0.0.2', port: 5201, mode: 'udp', duration: 2, omit: 1, parallel: 2, udpRate: 1_250_000 }).slice(-3),
    ).toEqual(['-u', '-b', '10000000']);
  });

  it('iperf3 server: port, idle timeout, bind', () => {
    expect(iperf3ServerArgs({ bind: '10.0.0.1', port: 5201, idleTimeout: 30 })).toEqual([
      '-s', '-p', '5201', '--idle-timeout', '30', '--forceflush', '-B', '10.0.0.1',
    ]);
  });

  it('rejects anything that is not an IP address', () => {
    for (const bad of ['node-b', '10.0.0.2; rm -rf /', '-c', '', '10.0.0.256'])
      expect(() => pingArgs({ target: bad, count: 1, spacing: 1, timeout: 1, size: 56 })).toThrow(/not an IP address/);
    expect(() => pingArgs({ target: '10.0.0.2', source: '--help', count: 1, spacing: 1, timeout: 1, size: 56 })).toThrow(/source/);
    expect(() => iperf3ClientArgs({ target: 'x', port: 1, mode: 'tcp', duration: 1, omit: 0, parallel: 1, udpRate: 0 })).toThrow();
    expect(() => iperf3ServerArgs({ bind: '0.0.0.0 -D', port: 1, idleTimeout: 1 })).toThrow();
  });
});
