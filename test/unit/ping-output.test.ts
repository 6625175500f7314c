// Parsing real iputils ping output captured between two network namespaces (test/fixtures/tools,
// see its README for how they were made).
import { describe, expect, it } from 'vitest';
import { toolCapture } from '../helpers/toolCapture.js';
import { parsePingOutput } from '../../agent/tools/pingOutput.js';

describe('parsePingOutput on real captures', () => {
  it('success: min/avg/max/mdev in seconds, every reply, no loss', () => {
    const c = toolCapture('ping-success');
    const r = parsePingOutput(c);
    expect(r.kind).toBe('stats');
    if (r.kind !== 'stats') return;
    expect(r.transmitted).toBe(5);
    expect(r.received).toBe(5);
    expect(r.loss).toBe(0);
    expect(r.unreachable).toBe(false);
    // rtt min/avg/max/mdev = 0.052/0.090/0.121/0.026 ms
    expect(r.rtt).toEqual({ min: 0.000052, avg: 0.00009, max: 0.000121, mdev: 0.000026 });
    expect(r.replies).toHaveLength(5);
    for (const s of r.replies) {
      expect(s).toBeGreaterThanOrEqual(r.rtt!.min);
      expect(s).toBeLessThanOrEqual(r.rtt!.max);
    }
  });

  it('partial loss: loss ratio from the counts, rtt over the replies that came', () => {
    const r = parsePingOutput(toolCapture('ping-partial-loss'));
    expect(r.kind).toBe('stats');
    if (r.kind !== 'stats') return;
    expect(r.transmitted).toBe(10);
    expect(r.received).toBe(4);
    expect(r.loss).toBeCloseTo(0.6, 10);
    expect(r.rtt?.avg).toBeCloseTo(0.000059, 12);
    expect(r.replies).toHaveLength(4);
  });

  it('100% loss with no rtt line: loss 1 and no rtt', () => {
    const c = toolCapture('ping-total-loss');
    expect(c.stdout).not.toMatch(/rtt min/);
    const r = parsePingOutput(c);
    expect(r.kind).toBe('stats');
    if (r.kind !== 'stats') return;
    expect(r.loss).toBe(1);
    expect(r.rtt).toBeUndefined();
    expect(r.replies).toEqual([]);
  });

  it('destination host unreachable: loss 1, errors counted, marked unreachable', () => {
    const r = parsePingOutput(toolCapture('ping-host-unreachable'));
    expect(r.kind).toBe('stats');
    if (r.kind !== 'stats') return;
    expect(r.transmitted).toBe(20);
    expect(r.received).toBe(0);
    expect(r.errors).toBe(12);
    expect(r.loss).toBe(1);
    expect(r.unreachable).toBe(true);
    expect(r.rtt).toBeUndefined();
  });

  it('network unreachable before sending: an unreachable outcome', () => {
    const r = parsePingOutput(toolCapture('ping-network-unreachable'));
    expect(r).toEqual({ kind: 'unreachable', message: 'ping: connect: Network is unreachable' });
  });

  it('bad source address: an error naming the cause', () => {
    const r = parsePingOutput(toolCapture('ping-bad-source'));
    expect(r.kind).toBe('error');
    if (r.kind === 'error') expect(r.message).toMatch(/Cannot assign requested address/);
  });
});

describe('parsePingOutput on malformed output', () => {
  it('truncated output (no statistics) is an error, not a number', () => {
    const c = toolCapture('ping-success');
    const cut = c.stdout.slice(0, c.stdout.indexOf('---'));
    expect(parsePingOutput({ ...c, stdout: cut, exitCode: null }).kind).toBe('error');
  });

  it('received replies but a missing rtt line is an error', () => {
    const c = toolCapture('ping-success');
    const broken = c.stdout.replace(/^rtt .*$/m, '');
    expect(parsePingOutput({ ...c, stdout: broken })).toMatchObject({ kind: 'error' });
  });

  it('inconsistent numbers are rejected', () => {
    const c = toolCapture('ping-success');
    const broken = c.stdout.replace(/rtt min\/avg\/max\/mdev = [^ ]+/, 'rtt min/avg/max/mdev = 5.0/1.0/2.0/0.1');
    expect(parsePingOutput({ ...c, stdout: broken })).toMatchObject({ kind: 'error' });
    const more = c.stdout.replace('5 received', '9 received');
    expect(parsePingOutput({ ...c, stdout: more })).toMatchObject({ kind: 'error' });
  });

  it('empty output is an error', () => {
    expect(parsePingOutput({ stdout: '', stderr: '', exitCode: 2 })).toMatchObject({ kind: 'error' });
  });
});
