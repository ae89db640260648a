/**
 * `apply -f` and `del -f` write a file's items in parts, each one request (POST /v1/config) and one
 * store write: the agent takes each part in as one change. A request per item made thousands of
 * requests and as many small transactions; one request for everything would leave a large file
 * without progress, and past what the agent takes in one body (16 MiB).
 */
export const PART_ITEMS = 500;
/** Below etcd's default request limit (1.5 MiB) for any one of a part's transactions. */
export const PART_BYTES = 1024 * 1024;

/** The items in order, in parts of at most PART_ITEMS items and PART_BYTES bytes (a larger item alone). */
export function inParts<T>(items: readonly T[], bytesOf: (item: T) => number = () => 0): T[][] {
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = bytesOf(item);
    if (part.length > 0 && (part.length >= PART_ITEMS || bytes + size > PART_BYTES)) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(item);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
