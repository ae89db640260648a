/**
 * The body of the background checkpointer (see checkpointer.ts): a worker thread with its own
 * connection that copies the WAL into the database file every few milliseconds, so that nobody's
 * commit has to. A checkpoint syncs the WAL and then the database file (synchronous=FULL), which is
 * what makes it safe after writes that were committed without syncing.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';

interface CheckpointWorkerData {
  file: string;
  intervalMs: number;
}

const { file, intervalMs } = workerData as CheckpointWorkerData;
// A checkpoint that meets a busy file is simply tried again at the next tick.
const db = new Database(file, { timeout: 0, fileMustExist: true });
db.pragma('synchronous = FULL');
db.pragma('wal_autocheckpoint = 0');

const timer = setInterval(() => {
  try {
    // PASSIVE: never waits for readers or writers; frames still in use are copied next time.
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch {
    // busy, or the file went away: the owner closes us or tries again
  }
}, intervalMs);

parentPort?.on('message', (message: unknown) => {
  if (message !== 'close') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
