// Lint rules for Ferry's TypeScript (npm run lint). Type-aware where it catches real
// server bugs: a promise nobody awaits or catches is an unhandled rejection that ends
// a worker, so no-floating-promises and no-misused-promises are errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Tables with one owner: only files under the owner's folder may write them
 * (insertInto, updateTable, deleteFrom). docs/architecture.md lists the owners.
 */
const TABLE_OWNERS = {
  transfers: 'src/transfers/',
};

const tableOwner = {
  meta: {
    type: 'problem',
    schema: [],
    messages: { notOwner: "only {{owner}} writes the {{table}} table: call a function of the transfer log's module instead" },
  },
  create(context) {
    const file = context.filename.slice(context.cwd.length + 1);
    return {
      CallExpression(node) {
        const callee = node.callee;
        const method = callee.type === 'MemberExpression' && callee.property.type === 'Identifier' ? callee.property.name : undefined;
        if (method !== 'insertInto' && method !== 'updateTable' && method !== 'deleteFrom') return;
        const table = node.arguments[0]?.type === 'Literal' ? node.arguments[0].value : undefined;
        const owner = TABLE_OWNERS[table];
        if (owner && !file.startsWith(owner)) context.report({ node, messageId: 'notOwner', data: { owner, table } });
      },
    };
  },
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'console/dist/**', 'console/vite.config.ts', '**/*.js', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's describe/it return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // A let that closures read before its one assignment (the supervisor's coordinator) stays a let.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // Control characters in patterns are what those patterns are for (names, XML).
      'no-control-regex': 'off',
    },
  },
  // Tests may seed any table; the server's own code keeps to the owners.
  { files: ['src/**/*.ts'], plugins: { ferry: { rules: { 'table-owner': tableOwner } } }, rules: { 'ferry/table-owner': 'error' } },
);
