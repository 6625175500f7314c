// ESLint flat config: typescript-eslint's type-aware recommended rules on every .ts file that
// tsconfig.json includes. `npm run lint` (part of `npm test`).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Build output, dependencies and test artifacts; extender/web holds static assets (no TS).
    ignores: ['dist/', 'node_modules/', 'test/artifacts/', '.lpm/', 'extender/web/'],
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // The bugs this lint is here for: unawaited promises and async callbacks whose rejection nobody sees.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // `async` without `await` is how handlers and fakes meet Promise-returning interfaces (a throw becomes a rejection).
      '@typescript-eslint/require-await': 'off',
      // `let x; const f = () => x; x = ...` is a deliberate forward reference: as const, an early f() would throw (TDZ).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `const { omitted: _x, ...rest } = o` is how a field is dropped from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      // prom-client's collect() gets the metric as `this`; the owner is captured as `self`.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read JSON bodies and poke fakes and private state through `any`; the assertions check the values.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
