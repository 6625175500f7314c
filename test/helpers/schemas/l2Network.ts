// L2S-M's L2Network custom resource (l2sm.l2sm.k8s.local/v1), the spec fields of its CRD
// (config/crd/bases/l2sm.l2sm.k8s.local_l2networks.yaml in Networks-it-uc3m/L2S-M), strict so
// a field L2S-M does not define fails here rather than at `kubectl apply`.
import { isIP } from 'node:net';
import { z } from 'zod';

const cidr = z.string().refine((s) => {
  const [ip, len, ...rest] = s.split('/');
  if (rest.length > 0 || !ip || !len || !/^\d+$/.test(len)) return false;
  const family = isIP(ip);
  return family !== 0 && Number(len) <= (family === 4 ? 32 : 128);
}, 'must be a CIDR such as 10.213.0.0/16');

export const l2NetworkSchema = z
  .object({
    apiVersion: z.literal('l2sm.l2sm.k8s.local/v1'),
    kind: z.literal('L2Network'),
    metadata: z
      .object({
        name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
        namespace: z.string().min(1),
        labels: z.record(z.string(), z.string()).optional(),
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .strict(),
    spec: z
      .object({
        type: z.enum(['ext-vnet', 'vnet', 'vlink']),
        config: z.string().optional(),
        networkCIDR: cidr.optional(),
        podAddressRange: cidr.optional(),
        provider: z
          .object({
            name: z.string(),
            domain: z.array(z.string()),
            ofPort: z.string().optional(),
            sdnPort: z.string().optional(),
            dnsPort: z.string().optional(),
            dnsGrpcPort: z.string().optional(),
          })
          .strict()
          .optional(),
      })
      .strict(),
  })
  .strict();
