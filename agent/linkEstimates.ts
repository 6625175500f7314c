// The values the agent exports for RTT, jitter and loss, computed over several ping runs so that
// one bad run (a load spike, a burst of losses) cannot move them, while every run's own values
// stay in the history and every reply in the histogram. Pure.
//
// - RTT: the median of the last `runs` runs' mean RTT (default 5: two bad runs in a row are outvoted);
//   its min and max: the lowest and highest reply of those same runs, so that min <= RTT <= max.
// - Loss: lost / sent over the latest runs that together sent at least `probes` echo requests
//   (default 100); but 1 while the latest run got nothing back (the link is down now, not 10% lossy).
// - Jitter: the median of the per-run mdev over those same runs.
// A run in which nothing came back starts the RTT and jitter over: values from before an outage
// say nothing about the link after it.

export interface PingRunSummary {
  /** Unix seconds the run finished. */
  timestamp: number;
  /** Echo requests sent and replies received. */
  sent: number;
  received: number;
  /** The run's mean, lowest and highest RTT and its mdev (seconds); absent when nothing came back. */
  rtt?: number;
  rttMin?: number;
  rttMax?: number;
  jitter?: number;
}

export interface EstimateWindow {
  runs: number;
  probes: number;
}

export const DEFAULT_ESTIMATE_WINDOW: EstimateWindow = { runs: 5, probes: 100 };

export interface LinkEstimate {
  rtt?: number;
  rttMin?: number;
  rttMax?: number;
  jitter?: number;
  loss?: number;
}

/** The middle value (mean of the two middle ones for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The latest runs that together sent at least `probes` requests (all of them when fewer did). */
function probeWindow(runs: readonly PingRunSummary[], probes: number): PingRunSummary[] {
  let sent = 0;
  let i = runs.length;
  while (i > 0 && sent < probes) sent += runs[--i]!.sent;
  return runs.slice(i);
}

/** The runs since the latest one in which nothing came back (that one excluded). */
function sinceOutage(runs: readonly PingRunSummary[]): PingRunSummary[] {
  let i = runs.length;
  while (i > 0 && runs[i - 1]!.received > 0) i--;
  return runs.slice(i);
}

/** The robust values of a link from its runs, oldest first. */
export function estimateLink(runs: readonly PingRunSummary[], w: EstimateWindow = DEFAULT_ESTIMATE_WINDOW): LinkEstimate {
  const out: LinkEstimate = {};
  const latest = runs[runs.length - 1];
  if (!latest) return out;
  const window = probeWindow(runs, w.probes);
  const sent = window.reduce((s, r) => s + r.sent, 0);
  const received = window.reduce((s, r) => s + r.received, 0);
  if (latest.received === 0) out.loss = 1;
  else if (sent > 0) out.loss = Math.min(1, Math.max(0, 1 - received / sent));
  const alive = sinceOutage(runs);
  const recent = alive.slice(-w.runs);
  const rtt = median(recent.flatMap((r) => (r.rtt === undefined ? [] : [r.rtt])));
  if (rtt !== undefined) out.rtt = rtt;
  const mins = recent.flatMap((r) => (r.rttMin === undefined ? [] : [r.rttMin]));
  const maxes = recent.flatMap((r) => (r.rttMax === undefined ? [] : [r.rttMax]));
  if (mins.length) out.rttMin = Math.min(...mins);
  if (maxes.length) out.rttMax = Math.max(...maxes);
  const jitter = median(sinceOutage(window).flatMap((r) => (r.jitter === undefined ? [] : [r.jitter])));
  if (jitter !== undefined) out.jitter = jitter;
  return out;
}

/** Drops the runs no future estimate needs (beyond both windows), oldest first; returns the rest. */
export function trimRuns(runs: PingRunSummary[], w: EstimateWindow = DEFAULT_ESTIMATE_WINDOW): PingRunSummary[] {
  const keep = Math.max(w.runs, probeWindow(runs, w.probes).length);
  if (runs.length > keep) runs.splice(0, runs.length - keep);
  return runs;
}
