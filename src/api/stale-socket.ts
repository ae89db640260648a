/**
 * A unix socket file left by an agent that did not close its server (killed, crashed): nothing
 * listens on it, yet listen() on its path fails with EADDRINUSE, so the next start could not serve
 * its API at all. Such a file is removed; one something still listens on, or any other kind of
 * file, is left for listen() to refuse.
 */
import { lstat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';

function nobodyListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** Removes the socket file at `path` when nothing listens on it; true when it did. */
export async function removeStaleSocket(path: string): Promise<boolean> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat?.isSocket()) return false;
  if (!(await nobodyListens(path))) return false;
  await unlink(path).catch(() => undefined);
  return true;
}
