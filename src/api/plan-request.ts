/**
 * The body of POST /v1/plan: `{puts: [{key, value}], deletes: [key]}` as netnsctl sends it, or
 * `{document: "<YAML or JSON text>"}` in the format of `netnsctl apply -f` (the topology page pastes
 * files as they are; parsing YAML in the agent keeps a YAML library out of the browser). Options:
 * `replace` (the puts are the whole configuration), `topology` (return the planned topology too).
 */
import { findDuplicateKey } from '../util/json-duplicate-keys.js';
import type { FileProblem } from '../cli/netnsctl/documents.js';
import type { FieldErrorView, PlanRequest } from './service.js';
import { counted } from '../util/counted.js';

export class PlanBodyError extends Error {
  readonly code = 'PLAN_BODY';
}

interface PlanBody {
  puts?: unknown;
  deletes?: unknown;
  document?: unknown;
  replace?: unknown;
  topology?: unknown;
}

/** A document that could not become an item: by its position in the file. */
export interface DocumentProblem {
  index: number;
  key?: string;
  errors: FieldErrorView[];
}

function problemView(problem: FileProblem): DocumentProblem {
  const errors =
    typeof problem.errors === 'string'
      ? [{ field: '$document', message: problem.errors }]
      : problem.errors.map((e) => ({ field: e.field, message: e.message }));
  return { index: problem.index, ...(problem.key ? { key: problem.key } : {}), errors };
}

const PLAN_BODY_FIELDS = ['puts', 'deletes', 'document', 'replace', 'topology'];

/** Items one plan may hold (W1, 4,000 items, plans in ~1 s). */
export const MAX_PLAN_ITEMS = 20_000;

/** Parses the body; throws PlanBodyError for what is not a plan request. */
export async function parsePlanBody(
  text: string,
  label: string,
): Promise<{ request: PlanRequest; documentProblems: DocumentProblem[] }> {
  let body: PlanBody;
  try {
    body = JSON.parse(text || '{}') as PlanBody;
  } catch (error) {
    throw new PlanBodyError(`plan body is not JSON: ${(error as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new PlanBodyError('plan body must be an object: {puts, deletes} or {document}');
  // As a PUT refuses a value with a member given twice, a plan does (JSON.parse keeps the last).
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined)
    throw new PlanBodyError(
      `plan body: ${JSON.stringify(duplicate.name)} is given twice in one object (${duplicate.path || 'the body'})`,
    );
  const unknown = Object.keys(body).filter((field) => !PLAN_BODY_FIELDS.includes(field));
  if (unknown.length > 0)
    throw new PlanBodyError(
      `plan body: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${PLAN_BODY_FIELDS.join(', ')})`,
    );
  const puts: PlanRequest['puts'] = [];
  if (body.puts !== undefined) {
    if (!Array.isArray(body.puts)) throw new PlanBodyError('puts must be a list of {key, value}');
    for (const [i, put] of (body.puts as ({ key?: unknown; value?: unknown } | null)[]).entries()) {
      if (typeof put?.key !== 'string') throw new PlanBodyError(`puts[${i}]: every put needs a key`);
      // JSON.stringify(undefined) is undefined, not text: the plan failed later with a 500
      // ("Cannot read properties of undefined"). A deletion is planned with `deletes`.
      if (put.value === undefined)
        throw new PlanBodyError(
          `puts[${i}] (${put.key}): no value; a put is {key, value} (a deletion goes in deletes)`,
        );
      puts.push({
        key: put.key,
        valueText: typeof put.value === 'string' ? put.value : JSON.stringify(put.value),
      });
    }
  }
  const documentProblems: DocumentProblem[] = [];
  if (body.document !== undefined) {
    if (typeof body.document !== 'string') throw new PlanBodyError('document must be the text of a file');
    // The file parser brings a YAML library: loaded the first time a document is planned.
    const { readDocuments, toItems } = await import('../cli/netnsctl/documents.js');
    let documents: unknown[];
    try {
      documents = readDocuments(body.document);
    } catch (error) {
      throw new PlanBodyError(`document: ${(error as Error).message}`);
    }
    const { items, problems } = toItems(documents, label);
    puts.push(...items);
    documentProblems.push(...problems.map(problemView));
  }
  const deletes = body.deletes ?? [];
  if (!Array.isArray(deletes) || deletes.some((d) => typeof d !== 'string'))
    throw new PlanBodyError('deletes must be a list of keys');
  // A plan runs on the agent's event loop: 100,000 items held it (and drift healing) for ~50 s.
  if (puts.length + deletes.length > MAX_PLAN_ITEMS)
    throw new PlanBodyError(
      `a plan takes at most ${MAX_PLAN_ITEMS} items (this one has ${puts.length + deletes.length}): plan the file in parts`,
    );
  // One key, one thing to plan: as `apply -f` refuses an item given twice, the plan does not pick
  // one of two values (or a value and a deletion) without a word.
  const seen = new Map<string, string>();
  const once = (key: string, where: string): void => {
    const before = seen.get(key);
    if (before !== undefined)
      throw new PlanBodyError(
        `${key} is given twice: ${before} and ${where}; a plan takes one change per key`,
      );
    seen.set(key, where);
  };
  const fromDocument = puts.length - (Array.isArray(body.puts) ? body.puts.length : 0);
  puts.forEach((put, i) => once(put.key, i < puts.length - fromDocument ? `puts[${i}]` : 'the document'));
  (deletes as string[]).forEach((key, i) => once(key, `deletes[${i}]`));
  for (const flag of ['replace', 'topology'] as const)
    if (body[flag] !== undefined && typeof body[flag] !== 'boolean')
      throw new PlanBodyError(`${flag} must be true or false`);
  // As netnsctl plan --replace: the file is the whole configuration, so an item it fails to give
  // would be planned as removed, though applying keeps its stored value.
  if (body.replace === true && documentProblems.length > 0) {
    const first = documentProblems[0]!;
    const where = first.key ?? `document ${first.index + 1}`;
    const why = first.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw new PlanBodyError(
      `${counted(documentProblems.length, 'invalid item')} in the document (first: ${where}: ${why}): a replace plan needs every item of the file; fix them first`,
    );
  }
  return {
    request: {
      puts,
      deletes: deletes as string[],
      ...(body.replace === true ? { replace: true } : {}),
      ...(body.topology === true ? { topology: true } : {}),
    },
    documentProblems,
  };
}
