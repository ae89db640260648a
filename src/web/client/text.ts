/**
 * Text that fits: the page draws in SVG, which neither wraps nor truncates, so lines are cut here by
 * character count. Detail lines use a monospace font, where the count is the width. Pure.
 */

/** Width of one character of the monospace detail font (11px), in page units. */
export const MONO_CHAR_WIDTH = 6.7;

/** `text` cut to `max` characters, with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** `text` broken into lines of at most `width` characters, at spaces when possible; at most `maxLines`. */
export function wrap(text: string, width: number, maxLines = 4): string[] {
  const lines: string[] = [];
  let rest = text.trim();
  while (rest.length > 0 && lines.length < maxLines) {
    if (rest.length <= width) {
      lines.push(rest);
      rest = '';
      break;
    }
    let cut = rest.lastIndexOf(' ', width);
    if (cut < width / 2) cut = width;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0 && lines.length > 0) {
    const last = lines.length - 1;
    lines[last] = truncate(`${lines[last]} ${rest}`, width);
  }
  return lines;
}
