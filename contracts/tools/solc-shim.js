#!/usr/bin/env node
// A `solc` command for forge, backed by the npm `solc` package (solcjs, WebAssembly).
//
// forge needs a native solc and cannot download one on an offline machine. It only ever calls
// `solc --version` and `solc --standard-json [--base-path P] [--include-path P] [--allow-paths P]`
// with the input on stdin, so this shim answers exactly those two forms. forge already inlines every
// source it resolved; the import callback is a fallback that reads files under the allowed roots.
'use strict';

const fs = require('fs');
const path = require('path');
const solc = require('solc');

function printVersion() {
  process.stdout.write('solc, the solidity compiler commandline interface\n');
  process.stdout.write(`Version: ${solc.version()}\n`);
}

function optionValues(args, name) {
  const values = [];
  for (let i = 0; i < args.length; i += 1) {
    if (args[i] === name && i + 1 < args.length) values.push(...args[i + 1].split(','));
    else if (args[i].startsWith(`${name}=`)) values.push(...args[i].slice(name.length + 1).split(','));
  }
  return values;
}

function importResolver(roots) {
  return (importPath) => {
    for (const root of roots) {
      const candidate = path.resolve(root, importPath);
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
    }
    return { error: `File not found under ${roots.join(', ')}: ${importPath}` };
  };
}

function compileStandardJson(args) {
  const input = fs.readFileSync(0, 'utf8');
  const roots = [
    ...optionValues(args, '--base-path'),
    ...optionValues(args, '--include-path'),
    ...optionValues(args, '--allow-paths'),
    process.cwd(),
  ];
  const output = solc.compile(input, { import: importResolver(roots) });
  process.stdout.write(output);
}

function main(args) {
  if (args.includes('--version')) return printVersion();
  if (args.includes('--standard-json')) return compileStandardJson(args);
  process.stderr.write(`solc-shim: only --version and --standard-json are supported, got: ${args.join(' ')}\n`);
  process.exitCode = 2;
}

main(process.argv.slice(2));
