/**
 * The kernel read by netnsctl itself, for a report made while the agent does not answer (when a
 * report is most wanted): the default namespace and every named one (/var/run/netns, what
 * `ip netns list` shows), in the shape of GET /v1/kernel. Marks are read for the label given; the
 * namespaces only the agent knows (a process's, a container's, another file) are not found here.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { dumpNamespace, type NamespaceDump } from '../../agent/kernel-view.js';
import { NetlinkHandle } from '../../netlink/index.js';
import { NAMED_NAMESPACE_DIR } from '../../netns/ref.js';

export interface KernelRead {
  namespaces: NamespaceDump[];
  /** Namespaces that could not be read, with why (e.g. not root). */
  unread: { namespace: string; error: string }[];
}

export async function readKernel(label: string, namedDir = NAMED_NAMESPACE_DIR): Promise<KernelRead> {
  const places: { id: string; path: string | null }[] = [{ id: 'default', path: null }];
  let names: string[] = [];
  try {
    names = readdirSync(namedDir).sort();
  } catch {
    // no named namespace was ever made here
  }
  for (const name of names) places.push({ id: `named/${name}`, path: path.join(namedDir, name) });
  const read: KernelRead = { namespaces: [], unread: [] };
  for (const place of places) {
    let handle: NetlinkHandle | undefined;
    try {
      handle = new NetlinkHandle({ namespacePath: place.path, label: place.id });
      read.namespaces.push(await dumpNamespace(place.id, handle, label));
    } catch (error) {
      read.unread.push({
        namespace: place.id,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      handle?.close();
    }
  }
  return read;
}
