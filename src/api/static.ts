/**
 * The topology page's files (built by `make build` into dist/web, see src/web/README.md), read into
 * memory once at start and served by the agent itself: no CDN, nothing fetched from elsewhere.
 * The page holds no data (everything comes from /v1/* with the token), so it is served without one.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/web, next to the compiled agent (dist/src/api/static.js). */
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web');

/** Page files are served under this path prefix; `/` is the page itself. */
export const ASSET_PREFIX = '/ui/';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface StaticFile {
  contentType: string;
  body: Buffer;
}

/** Every servable file under `dir`, by URL path (`/ui/client/main.js`); empty when not built. */
export function loadWebFiles(dir = WEB_DIR): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  const walk = (folder: string): void => {
    let names: string[];
    try {
      names = readdirSync(folder);
    } catch {
      return;
    }
    for (const name of names) {
      const file = path.join(folder, name);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      const contentType = CONTENT_TYPES[path.extname(name)];
      if (!contentType) continue;
      const urlPath = ASSET_PREFIX + path.relative(dir, file).split(path.sep).join('/');
      files.set(urlPath, { contentType, body: readFileSync(file) });
    }
  };
  walk(dir);
  return files;
}

/** Paths served without a token: the page and its files, which hold no data. */
export function isPublicPath(url: string): boolean {
  const pathOnly = url.split('?')[0] ?? url;
  return pathOnly === '/' || pathOnly === '/index.html' || pathOnly.startsWith(ASSET_PREFIX);
}

/** Headers for the page: only the agent's own origin may provide scripts, styles and data. */
export const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
} as const;
