/**
 * A stored value as JSON when it is JSON, else as its text: a value someone put straight into the
 * datastore may not be JSON, and is still shown (the API's config reads, `netnsctl get`).
 */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
