/**
 * The first member name given twice in one object of a JSON text. JSON.parse keeps the last
 * silently, so `{"mtu": 1400, "mtu": 9000}` would configure whichever came last without a word;
 * protobuf's JSON parser refuses it, and so do we. One pass over the characters of a text that
 * JSON.parse accepted already (the scan relies on that), so it costs little next to the parse.
 */
export interface DuplicateKey {
  /** Where the object is, as a field path: '' for the value itself, 'veth', 'ip_addresses[2]'... */
  path: string;
  name: string;
}

interface Frame {
  readonly path: string;
  /** Member names seen so far (objects are small: a list beats a Set); undefined for an array. */
  readonly names: string[] | undefined;
  /** The member or element being read: where a nested value's path goes on. */
  current: string;
  index: number;
  expectName: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function childPath(frame: Frame): string {
  if (frame.names === undefined) return `${frame.path}[${frame.index}]`;
  return frame.path === '' ? frame.current : `${frame.path}.${frame.current}`;
}

export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  let top: Frame | undefined;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === QUOTE) {
      const start = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === BACKSLASH) {
          escaped = true;
          i++;
        } else if (c === QUOTE) break;
      }
      if (top?.names !== undefined && top.expectName) {
        const raw = text.slice(start, i + 1);
        const name = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.names.includes(name)) return { path: top.path, name };
        top.names.push(name);
        top.current = name;
        top.expectName = false;
      }
      continue;
    }
    switch (code) {
      case 0x7b: // {
      case 0x5b: {
        // [
        const path = top === undefined ? '' : childPath(top);
        top = { path, names: code === 0x7b ? [] : undefined, current: '', index: 0, expectName: true };
        stack.push(top);
        break;
      }
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop();
        top = stack[stack.length - 1];
        break;
      case 0x2c: // ,
        if (top === undefined) break;
        if (top.names === undefined) top.index++;
        else top.expectName = true;
        break;
    }
  }
  return undefined;
}
