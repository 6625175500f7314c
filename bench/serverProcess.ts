// The server side of the HTTP benchmarks, run as a child process so the load generator and the
// servers do not share one event loop: builds the synthetic cluster, starts the real extender
// (createExtender with a PodIndex, the store the informer-backed cache uses, and a static matrix)
// and the baseline, both on 127.0.0.1 with ephemeral ports, and reports their URLs to the parent.
//
// IPC: parent -> {type:'start', spec}; child -> {type:'ready', extender, baseline, ...} or
// {type:'error', message}; parent -> {type:'stop'}; the child closes both servers and exits.
import type { AddressInfo } from 'node:net';
import { extenderConfigSchema } from '../extender/config.js';
import { createExtender, type Extender } from '../extender/extender.js';
import { DEFAULT_ASSUME_TTL_MS, PodIndex } from '../extender/pods/podIndex.js';
import { StaticSource } from '../extender/sources/static.js';
import { buildBaselineServer } from './baseline.js';
import { buildCluster, buildMatrix, type ClusterSpec } from './cluster.js';

export interface ServerReady {
  type: 'ready';
  extender: string;
  baseline: string;
  pods: number;
  links: number;
  setupMs: number;
}

type Message = { type: 'start'; spec: ClusterSpec } | { type: 'stop' };

async function start(spec: ClusterSpec): Promise<{ ready: ServerReady; close: () => Promise<void> }> {
  const t0 = performance.now();
  const cluster = buildCluster(spec);
  // as the informer-backed cache holds it: choices assumed for 30 s
  const store = new PodIndex({ pods: cluster.pods, assumeTtlMs: DEFAULT_ASSUME_TTL_MS });
  const matrix = buildMatrix(cluster, Date.now() / 1000);
  const config = extenderConfigSchema.parse({ source: { type: 'static', links: [] }, kubernetes: { enabled: false } });
  const ext: Extender = await createExtender({ config, podStore: store, source: new StaticSource({ matrix }, 3600) });
  const extenderUrl = await ext.start({ host: '127.0.0.1', port: 0 });
  await ext.cache.refresh();
  const baseline = buildBaselineServer(config.bodyLimit);
  await baseline.listen({ host: '127.0.0.1', port: 0 });
  const port = (baseline.server.address() as AddressInfo).port;
  return {
    ready: {
      type: 'ready',
      extender: extenderUrl,
      baseline: `http://127.0.0.1:${port}`,
      pods: cluster.pods.length,
      links: matrix.size,
      setupMs: performance.now() - t0,
    },
    close: async () => {
      await ext.close();
      await baseline.close();
    },
  };
}

let close: (() => Promise<void>) | undefined;
process.on('message', (msg: Message) => {
  if (msg.type === 'start') {
    start(msg.spec).then(
      (s) => {
        close = s.close;
        process.send!(s.ready);
      },
      (err: unknown) => process.send!({ type: 'error', message: (err as Error).stack ?? String(err) }),
    );
  } else if (msg.type === 'stop') {
    void (close?.() ?? Promise.resolve()).finally(() => process.exit(0));
  }
});
// the parent died: do not linger
process.on('disconnect', () => process.exit(0));
