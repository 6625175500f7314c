import { describe, expect, it } from 'vitest';
import { formatBandwidth, formatDuration, parseBandwidth, parseDuration, parseRatio } from '../../src/units.js';

describe('parseDuration', () => {
  it.each([
    ['5ms', 0.005],
    ['1.5s', 1.5],
    ['1m30s', 90],
    ['250us', 0.00025],
    ['2h', 7200],
    ['10', 10],
  ])('%s -> %d s', (text, seconds) => expect(parseDuration(text)).toBeCloseTo(seconds, 12));

  it.each(['', '5 parsecs', 'ms', '5msx', '-1s'])('rejects %j', (text) => expect(() => parseDuration(text)).toThrow());
});

describe('parseBandwidth', () => {
  it.each([
    ['100Mbps', 12.5e6],
    ['1Gbit/s', 125e6],
    ['50Mbit/s', 6.25e6],
    ['12.5MB/s', 12.5e6],
    ['1KiB/s', 1024],
    ['800bps', 100],
  ])('%s -> %d B/s', (text, bytes) => expect(parseBandwidth(text)).toBeCloseTo(bytes, 6));

  it.each(['fast', '100', '100Mb', '5 parsecs'])('rejects %j', (text) => expect(() => parseBandwidth(text)).toThrow(/not a bandwidth/));
});

describe('parseRatio', () => {
  it('reads percent and fractions', () => {
    expect(parseRatio('10%')).toBeCloseTo(0.1);
    expect(parseRatio(0.25)).toBe(0.25);
    expect(() => parseRatio('120%')).toThrow(/outside/);
  });
});

describe('format', () => {
  it('round-trips readable units', () => {
    expect(formatDuration(0.0052)).toBe('5.2ms');
    expect(formatBandwidth(parseBandwidth('100Mbps'))).toBe('100Mbps');
  });
});
