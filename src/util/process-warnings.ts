/**
 * Node's process warnings, routed: the default printer writes plain text to stderr, between the
 * daemon's JSON log lines, and one of them is noise for users.
 */

/**
 * DEP0123, "Setting the TLS ServerName to an IP address is not permitted by RFC 6066": the gRPC
 * library sets it for an `https://IP:PORT` etcd endpoint. Nothing to act on (the certificate is
 * still checked against that IP), and printed at every start.
 */
const IGNORED = new Set(['DEP0123']);

/** Replaces the default printer of process warnings with `report`, leaving out the ignored ones. */
export function routeProcessWarnings(report: (warning: Error & { code?: string }) => void): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code !== undefined && IGNORED.has(warning.code)) return;
    report(warning);
  });
}
