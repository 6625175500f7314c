// dashboardQueries(): the list of PromQL a later test runs against a live Prometheus.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardQueries, substituteVariables } from '../helpers/dashboardQueries.js';

const dashboard = JSON.parse(
  readFileSync(resolve(import.meta.dirname, '../../manifests/grafana/lpm-dashboard.json'), 'utf8'),
) as unknown;

describe('dashboardQueries', () => {
  it('lists every target of the shipped dashboard with no variable left', () => {
    const qs = dashboardQueries(dashboard);
    expect(qs.length).toBe(19);
    for (const q of qs) expect(q.expr, q.panelTitle).not.toMatch(/\$|\[\[/);
    const rtt = qs.find((q) => q.panelTitle === 'RTT' && q.refId === 'A')!;
    expect(rtt.rawExpr).toBe('lpm_link_rtt_seconds{source_node=~"$source", target_node=~"$target"}');
    expect(rtt.expr).toBe('lpm_link_rtt_seconds{source_node=~".*", target_node=~".*"}');
    expect(rtt.instant).toBe(false);
    expect(qs.find((q) => q.panelTitle === 'RTT matrix')?.instant).toBe(true);
    expect(qs.find((q) => q.rawExpr.includes('$__rate_interval'))?.expr).toContain('[1m]');
  });

  it('takes variable values from the caller', () => {
    const qs = dashboardQueries(dashboard, { source: 'node-a', target: 'node-b|node-c', __rate_interval: '2m' });
    expect(qs.find((q) => q.panelTitle === 'Jitter')?.expr).toBe(
      'lpm_link_jitter_seconds{source_node=~"node-a", target_node=~"node-b|node-c"}',
    );
    expect(qs.some((q) => q.expr.includes('[2m]'))).toBe(true);
  });

  it('finds panels nested in collapsed rows', () => {
    const d = { panels: [{ type: 'row', panels: [{ id: 7, title: 'inner', targets: [{ refId: 'A', expr: 'up' }] }] }] };
    expect(dashboardQueries(d)).toEqual([
      { panelId: 7, panelTitle: 'inner', refId: 'A', expr: 'up', rawExpr: 'up', instant: false },
    ]);
  });

  it('substitutes every variable syntax and rejects unknown variables', () => {
    const v = { a: 'x', b: 'y' };
    expect(substituteVariables('$a ${b} ${a:regex} [[b]]', v)).toBe('x y x y');
    expect(() => substituteVariables('rate(m[$__rate_intervall])', v, 'panel P')).toThrow(
      'panel P: unknown template variable $__rate_intervall',
    );
    expect(() => dashboardQueries({})).toThrow('no "panels" list');
  });
});
