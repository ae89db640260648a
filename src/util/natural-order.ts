/**
 * "ns2" before "ns10". One collator for every comparison (one per comparison costs more than the
 * sort), made on first use: the first collator of a process loads ICU data (~30 ms), which a
 * daemon that never sorts names for a page should not pay at start.
 */
let collator: Intl.Collator | undefined;

export function naturalCompare(a: string, b: string): number {
  collator ??= new Intl.Collator('en', { numeric: true });
  return collator.compare(a, b);
}
