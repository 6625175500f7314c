// The baseline the extender is compared with: fastify with the extender's server options and
// body parsing, routes that parse the same ExtenderArgs body and answer a fixed decision of the
// right shape without looking at pods or links: prioritize gives every node Score 0, filter
// passes every node (in NodeList mode that means echoing the Node objects back, as any filter
// must). What is left between the two is the extender's own work.
import Fastify, { type FastifyInstance } from 'fastify';

const nodeNamesOf = (body: Record<string, unknown>): string[] => {
  const names = body.NodeNames;
  if (Array.isArray(names)) return names as string[];
  const items = (body.Nodes as { items?: Array<{ metadata: { name: string } }> } | null)?.items ?? [];
  return items.map((n) => n.metadata.name);
};

export function buildBaselineServer(bodyLimit: number): FastifyInstance {
  // the same options as extender/server.ts buildServer
  const app = Fastify({ bodyLimit, disableRequestLogging: true, keepAliveTimeout: 65_000 }) as unknown as FastifyInstance;
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.post('/prioritize', async (request) => {
    return nodeNamesOf(request.body as Record<string, unknown>).map((Host) => ({ Host, Score: 0 }));
  });
  app.post('/filter', async (request) => {
    const body = request.body as Record<string, unknown>;
    if (Array.isArray(body.NodeNames))
      return { Nodes: null, NodeNames: body.NodeNames, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' };
    return { Nodes: body.Nodes, NodeNames: null, FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' };
  });
  return app;
}
