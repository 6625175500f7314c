// Kubeconfig files of the lab cluster: self-contained (certificates embedded as *-data), one per
// identity: the admin's (client certificate) for users and tests, and one per component (a token
// from the token file or from the TokenRequest API), so each part runs under its own RBAC.
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

export type KubeUser = { token: string } | { clientCertificateData: string; clientKeyData: string };

export interface KubeconfigSpec {
  /** Cluster and context name, e.g. "lpm-lab-demo". */
  name: string;
  server: string;
  /** The CA certificate, base64 of its PEM. */
  caData: string;
  userName: string;
  user: KubeUser;
}

export function kubeconfigText(k: KubeconfigSpec): string {
  const user =
    'token' in k.user
      ? { token: k.user.token }
      : { 'client-certificate-data': k.user.clientCertificateData, 'client-key-data': k.user.clientKeyData };
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: k.name, cluster: { server: k.server, 'certificate-authority-data': k.caData } }],
    users: [{ name: k.userName, user }],
    contexts: [{ name: k.name, context: { cluster: k.name, user: k.userName } }],
    'current-context': k.name,
    preferences: {},
  };
  return stringify(doc);
}

/** Writes a kubeconfig readable by its owner only (it holds credentials). */
export async function writeKubeconfig(file: string, k: KubeconfigSpec): Promise<void> {
  await writeFile(file, kubeconfigText(k), { mode: 0o600 });
}
