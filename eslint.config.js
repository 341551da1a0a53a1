// Lint: typescript-eslint's recommended rules, the dependency direction and the
// runtime of each folder, as docs/architecture.md (in this repository) states them:
// renderer -> shared <- main; inside main electron|cli|web -> app -> services -> shared.
// shared/, renderer/ and the preload are allow-lists: what is not allowed is refused.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const noElectron = { group: ['electron'], message: 'only main/electron imports electron' }
const noMain = { group: ['**/main/**', '../main/*', '../../main/*'], message: 'shared/ and renderer/ never import main/' }
const noRenderer = { group: ['**/renderer/**'], message: 'nothing imports the renderer' }
const noUp = {
  group: ['**/app/**', '../app/*', '**/cli/**', '../cli/*', '**/web/**', '../web/*', '**/electron/**', '../electron/*'],
  message: 'services never import the composition root or its front ends',
}
/** shared/ runs in Node, in the browser and in the preload: its own files and these pure packages, nothing else (no node:*, events, zlib, worker_threads...). */
const sharedOnly = {
  regex: '^(?!\\.\\.?/|multiformats/|@noble/hashes/)',
  message: 'shared/ is pure TypeScript for Node and the browser alike: it imports only shared/ files, multiformats and @noble/hashes (docs/architecture.md)',
}
/** The renderer runs in a browser page: shared/, its own files and preact. */
const rendererOnly = {
  regex: '^(?!\\.\\.?/|preact$|preact/hooks$)',
  message: 'the renderer runs in a browser page: it imports only its own files, shared/ and preact (docs/architecture.md)',
}
/** Code bundled into the sandboxed preload (bridge.ts) or loaded by unit tests without Electron (sender.ts): shared/ and its own folder. */
const preloadPureOnly = {
  regex: '^(?!\\./|\\.\\./\\.\\./shared/)',
  message: 'bridge.ts and sender.ts are pure (bundled into the sandboxed preload, loaded by tests without Electron): only shared/ and this folder',
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'renderer/dist/**', '**/*.cjs', '!bin/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // The launcher (bin/fieldsync.cjs): plain CommonJS for Node, which loads it before anything else.
  {
    files: ['bin/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'readonly', __dirname: 'readonly', process: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  { files: ['shared/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [sharedOnly, noElectron, noMain, noRenderer] }] } },
  { files: ['renderer/**/*.{ts,tsx}'], rules: { 'no-restricted-imports': ['error', { patterns: [rendererOnly, noElectron, noMain] }] } },
  { files: ['main/**/*.{ts,cts}'], rules: { 'no-console': 'error', 'no-restricted-imports': ['error', { patterns: [noElectron, noRenderer] }] } },
  {
    files: ['main/store/**/*.ts', 'main/peers/**/*.ts', 'main/devices/**/*.ts', 'main/usb/**/*.ts', 'main/trust/**/*.ts', 'main/pvtx/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noElectron, noRenderer, noUp] }] },
  },
  { files: ['main/cli/**/*.ts', 'main/web/**/*.ts'], rules: { 'no-console': 'off' } },
  {
    files: ['main/app/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noElectron,
            noRenderer,
            {
              group: ['**/cli/**', '../cli/*', '**/web/**', '../web/*', '**/electron/**', '../electron/*'],
              message: 'the composition root does not import its front ends',
            },
          ],
        },
      ],
    },
  },
  // Electron's main process: electron, Node and the composition root; not the other front ends.
  {
    files: ['main/electron/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noRenderer,
            { group: ['**/cli/**', '../cli/*', '**/web/**', '../web/*'], message: 'the desktop app does not import the other front ends' },
          ],
        },
      ],
    },
  },
  // Pure parts of the bridge: bundled into the preload or loaded without Electron.
  { files: ['main/electron/bridge.ts', 'main/electron/sender.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [preloadPureOnly, noRenderer] }] } },
  // The sandboxed preload: electron's preload APIs and the pure bridge, nothing else (it cannot require files at run time).
  {
    files: ['main/electron/preload.cts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!electron$|\\./bridge\\.js$)',
              message: 'the sandboxed preload imports only electron and ./bridge.js (everything else goes through the bridge)',
            },
          ],
        },
      ],
    },
  },
)
