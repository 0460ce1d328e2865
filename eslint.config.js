// Lint rules for Ferry's TypeScript (npm run lint). Type-aware where it catches real
// server bugs: a promise nobody awaits or catches is an unhandled rejection that ends
// a worker, so no-floating-promises and no-misused-promises are errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
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
);
