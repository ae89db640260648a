/** Small DOM helpers: elements built with textContent only, so nothing the agent sends is parsed as HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) if (child !== undefined) element.append(child);
  return element;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Pretty JSON in a <pre>; a plain sentence (nothing found, not available) as a muted paragraph. */
export function jsonBlock(value: unknown): HTMLElement {
  if (typeof value === 'string') return h('p', { class: 'muted' }, value);
  return h('pre', { class: 'json' }, JSON.stringify(value, null, 2) ?? 'null');
}
