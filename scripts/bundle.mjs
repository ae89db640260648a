// Bundles the programs compiled in dist/src into one CommonJS file each, dist/bundle/NAME.cjs, which
// bin/* run with a V8 code cache (src/cli/run-bundle.ts says why). `make build` runs it after tsc.
//
// Left out of the bundles and loaded from node_modules when used: packages with native code or
// files read at run time (better-sqlite3; etcd3 reads its .proto files), @grpc/grpc-js (etcd3's:
// the agent's interceptor must be of the copy etcd3 uses), and dockerode (loaded only when Docker is
// watched). The worker the store starts (checkpoint-worker.js) stays in dist/src.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist/bundle');
const programs = { 'netns-agent': 'dist/src/cli/agent-main.js', netnsctl: 'dist/src/cli/netnsctl-main.js' };

// A module's import.meta.url becomes the URL of its file in dist/src, found from the bundle's own
// place at run time: paths made from it (web pages, the native addon, the worker) stay right.
const moduleUrls = {
  name: 'module-urls',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const contents = await readFile(args.path, 'utf8');
      if (!contents.includes('import.meta.url')) return undefined;
      const fromBundle = JSON.stringify(path.relative(outdir, args.path));
      return {
        contents: contents.replaceAll('import.meta.url', `__moduleUrl(${fromBundle})`),
        loader: 'js',
        resolveDir: path.dirname(args.path),
      };
    });
  },
};

for (const [name, entry] of Object.entries(programs)) {
  await build({
    entryPoints: [path.join(root, entry)],
    outfile: path.join(outdir, `${name}.cjs`),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['better-sqlite3', 'etcd3', '@grpc/grpc-js', 'dockerode'],
    banner: {
      js: "const __moduleUrl = (fromBundle) => require('node:url').pathToFileURL(require('node:path').join(__dirname, fromBundle)).href;",
    },
    plugins: [moduleUrls],
    sourcemap: 'linked',
    legalComments: 'none',
    // Whitespace and syntax only (names kept, for errors and stack traces): 3.3 -> 2.1 MB, which
    // the agent reads, hashes and hands to V8 at every start (~40 ms sooner on a small host).
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  });
}
