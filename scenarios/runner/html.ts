// The HTML page of a run: one inline SVG per placement (topology on a circle, links labelled with
// RTT and rate, pods next to their node, node pairs that carry calls highlighted), the A/B table
// and the expectations. Self-contained: no scripts, no external assets.
import type { Topology } from '../topology.js';
import { formatBandwidth, formatDuration } from '../../src/units.js';
import type { Placement } from './driver.js';
import { measurementTable, type ScenarioResult } from './result.js';
import { pairMetrics } from './topologyMatrix.js';
import { PLACEMENT_TITLES } from './variants.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const W = 420;
const H = 380;

function layout(t: Topology): Map<string, { x: number; y: number }> {
  const pos = new Map<string, { x: number; y: number }>();
  const n = t.nodes.length;
  const r = n === 1 ? 0 : 125;
  t.nodes.forEach((node, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    pos.set(node.name, { x: W / 2 + r * Math.cos(a), y: H / 2 + r * Math.sin(a) });
  });
  return pos;
}

/** One placement drawn on the topology. `calls`: pod-id pairs that talk. */
export function placementSvg(t: Topology, placements: readonly Placement[], calls: ReadonlyArray<[string, string]>, title: string): string {
  const pos = layout(t);
  const nodeOf = new Map(placements.map((p) => [p.pod, p.node]));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  parts.push(`<title>${esc(title)}</title><rect width="${W}" height="${H}" fill="#fff" stroke="#ddd"/>`);
  parts.push(`<text x="8" y="16" font-size="13" font-weight="bold">${esc(title)}</text>`);
  // links: one line per connected pair
  const names = t.nodes.map((n) => n.name);
  for (let i = 0; i < names.length; i++)
    for (let j = i + 1; j < names.length; j++) {
      const m = pairMetrics(t.links, names[i]!, names[j]!);
      if (!m) continue;
      const a = pos.get(names[i]!)!;
      const b = pos.get(names[j]!)!;
      const label = `${formatDuration(m.rtt)}${t.links.some((l) => l.rate !== null && ((l.from === names[i] && l.to === names[j]) || (l.to === names[i] && l.from === names[j]))) ? ` ${formatBandwidth(m.bandwidth)}` : ''}`;
      parts.push(`<line x1="${a.x.toFixed(1)}" y1="${a.y.toFixed(1)}" x2="${b.x.toFixed(1)}" y2="${b.y.toFixed(1)}" stroke="#bbb" stroke-width="1"/>`);
      parts.push(`<text x="${((a.x + b.x) / 2).toFixed(1)}" y="${((a.y + b.y) / 2 - 2).toFixed(1)}" fill="#888" text-anchor="middle" font-size="9">${esc(label)}</text>`);
    }
  // calls that cross nodes
  const drawn = new Set<string>();
  for (const [from, to] of calls) {
    const a = nodeOf.get(from);
    const b = nodeOf.get(to);
    if (!a || !b || a === b) continue;
    const key = [a, b].sort().join('|');
    if (drawn.has(key)) continue;
    drawn.add(key);
    const pa = pos.get(a)!;
    const pb = pos.get(b)!;
    parts.push(`<line x1="${pa.x.toFixed(1)}" y1="${pa.y.toFixed(1)}" x2="${pb.x.toFixed(1)}" y2="${pb.y.toFixed(1)}" stroke="#e67e22" stroke-width="4" stroke-opacity="0.7"><title>calls between ${esc(a)} and ${esc(b)}</title></line>`);
  }
  for (const node of t.nodes) {
    const p = pos.get(node.name)!;
    parts.push(`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="16" fill="#2c7fb8" stroke="#124"/>`);
    parts.push(`<text x="${p.x.toFixed(1)}" y="${(p.y + 4).toFixed(1)}" fill="#fff" text-anchor="middle" font-weight="bold">${esc(node.name.slice(0, 6))}</text>`);
    const pods = placements.filter((x) => x.node === node.name).map((x) => x.pod.replace(/^default\//, ''));
    pods.forEach((pod, k) => {
      const below = p.y >= H / 2;
      const y = below ? p.y + 30 + 12 * k : p.y - 22 - 12 * (pods.length - 1 - k);
      parts.push(`<text x="${p.x.toFixed(1)}" y="${y.toFixed(1)}" text-anchor="middle" fill="#111">${esc(pod)}</text>`);
    });
  }
  const unplaced = placements.filter((x) => x.node === null).map((x) => x.pod.replace(/^default\//, ''));
  if (unplaced.length) parts.push(`<text x="8" y="${H - 8}" fill="#c0392b">unschedulable: ${esc(unplaced.join(', '))}</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

export function resultHtml(r: ScenarioResult): string {
  const calls = r.calls;
  const svgs = r.placements
    .map((p) => `<figure>${placementSvg(r.topology, p.placements, calls, PLACEMENT_TITLES[p.name])}</figure>`)
    .join('\n');
  const table = measurementTable(r);
  const tableHtml = table
    ? '<table>' +
      table
        .trim()
        .split('\n')
        .filter((l) => !/^\|\s*-/.test(l))
        .map((l, i) => {
          const cells = l.split('|').slice(1, -1).map((c) => c.trim());
          const tag = i === 0 ? 'th' : 'td';
          return `<tr>${cells.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
        })
        .join('\n') +
      '</table>'
    : '<p>No workload measured (sim mode places pods only).</p>';
  const exps = r.expectations
    .map((e) => `<li class="${e.ok ? 'ok' : 'fail'}">${e.ok ? '✔' : '✘'} ${esc(e.text)}${e.ok ? '' : ` — ${esc(e.detail)}`}</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lpm scenario ${esc(r.name)}</title>
<style>
body { font-family: sans-serif; margin: 1.5em; color: #222; }
figure { display: inline-block; margin: 0 1em 1em 0; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.ok { color: #1e8449; } .fail { color: #c0392b; font-weight: bold; }
</style></head><body>
<h1>Scenario ${esc(r.name)} — ${r.ok ? '<span class="ok">PASS</span>' : '<span class="fail">FAIL</span>'}</h1>
<p>${esc(r.file)}, mode <b>${esc(r.mode)}</b>, ${esc(r.startedAt)}, ${r.durationSeconds.toFixed(1)} s. Orange: node pairs that carry calls.</p>
${svgs}
<h2>Workload</h2>
${tableHtml}
<h2>Expectations (lpm placement)</h2>
<ul>${exps || '<li>none</li>'}</ul>
${r.notes.length ? `<h2>Notes</h2><ul>${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
</body></html>
`;
}
