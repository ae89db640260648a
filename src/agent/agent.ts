/**
 * The agent: datastore watch -> model -> engine -> Linux descriptors -> kernel, with kernel and
 * Docker events coming back as facts; the HTTP API, metrics and interface state publishing on the
 * side. start() opens everything and applies the stored configuration (with a kernel resync);
 * stop() lets the running transaction finish and closes everything, leaving the kernel configured.
 */
import { ClosedError } from '../errors.js';
import path from 'node:path';
import { configKeyProblem, configPrefix } from '../model/index.js';
import { Engine } from '../scheduler/index.js';
import type { Datastore, Watcher } from '../datastore/types.js';
import { openDatastoreLazily } from '../datastore/open-lazy.js';
import { DEFAULT_STORE_FILE } from '../datastore/sqlite/store.js';
import type { MicroserviceWatcher } from '../containers/watcher.js';
import { MicroserviceMemory } from './microservice-memory.js';
import { FileUsedNamespaces } from './used-namespaces-file.js';
import { LinuxPlugin } from '../descriptors/linux-plugin.js';
import { parseAddressItem } from '../descriptors/fact-keys.js';
import { AgentMetrics } from '../api/metrics.js';
import { startApi, type ApiServer } from '../api/server.js';
import { createLogger, RecentLines, type Logger } from './logger.js';
import type { EtcdTlsOptions } from '../datastore/etcd/tls-options.js';
import type { EtcdAuthOptions } from '../datastore/etcd/auth-options.js';
import { ConfigSync } from './config-sync.js';
import { FileOriginals } from './originals-file.js';
import { FileLastValid } from './last-valid-file.js';
import { AgentApiService } from './service.js';
import { LabelLock } from './label-lock.js';
import { InterfaceStatePublisher } from './status-publisher.js';
import { makeDirectories } from '../util/make-directories.js';

export interface AgentOptions {
  label: string;
  /** etcd endpoints; none: the embedded store. */
  etcd?: string[];
  /** TLS to etcd: `--etcd-ca`, `--etcd-cert`, `--etcd-key`. */
  etcdTls?: EtcdTlsOptions;
  /** etcd's user and password: `--etcd-user`. */
  etcdAuth?: EtcdAuthOptions;
  storeFile?: string;
  /**
   * Where the agent keeps what is its own to know across restarts (the book of originals, see
   * src/agent/originals-file.ts); default: the embedded store's directory, /var/lib/netns-agent.
   */
  stateDir?: string;
  /** Where the one-agent-per-label lock files are (label-lock.ts); /run/netns-agent by default. */
  lockDir?: string;
  /** HOST:PORT or unix:/path; empty string: no HTTP API. */
  http: string;
  httpToken?: string;
  logLevel?: string;
  /** false: do not watch Docker (microservice references then stay pending). */
  docker?: boolean;
  statusIntervalMs?: number;
  logger?: Logger;
  /** How the program was loaded (bin/netns-agent's code cache), shown by /v1/about. */
  codeCache?: object;
}

export class Agent {
  readonly logger: Logger;
  /** Each key's last valid value, for a value made invalid while the agent is down. */
  private readonly lastValid: FileLastValid;
  readonly engine: Engine;
  readonly plugin: LinuxPlugin;
  readonly metrics = new AgentMetrics();
  private store: Datastore | undefined;
  private watcher: Watcher | undefined;
  private api: ApiServer | undefined;
  private microservices: MicroserviceWatcher | undefined;
  private microserviceMemory: MicroserviceMemory | undefined;
  private readonly usedNamespaces: FileUsedNamespaces;
  /** Where the agent keeps its state files (shown in /v1/about, for `netnsctl report`). */
  private readonly stateDir: string;
  /** Keys under the configuration prefix that cannot be items, with why and since when. */
  private readonly ignoredKeys = new Map<string, { problem: string; since: string }>();
  /** Docker's first container list is in: the watcher alone says where microservices run. */
  private dockerListed = false;
  private publisher: InterfaceStatePublisher | undefined;
  private service: AgentApiService | undefined;
  private labelLock: LabelLock | undefined;
  private stopped: Promise<void> | undefined;
  private readonly dockerHost = process.env.DOCKER_HOST;
  private readonly recentLogs = new RecentLines();

  constructor(private readonly options: AgentOptions) {
    this.logger =
      options.logger ?? createLogger((options.logLevel ?? 'info') as 'info', undefined, this.recentLogs);
    this.engine = new Engine({
      hooks: {
        transaction: (record, kept) => {
          const failed = record.counts.failed > 0;
          this.metrics.observeTransaction(record.durationMs / 1000, !failed);
          // As the history: not for a kernel notification that changed nothing (thousands of them).
          if (kept)
            this.service?.emit({
              type: 'transaction',
              data: { seq: record.seq, counts: record.counts, durationMs: record.durationMs },
            });
          if (record.counts.create + record.counts.update + record.counts.delete + record.counts.failed > 0) {
            this.logger.info(
              { seq: record.seq, counts: record.counts, ms: Math.round(record.durationMs) },
              'transaction',
            );
          }
        },
        operation: (op) => {
          this.metrics.observeOperation(op.kind, op.outcome);
          // Every kernel operation, for whoever follows one item closely (--log-level debug).
          if (this.logger.isLevelEnabled('debug'))
            this.logger.debug(
              {
                key: op.key,
                op: op.recreate ? `re${op.kind}` : op.kind,
                why: op.why,
                outcome: op.outcome,
                ms: Math.round(op.durationMs * 10) / 10,
                ...(op.error ? { error: op.error.message } : {}),
                ...(op.skippedBecause ? { skippedBecause: op.skippedBecause } : {}),
              },
              'operation',
            );
        },
      },
    });
    // The Docker watcher is created in start() (its client is loaded only when Docker is watched);
    // the plugin reaches it through this small facade.
    // Before anything is read or opened: a second agent of this label would undo the first one's
    // work (and its start would read, maybe set aside, the first one's state files).
    this.labelLock = LabelLock.acquire(options.label, options.lockDir);
    const stateDir = (this.stateDir =
      options.stateDir ??
      path.dirname(options.etcd?.length ? DEFAULT_STORE_FILE : (options.storeFile ?? DEFAULT_STORE_FILE)));
    const warn = (message: string, error?: unknown): void =>
      this.logger.warn({ error: error instanceof Error ? error.message : String(error) }, message);
    this.lastValid = new FileLastValid(FileLastValid.fileFor(stateDir, options.label), warn);
    this.usedNamespaces = new FileUsedNamespaces(FileUsedNamespaces.fileFor(stateDir, options.label), warn);
    // Also without Docker: a microservice stays where the agent last saw it, while that process
    // runs (a restart with --no-docker must not cut every container off).
    this.microserviceMemory = new MicroserviceMemory(
      MicroserviceMemory.fileFor(stateDir, options.label),
      warn,
    );
    this.plugin = new LinuxPlugin({
      label: options.label,
      engine: this.engine,
      logger: this.logger,
      originals: new FileOriginals(FileOriginals.fileFor(stateDir, options.label), { onError: warn }),
      usedNamespaces: this.usedNamespaces,
      ...(options.docker !== false
        ? {
            microservices: {
              // Until Docker's first list, where a microservice ran before the restart, if that
              // process still runs there (microservice-memory.ts): not "not running".
              pidOf: (label: string) => {
                try {
                  return (
                    this.microservices?.get(label)?.pid ??
                    (this.dockerListed ? undefined : this.microserviceMemory?.pidOf(label))
                  );
                } catch {
                  return undefined; // the watcher is closed: stopping, after the engine
                }
              },
              on: (event: 'microservice-up' | 'microservice-down', listener: () => void) =>
                this.microservices?.on(event, listener),
              listed: () => this.dockerListed,
            },
          }
        : {
            microservices: {
              // Not followed (no Docker): only where each one ran when the agent last saw it.
              pidOf: (label: string) => this.microserviceMemory?.pidOf(label),
              on: () => undefined,
              listed: () => false,
            },
          }),
    });
  }

  get address(): string | undefined {
    return this.api?.address;
  }

  /** Item states as the API shows them (reasons explained, interface kernel state attached). */
  status(): import('../api/service.js').ItemStatus[] {
    return this.service?.status() ?? [];
  }

  statusOf(key: string): import('../api/service.js').ItemStatus | undefined {
    return this.service?.statusOf(key);
  }

  async start(): Promise<void> {
    const { options, logger } = this;
    if (!options.etcd?.length) {
      const file = options.storeFile ?? DEFAULT_STORE_FILE;
      makeDirectories(path.dirname(file), 0o700);
    }
    this.store = await openDatastoreLazily({
      ...(options.etcd?.length ? { etcd: options.etcd } : {}),
      etcdOptions: {
        ...(options.etcdTls ? { tls: options.etcdTls } : {}),
        ...(options.etcdAuth ? { auth: options.etcdAuth } : {}),
      },
      ...(options.storeFile ? { file: options.storeFile } : {}),
      sqlite: { backgroundCheckpoints: true },
    });
    logger.info({ label: options.label, store: this.store.kind }, 'starting');
    this.metrics.datastoreUsed(this.store.kind);
    if (options.docker !== false) {
      const [{ MicroserviceWatcher: Watcher }, { DockerodeApi }] = await Promise.all([
        import('../containers/watcher.js'),
        import('../containers/dockerode-api.js'),
      ]);
      // DOCKER_HOST as it was when the agent was made (a unix socket path; other forms are left to
      // the Docker client, which reads the variable itself).
      const host = this.dockerHost;
      const socketPath =
        host === undefined || host === ''
          ? undefined
          : host.startsWith('unix://')
            ? host.slice(7)
            : host.startsWith('/')
              ? host
              : undefined;
      this.microservices = new Watcher({
        docker: new DockerodeApi(socketPath ? { socketPath } : {}),
        endpoint: host || '/var/run/docker.sock',
        logger: {
          info: (fields: object, message: string) =>
            this.logger.info({ component: 'docker', ...fields }, message),
          warn: (fields: object, message: string) =>
            this.logger.warn({ component: 'docker', ...fields }, message),
        },
      });
    }
    if (this.microservices) {
      const watcher = this.microservices;
      // Only Docker's whole list replaces what is remembered: while the first list is read, each
      // container inspected would otherwise make the memory forget the others not yet inspected.
      const remember = (): void => {
        if (this.dockerListed) this.microserviceMemory?.record(watcher.list());
      };
      watcher.on('microservice-up', remember);
      watcher.on('microservice-down', remember);
      void watcher.ready.then(
        () => {
          this.dockerListed = true;
          remember();
        },
        () => undefined,
      );
    }

    this.publisher = new InterfaceStatePublisher(
      options.label,
      this.engine,
      this.plugin.views,
      this.store,
      options.statusIntervalMs,
    );
    this.service = new AgentApiService(
      this.engine,
      this.store,
      this.plugin.views,
      this.metrics,
      this.publisher,
      options.label,
    );
    this.metrics.setNetlinkTotals(() => this.plugin.views.netlinkTotals());
    this.service.setReachability(
      (nsId, host, gateway, table, without, withoutRoutes) =>
        this.plugin.facts.reachableNow(nsId, host, gateway, table, without, withoutRoutes),
      (nsIds) => this.plugin.facts.loadTables(nsIds),
    );
    this.service.setAbout(
      {
        label: options.label,
        stateDir: this.stateDir,
        store: this.store.kind,
        http: options.http,
        docker: options.docker !== false,
        startedAt: new Date().toISOString(),
        ...(options.codeCache ? { codeCache: options.codeCache } : {}),
      },
      () => this.recentLogs.list(),
    );
    this.service.setNamespaceProblem((nsId) => this.plugin.namespaceProblem(nsId));
    this.service.setIgnoredKeys(() => this.ignoredKeys);
    if (this.microservices) {
      const watcher = this.microservices;
      this.service.setMicroserviceReason((label) => watcher.pendingReason(label));
      this.service.setContainerLookup((label) => watcher.get(label));
    } else {
      this.service.setMicroserviceReason(
        (label) => `waiting for microservice ${label} (Docker is not watched: --no-docker)`,
      );
    }
    const service = this.service;
    this.metrics.setItemCounts(() => service.statusCounts());
    this.engine.onStatus((changes) => {
      // What users see: config items, each with its addresses folded in (an address that fails
      // or waits shows on its interface, status-rollup.ts).
      const seen = new Set<string>();
      for (const change of changes) {
        const key = change.origin === 'config' ? change.key : parseAddressItem(change.key)?.interfaceKey;
        if (key === undefined || seen.has(key)) continue;
        seen.add(key);
        const status =
          change.origin === 'config' ? (service.engineStatusOf(key) ?? change) : service.engineStatusOf(key);
        if (!status || status.origin !== 'config') continue;
        service.emit({
          type: 'state',
          data: {
            key: status.key,
            state: status.state,
            reason: status.reason,
            error: status.error?.message,
            fieldErrors: status.fieldErrors,
            updatedAt: new Date(status.updatedAt).toISOString(),
          },
        });
        if (status.state === 'invalid')
          logger.warn({ key: status.key, errors: status.fieldErrors }, 'invalid value');
        if (status.state === 'failed')
          logger.warn({ key: status.key, error: status.error?.message }, 'operation failed');
      }
    });
    // Listening before the kernel is touched: an address in use (another agent's, of another
    // label, on the default port) stops the start before this agent has changed anything.
    if (options.http) {
      this.api = await startApi(this.service, {
        listen: options.http,
        ...(options.httpToken ? { token: options.httpToken } : {}),
        warn: (message) => logger.warn(message),
      });
      logger.info({ address: this.api.address }, 'HTTP API listening');
    }
    await this.plugin.start();
    this.microservices?.start();

    this.plugin.views.on('links', (view, changes) => {
      if (view.id !== 'default') return;
      for (const change of changes) {
        // A rename says the name it had: whoever waits for a link by name learns that name is gone.
        const renamedFrom =
          change.kind === 'changed' && change.previous && change.previous.name !== change.link.name
            ? { previousName: change.previous.name }
            : {};
        this.service?.emit({
          type: 'link',
          data: { kind: change.kind, name: change.link.name, ifindex: change.link.index, ...renamedFrom },
        });
      }
    });

    const sync = new ConfigSync(
      this.engine,
      (refs) => this.plugin.setReferencedNamespaces(refs),
      (entries) => this.plugin.prepare(entries),
      this.lastValid,
      {
        holders: (entries) => this.plugin.claimHolders(entries),
        claimsOf: (entry) => this.plugin.claimsOf(entry),
      },
    );
    let datastoreLost = false;
    let datastoreInSync = false;
    /** A loss was logged at warn in the outage now (once per outage, or once before the first sync). */
    let datastoreLostSaid = false;
    const firstRead = new Promise<void>((resolve) => {
      this.watcher = this.store!.watch(configPrefix(options.label), {
        onEvent: (event) => {
          if (event.type === 'resync')
            this.noteIgnoredKeys(
              event.items.map((item) => item.key),
              true,
            );
          else if (event.type === 'changes') {
            for (const c of event.changes) if (c.type === 'delete') this.ignoredKeys.delete(c.key);
            this.noteIgnoredKeys(event.changes.filter((c) => c.type !== 'delete').map((c) => c.key));
          }
          if (event.type === 'resync') {
            this.service?.noteConfigurationRead();
            logger.info(
              { reason: event.reason, items: event.items.length, revision: event.revision },
              'full read of the configuration',
            );
            void sync.replaceAll(event.items).then(
              () => {
                this.service?.noteStatesKnown();
                this.service?.noteTakenIn(event.revision, true);
                this.plugin.fullReadApplied();
                // The status keys may have gone with the store's data: compared again, all of them.
                this.publisher?.storeRead();
                resolve();
              },
              (error: unknown) => {
                logger.error({ error: String(error) }, 'applying the configuration failed');
                this.service?.noteStatesKnown();
                this.plugin.startingReadOver();
                resolve();
              },
            );
          } else if (event.type === 'changes') {
            void sync.apply(event.changes).then(
              () => this.service?.noteTakenIn(event.revision),
              (error: unknown) => {
                // Stopping: what was not applied is in the store, applied at the next start.
                if (error instanceof ClosedError)
                  logger.info({ keys: event.changes.length }, 'changes not applied: the agent is stopping');
                else {
                  logger.error({ error: String(error) }, 'applying changes failed');
                  this.service?.noteTakenIn(event.revision);
                }
              },
            );
          } else if (event.type === 'state') {
            const fields = { state: event.state, error: event.error?.message };
            // An outage is said once at warn (alerts on warn see it), its retries at debug, its end at info.
            if (event.state === 'lost' && !datastoreLostSaid) {
              logger.warn(
                { ...fields, kernel: 'kept as it is until the datastore is back' },
                'datastore watch',
              );
              datastoreLostSaid = true;
            } else if (event.state === 'in-sync') logger.info(fields, 'datastore watch');
            else logger.debug(fields, 'datastore watch');
            this.metrics.datastoreInSync(this.store?.kind ?? 'store', event.state === 'in-sync');
            this.service?.noteDatastoreState(event.state, event.error?.message);
            // Counted once per outage, when the connection is back: a connection that comes back
            // after several attempts (each one lost again) was lost and re-established once. A
            // datastore that was down at the start is connected, not reconnected, when it comes.
            if (event.state === 'lost') datastoreLost = datastoreInSync;
            else if (event.state === 'in-sync') {
              if (datastoreLost) this.metrics.datastoreReconnect(this.store?.kind ?? 'store');
              datastoreLost = false;
              datastoreInSync = true;
              datastoreLostSaid = false;
            }
          }
        },
        onListenerError: (error) =>
          logger.error({ error: String(error) }, 'configuration watch listener failed'),
      });
    });

    await firstRead;
    if (this.stopped) return; // stopped while starting: nothing more to start
    this.publisher.start();
    // States change with the kernel's link events and with the items' statuses: published soon.
    const publisher = this.publisher;
    this.plugin.views.on('links', (view, changes) => {
      for (const change of changes) publisher.linkChanged(view.id, change.link.index);
    });
    this.engine.onStatus((changes) => {
      for (const status of changes) if (status.descriptor === 'interface') publisher.itemChanged(status.key);
    });
    logger.info('started');
  }

  /**
   * Keys under the configuration prefix that are not configuration keys (written by hand into
   * etcd: a wrong kind, a name with '/' or a space) cannot be items: said once each in the log, and
   * shown `invalid` in the status (field `$key`) until they are deleted. `all`: a full read, which
   * holds every key there is.
   */
  private noteIgnoredKeys(keys: string[], all = false): void {
    const before = all ? new Map(this.ignoredKeys) : this.ignoredKeys;
    if (all) this.ignoredKeys.clear();
    for (const key of keys) {
      const known = before.get(key);
      if (known) {
        this.ignoredKeys.set(key, known);
        continue;
      }
      const problem = configKeyProblem(key);
      if (problem === undefined) continue;
      if (this.ignoredKeys.size < 10_000)
        this.ignoredKeys.set(key, { problem, since: new Date().toISOString() });
      this.logger.warn({ key, problem }, 'ignored: not a configuration key');
    }
  }

  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      this.logger.info('stopping');
      await this.watcher?.close();
      await this.engine.close();
      await this.lastValid.close();
      this.publisher?.close();
      await this.api?.close();
      await this.microservices?.close();
      await this.microserviceMemory?.close();
      this.plugin.close();
      await this.usedNamespaces.close();
      await this.store?.close();
      this.labelLock?.close();
      this.logger.info('stopped; the kernel stays configured');
    })());
  }
}
