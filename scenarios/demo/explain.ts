// "Where each pod goes and why", for the terminal: the driver's placement (kube-scheduler's view:
// extender score × weight + spreading) and the extender's own decisions for the pod (the links
// behind the chosen node's score, the nodes its filter removed and why). Pure.
import type { Decision } from '../../extender/decisionLog.js';
import type { Placement } from '../runner/driver.js';

/** Lines for one pod. `decisions`: the extender's decisions for this pod, newest first. */
export function explainPlacement(p: Placement, decisions: readonly Decision[], opts: { maxLinks?: number } = {}): string[] {
  if (p.preplaced) return [`  ${p.pod} already runs on ${p.node}`];
  const prioritize = decisions.find((d) => d.verb === 'prioritize');
  const filter = decisions.find((d) => d.verb === 'filter');
  const lines = [`  ${p.pod} -> ${p.node ?? `unschedulable (${p.reason ?? 'no node'})`}`];
  const main = prioritize ?? filter;
  if (main) {
    const peers = (main.peers ?? []).map((x) => `${x.id} on ${x.node} (weight ${x.weight})`).join(', ') || 'none';
    lines.push(`      peers: ${peers}; limits: ${main.limits ?? 'none'}`);
    if (main.reason) lines.push(`      extender had no opinion: ${main.reason}`);
  }
  if (p.scores.length)
    lines.push(
      `      scores: ${p.scores
        .map((s) => `${s.node} ${s.extender ?? '-'}/10${s.extender !== undefined ? ` (total ${s.total})` : ''}`)
        .join(', ')}`,
    );
  else if (p.node && !p.preplaced) lines.push('      only one node left after filtering: no scoring');
  const chosen = [...(prioritize?.nodes ?? []), ...(filter?.nodes ?? [])].find((n) => n.node === p.node && n.links?.length);
  if (chosen?.links) {
    const max = opts.maxLinks ?? 3;
    chosen.links.slice(0, max).forEach((l, i) => lines.push(`      ${i === 0 ? 'why: ' : '     '}${l}`));
    if (chosen.links.length > max) lines.push(`           (+${chosen.links.length - max} more links)`);
  }
  for (const [node, why] of Object.entries(p.filtered)) lines.push(`      filtered ${node}: ${why}`);
  for (const w of main?.warnings ?? []) lines.push(`      note: ${w}`);
  return lines;
}
