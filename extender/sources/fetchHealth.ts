// The last success and the last error of one upstream a source fetches from (Prometheus, an
// agent), for the sources' status() in the extender's source endpoint.
export class FetchHealth {
  lastSuccess: number | undefined;
  lastError: string | undefined;

  /** Runs `fetch`, noting when it succeeded or why it failed; its error is rethrown. */
  async track<T>(fetch: () => Promise<T>): Promise<T> {
    try {
      const value = await fetch();
      this.lastSuccess = Date.now() / 1000;
      this.lastError = undefined;
      return value;
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
  }

  status(): { lastSuccess: number | null; lastError: string | null } {
    return { lastSuccess: this.lastSuccess ?? null, lastError: this.lastError ?? null };
  }
}
