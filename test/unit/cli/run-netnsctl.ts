/**
 * netnsctl run in this process (buildProgram), against a fake agent: an HTTP server answering
 * each request with what the test's handler says. Standard output is collected; standard error
 * too (process.stderr.write is replaced while the command runs).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildProgram } from '../../../src/cli/netnsctl/main.js';
import { CliError } from '../../../src/cli/netnsctl/client.js';

export interface FakeRequest {
  method: string;
  /** With its query, e.g. `/v1/status?summary`. */
  url: string;
  body: string;
}

/** What the fake agent answers: a status and a JSON body. */
export type FakeAnswer = { status?: number; json: unknown };

export interface FakeAgent {
  server: string;
  requests: FakeRequest[];
  close(): Promise<void>;
}

export async function fakeAgent(answer: (request: FakeRequest) => FakeAnswer): Promise<FakeAgent> {
  const requests: FakeRequest[] = [];
  const read = async (request: IncomingMessage): Promise<string> => {
    let body = '';
    request.setEncoding('utf8');
    for await (const chunk of request) body += chunk as string;
    return body;
  };
  const http: Server = createServer((request, response) => {
    void read(request).then((body) => {
      const seen = { method: request.method ?? '', url: request.url ?? '', body };
      requests.push(seen);
      const { status = 200, json } = answer(seen);
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    server: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => http.close(() => resolve())),
  };
}

export interface Run {
  stdout: string;
  stderr: string;
  /** The CliError the command ended with, if any. */
  error?: CliError;
}

/** netnsctl with these arguments (`--server` etc. included by the caller). */
export async function runNetnsctl(args: string[]): Promise<Run> {
  const out: string[] = [];
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array): boolean => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  try {
    await buildProgram((text) => out.push(text)).parseAsync(['node', 'netnsctl', ...args]);
    return { stdout: out.join('\n'), stderr };
  } catch (error) {
    if (error instanceof CliError) return { stdout: out.join('\n'), stderr, error };
    throw error;
  } finally {
    process.stderr.write = write;
  }
}
