// Lint: typescript-eslint's recommended rules plus the dependency direction of
// docs/architecture.md (in this repository): renderer -> shared <- main; inside main
// electron|cli|web -> app -> store|peers|devices|usb|trust -> shared.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const noNode = { group: ['node:*', 'fs', 'path', 'crypto', 'os', 'child_process', 'net', 'http', 'stream'], message: 'shared/ and renderer/ are pure: no Node built-ins' }
const noElectron = { group: ['electron'], message: 'only main/electron imports electron' }
const noMain = { group: ['**/main/**', '../main/*', '../../main/*'], message: 'shared/ and renderer/ never import main/' }
const noRenderer = { group: ['**/renderer/**'], message: 'nothing imports the renderer' }
const noUp = { group: ['**/app/**', '../app/*', '**/cli/**', '../cli/*', '**/web/**', '../web/*', '**/electron/**', '../electron/*'], message: 'services never import the composition root or its front ends' }

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'renderer/dist/**', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  { files: ['shared/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noNode, noElectron, noMain, noRenderer] }] } },
  { files: ['renderer/**/*.{ts,tsx}'], rules: { 'no-restricted-imports': ['error', { patterns: [noNode, noElectron, noMain] }] } },
  { files: ['main/**/*.ts'], ignores: ['main/electron/**'], rules: { 'no-console': 'error', 'no-restricted-imports': ['error', { patterns: [noElectron, noRenderer] }] } },
  { files: ['main/store/**/*.ts', 'main/peers/**/*.ts', 'main/devices/**/*.ts', 'main/usb/**/*.ts', 'main/trust/**/*.ts', 'main/pvtx/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noElectron, noRenderer, noUp] }] } },
  { files: ['main/cli/**/*.ts', 'main/web/**/*.ts'], rules: { 'no-console': 'off' } },
  { files: ['main/app/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [noElectron, noRenderer, { group: ['**/cli/**', '../cli/*', '**/web/**', '../web/*', '**/electron/**', '../electron/*'], message: 'the composition root does not import its front ends' }] }] } },
)
