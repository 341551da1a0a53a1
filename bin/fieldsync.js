#!/usr/bin/env node
// The CLI bundle (scripts/build-cli.mjs, part of npm run build): a few files
// to load instead of the two hundred modules of dist/main.
import '../dist/cli/fieldsync.mjs'
