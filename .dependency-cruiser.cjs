/**
 * Dependency rules (npm run deps), the direction docs/architecture.md describes.
 *
 * LAYERS lists Ferry's modules (folders of src/, and the composition roots) from the
 * bottom up: a module may import only modules listed before it, never one after it.
 * That keeps the core (db, config, storage, transfers) free of feature modules and
 * makes a cycle between two modules impossible. A new module takes its place here.
 */
const LAYERS = [
  'version',
  'db',
  'config',
  'ssh2',
  'storage',
  'transfers',
  'queue',
  'accounts',
  'pki',
  'cluster',
  'observability',
  'protocols',
  'edge',
  'routing',
  'scheduler',
  'monitor',
  'snapshot',
  'views',
  'admin',
  'backup',
  'worker-pool',
  'node-worker',
  'node-supervisor',
  'node',
  'cli',
];

const modulePath = (name) => `^src/${name.replace(/[.-]/g, (c) => `\\${c}`)}(/|\\.ts$)`;

const layerRules = LAYERS.slice(0, -1).map((name, i) => ({
  name: `layer-${name}`,
  comment: `${name} may import only the modules below it: ${LAYERS.slice(0, i).join(', ') || 'none'}`,
  severity: 'error',
  from: { path: modulePath(name) },
  to: { path: LAYERS.slice(i + 1).map(modulePath) },
}));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'no-unknown-module',
      comment: 'every folder of src/ has its place in LAYERS',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: LAYERS.map(modulePath) },
    },
    {
      name: 'no-circular',
      comment: 'no cycle of runtime imports between files (type-only imports may point back)',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
