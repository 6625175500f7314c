// The extender's Prometheus metrics (names fixed: the Grafana dashboard reads them). Own registry,
// so tests can run several extenders in one process.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Freshness } from '../src/linkMatrix.js';
import type { FilterReason } from './scoring/scoring.js';
import { VERSION } from '../src/version.js';
import type { MatrixCache } from './sources/source.js';

export type Verb = 'filter' | 'prioritize';
export type Outcome = 'scored' | 'neutral' | 'error';

export class ExtenderMetrics {
  readonly registry = new Registry();
  readonly requestDuration: Histogram<'verb'>;
  readonly decisions: Counter<'verb' | 'outcome'>;
  readonly nodesFiltered: Counter<'reason'>;
  readonly linkLookups: Counter<'status'>;
  readonly sourceRefreshes: Counter<'source' | 'result'>;
  readonly requestsInFlight: Gauge<'verb'>;
  readonly annotationWarnings: Counter<'verb'>;
  readonly annotationCaps: Counter<'annotation' | 'cap'>;
  readonly podEvents: Counter<'result'>;
  readonly assumedPlacements: Counter<'result'>;
  readonly preparedStates: Counter<'result'>;
  readonly connectionsRejected: Counter<'reason'>;

  constructor(cache: () => MatrixCache | undefined) {
    const registers = [this.registry];
    this.requestDuration = new Histogram({
      name: 'lpm_extender_request_duration_seconds',
      help: 'Time to answer a kube-scheduler filter or prioritize call, body parsing included',
      labelNames: ['verb'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.decisions = new Counter({
      name: 'lpm_extender_decisions_total',
      help: 'Answers given, by verb and outcome (scored: link-aware; neutral: no opinion, e.g. no peers or no matrix; error: malformed request)',
      labelNames: ['verb', 'outcome'],
      registers,
    });
    this.nodesFiltered = new Counter({
      name: 'lpm_extender_nodes_filtered_total',
      help: 'Candidate nodes removed by filter, by the limit they broke',
      labelNames: ['reason'],
      registers,
    });
    this.linkLookups = new Counter({
      name: 'lpm_extender_link_lookups_total',
      help: 'Link metric lookups while scoring, by freshness of the value found',
      labelNames: ['status'],
      registers,
    });
    this.sourceRefreshes = new Counter({
      name: 'lpm_extender_source_refreshes_total',
      help: 'Refreshes from the metric source (link matrix) and the traffic source (source="traffic")',
      labelNames: ['source', 'result'],
      registers,
    });
    this.requestsInFlight = new Gauge({
      name: 'lpm_extender_requests_in_flight',
      help: 'kube-scheduler filter/prioritize calls received and not yet answered (overload, and what a shutdown drains)',
      labelNames: ['verb'],
      registers,
    });
    this.annotationWarnings = new Counter({
      name: 'lpm_extender_annotation_warnings_total',
      help: "Calls whose pod had lpm/L2S-M annotations that could not be read (ignored, never an error; the decision's warnings say which)",
      labelNames: ['verb'],
      registers,
    });
    this.annotationCaps = new Counter({
      name: 'lpm_extender_annotation_caps_total',
      help: 'Calls whose pod had an annotation ignored for exceeding a cap (peers/peerAnnotations.ts ANNOTATION_CAPS), by annotation and cap',
      labelNames: ['annotation', 'cap'],
      registers,
    });
    this.podEvents = new Counter({
      name: 'lpm_extender_pod_events_total',
      help: 'Kubernetes Events about ignored annotations: created, deduplicated (told recently), rate_limited, error',
      labelNames: ['result'],
      registers,
    });
    this.assumedPlacements = new Counter({
      name: 'lpm_extender_assumed_placements_total',
      help: "The extender's choices recorded as assumed placements (the bind race), or refused: a pod the store does not know, bound already, or its window used",
      labelNames: ['result'],
      registers,
    });
    this.preparedStates = new Counter({
      name: 'lpm_extender_prepared_states_total',
      help: "prioritize calls by where the pod's peers and evaluation came from: reused (filter's, same pod, matrix and pod cache), computed (none held)",
      labelNames: ['result'],
      registers,
    });
    this.connectionsRejected = new Counter({
      name: 'lpm_extender_connections_rejected_total',
      help: 'Connections refused: max_connections (http.maxConnections reached), client_name (tls.clientNames)',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'lpm_extender_matrix_age_seconds',
      help: 'Seconds since the last successful link matrix refresh (absent before the first)',
      registers,
      collect() {
        const snap = cache()?.current;
        this.reset();
        if (snap) this.set(Math.max(0, Date.now() / 1000 - snap.refreshedAt));
      },
    });
    new Gauge({
      name: 'lpm_extender_matrix_links',
      help: 'Directed links in the current link matrix',
      registers,
      collect() {
        this.set(cache()?.current?.matrix.size ?? 0);
      },
    });
    new Gauge({
      name: 'lpm_build_info',
      help: 'Build information, always 1',
      labelNames: ['version', 'component'],
      registers,
    }).set({ version: VERSION, component: 'extender' }, 1);
    // zero series so dashboards and rate() see every label value from the start
    for (const verb of ['filter', 'prioritize'] as const) {
      this.requestsInFlight.set({ verb }, 0);
      this.annotationWarnings.inc({ verb }, 0);
    }
    for (const verb of ['filter', 'prioritize'] as const)
      for (const outcome of ['scored', 'neutral', 'error'] as const) this.decisions.inc({ verb, outcome }, 0);
    for (const reason of ['max_rtt', 'min_bandwidth'] as const) this.nodesFiltered.inc({ reason }, 0);
    for (const result of ['recorded', 'refused'] as const) this.assumedPlacements.inc({ result }, 0);
    for (const result of ['reused', 'computed'] as const) this.preparedStates.inc({ result }, 0);
    for (const result of ['created', 'deduplicated', 'rate_limited', 'error'] as const) this.podEvents.inc({ result }, 0);
    for (const reason of ['max_connections', 'client_name'] as const) this.connectionsRejected.inc({ reason }, 0);
    for (const status of ['fresh', 'stale', 'unknown'] as const) this.linkLookups.inc({ status }, 0);
  }

  countLookups(l: Record<Freshness, number>): void {
    for (const status of ['fresh', 'stale', 'unknown'] as const) if (l[status]) this.linkLookups.inc({ status }, l[status]);
  }

  countFiltered(reason: FilterReason, n = 1): void {
    this.nodesFiltered.inc({ reason }, n);
  }
}
