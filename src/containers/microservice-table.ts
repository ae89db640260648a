/**
 * The pure heart of the watcher: which running containers carry which microservice label, and which
 * one of them each label resolves to. Every mutation returns the changes consumers must hear about,
 * so the watcher only forwards them and tests check them without Docker.
 *
 * When several running containers carry one label, the most recently started one wins (ties broken
 * by id, so every replica of the agent picks the same); the others are remembered, so that when the
 * winner stops the next newest takes over without a re-list.
 */
import { microserviceLabelOf, startedAtNanos } from './container-details.js';
import type { ContainerDetails } from './docker-api.js';

/** A running container that runs a microservice. */
export interface Microservice {
  label: string;
  containerId: string;
  /** Container name without Docker's leading slash. */
  name: string;
  /** Host PID of its init process: its network namespace is /proc/<pid>/ns/net. */
  pid: number;
  /** RFC 3339 start time as Docker reports it. */
  startedAt: string;
}

export type TableChange =
  /** The label now resolves to `microservice`: it was not running, or its container or pid changed. */
  | { kind: 'up'; microservice: Microservice; previous: Microservice | undefined }
  /** No running container carries the label any more. */
  | { kind: 'down'; label: string; previous: Microservice }
  /** A container started with a label another running container already has. */
  | { kind: 'duplicate'; label: string; winner: Microservice; others: Microservice[] };

export class MicroserviceTable {
  /** Every running container that carries a label, by id. */
  private readonly byId = new Map<string, Microservice>();
  /** The container each label resolves to. */
  private readonly winners = new Map<string, Microservice>();

  /** The container `label` resolves to, if one runs. */
  get(label: string): Microservice | undefined {
    return this.winners.get(label);
  }

  /** The label of a running container we know of. */
  labelOf(containerId: string): string | undefined {
    return this.byId.get(containerId)?.label;
  }

  /** Ids of all running labelled containers, winners or not. */
  containerIds(): string[] {
    return [...this.byId.keys()];
  }

  /** The winner of every label, sorted by label. */
  microservices(): Microservice[] {
    return [...this.winners.values()].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  }

  /** Records what Docker says of a container now; a stopped or unlabelled container is forgotten. */
  update(details: ContainerDetails): TableChange[] {
    const label = details.running && details.pid > 0 ? microserviceLabelOf(details.env) : undefined;
    if (label === undefined) return this.remove(details.id);

    const previous = this.byId.get(details.id);
    const changes: TableChange[] = [];
    if (previous !== undefined && previous.label !== label) changes.push(...this.remove(details.id));
    const record: Microservice = {
      label,
      containerId: details.id,
      name: details.name,
      pid: details.pid,
      startedAt: details.startedAt,
    };
    this.byId.set(details.id, record);
    changes.push(...this.elect(label));

    const isNewcomer = previous === undefined || previous.label !== label;
    const candidates = this.candidates(label);
    const winner = this.winners.get(label);
    if (isNewcomer && candidates.length > 1 && winner !== undefined) {
      const others = candidates.filter((c) => c.containerId !== winner.containerId);
      changes.push({ kind: 'duplicate', label, winner, others });
    }
    return changes;
  }

  /** Forgets a container (it stopped, died or was removed). */
  remove(containerId: string): TableChange[] {
    const previous = this.byId.get(containerId);
    if (previous === undefined) return [];
    this.byId.delete(containerId);
    return this.elect(previous.label);
  }

  private candidates(label: string): Microservice[] {
    return [...this.byId.values()].filter((m) => m.label === label);
  }

  /** Re-chooses the container of `label` and reports whether what it resolves to changed. */
  private elect(label: string): TableChange[] {
    const before = this.winners.get(label);
    const after = newest(this.candidates(label));
    if (after === undefined) {
      this.winners.delete(label);
      return before === undefined ? [] : [{ kind: 'down', label, previous: before }];
    }
    this.winners.set(label, after);
    if (before !== undefined && sameContainerProcess(before, after)) return [];
    return [{ kind: 'up', microservice: after, previous: before }];
  }
}

function sameContainerProcess(a: Microservice, b: Microservice): boolean {
  return a.containerId === b.containerId && a.pid === b.pid && a.startedAt === b.startedAt;
}

/** The most recently started container; equal start times fall back to the greater id. */
function newest(candidates: Microservice[]): Microservice | undefined {
  let best: Microservice | undefined;
  let bestTime = 0n;
  for (const candidate of candidates) {
    const time = startedAtNanos(candidate.startedAt);
    if (
      best === undefined ||
      time > bestTime ||
      (time === bestTime && candidate.containerId > best.containerId)
    ) {
      best = candidate;
      bestTime = time;
    }
  }
  return best;
}
