// L2S-M pod annotations. A pod joins L2S-M networks with `l2sm/networks`, either a comma list of
// network names ("net-a,net-b") or a JSON list of {name, namespace?, ips?} (static addresses,
// "10.0.0.1/24"). L2S-M's webhook turns that into a Multus attachment, and Multus reports the
// addresses it got in `k8s.v1.cni.cncf.io/network-status` (a JSON list of {name, interface, ips}).
import { z } from 'zod';

export const L2SM_NETWORKS_ANNOTATION = 'l2sm/networks';
export const MULTUS_NETWORK_STATUS_ANNOTATION = 'k8s.v1.cni.cncf.io/network-status';

export interface L2smAttachment {
  name: string;
  namespace?: string;
  /** Addresses without prefix length. */
  ips: string[];
}

const attachmentSchema = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  ips: z.array(z.string()).optional(),
});

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parses an `l2sm/networks` annotation value (either form). */
export function parseL2smNetworks(value: string | undefined): ParseResult<L2smAttachment[]> {
  if (value === undefined) return { ok: true, value: [] };
  const text = value.trim();
  if (text === '') return { ok: true, value: [] };
  if (text.startsWith('[') || text.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return { ok: false, error: `${L2SM_NETWORKS_ANNOTATION}: invalid JSON: ${(err as Error).message}` };
    }
    const list = z.array(attachmentSchema).safeParse(Array.isArray(json) ? json : [json]);
    if (!list.success) {
      const issue = list.error.issues[0]!;
      return { ok: false, error: `${L2SM_NETWORKS_ANNOTATION}: [${issue.path.join('.')}] ${issue.message}` };
    }
    return {
      ok: true,
      value: list.data.map((a) => ({
        name: a.name,
        ...(a.namespace ? { namespace: a.namespace } : {}),
        ips: (a.ips ?? []).map(stripPrefix),
      })),
    };
  }
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.find((n) => !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$/.test(n));
  if (bad) return { ok: false, error: `${L2SM_NETWORKS_ANNOTATION}: "${bad}" is not a network name` };
  return {
    ok: true,
    value: names.map((n) => {
      const [a, b] = n.split('/');
      return b ? { name: b, namespace: a!, ips: [] } : { name: a!, ips: [] };
    }),
  };
}

const networkStatusSchema = z.array(
  z
    .object({
      name: z.string(),
      interface: z.string().optional(),
      ips: z.array(z.string()).optional(),
      default: z.boolean().optional(),
    })
    .passthrough(),
);

/**
 * Address of a pod on an L2S-M network, from Multus' network-status annotation (whose `name`
 * is "namespace/network" or "network"), falling back to a static address in `l2sm/networks`.
 */
export function addressOnNetwork(annotations: Record<string, string>, network: string): string | undefined {
  const status = annotations[MULTUS_NETWORK_STATUS_ANNOTATION];
  if (status) {
    try {
      const parsed = networkStatusSchema.safeParse(JSON.parse(status));
      if (parsed.success) {
        const entry = parsed.data.find((e) => !e.default && (e.name === network || e.name.endsWith(`/${network}`)));
        const ip = entry?.ips?.[0];
        if (ip) return stripPrefix(ip);
      }
    } catch {
      // malformed status: fall through to the static address
    }
  }
  const requested = parseL2smNetworks(annotations[L2SM_NETWORKS_ANNOTATION]);
  if (requested.ok) return requested.value.find((a) => a.name === network)?.ips[0];
  return undefined;
}

function stripPrefix(ip: string): string {
  return ip.split('/')[0]!.trim();
}
