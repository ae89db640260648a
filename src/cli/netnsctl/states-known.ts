/**
 * Item states (or a plan) from the agent, once it knows them. Right after its start the agent
 * answers 503 until its first full read of the configuration is taken in (an empty list would say
 * "no items", a plan would call every item new): while it is taking it in, `status`, `plan` and
 * `apply` wait a little instead of failing.
 */
import { okOrThrow, type ApiClient } from './client.js';

/** How long a command waits for an agent that is taking in its configuration. */
const TAKING_IN_WAIT_MS = 15_000;
const POLL_MS = 200;

export async function statesWhenKnown(
  api: ApiClient,
  path: string,
  method: 'GET' | 'POST' = 'GET',
  body?: string,
): Promise<unknown> {
  const deadline = Date.now() + TAKING_IN_WAIT_MS;
  for (;;) {
    const answer = await api.request(method, path, body);
    const takingIn =
      answer.status === 503 &&
      (answer.json as { datastore?: { configurationReadAt?: string } } | null)?.datastore
        ?.configurationReadAt !== undefined;
    // This answer, not a second request (the whole list of items, asked twice).
    if (!takingIn || Date.now() >= deadline) return okOrThrow(answer);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
