// The lab cluster's keys and certificates, made with openssl (through execa, argument arrays):
// a CA; kube-apiserver's serving certificate for 127.0.0.1/localhost signed by it; an admin client
// certificate (group system:masters) for the kubeconfig users get; and the RSA key pair that signs
// service-account tokens, so the TokenRequest API works without a controller-manager.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  /** Service-account token signing key (private) and its public half. */
  saKey: string;
  saPub: string;
}

/** The first address of the service range: the `kubernetes` Service, named in the serving certificate. */
export const SERVICE_CLUSTER_IP_RANGE = '10.96.0.0/16';
const KUBERNETES_SERVICE_IP = '10.96.0.1';
const DAYS = '3650';

async function openssl(args: string[]): Promise<void> {
  const r = await execa('openssl', args, { reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) {
    const why = r.failed && r.exitCode === undefined ? r.shortMessage : r.stderr.trim();
    throw new Error(`openssl ${args[0]} failed: ${why}${/ENOENT/.test(r.shortMessage ?? '') ? ' (is openssl installed?)' : ''}`);
  }
}

/** subjectAltName and usages of a certificate, as an openssl extension file. */
export function extensionsFile(kind: 'server' | 'client', sans: string[] = []): string {
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${kind === 'server' ? 'serverAuth' : 'clientAuth'}`,
  ];
  if (sans.length) lines.push(`subjectAltName=${sans.join(',')}`);
  return lines.join('\n') + '\n';
}

async function issue(dir: string, name: string, subject: string, ext: string, ca: { cert: string; key: string }) {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  await writeFile(extFile, ext);
  await openssl(['genrsa', '-out', key, '2048']);
  await openssl(['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await openssl([
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-CAserial', join(dir, 'ca.srl'),
    '-days', DAYS, '-sha256', '-extfile', extFile, '-out', cert,
  ]);
  return { cert, key };
}

/** Makes every key and certificate in `dir` (mode 0700). */
export async function makePki(dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await openssl(['genrsa', '-out', caKey, '2048']);
  await openssl(['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=lpm-lab-ca', '-days', DAYS, '-sha256', '-out', caCert]);
  const ca = { cert: caCert, key: caKey };
  const serving = await issue(
    dir,
    'apiserver',
    '/CN=kube-apiserver',
    extensionsFile('server', [
      'IP:127.0.0.1',
      'DNS:localhost',
      `IP:${KUBERNETES_SERVICE_IP}`,
      'DNS:kubernetes',
      'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc',
    ]),
    ca,
  );
  const admin = await issue(dir, 'admin', '/O=system:masters/CN=lpm-lab-admin', extensionsFile('client'), ca);
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  await openssl(['genrsa', '-out', saKey, '2048']);
  await openssl(['rsa', '-in', saKey, '-pubout', '-out', saPub]);
  return {
    caCert,
    caKey,
    servingCert: serving.cert,
    servingKey: serving.key,
    adminCert: admin.cert,
    adminKey: admin.key,
    saKey,
    saPub,
  };
}

/** PEM files read as base64, for `*-data` fields of a kubeconfig. */
export async function base64File(file: string): Promise<string> {
  return (await readFile(file)).toString('base64');
}
