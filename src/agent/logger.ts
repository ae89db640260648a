/**
 * JSON-lines logging (pino). Secrets never reach the log: the HTTP token and any authorization
 * header are redacted wherever they appear in a logged object.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
  'token',
  'httpToken',
  '*.token',
  '*.httpToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
];

/** The last log lines, kept in memory for support bundles (`netnsctl report`, GET /v1/logs). */
export class RecentLines {
  private readonly lines: string[] = [];
  constructor(private readonly limit = 2000) {}

  write(line: string): void {
    this.lines.push(line.endsWith('\n') ? line.slice(0, -1) : line);
    if (this.lines.length > this.limit) this.lines.splice(0, this.lines.length - this.limit);
  }

  list(): string[] {
    return [...this.lines];
  }
}

export function createLogger(
  level: LevelWithSilent = 'info',
  destination?: NodeJS.WritableStream,
  recent?: RecentLines,
): Logger {
  const options = {
    level,
    base: { name: 'netns-agent' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  const out = (destination ?? pino.destination(1)) as pino.DestinationStream;
  if (!recent) return pino(options, out);
  return pino(
    options,
    pino.multistream([
      { stream: out, level },
      { stream: recent, level },
    ]),
  );
}
