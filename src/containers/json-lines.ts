/**
 * Splits Docker's event stream into JSON documents. Docker writes one JSON object per line, but a
 * chunk read from the socket may hold half a line or several lines, so bytes are kept until their
 * newline arrives. Pure: tested with arbitrary chunkings.
 */
export interface SplitResult {
  documents: unknown[];
  /** Complete lines that were not JSON (the caller decides; the watcher re-lists). */
  invalidLines: string[];
}

export class JsonLineSplitter {
  private pending = '';
  private readonly decoder = new TextDecoder('utf-8');

  /** Feeds a chunk; returns the lines it completed. Blank lines are skipped. */
  push(chunk: Uint8Array | string): SplitResult {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    const result: SplitResult = { documents: [], invalidLines: [] };
    for (const line of lines) {
      const trimmed = line.trim();
      if (trimmed === '') continue;
      try {
        result.documents.push(JSON.parse(trimmed) as unknown);
      } catch {
        result.invalidLines.push(trimmed);
      }
    }
    return result;
  }
}
