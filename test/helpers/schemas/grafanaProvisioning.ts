// Grafana provisioning files (apiVersion 1): datasources and dashboard providers, the fields of
// Grafana's provisioning docs that we use or might, strict so a misspelt key fails the test
// (Grafana itself ignores unknown keys silently, which is worse).
import { z } from 'zod';

export const grafanaDatasourcesSchema = z
  .object({
    apiVersion: z.literal(1),
    deleteDatasources: z.array(z.object({ name: z.string(), orgId: z.number().int().optional() }).strict()).optional(),
    datasources: z
      .array(
        z
          .object({
            name: z.string().min(1),
            uid: z.string().min(1).max(40).optional(),
            type: z.string().min(1),
            access: z.enum(['proxy', 'direct']).optional(),
            orgId: z.number().int().optional(),
            url: z.string().url(),
            isDefault: z.boolean().optional(),
            editable: z.boolean().optional(),
            version: z.number().int().optional(),
            basicAuth: z.boolean().optional(),
            jsonData: z.record(z.string(), z.unknown()).optional(),
            secureJsonData: z.record(z.string(), z.string()).optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export const grafanaDashboardProvidersSchema = z
  .object({
    apiVersion: z.literal(1),
    providers: z
      .array(
        z
          .object({
            name: z.string().min(1),
            orgId: z.number().int().optional(),
            folder: z.string().optional(),
            folderUid: z.string().optional(),
            type: z.literal('file'),
            disableDeletion: z.boolean().optional(),
            allowUiUpdates: z.boolean().optional(),
            updateIntervalSeconds: z.number().int().positive().optional(),
            options: z.object({ path: z.string().startsWith('/'), foldersFromFilesStructure: z.boolean().optional() }).strict(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();
