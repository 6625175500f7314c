// The extender's whole API over TLS: not only the scheduler verbs but /metrics and the JSON API
// (decisions, links) are served over https by the real server; plain http to the TLS port gets no
// data; with mutual TLS a client without a certificate, or with one from another CA, is refused.
// Throwaway certificates from openssl (skipped when openssl is absent).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent, request, type buildConnector } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { extenderConfigSchema, type ExtenderConfigInput } from '../../extender/config.js';
import { createExtender, type Extender } from '../../extender/extender.js';
import { describeWithCapabilities, missingCapabilities, openssl } from '../helpers/capability.js';

const missing = await missingCapabilities([openssl()]);

const running: Extender[] = [];
const agents: Agent[] = [];
afterAll(async () => {
  await Promise.all(running.map((e) => e.close()));
  await Promise.all(agents.map((a) => a.close()));
});

async function startExt(tls: ExtenderConfigInput['tls'], extra: Partial<ExtenderConfigInput> = {}): Promise<{ ext: Extender; url: string }> {
  const config = extenderConfigSchema.parse({
    source: { type: 'static', links: [{ source: 'b', target: 'a', rtt: '1ms' }] },
    kubernetes: { enabled: false },
    pods: [{ name: 'db-0', labels: { app: 'db' }, nodeName: 'a' }],
    tls,
    ...extra,
  });
  const ext = await createExtender({ config });
  running.push(ext);
  const url = await ext.start({ host: '127.0.0.1', port: 0 });
  await ext.cache.refresh();
  return { ext, url };
}

async function start(tls: ExtenderConfigInput['tls']): Promise<string> {
  return (await startExt(tls)).url;
}

const agent = (connect: buildConnector.BuildOptions) => {
  const a = new Agent({ connect });
  agents.push(a);
  return a;
};

async function fetchText(url: string, dispatcher: Agent, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await request(url, {
    dispatcher,
    ...(body !== undefined ? { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

describeWithCapabilities('extender API and metrics over TLS (openssl certificates)', missing, () => {
  let dir: string;
  const file = (f: string) => join(dir, f);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lpm-extender-tls-api-'));
    const ssl = (...a: string[]) => execa('openssl', a, { cwd: dir });
    writeFileSync(file('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    writeFileSync(file('scheduler-san.cnf'), 'subjectAltName=DNS:lpm-scheduler,DNS:other.example\n');
    // two CAs: the cluster's, and a rogue one whose client certificates must be refused
    for (const ca of ['ca', 'rogue-ca'])
      await ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=lpm-test-${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`);
    for (const [name, ca] of [
      ['server', 'ca'],
      ['client', 'ca'],
      ['rogue-client', 'rogue-ca'],
      ['scheduler', 'ca'],
    ] as const) {
      await ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
      const ext = name === 'server' ? ['-extfile', 'san.cnf'] : name === 'scheduler' ? ['-extfile', 'scheduler-san.cnf'] : [];
      await ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-out', `${name}.crt`, ...ext);
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const scheduleCall = {
    Pod: { metadata: { name: 'web', namespace: 'default', annotations: { 'lpm.l2sm.io/peers': 'app=db' } } },
    Nodes: null,
    NodeNames: ['a', 'b'],
  };

  it('/metrics, /api/v1/decisions, /api/v1/matrix and the verbs over https; plain http to the port gets nothing', async () => {
    const url = await start({ cert: file('server.crt'), key: file('server.key') });
    expect(url).toMatch(/^https:/);
    const trusting = agent({ ca: readFileSync(file('ca.crt')) });
    const p = await fetchText(`${url}/prioritize`, trusting, scheduleCall);
    expect(p.status).toBe(200);
    expect(JSON.parse(p.text)).toEqual([
      { Host: 'a', Score: 10 },
      { Host: 'b', Score: expect.any(Number) },
    ]);
    const metrics = await fetchText(`${url}/metrics`, trusting);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('lpm_extender_decisions_total{verb="prioritize",outcome="scored"} 1');
    const decisions = await fetchText(`${url}/api/v1/decisions?pod=default/web`, trusting);
    expect(decisions.status).toBe(200);
    expect(JSON.parse(decisions.text).decisions[0]).toMatchObject({ verb: 'prioritize', pod: 'default/web', chosen: 'a' });
    const links = await fetchText(`${url}/api/v1/matrix`, trusting);
    expect(JSON.parse(links.text).links).toHaveLength(1);

    // plain http to the TLS port: no answer with data (the TLS handshake fails)
    const plain = await fetchText(url.replace('https:', 'http:') + '/metrics', agent({})).then(
      (r) => r,
      (err: Error) => err,
    );
    if (plain instanceof Error) expect(plain.message).toMatch(/closed|socket|reset|ECONNRESET/i);
    else {
      expect(plain.status).toBeGreaterThanOrEqual(400);
      expect(plain.text).not.toContain('lpm_extender');
    }
    // a client that does not trust our CA refuses the server
    await expect(fetchText(`${url}/metrics`, agent({}))).rejects.toThrow(/certificate/i);
  });

  it('mutual TLS: /metrics and the API need a client certificate from clientCA', async () => {
    const url = await start({ cert: file('server.crt'), key: file('server.key'), clientCA: file('ca.crt') });
    const ca = readFileSync(file('ca.crt'));
    const withCert = agent({ ca, cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) });
    expect((await fetchText(`${url}/metrics`, withCert)).status).toBe(200);
    expect((await fetchText(`${url}/api/v1/decisions`, withCert)).status).toBe(200);
    expect((await fetchText(`${url}/filter`, withCert, scheduleCall)).status).toBe(200);

    const anonymous = agent({ ca });
    const rogue = agent({ ca, cert: readFileSync(file('rogue-client.crt')), key: readFileSync(file('rogue-client.key')) });
    for (const [who, a] of [
      ['no certificate', anonymous],
      ['certificate from another CA', rogue],
    ] as const) {
      for (const path of ['/metrics', '/api/v1/decisions', '/healthz'])
        await expect(fetchText(`${url}${path}`, a), `${who} ${path}`).rejects.toThrow();
      await expect(fetchText(`${url}/prioritize`, a, scheduleCall), `${who} /prioritize`).rejects.toThrow();
    }
    // still serving the legitimate client afterwards
    expect((await fetchText(`${url}/healthz`, withCert)).status).toBe(200);
  });

  it('tls.clientNames: only client certificates naming one of them (CN or DNS SAN) are served; the others get 403', async () => {
    const ca = readFileSync(file('ca.crt'));
    const as = (name: string) => agent({ ca, cert: readFileSync(file(`${name}.crt`)), key: readFileSync(file(`${name}.key`)) });
    // by DNS SAN (the scheduler's certificate: CN=scheduler, SAN lpm-scheduler)
    const bySan = await start({ cert: file('server.crt'), key: file('server.key'), clientCA: file('ca.crt'), clientNames: ['lpm-scheduler'] });
    expect((await fetchText(`${bySan}/prioritize`, as('scheduler'), scheduleCall)).status).toBe(200);
    const refused = await fetchText(`${bySan}/prioritize`, as('client'), scheduleCall);
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.text).Error).toMatch(/client certificate \(client\) is not among tls\.clientNames/);
    expect((await fetchText(`${bySan}/metrics`, as('client'))).status).toBe(403);
    // by subject CN
    const byCn = await start({ cert: file('server.crt'), key: file('server.key'), clientCA: file('ca.crt'), clientNames: ['client'] });
    expect((await fetchText(`${byCn}/filter`, as('client'), scheduleCall)).status).toBe(200);
    expect((await fetchText(`${byCn}/filter`, as('scheduler'), scheduleCall)).status).toBe(403);
    // a certificate from another CA still fails the handshake
    await expect(fetchText(`${byCn}/filter`, as('rogue-client'), scheduleCall)).rejects.toThrow();
    expect(() => extenderConfigSchema.parse({ source: { type: 'static', links: [] }, tls: { cert: 'c', key: 'k', clientNames: ['x'] } })).toThrow(/clientNames needs clientCA/);
  });

  it('the read API on its own listener behind the same mutual TLS and client names', async () => {
    const { ext, url: main } = await startExt(
      { cert: file('server.crt'), key: file('server.key'), clientCA: file('ca.crt'), clientNames: ['lpm-scheduler', 'client'] },
      { readApi: { listen: '127.0.0.1:0' } },
    );
    const api = ext.readApiUrl!;
    expect(api).toMatch(/^https:/);
    const ca = readFileSync(file('ca.crt'));
    const client = agent({ ca, cert: readFileSync(file('client.crt')), key: readFileSync(file('client.key')) });
    expect((await fetchText(`${api}/api/v1/decisions`, client)).status).toBe(200);
    await expect(fetchText(`${api}/api/v1/decisions`, agent({ ca }))).rejects.toThrow();
    // not on the scheduler port any more
    expect((await fetchText(`${main}/api/v1/decisions`, client)).status).toBe(404);
  });
});
