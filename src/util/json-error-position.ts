/**
 * Where a text stops being JSON, as a line and column: JSON.parse says where only for some errors
 * ("... at position 7"), not for others ("Unexpected end of JSON input", "Unexpected token 'x',
 * ... is not valid JSON"). One pass over the text, as RFC 8259 reads it, on the error path only.
 */

/** The offset of the first character JSON does not allow (the text's length when it ends too soon); undefined for JSON. */
export function jsonErrorOffset(text: string): number | undefined {
  const n = text.length;
  let i = 0;
  /** The open containers, innermost last: `{` or `[`. */
  const stack: string[] = [];
  const space = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const digits = (): boolean => {
    const start = i;
    while (i < n && text[i]! >= '0' && text[i]! <= '9') i++;
    return i > start;
  };
  /** Reads a string at i (a quote); false where it is not one (i then at the offending character). */
  const string = (): boolean => {
    if (text[i] !== '"') return false;
    for (i++; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        i++;
        if (i >= n) return false;
        if (text[i] === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (i >= n || !/[0-9a-fA-F]/.test(text[i]!)) return false;
          }
        } else if (!'"\\/bfnrt'.includes(text[i]!)) return false;
      }
    }
    return false;
  };
  const number = (): boolean => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++;
    else if (!digits()) return false;
    if (text[i] === '.') {
      i++;
      if (!digits()) return false;
    }
    if (text[i] === 'e' || text[i] === 'E') {
      i++;
      if (text[i] === '+' || text[i] === '-') i++;
      if (!digits()) return false;
    }
    return true;
  };
  const literal = (): boolean => {
    for (const word of ['true', 'false', 'null']) {
      if (text[i] !== word[0]) continue;
      for (let k = 0; k < word.length; k++, i++) if (text[i] !== word[k]) return false;
      return true;
    }
    return false;
  };
  /** Reads an object member's name and its colon, up to its value; false where they are wrong. */
  const memberName = (): boolean => {
    if (!string()) return false;
    space();
    if (text[i] !== ':') return false;
    i++;
    space();
    return true;
  };
  space();
  for (;;) {
    // A value is expected at i.
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push(c);
      i++;
      space();
      if (text[i] === (c === '{' ? '}' : ']')) {
        stack.pop();
        i++;
      } else if (c === '{') {
        if (!memberName()) return i;
        continue;
      } else continue;
    } else if (
      !(c === '"' ? string() : c === '-' || (c !== undefined && c >= '0' && c <= '9') ? number() : literal())
    )
      return i;
    // After a value: a separator, the end of its container, or the end of the text.
    for (;;) {
      space();
      const open = stack[stack.length - 1];
      if (open === undefined) return i === n ? undefined : i;
      if (text[i] === (open === '{' ? '}' : ']')) {
        stack.pop();
        i++;
        continue;
      }
      if (text[i] !== ',') return i;
      i++;
      space();
      if (open === '{' && !memberName()) return i;
      break;
    }
  }
}

/** The offset JSON.parse's error message names ("... in JSON at position N"), when it names one. */
export function reportedJsonOffset(message: string): number | undefined {
  const match = / at position (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * "line L, column C" (both from 1) in `text` where its part from `from` to `to` stops being JSON
 * (a part that ends too soon: just after its last character); undefined when that part is JSON.
 * `parseMessage`, JSON.parse's error message: where it names a position, that one is used, so the
 * line and column shown next to it never disagree with it.
 */
export function jsonErrorPlace(
  text: string,
  from = 0,
  to = text.length,
  parseMessage = '',
): string | undefined {
  const part = text.slice(from, to);
  const reported = reportedJsonOffset(parseMessage);
  let at = reported !== undefined && reported <= part.length ? reported : jsonErrorOffset(part);
  if (at === undefined) return undefined;
  // Ended too soon: just after its last character, not on a line of its own after a newline.
  if (at === part.length && reported === undefined) at = part.trimEnd().length;
  const before = text.slice(0, from + at);
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `line ${line}, column ${column}`;
}
