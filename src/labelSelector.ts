// Kubernetes label selectors in their text form (as `kubectl get -l` takes them), for the
// `lpm.l2sm.io/peers` annotation: requirements separated by commas, all of which must hold:
//   key=value  key==value  key!=value  key in (a,b)  key notin (a,b)  key  !key
// Parsed once per scheduling request; matching is a few map lookups per pod.

export type Requirement =
  | { op: 'in'; key: string; values: string[] }
  | { op: 'notin'; key: string; values: string[] }
  | { op: 'exists'; key: string }
  | { op: '!exists'; key: string };

export interface LabelSelector {
  text: string;
  requirements: Requirement[];
}

const NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const KEY_RE = new RegExp(`^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?${NAME}$`);
const VALUE_RE = new RegExp(`^(${NAME})?$`);

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

function checkKey(key: string, whole: string): string {
  if (!KEY_RE.test(key)) throw new Error(`"${whole}": "${key}" is not a label key`);
  return key;
}

function checkValue(value: string, whole: string): string {
  if (!VALUE_RE.test(value)) throw new Error(`"${whole}": "${value}" is not a label value`);
  return value;
}

/** Parses a selector; throws with a message quoting the bad part. An empty selector matches everything. */
export function parseLabelSelector(text: string): LabelSelector {
  const requirements: Requirement[] = [];
  const trimmed = text.trim();
  if (trimmed === '') return { text: trimmed, requirements };
  for (const raw of splitTopLevel(trimmed)) {
    const part = raw.trim();
    if (part === '') throw new Error(`"${text}": empty requirement (stray comma?)`);
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (m) {
      const values = m[3]!
        .split(',')
        .map((v) => v.trim())
        .map((v) => checkValue(v, part));
      if (values.length === 0 || (values.length === 1 && values[0] === ''))
        throw new Error(`"${part}": empty value set`);
      requirements.push({ op: m[2] as 'in' | 'notin', key: checkKey(m[1]!, part), values });
      continue;
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) {
      const key = checkKey(m[1]!, part);
      const value = checkValue(m[3]!, part);
      requirements.push(m[2] === '!=' ? { op: 'notin', key, values: [value] } : { op: 'in', key, values: [value] });
      continue;
    }
    m = /^(!?)\s*([^=!\s(),]+)$/.exec(part);
    if (m) {
      requirements.push({ op: m[1] ? '!exists' : 'exists', key: checkKey(m[2]!, part) });
      continue;
    }
    throw new Error(`"${part}" is not a label requirement (use key=value, key!=value, key in (a,b), key notin (a,b), key, !key)`);
  }
  return { text: trimmed, requirements };
}

export function matchesSelector(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const r of sel.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, r.key);
    switch (r.op) {
      case 'in':
        if (!has || !r.values.includes(labels[r.key]!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(labels[r.key]!)) return false;
        break;
      case 'exists':
        if (!has) return false;
        break;
      case '!exists':
        if (has) return false;
        break;
    }
  }
  return true;
}

/**
 * A selector that can never match because it asks one key for two different values
 * (e.g. "app=cart,app=catalog": commas mean AND). Returns the key, to warn about it.
 */
export function contradictoryKey(sel: LabelSelector): string | undefined {
  const allowed = new Map<string, Set<string>>();
  for (const r of sel.requirements) {
    if (r.op !== 'in') continue;
    const prev = allowed.get(r.key);
    const next = new Set(prev ? r.values.filter((v) => prev.has(v)) : r.values);
    if (next.size === 0) return r.key;
    allowed.set(r.key, next);
  }
  return undefined;
}
