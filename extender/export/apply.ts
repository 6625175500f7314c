// Writes an object by server-side apply: PATCH with content type application/apply-patch+yaml
// (JSON is YAML), fieldManager=lpm and force=true, so the object is created when missing, the
// fields lpm wrote before and no longer sends are removed, and a conflict with another manager
// (e.g. the original LPM exporter, or a hand edit) is resolved in lpm's favour.
// Needs RBAC get, create and patch on the resource in that namespace.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

export const FIELD_MANAGER = 'lpm';

export class ApplyError extends Error {
  override name = 'ApplyError';
}

/** What an API error says, briefly: status code and the Status message when there is one. */
function explain(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  let message: string | undefined;
  try {
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string } | undefined);
    message = body?.message;
  } catch {
    message = undefined;
  }
  const text = message ?? e.message?.split('\n')[0] ?? String(err);
  return e.code ? `HTTP ${e.code}: ${text}` : text;
}

export class ServerSideApplier {
  private readonly api: KubernetesObjectApi;

  constructor(kc: KubeConfig, private readonly fieldManager = FIELD_MANAGER) {
    this.api = KubernetesObjectApi.makeApiClient(kc);
  }

  /** Applies `obj`; returns the object as stored. Throws ApplyError with a message that says what to do. */
  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    try {
      return await this.api.patch(obj, undefined, undefined, this.fieldManager, true, PatchStrategy.ServerSideApply);
    } catch (err) {
      const what = `${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
      const text = explain(err);
      if (/Unrecognized API version and kind|404/.test(text) && !/namespaces? .* not found/.test(text))
        throw new ApplyError(
          `${what}: the API server does not serve ${obj.apiVersion} ${obj.kind} (${text}): install its CRD, ` +
            'e.g. kubectl apply -f manifests/crds/networktopology.yaml',
        );
      throw new ApplyError(`${what}: server-side apply failed: ${text}`);
    }
  }
}
