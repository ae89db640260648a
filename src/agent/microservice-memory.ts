/**
 * Where each microservice ran, remembered across restarts (`<label>.microservices.json` in the
 * state directory), for the moments before Docker's first container list: a start reads the
 * configuration and resyncs the kernel in a few hundred milliseconds, Docker answers later, or not
 * at all while it is down (containers keep running with `live-restore`). Without a place for a
 * microservice's items then, resync took them for unwanted and deleted what the agent had made in
 * running containers (a VETH pair into a container flapped at every restart, or was gone while
 * Docker was down).
 *
 * A remembered place is used only while it is provably the same: the process still runs with the
 * same start time, in the same network namespace (device and inode). Docker's first list replaces
 * every remembered place (the agent stops asking here once it has one).
 */
import path from 'node:path';
import { namespaceIdentity } from '../netns/index.js';
import { LatestStateWrite, readStateFile, setAside } from './state-file.js';
import { processStartTime } from '../util/process-start.js';

const FORMAT = 1;

export interface RememberedMicroservice {
  pid: number;
  /** The process's start time (clock ticks since boot, /proc/<pid>/stat field 22). */
  started: number;
  /** The network namespace's identity (netns/resolve.ts). */
  identity: string;
  containerId: string;
}

/** Where the process runs now, to be remembered; undefined when it is gone. */
export function placeOf(pid: number, containerId: string): RememberedMicroservice | undefined {
  const started = processStartTime(pid);
  const identity = namespaceIdentity(`/proc/${pid}/ns/net`);
  if (started === undefined || identity === undefined) return undefined;
  return { pid, started, identity, containerId };
}

export class MicroserviceMemory {
  private remembered = new Map<string, RememberedMicroservice>();
  private persist = true;
  private closed = false;
  private readonly writes: LatestStateWrite;

  constructor(
    readonly file: string,
    private readonly onError?: (message: string, error?: unknown) => void,
  ) {
    this.writes = new LatestStateWrite(
      file,
      () =>
        this.remembered.size === 0
          ? undefined
          : JSON.stringify({ format: FORMAT, microservices: Object.fromEntries(this.remembered) }),
      onError,
    );
    this.load();
  }

  static fileFor(stateDir: string, label: string): string {
    return path.join(stateDir, `${label}.microservices.json`);
  }

  /** The pid of `label`'s container as remembered, if that process still runs where it ran. */
  pidOf(label: string): number | undefined {
    const place = this.remembered.get(label);
    if (!place) return undefined;
    const now = placeOf(place.pid, place.containerId);
    if (now && now.started === place.started && now.identity === place.identity) return place.pid;
    this.remembered.delete(label); // gone, or another process under its pid: never again
    return undefined;
  }

  /** Docker's view now (label -> pid and container): written whole, off the event loop. */
  record(microservices: Iterable<{ label: string; pid: number; containerId: string }>): void {
    const places = new Map<string, RememberedMicroservice>();
    for (const m of microservices) {
      const place = placeOf(m.pid, m.containerId);
      if (place) places.set(m.label, place);
    }
    this.remembered = places;
    if (this.persist && !this.closed) this.writes.request();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.writes.settled();
  }

  private load(): void {
    const { text, usable } = readStateFile(
      this.file,
      'where microservices ran is not remembered',
      this.onError,
    );
    this.persist = usable;
    if (text === undefined) return;
    try {
      const parsed = JSON.parse(text) as { format?: unknown; microservices?: unknown };
      const entries = parsed.microservices;
      if (
        parsed.format !== FORMAT ||
        typeof entries !== 'object' ||
        entries === null ||
        Array.isArray(entries)
      )
        throw new Error('not a file of microservices');
      for (const [label, value] of Object.entries(entries as Record<string, unknown>)) {
        const { pid, started, identity, containerId } = (value ?? {}) as Partial<RememberedMicroservice>;
        if (
          Number.isSafeInteger(pid) &&
          pid! > 0 &&
          Number.isSafeInteger(started) &&
          typeof identity === 'string' &&
          typeof containerId === 'string'
        )
          this.remembered.set(label, { pid: pid!, started: started!, identity, containerId });
      }
    } catch (error) {
      if (!setAside(this.file, error, this.onError)) this.persist = false;
    }
  }
}
