/** What netnsctl's commands share: the global options, and the helpers each command gets. */
import { readFileSync } from 'node:fs';
import { CliError, type ApiClient } from './client.js';
import type { ConfigAccess } from './config-access.js';
import { readDocuments, toItems } from './documents.js';
import type { OutputFormat } from './output.js';
import type { EtcdAccessFlags } from '../etcd-access-options.js';

export interface GlobalOptions extends EtcdAccessFlags {
  server: string;
  etcd?: string;
  store?: string;
  token?: string;
  label: string;
  output: OutputFormat;
  /** -o table given: nested values too are shown as tables (field by field) instead of YAML or JSON. */
  tableAsked: boolean;
}

/** A file's text (or stdin's, for `-`), without the byte order mark some editors write first. */
export function readInput(file: string): string {
  try {
    const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`, 2);
  }
}

export function loadItems(file: string, label: string): ReturnType<typeof toItems> {
  let documents: unknown[];
  try {
    documents = readDocuments(readInput(file), { json: file.toLowerCase().endsWith('.json') });
  } catch (error) {
    if (error instanceof CliError) throw error;
    // Read, but not JSON or YAML: invalid input (5), as a value `put` cannot parse is.
    throw new CliError(`${file}: ${(error as Error).message}`, 5);
  }
  return toItems(documents, label);
}

export interface CommandContext {
  globals(): GlobalOptions;
  client(): ApiClient;
  print(text: string): void;
  /** What a command did: a sentence in the table form, the same as data with -o json|yaml. */
  tell(sentence: string, data: unknown): void;
  /** Runs a configuration command on the agent's API, on etcd or on the store file. */
  withConfig(writes: boolean, run: (config: ConfigAccess) => Promise<void>): Promise<void>;
  /** Configuration commands go through the agent unless --etcd or --store says otherwise. */
  throughAgent(g: GlobalOptions): boolean;
}
