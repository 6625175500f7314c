// Checks a scenario's expectations against where the pods went. Pure.
import type { Expectation } from '../scenarioFile.js';

export interface ExpectationResult {
  /** The expectation in words, e.g. "default/p on node3". */
  text: string;
  ok: boolean;
  /** What happened instead (or what held). */
  detail: string;
}

/** `nodeOf`: pod id -> node, null when unschedulable, undefined when it never ran. */
export function checkExpectations(
  expect: readonly Expectation[],
  nodeOfIn: (placement: Expectation['placement'], pod: string) => string | null | undefined,
): ExpectationResult[] {
  return expect.map((e) => {
    const r = checkOne(e, (pod) => nodeOfIn(e.placement, pod));
    return e.placement === 'lpm' ? r : { ...r, text: `${r.text} [${e.placement} placement]` };
  });
}

function checkOne(e: Expectation, nodeOf: (pod: string) => string | null | undefined): ExpectationResult {
  const where = (pod: string) => {
    const n = nodeOf(pod);
    return n === undefined ? 'not scheduled at all' : n === null ? 'unschedulable' : `on ${n}`;
  };
  {
    switch (e.kind) {
      case 'on':
      case 'notOn':
      case 'onOneOf': {
        const n = nodeOf(e.pod);
        const text =
          e.kind === 'on' ? `${e.pod} on ${e.nodes[0]}` : e.kind === 'notOn' ? `${e.pod} not on ${e.nodes[0]}` : `${e.pod} on one of ${e.nodes.join(', ')}`;
        const placed = typeof n === 'string';
        const ok = e.kind === 'notOn' ? placed && n !== e.nodes[0] : placed && e.nodes.includes(n);
        return { text, ok, detail: `${e.pod} is ${where(e.pod)}` };
      }
      case 'unschedulable':
        return { text: `${e.pod} unschedulable`, ok: nodeOf(e.pod) === null, detail: `${e.pod} is ${where(e.pod)}` };
      case 'scheduled': {
        const n = nodeOf(e.pod);
        return { text: `${e.pod} scheduled`, ok: typeof n === 'string', detail: `${e.pod} is ${where(e.pod)}` };
      }
      case 'colocated':
      case 'notColocated': {
        const nodes = e.pods.map((p) => nodeOf(p));
        const allPlaced = nodes.every((n) => typeof n === 'string');
        const distinct = new Set(nodes).size;
        const ok = allPlaced && (e.kind === 'colocated' ? distinct === 1 : distinct === nodes.length);
        return {
          text: `${e.pods.join(', ')} ${e.kind === 'colocated' ? 'co-located' : 'on different nodes'}`,
          ok,
          detail: e.pods.map((p) => `${p} ${where(p)}`).join(', '),
        };
      }
    }
  }
}
