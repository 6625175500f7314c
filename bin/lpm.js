#!/usr/bin/env node
// The compiled CLI lives in dist/ (`npm run build`); this shim keeps the bin path stable.
import { main } from '../dist/cli/lpm.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  },
);
