/**
 * The shipped `ferry` command: the compiled server and CLI (tsc → dist/src) bundled
 * into dist/cli. A bundle loads in a fraction of the time of ~700 separate ES
 * modules (kysely alone is 263 files): `ferry account list` takes about 0.25 s of
 * CPU instead of 0.75 s, and every node worker process starts faster too.
 *
 * Left outside the bundle: native add-ons, and ssh2, which src/ssh2/library.ts
 * loads with require() to patch it as it loads. Chunks share one folder with the
 * entries, so `new URL('./edge-thread.js', import.meta.url)` finds its file.
 */
export default {
  input: {
    ferry: 'dist/src/cli/main.js',
    'edge-thread': 'dist/src/edge/edge-thread.js',
  },
  platform: 'node',
  external: [/\.node$/, 'better-sqlite3', 'cpu-features', 'pg-native', 'ssh2', /^ssh2\//],
  output: {
    dir: 'dist/cli',
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: '[name]-[hash].js',
    sourcemap: true,
  },
};
