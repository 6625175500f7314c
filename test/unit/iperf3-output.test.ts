// Parsing real `iperf3 -J` output (iperf 3.12) captured between two network namespaces.
import { describe, expect, it } from 'vitest';
import { toolCapture } from '../helpers/toolCapture.js';
import { parseIperf3Output } from '../../agent/tools/iperf3Output.js';

describe('parseIperf3Output on real captures', () => {
  it('TCP success: receiver throughput in bytes/s and sender retransmits', () => {
    const c = toolCapture('iperf3-tcp-success');
    const json = JSON.parse(c.stdout) as { end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number } } };
    const r = parseIperf3Output(c.stdout, 'tcp', c.stderr);
    expect(r).toEqual({
      result: 'success',
      bandwidth: json.end.sum_received.bits_per_second / 8,
      retransmits: json.end.sum_sent.retransmits,
    });
    expect(r.result === 'success' && r.bandwidth).toBeGreaterThan(1e6);
  });

  it('UDP success: jitter in seconds, loss as a ratio', () => {
    const c = toolCapture('iperf3-udp-success');
    const r = parseIperf3Output(c.stdout, 'udp');
    expect(r.result).toBe('success');
    if (r.result !== 'success') return;
    expect(r.jitter).toBeCloseTo(0.44037495934105 / 1000, 12);
    expect(r.loss).toBe(0);
    expect(r.bandwidth).toBeCloseTo(9995012.98742849 / 8, 3);
  });

  it('busy server is its own result', () => {
    const c = toolCapture('iperf3-busy');
    expect(parseIperf3Output(c.stdout, 'tcp')).toEqual({
      result: 'busy',
      error: 'the server is busy running a test. try again later',
    });
  });

  it('connection refused is an error with iperf3 text', () => {
    const c = toolCapture('iperf3-refused');
    expect(parseIperf3Output(c.stdout, 'tcp')).toEqual({
      result: 'error',
      error: 'unable to connect to server: Connection refused',
    });
  });

  it('connect timeout (unreachable peer) is a timeout', () => {
    const c = toolCapture('iperf3-unreachable');
    expect(parseIperf3Output(c.stdout, 'tcp')).toMatchObject({ result: 'timeout', error: expect.stringMatching(/timed out/) });
  });

  it('a TCP result read as UDP is an error (no end.sum)', () => {
    expect(parseIperf3Output(toolCapture('iperf3-tcp-success').stdout, 'udp')).toMatchObject({ result: 'error' });
  });
});

describe('parseIperf3Output on malformed output', () => {
  it('truncated JSON is an error', () => {
    const c = toolCapture('iperf3-tcp-success');
    expect(parseIperf3Output(c.stdout.slice(0, 200), 'tcp')).toMatchObject({ result: 'error', error: expect.stringMatching(/not JSON/) });
  });

  it('wrong types are an error naming the field', () => {
    const c = toolCapture('iperf3-tcp-success');
    const json = JSON.parse(c.stdout) as { end: { sum_received: { bits_per_second: unknown } } };
    json.end.sum_received.bits_per_second = 'fast';
    expect(parseIperf3Output(JSON.stringify(json), 'tcp')).toMatchObject({
      result: 'error',
      error: expect.stringMatching(/end\.sum_received\.bits_per_second/),
    });
  });

  it('missing summary is an error, never a bogus number', () => {
    expect(parseIperf3Output('{"start":{},"end":{}}', 'tcp')).toMatchObject({ result: 'error' });
    expect(parseIperf3Output('', 'tcp', 'iperf3: error - unable to start')).toEqual({ result: 'error', error: 'iperf3: error - unable to start' });
  });
});
