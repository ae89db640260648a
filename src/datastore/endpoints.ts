/** `--etcd URL[,URL]` as a list of endpoints (pure; no etcd client loaded). */
export function parseEndpoints(etcd: string | readonly string[] | undefined): string[] {
  const list = typeof etcd === 'string' ? etcd.split(',') : [...(etcd ?? [])];
  return list.map((endpoint) => endpoint.trim()).filter((endpoint) => endpoint !== '');
}
