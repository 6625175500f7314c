import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  extenderFilterResultSchema,
  filterResult,
  hostPriorityListSchema,
  parseExtenderArgs,
  type ExtenderArgs,
} from '../../extender/protocol.js';

// Copies of /work/shared/fixtures/kube-scheduler (request bodies in kube-scheduler's wire format).
const FIXTURES = join(import.meta.dirname, '../fixtures/kube-scheduler');
const load = (f: string): unknown => JSON.parse(readFileSync(join(FIXTURES, f), 'utf8'));
const requests = readdirSync(FIXTURES).filter((f) => f.includes('-request.'));

function parsed(body: unknown): ExtenderArgs {
  const r = parseExtenderArgs(body);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('ExtenderArgs from fixture bodies', () => {
  it('has the fixtures', () => expect(requests.length).toBeGreaterThanOrEqual(8));

  for (const f of requests) {
    it(`parses ${f}`, () => {
      const args = parsed(load(f));
      expect(args.mode).toBe(f.includes('nodelist') ? 'nodeList' : 'nodeNames');
      expect(args.nodeNames).toEqual(['node-a', 'node-b', 'node-c']);
      expect(args.pod.metadata.name).toMatch(/^(frontend-|p-nodecache-)/);
      expect(args.pod.metadata.namespace).toMatch(/^(shop|default)$/);
    });
  }

  it('reads the pod annotations the extender uses', () => {
    const args = parsed(load('filter-request.nodenames.json'));
    expect(args.pod.metadata.annotations['lpm.l2sm.io/max-rtt']).toBe('10ms');
    expect(args.pod.metadata.labels.app).toBe('frontend');
  });

  it('reads keys case-insensitively, as Go does (older schedulers sent lowercase keys)', () => {
    const args = parsed({
      pod: { Metadata: { NAME: 'p', namespace: 'ns', labels: null } },
      nodes: null,
      nodenames: ['n1', 'n2'],
    });
    expect(args).toMatchObject({ mode: 'nodeNames', nodeNames: ['n1', 'n2'] });
    expect(args.pod.metadata).toMatchObject({ name: 'p', namespace: 'ns', labels: {}, annotations: {} });
  });

  it('keeps Node objects untouched for the NodeList answer', () => {
    const body = load('filter-request.nodelist.captured-v1.26.json') as { Nodes: { items: unknown[] } };
    const args = parsed(body);
    const res = filterResult(args, new Set(['node-a', 'node-c']), { 'node-b': 'lpm: too slow' });
    expect(res.NodeNames).toBeNull();
    expect(res.Nodes!.items).toEqual([body.Nodes.items[0], body.Nodes.items[2]]);
    expect(res.Nodes!.items[0] === body.Nodes.items[0]).toBe(true);
    expect(extenderFilterResultSchema.safeParse(res).success).toBe(true);
  });

  it('answers NodeNames mode with NodeNames, in input order, never a name not in the input', () => {
    const args = parsed(load('filter-request.nodenames.json'));
    const res = filterResult(args, new Set(['node-c', 'node-a', 'node-zzz']), {});
    expect(res).toEqual({ Nodes: null, NodeNames: ['node-a', 'node-c'], FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' });
  });

  it('the example responses match the shapes we check answers against', () => {
    expect(extenderFilterResultSchema.safeParse(load('filter-response.nodenames.example.json')).success).toBe(true);
    expect(hostPriorityListSchema.safeParse(load('prioritize-response.example.json')).success).toBe(true);
    expect(hostPriorityListSchema.safeParse([{ Host: 'a', Score: 11 }]).success).toBe(false);
    expect(hostPriorityListSchema.safeParse([{ Host: 'a', Score: 2.5 }]).success).toBe(false);
  });
});

describe('malformed ExtenderArgs', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' } };
  const cases: Array<[string, unknown, RegExp]> = [
    ['not an object', [1, 2], /^body: /],
    ['no Pod', { NodeNames: ['a'] }, /^Pod: Required/],
    ['Pod without name', { Pod: { metadata: { namespace: 'x' } }, NodeNames: ['a'] }, /^Pod\.metadata\.name: /],
    ['Pod without metadata', { Pod: {}, NodeNames: ['a'] }, /^Pod\.metadata: Required/],
    ['labels not strings', { Pod: { metadata: { name: 'p', labels: { a: 1 } } }, NodeNames: ['a'] }, /^Pod\.metadata\.labels\.a: /],
    ['NodeNames not a list', { Pod: pod, NodeNames: 'node-a' }, /^NodeNames: Expected array/],
    ['neither NodeNames nor Nodes', { Pod: pod, Nodes: null, NodeNames: null }, /^NodeNames: one of NodeNames/],
    ['Nodes not an object', { Pod: pod, Nodes: 'x' }, /^Nodes: must be a NodeList/],
    ['Node without a name', { Pod: pod, Nodes: { items: [{ metadata: { name: 'a' } }, { metadata: {} }] } }, /^Nodes\.items\[1\]\.metadata\.name: /],
    // names are Kubernetes names (DNS-1123), at most 253 characters: nothing else reaches the log and the store
    ['a 1 MB node name', { Pod: pod, NodeNames: ['a', 'n'.repeat(1_000_000)] }, /^NodeNames\[1\]: "n{60}\.\.\." is not a Kubernetes name: DNS-1123 subdomain/],
    ['a node name with capitals', { Pod: pod, NodeNames: ['Node-A'] }, /^NodeNames\[0\]: "Node-A" is not a Kubernetes name/],
    ['a Node name with a slash', { Pod: pod, Nodes: { items: [{ metadata: { name: 'a/b' } }] } }, /^Nodes\.items\[0\]\.metadata\.name: "a\/b" is not a Kubernetes name/],
    ['a pod name with a space', { Pod: { metadata: { name: 'p q' } }, NodeNames: ['a'] }, /^Pod\.metadata\.name: "p q" is not a Kubernetes name/],
    ['a 254-character pod name', { Pod: { metadata: { name: 'p'.repeat(254) } }, NodeNames: ['a'] }, /^Pod\.metadata\.name: String must contain at most 253/],
    ['a namespace with a dot', { Pod: { metadata: { name: 'p', namespace: 'a.b' } }, NodeNames: ['a'] }, /^Pod\.metadata\.namespace: "a\.b" is not a namespace name/],
    ['a spec.nodeName that is no name', { Pod: { ...pod, spec: { nodeName: '../x' } }, NodeNames: ['a'] }, /^Pod\.spec\.nodeName: /],
    ['a label key that is no key', { Pod: { metadata: { name: 'p', labels: { 'a b': 'x' } } }, NodeNames: ['a'] }, /^Pod\.metadata\.labels\.a b: "a b" is not a label key/],
    ['a label value of 64 characters', { Pod: { metadata: { name: 'p', labels: { app: 'v'.repeat(64) } } }, NodeNames: ['a'] }, /^Pod\.metadata\.labels\.app: .* is not a label value/],
  ];
  it('accepts every valid name form', () => {
    const r = parseExtenderArgs({
      Pod: { metadata: { name: 'web-0.shop', namespace: 'shop-1', labels: { 'app.kubernetes.io/name': 'Web_1', empty: '' } }, spec: { nodeName: '' } },
      NodeNames: ['node-a', 'ip-10-0-0-1.ec2.internal', '0', 'a'.repeat(63) + '.' + 'b'.repeat(63)],
    });
    expect(r.ok).toBe(true);
  });
  for (const [what, body, message] of cases) {
    it(`rejects ${what} with the field named`, () => {
      const r = parseExtenderArgs(body);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatch(message);
    });
  }
});
