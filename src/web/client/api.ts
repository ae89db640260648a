/**
 * The agent's HTTP API from the page. With a bearer token configured, every /v1 call needs it: the
 * page asks for it once (see main.ts), keeps it in sessionStorage (gone when the tab closes) and sends
 * it in the Authorization header, never in a URL.
 */
const TOKEN_KEY = 'netns-agent-token';
/** A request that has no answer by then is given up (and the caller tries again later). */
const REQUEST_TIMEOUT_MS = 15_000;

/** The agent answered 401: a token is needed, or the one given is wrong. */
export class TokenNeededError extends Error {
  /** The token the refused request carried (null: none); another may have been given since. */
  constructor(readonly sent: string | null) {
    super('the agent wants a bearer token');
  }
}

export function storedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function call<T>(method: string, path: string, body?: string): Promise<T> {
  const sent = storedToken();
  const response = await fetch(path, {
    method,
    headers: { ...authHeaders(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (response.status === 401) throw new TokenNeededError(sent);
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    json = text;
  }
  if (!response.ok) {
    const message = (json as { error?: string } | undefined)?.error ?? text;
    throw new Error(`${method} ${path}: HTTP ${response.status}: ${message}`);
  }
  return json as T;
}

export const getJson = <T>(path: string): Promise<T> => call<T>('GET', path);
export const postJson = <T>(path: string, body: unknown): Promise<T> =>
  call<T>('POST', path, JSON.stringify(body));

/** GET of an optional resource: undefined on 404. */
export async function getOptional<T>(path: string): Promise<T | undefined> {
  try {
    return await getJson<T>(path);
  } catch (error) {
    if (error instanceof Error && / HTTP 404:/.test(error.message)) return undefined;
    throw error;
  }
}
