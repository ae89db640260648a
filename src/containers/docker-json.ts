/**
 * Reads the two Docker API documents the watcher uses, from untyped JSON into our narrow types.
 * Pure, so odd documents (null Env, missing Actor) are covered by unit tests.
 */
import type { ContainerDetails, ContainerEvent } from './docker-api.js';
import { DockerProtocolError } from './errors.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(object: JsonObject, name: string): string | undefined {
  const value = object[name];
  return typeof value === 'string' ? value : undefined;
}

/** The container id and action of an event document, or undefined if it is not a container event. */
export function parseContainerEvent(document: unknown): ContainerEvent | undefined {
  if (!isObject(document)) return undefined;
  const type = stringField(document, 'Type');
  if (type !== undefined && type !== 'container') return undefined;
  const actor = isObject(document['Actor']) ? document['Actor'] : {};
  // Docker before API 1.22 had only `status` and `id`; newer ones have both forms.
  const action = stringField(document, 'Action') ?? stringField(document, 'status');
  const id = stringField(actor, 'ID') ?? stringField(document, 'id');
  if (action === undefined || id === undefined || id === '') return undefined;
  return { action, id };
}

/** `GET /containers/<id>/json` as ContainerDetails. */
export function parseContainerInspect(document: unknown): ContainerDetails {
  if (!isObject(document)) throw new DockerProtocolError('container inspect: not a JSON object');
  const id = stringField(document, 'Id');
  if (id === undefined || id === '') throw new DockerProtocolError('container inspect: no Id');
  const state = isObject(document['State']) ? document['State'] : {};
  const config = isObject(document['Config']) ? document['Config'] : {};
  const rawEnv = config['Env'];
  const env = Array.isArray(rawEnv) ? rawEnv.filter((e): e is string => typeof e === 'string') : [];
  const pid = typeof state['Pid'] === 'number' ? state['Pid'] : 0;
  return {
    id,
    name: (stringField(document, 'Name') ?? '').replace(/^\//, ''),
    running: state['Running'] === true,
    pid,
    startedAt: stringField(state, 'StartedAt') ?? '',
    env,
  };
}
