/**
 * The agent's HTTP API (DESIGN.md section 4), JSON over fastify:
 *   GET /v1/status, GET /v1/status/<key>, GET|PUT|DELETE /v1/config/<key>, GET /v1/config?prefix=,
 *   GET /v1/kernel, GET /v1/history, POST /v1/plan, GET /v1/events (server-sent events), GET /metrics,
 *   and for support bundles GET /v1/about and GET /v1/logs; for the topology page GET /v1/topology,
 *   and the page itself at / (its files under /ui/).
 * Keys are whole datastore keys and contain slashes: routes take the rest of the path as the key.
 * With a token, every endpoint but /metrics and the page's files wants `Authorization: Bearer <token>`.
 */
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import { chmodSync } from 'node:fs';
import { tokenMatches } from './auth.js';
import { AgentError } from '../errors.js';
import { DatastoreUnavailableError } from '../datastore/errors.js';
import { PlanBodyError, parsePlanBody } from './plan-request.js';
import { ConfigBatchBodyError, parseConfigBatch, type ConfigBatch } from './config-batch.js';
import { counted } from '../util/counted.js';
import { refusalHeadline } from '../model/index.js';
import { isPublicPath, loadWebFiles, PAGE_HEADERS, type StaticFile } from './static.js';
import type { AgentService } from './service.js';
import { EventFanOut } from './event-log.js';
import { NAMED_NAMESPACE } from '../descriptors/fact-keys.js';
import { parseListen } from './listen-address.js';
import { jsonArrayChunks, jsonBody } from './json-text.js';
import { removeStaleSocket } from './stale-socket.js';

export interface ApiOptions {
  /** HOST:PORT, or unix:/path/to/socket. */
  listen: string;
  token?: string;
  /** Called with a warning text (e.g. listening beyond loopback without a token). */
  warn?: (message: string) => void;
}

export interface ApiServer {
  readonly address: string;
  close(): Promise<void>;
}

function keyFromParams(request: FastifyRequest): string {
  const rest = (request.params as { '*': string })['*'];
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '[::1]';
}

/**
 * No route declares a schema: plain compilers keep fastify from loading Ajv and its serializer
 * compiler (about 120 ms of start-up and 8 MB). Fastify's types want Ajv's function shapes, which
 * these never have to be since nothing is ever compiled.
 */
const NO_SCHEMAS = {
  compilersFactory: {
    buildValidator: () => () => () => true,
    buildSerializer: () => () => (data: unknown) => JSON.stringify(data),
  },
} as unknown as FastifyServerOptions['schemaController'];

export function buildApi(
  service: AgentService,
  options: Pick<ApiOptions, 'token'> & {
    webFiles?: Map<string, StaticFile>;
    /** Events a client has not taken, at most, before it is cut off (MAX_UNREAD_EVENT_BYTES). */
    maxUnreadEventBytes?: number;
    /** Events kept for clients that come back (EVENT_LOG_SIZE). */
    eventLogSize?: number;
  } = {},
): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024 * 1024, // a plan of MAX_PLAN_ITEMS items fits
    schemaController: NO_SCHEMAS,
  });
  // Event streams never end by themselves: ended when the server closes, or closing (a SIGTERM)
  // would wait for every `netnsctl watch` to go away.
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const end of streams) end();
    done();
  });
  // Values are taken as text: the agent parses them itself and reports JSON errors with the key.
  app.removeAllContentTypeParsers();
  // Bytes that are not UTF-8 (a body sent as latin1) are refused, not stored with U+FFFD in them.
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, STRICT_UTF8.decode(body as Buffer));
    } catch {
      done(new BodyNotUtf8Error(), undefined);
    }
  });

  if (options.token) {
    const token = options.token;
    // Before routing: without the token, a method the path does not take is 401 as well, not 405,
    // and a path the API does not have not 404: a client without it learns neither the endpoints
    // nor their methods (`Allow`). RFC 9110 leaves the order to the server.
    app.addHook('onRequest', async (request, reply) => {
      if (request.url === '/metrics' || request.url.startsWith('/metrics?')) return;
      // HEAD too: it is a GET without the body (a HEAD of the page was refused while its GET was not).
      if ((request.method === 'GET' || request.method === 'HEAD') && isPublicPath(request.url)) return;
      if (!tokenMatches(token, request.headers.authorization)) {
        await reply
          .code(401)
          .header('www-authenticate', 'Bearer realm="netns-agent"')
          .send({ error: 'missing or wrong bearer token' });
      }
    });
  }

  /** 503 until the first full read is taken in: an empty list (or a 404) would say "no items". */
  const statesNotKnown = (reply: FastifyReply): FastifyReply => {
    const datastore = service.datastore();
    const why =
      datastore.configurationReadAt === undefined
        ? `the agent has not read its configuration yet (datastore ${datastore.state} since ${datastore.since}${datastore.error ? `: ${datastore.error}` : ''})`
        : 'the agent is taking in its configuration';
    return reply
      .code(503)
      .header('retry-after', '1')
      .send({ error: `${why}: the items' states are not known yet`, datastore });
  };
  app.get('/v1/status', async (request, reply) => {
    // ?summary: counts by state only, for pollers that wait for "everything configured".
    if ((request.query as { summary?: string }).summary !== undefined) {
      const counts = service.statusCounts();
      // The items of the configuration: those removed from it are counted apart, not in total (a
      // poller comparing `configured` with `total` would wait for ever after a removal).
      const total = Object.entries(counts).reduce(
        (n, [state, c]) => n + (state === 'removed' ? 0 : (c ?? 0)),
        0,
      );
      return { total, counts, datastore: service.datastore() };
    }
    if (!service.statesKnown()) return statesNotKnown(reply);
    return service.status();
  });
  app.get('/v1/status/*', async (request, reply) => {
    // Configuration keys start with '/'; the agent's own items (named-namespace/ns2) do not.
    const rest = (request.params as { '*': string })['*'];
    const status = service.statusOf(keyFromParams(request)) ?? service.statusOf(rest);
    if (!status && !service.statesKnown()) return statesNotKnown(reply);
    if (!status)
      return reply
        .code(404)
        .send({ error: `no item ${rest.startsWith(NAMED_NAMESPACE) ? rest : keyFromParams(request)}` });
    return status;
  });

  app.get('/v1/config', async (request, reply) => {
    const prefix = (request.query as { prefix?: unknown }).prefix ?? '/';
    // `?prefix=a&prefix=b` gives a list: the store was asked with it and failed (500).
    if (typeof prefix !== 'string')
      return reply.code(400).send({ error: 'prefix must be given once (one key prefix a request)' });
    return service.listConfig(prefix);
  });
  app.get('/v1/config/*', async (request, reply) => {
    const entry = await service.getConfig(keyFromParams(request));
    if (!entry) return reply.code(404).send({ error: `no value under ${keyFromParams(request)}` });
    return entry;
  });
  app.put('/v1/config/*', async (request, reply) => {
    const key = keyFromParams(request);
    const body = typeof request.body === 'string' ? request.body : '';
    const result = await service.putConfig(key, body);
    if (!result.ok)
      return reply.code(400).send({ error: refusalHeadline(key, result.errors), key, errors: result.errors });
    return { key, revision: result.revision };
  });
  app.post('/v1/config', async (request, reply) => {
    let batch: ConfigBatch;
    try {
      batch = parseConfigBatch(typeof request.body === 'string' ? request.body : '');
    } catch (error) {
      if (error instanceof ConfigBatchBodyError) return reply.code(400).send({ error: error.message });
      throw error;
    }
    const result = await service.writeConfig(batch);
    if (!result.ok) {
      const keys = new Set(result.errors.map((e) => e.key));
      return reply.code(400).send({
        error: `${counted(keys.size, 'key')} refused (nothing written): ${[...keys].slice(0, 3).join(', ')}${keys.size > 3 ? ', ...' : ''}`,
        errors: result.errors,
      });
    }
    return { stored: result.stored, deleted: result.deleted, revision: result.revision };
  });
  app.delete('/v1/config/*', async (request, reply) => {
    const key = keyFromParams(request);
    if (!(await service.deleteConfig(key))) return reply.code(404).send({ error: `no value under ${key}` });
    return { key, deleted: true };
  });

  // Streamed: the dumps are read and turned into text a namespace at a time (json-text.ts). The
  // links, addresses, routes and neighbours of a namespace are sent an entry at a time.
  app.get('/v1/kernel', async (_request, reply) =>
    reply.type(JSON_TYPE).send(await jsonBody(jsonArrayChunks(service.kernel(), 2))),
  );
  // Beyond DESIGN.md section 4, for support bundles (netnsctl report): what runs, and its last logs.
  app.get('/v1/about', async () => service.about());
  app.get('/v1/logs', async (_request, reply) =>
    reply.type('text/plain').send(service.logs().join('\n') + '\n'),
  );
  app.get('/v1/history', async () => service.history());
  app.post('/v1/plan', async (request, reply) => {
    let parsed: Awaited<ReturnType<typeof parsePlanBody>>;
    try {
      parsed = await parsePlanBody(String(request.body ?? ''), service.label);
    } catch (error) {
      if (error instanceof PlanBodyError) return reply.code(400).send({ error: error.message });
      throw error;
    }
    // Planned against what the agent holds: before its first read that is nothing (every item
    // would be "created"), and its namespaces may not be open yet.
    if (!service.statesKnown()) return statesNotKnown(reply);
    const result = await service.plan(parsed.request);
    return parsed.documentProblems.length ? { ...result, documentProblems: parsed.documentProblems } : result;
  });
  app.get('/v1/topology', async () => service.topology());

  const maxUnread = options.maxUnreadEventBytes ?? MAX_UNREAD_EVENT_BYTES;
  // Every event is numbered and the newest kept, clients or not: one that comes back says where
  // it was (event-log.ts).
  const events = new EventFanOut(options.eventLogSize);
  const unsubscribe = service.subscribe((event) => events.publish(event));
  app.addHook('onClose', (_instance, done) => {
    unsubscribe();
    done();
  });
  app.get('/v1/events', (request, reply) => streamEvents(events, request, reply, streams, maxUnread));

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await service.metrics();
    return reply.type(contentType).send(body);
  });
  servePage(app, options.webFiles ?? loadWebFiles());
  // A path the API has, asked with a method it does not take: 405 with the methods it takes.
  app.setNotFoundHandler(async (request, reply) => {
    const url = request.url.split('?')[0] ?? '';
    const allowed = API_METHODS.filter((method) => app.findRoute({ method, url }) !== null);
    if (allowed.length > 0)
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send({ error: `${request.method} is not allowed on ${url} (allowed: ${allowed.join(', ')})` });
    return reply.code(404).send({ error: `no endpoint ${request.method} ${url}` });
  });
  // The agent's own errors carry a stable code: a store that cannot be reached right now is the
  // client's cue to try again (503), not a fault of the agent (500).
  app.setErrorHandler(async (error, _request, reply) => {
    const code = error instanceof AgentError ? error.code : undefined;
    if (error instanceof DatastoreUnavailableError)
      return reply.code(503).header('retry-after', '1').send({ error: error.message, code });
    const message = error instanceof Error ? error.message : String(error);
    const status = (error as { statusCode?: number } | undefined)?.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      // With the key and field errors where the error has them, as a refused PUT answers.
      const errors = (error as { errors?: unknown }).errors;
      const fields = error instanceof AgentError && Array.isArray(errors) ? { key: error.key, errors } : {};
      return reply.code(status).send({ error: message, ...(code ? { code } : {}), ...fields });
    }
    return reply.code(500).send({ error: message, ...(code ? { code } : {}) });
  });
  return app;
}

/** The topology page at / and its files under /ui/ (see static.ts). */
function servePage(app: FastifyInstance, files: Map<string, StaticFile>): void {
  const send = (reply: FastifyReply, file: StaticFile): FastifyReply =>
    reply.headers(PAGE_HEADERS).type(file.contentType).send(file.body);
  const page = (_request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const index = files.get('/ui/index.html');
    if (!index)
      return reply.code(503).type('text/plain').send('the topology page is not built: run `make build`\n');
    return send(reply, index);
  };
  app.get('/', page);
  app.get('/index.html', page);
  app.get('/ui/*', async (request, reply) => {
    const file = files.get(request.url.split('?')[0] ?? '');
    if (!file) return reply.code(404).send({ error: `no file ${request.url}` });
    return send(reply, file);
  });
}

/** `Last-Event-ID` (EventSource sends it when it reconnects), or `?lastEventId=` (curl). */
function lastEventIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header;
  const query = (request.query as Record<string, unknown> | undefined)?.lastEventId;
  return typeof query === 'string' && query !== '' ? query : undefined;
}

function streamEvents(
  events: EventFanOut,
  request: FastifyRequest,
  reply: FastifyReply,
  streams: Set<() => void>,
  maxUnread: number,
): void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  // HEAD: the headers, and no stream (node sends a HEAD answer's headers only when it ends; it
  // hung, and kept a subscriber, until the client went away).
  if (request.method === 'HEAD') {
    raw.end();
    return;
  }
  raw.write(': netns-agent events\n\n');
  // Events come in bursts (a transaction's statuses: thousands after a big change), all emitted in
  // one go: they are written together once the burst is over. One write per event cost ~30 us of
  // the event loop each (~200 ms after W1's first transaction).
  let burst: string[] = [];
  let closed = false;
  const flush = (): void => {
    const text = burst.join('');
    burst = [];
    if (closed) return;
    raw.write(text);
    // A client that does not read (a paused `watch | less`, a stalled tab): what it has not taken
    // piles up in the agent's memory. Past a bound it is cut off; it may connect again, with the
    // id of the last event it took.
    if (raw.writableLength > maxUnread) {
      closed = true;
      raw.destroy();
    }
  };
  const send = (text: string): void => {
    if (burst.length === 0) queueMicrotask(flush);
    burst.push(text);
  };
  const unsubscribe = events.subscribe((event) => send(event.text));
  const lastEventId = lastEventIdOf(request);
  // A new client is first told where it starts: a message of only an id (no event, no data), which
  // EventSource takes as its last event id and readers of events pass by. A client that comes back
  // before any event came sends that id, and gets a `reset` if the agent restarted meanwhile.
  if (lastEventId === undefined) send(`id: ${events.log.lastId}\n\n`);
  else {
    const resumption = events.log.resume(lastEventId);
    if (resumption.kind === 'replay') for (const event of resumption.events) send(event.text);
    // Missed events cannot be given: the client reads the state again (GET /v1/status); the
    // events after this one follow.
    else
      send(
        `event: reset\nid: ${events.log.lastId}\ndata: ${JSON.stringify({ reason: resumption.reason })}\n\n`,
      );
  }
  const keepAlive = setInterval(() => {
    if (!closed) raw.write(': keep-alive\n\n');
  }, 15_000);
  const end = (): void => {
    if (!closed) raw.end();
  };
  streams.add(end);
  request.raw.on('close', () => {
    closed = true;
    clearInterval(keepAlive);
    unsubscribe();
    streams.delete(end);
  });
}

/** Events written to one client and not yet taken by it, at most (W1's first transaction is ~2 MB). */
export const MAX_UNREAD_EVENT_BYTES = 16 * 1024 * 1024;

/** What fastify names a JSON answer it serialises itself; streamed ones say the same. */
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * The methods a 405's `Allow` may name. HEAD: fastify answers it on every GET route (GET's headers,
 * no body), so `Allow` lists it wherever GET is (RFC 9110 9.3.2); it was missing.
 */
const API_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'] as const;

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

class BodyNotUtf8Error extends Error {
  readonly statusCode = 400;
  constructor() {
    super('the body is not valid UTF-8 (values are JSON text, in UTF-8)');
  }
}

export async function startApi(service: AgentService, options: ApiOptions): Promise<ApiServer> {
  const app = buildApi(service, options);
  const target = parseListen(options.listen);
  let address: string;
  if ('path' in target) {
    await removeStaleSocket(target.path);
    address = await app.listen({ path: target.path });
    chmodSync(target.path, 0o600);
  } else {
    if (!isLoopback(target.host) && !options.token) {
      options.warn?.(
        `HTTP API listens on ${target.host}, beyond loopback, without --http-token: anyone who reaches it can change the host's network`,
      );
    }
    await app.listen({ host: target.host, port: target.port });
    // Fastify answers with one of the addresses it listens on (127.0.0.1 for 0.0.0.0): say what
    // was asked, with the port it got.
    const bound = app.server.address();
    const port = bound && typeof bound === 'object' ? bound.port : target.port;
    address = target.host.includes(':') ? `http://[${target.host}]:${port}` : `http://${target.host}:${port}`;
  }
  let closed: Promise<void> | undefined;
  return {
    address,
    close: () => (closed ??= app.close()),
  };
}
