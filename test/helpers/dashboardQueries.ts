// Every PromQL expression of a Grafana dashboard, with its template variables substituted, so a
// test can run each one against a real Prometheus. Pure: takes the parsed dashboard JSON.
//
//   const dashboard = JSON.parse(readFileSync('manifests/grafana/lpm-dashboard.json', 'utf8'));
//   for (const q of dashboardQueries(dashboard)) await promQuery(q.expr);

export interface DashboardQuery {
  panelId: number | undefined;
  panelTitle: string;
  refId: string;
  /** The expression as Prometheus receives it (variables substituted). */
  expr: string;
  /** The expression as written in the dashboard. */
  rawExpr: string;
  /** Grafana runs it as an instant query (table matrices) rather than over a range. */
  instant: boolean;
}

/**
 * Values Grafana would put in for its built-in interval variables and for our `All` choices.
 * `$__rate_interval` is at least four scrape intervals (15 s): 1m.
 */
export const DEFAULT_DASHBOARD_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
  __range_ms: '3600000',
};

type Panel = {
  id?: number;
  title?: string;
  type?: string;
  targets?: { refId?: string; expr?: string; instant?: boolean; hide?: boolean }[];
  panels?: Panel[];
};

/** All panels, including those nested in (collapsed) rows. */
export function dashboardPanels(dashboard: unknown): Panel[] {
  const top = (dashboard as { panels?: Panel[] } | null)?.panels;
  if (!Array.isArray(top)) throw new Error('dashboard has no "panels" list');
  return top.flatMap((p) => [p, ...(Array.isArray(p.panels) ? p.panels : [])]);
}

/**
 * Lists every target expression of the dashboard. Template variables get, in order: `vars`,
 * the built-ins above, and for the dashboard's own query variables their `allValue` (".*").
 * An unknown variable is an error, so a typo in the dashboard cannot slip through.
 */
export function dashboardQueries(dashboard: unknown, vars: Record<string, string> = {}): DashboardQuery[] {
  const values: Record<string, string> = { ...dashboardAllValues(dashboard), ...DEFAULT_DASHBOARD_VARIABLES, ...vars };
  const out: DashboardQuery[] = [];
  for (const panel of dashboardPanels(dashboard)) {
    for (const t of panel.targets ?? []) {
      if (typeof t.expr !== 'string' || t.hide) continue;
      const title = panel.title ?? `panel ${panel.id ?? '?'}`;
      out.push({
        panelId: panel.id,
        panelTitle: title,
        refId: t.refId ?? 'A',
        rawExpr: t.expr,
        expr: substituteVariables(t.expr, values, `${title} / ${t.refId ?? 'A'}`),
        instant: t.instant === true,
      });
    }
  }
  return out;
}

/** `$name`, `${name}`, `${name:format}` and `[[name]]` -> values[name]. */
export function substituteVariables(text: string, values: Record<string, string>, where = 'expression'): string {
  return text.replace(/\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (match, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = values[name];
    if (value === undefined) throw new Error(`${where}: unknown template variable ${match}`);
    return value;
  });
}

function dashboardAllValues(dashboard: unknown): Record<string, string> {
  const list = (dashboard as { templating?: { list?: { name?: string; type?: string; allValue?: string }[] } })
    ?.templating?.list;
  const out: Record<string, string> = {};
  for (const v of list ?? []) {
    if (v.name && v.type === 'query') out[v.name] = v.allValue ?? '.*';
  }
  return out;
}
