// KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), the fields of k8s.io/kube-scheduler
// config/v1 types.go we may use, strict: kube-scheduler decodes its config strictly and refuses
// unknown fields, so a typo here would keep lpm-scheduler from starting.
import { z } from 'zod';

/** Go time.Duration text as metav1.Duration accepts it: "1s", "500ms", "1m30s". */
const goDuration = z.string().regex(/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/, 'must be a Go duration such as 1s or 500ms');

const pluginSet = z
  .object({
    enabled: z.array(z.object({ name: z.string().min(1), weight: z.number().int().optional() }).strict()).optional(),
    disabled: z.array(z.object({ name: z.string().min(1) }).strict()).optional(),
  })
  .strict();

const profile = z
  .object({
    schedulerName: z.string().min(1),
    percentageOfNodesToScore: z.number().int().min(0).max(100).optional(),
    plugins: z.record(z.string(), pluginSet).optional(),
    pluginConfig: z.array(z.object({ name: z.string(), args: z.unknown() }).strict()).optional(),
  })
  .strict();

export const extenderSchema = z
  .object({
    urlPrefix: z.string().url(),
    filterVerb: z.string().optional(),
    preemptVerb: z.string().optional(),
    prioritizeVerb: z.string().optional(),
    weight: z.number().int().positive().optional(),
    bindVerb: z.string().optional(),
    enableHTTPS: z.boolean().optional(),
    tlsConfig: z
      .object({
        insecure: z.boolean().optional(),
        serverName: z.string().optional(),
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
        caFile: z.string().optional(),
        certData: z.string().optional(),
        keyData: z.string().optional(),
        caData: z.string().optional(),
      })
      .strict()
      .optional(),
    httpTimeout: goDuration.optional(),
    nodeCacheCapable: z.boolean().optional(),
    managedResources: z.array(z.object({ name: z.string(), ignoredByScheduler: z.boolean().optional() }).strict()).optional(),
    ignorable: z.boolean().optional(),
  })
  .strict()
  // kube-scheduler's validation: an extender that prioritizes needs a positive weight.
  .refine((e) => !e.prioritizeVerb || (e.weight ?? 0) > 0, { message: 'prioritizeVerb needs weight > 0', path: ['weight'] });

export const kubeSchedulerConfigurationSchema = z
  .object({
    apiVersion: z.literal('kubescheduler.config.k8s.io/v1'),
    kind: z.literal('KubeSchedulerConfiguration'),
    parallelism: z.number().int().positive().optional(),
    leaderElection: z
      .object({
        leaderElect: z.boolean().optional(),
        leaseDuration: goDuration.optional(),
        renewDeadline: goDuration.optional(),
        retryPeriod: goDuration.optional(),
        resourceLock: z.enum(['leases', 'endpointsleases', 'configmapsleases']).optional(),
        resourceName: z.string().optional(),
        resourceNamespace: z.string().optional(),
      })
      .strict()
      .optional(),
    clientConnection: z
      .object({
        kubeconfig: z.string().optional(),
        acceptContentTypes: z.string().optional(),
        contentType: z.string().optional(),
        qps: z.number().optional(),
        burst: z.number().int().optional(),
      })
      .strict()
      .optional(),
    enableProfiling: z.boolean().optional(),
    enableContentionProfiling: z.boolean().optional(),
    percentageOfNodesToScore: z.number().int().min(0).max(100).optional(),
    podInitialBackoffSeconds: z.number().int().positive().optional(),
    podMaxBackoffSeconds: z.number().int().positive().optional(),
    profiles: z.array(profile).min(1).optional(),
    extenders: z.array(extenderSchema).optional(),
    delayCacheUntilActive: z.boolean().optional(),
  })
  .strict();

export type KubeSchedulerConfiguration = z.infer<typeof kubeSchedulerConfigurationSchema>;
