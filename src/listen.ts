// A server that cannot bind its address is a start-up failure, not something to retry or run
// without: the components turn the socket error into a ListenError, stop what they started, and
// the command framework prints it as one line (`lpm extender: cannot listen on HOST:PORT: why`).
import { createServer } from 'node:net';

const REASONS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)',
  EPERM: 'operation not permitted',
  EADDRNOTAVAIL: 'address not available on this host',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EAFNOSUPPORT: 'address family not supported',
};

/** "127.0.0.1:8888", "[::1]:8888". */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class ListenError extends Error {
  override name = 'ListenError';
  constructor(
    /** HOST:PORT that could not be bound. */
    readonly address: string,
    /** Why, in words ("address already in use"). */
    readonly reason: string,
    /** The socket error code (EADDRINUSE, ...), when there was one. */
    readonly code?: string,
  ) {
    super(`cannot listen on ${address}: ${reason}`);
  }
}

/**
 * The ListenError for a failed listen()/bind() on host:port (port 0: any port); `what` says which
 * socket when a process has several ("UDP, link a->b").
 */
export function listenError(err: unknown, host: string, port: number, what?: string): ListenError {
  if (err instanceof ListenError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = (code && REASONS[code]) ?? (err instanceof Error ? err.message : String(err));
  return new ListenError(`${formatHostPort(host, port)}${what ? ` (${what})` : ''}`, reason, code);
}

/**
 * Fails fast, before a long set-up, when host:port cannot be bound now (a ListenError). Only a
 * hint: the port may be taken between this check and the real listen, which must still handle it.
 */
export async function checkCanListen(host: string, port: number): Promise<void> {
  const srv = createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', (err) => reject(listenError(err, host, port)));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve()));
  });
}
