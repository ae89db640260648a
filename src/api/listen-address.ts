/** The API's listen address as users write it: HOST:PORT, [IPv6]:PORT, :PORT or unix:/path. */
export function parseListen(listen: string): { path: string } | { host: string; port: number } {
  if (listen.startsWith('unix:')) return { path: listen.slice(5) };
  const colon = listen.lastIndexOf(':');
  const host = colon > 0 ? listen.slice(0, colon).replace(/^\[|\]$/g, '') : '127.0.0.1';
  const port = Number(listen.slice(colon + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad listen address ${listen}`);
  return { host, port };
}
