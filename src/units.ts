// Human-friendly quantities used in every config file: durations ("200ms", "1m30s") and
// bandwidths ("100Mbps", "1Gbit/s", "12.5MB/s"). Everything inside lpm is in base units:
// seconds and bytes per second, as Prometheus conventions ask.

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const DURATION_PART = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/y;

/** Parses "250ms", "1.5s", "1m30s", "2h" into seconds. A bare number is seconds. Throws on anything else. */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s === '') throw new Error('empty duration');
  let total = 0;
  let pos = 0;
  DURATION_PART.lastIndex = 0;
  while (pos < s.length) {
    DURATION_PART.lastIndex = pos;
    const m = DURATION_PART.exec(s);
    if (!m) throw new Error(`"${text}" is not a duration (use e.g. 500ms, 10s, 1m30s)`);
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
    pos = DURATION_PART.lastIndex;
  }
  return total;
}

/** Seconds to the shortest readable duration string, e.g. 0.0052 -> "5.2ms". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  const abs = Math.abs(seconds);
  if (abs === 0) return '0s';
  if (abs < 1e-3) return `${round(seconds * 1e6)}µs`;
  if (abs < 1) return `${round(seconds * 1e3)}ms`;
  if (abs < 120) return `${round(seconds)}s`;
  return `${round(seconds / 60)}m`;
}

// Multipliers to *bits* per second; B (bytes) variants are x8. Decimal prefixes, as network
// rates are quoted (1 Mbps = 1e6 bit/s); binary prefixes (Mi, Gi) accepted for byte rates.
const BIT_PREFIX: Record<string, number> = { '': 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9, t: 1e12, T: 1e12 };
const BINARY_PREFIX: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };

const BANDWIDTH = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|K|m|M|g|G|t|T)?(bps|bit\/s|bits\/s|b\/s|Bps|B\/s|byte\/s|bytes\/s)$/;

/** Parses "100Mbps", "1Gbit/s", "12.5MB/s", "512KiB/s" into bytes per second. Throws on anything else. */
export function parseBandwidth(text: string): number {
  const m = BANDWIDTH.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a bandwidth (use e.g. 100Mbps, 1Gbit/s, 12.5MB/s)`);
  const value = Number(m[1]);
  const prefix = m[2] ?? '';
  const unit = m[3]!;
  const isBytes = unit.startsWith('B') || unit.startsWith('byte');
  const mult = BINARY_PREFIX[prefix] ?? BIT_PREFIX[prefix];
  if (mult === undefined) throw new Error(`"${text}": unknown prefix "${prefix}"`);
  const bitsPerSecond = value * mult * (isBytes ? 8 : 1);
  return bitsPerSecond / 8;
}

/** Bytes per second to a readable bit rate, e.g. 12.5e6 -> "100Mbps". */
export function formatBandwidth(bytesPerSecond: number): string {
  const bits = bytesPerSecond * 8;
  if (!Number.isFinite(bits)) return String(bits);
  if (bits >= 1e9) return `${round(bits / 1e9)}Gbps`;
  if (bits >= 1e6) return `${round(bits / 1e6)}Mbps`;
  if (bits >= 1e3) return `${round(bits / 1e3)}kbps`;
  return `${round(bits)}bps`;
}

/** Parses "10%" or "0.1" into a ratio 0..1. */
export function parseRatio(text: string | number): number {
  if (typeof text === 'number') return checkRatio(text, String(text));
  const s = text.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  if (pct) return checkRatio(Number(pct[1]) / 100, text);
  if (/^\d+(\.\d+)?$/.test(s)) return checkRatio(Number(s), text);
  throw new Error(`"${text}" is not a ratio (use e.g. 10% or 0.1)`);
}

function checkRatio(v: number, text: string): number {
  if (!(v >= 0 && v <= 1)) throw new Error(`"${text}" is outside 0..1 (0%..100%)`);
  return v;
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
