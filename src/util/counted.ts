/** Counts in sentences: "1 item", "2 items", "0 items" (never "1 items"). */
export function counted(count: number, noun: string, plural = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : plural}`;
}
