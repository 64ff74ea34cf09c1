// The tests run the built service as real processes and sagactl's CLI as a subprocess; jest only
// compiles the test files. NestJS 12 is ESM-only: for the in-process test (@nestjs/testing) the
// ESM packages are compiled to CommonJS, found by scanning node_modules as the root config does.
const fs = require('node:fs');
const path = require('node:path');

function esmPackages(dirs) {
  const names = new Set();
  for (const dir of dirs.filter((d) => fs.existsSync(d))) {
    for (const entry of fs.readdirSync(dir).filter((e) => !e.startsWith('.'))) {
      const candidates = entry.startsWith('@') ? fs.readdirSync(path.join(dir, entry)).map((n) => `${entry}/${n}`) : [entry];
      for (const name of candidates) {
        try {
          if (JSON.parse(fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8')).type === 'module') names.add(name);
        } catch { /* not a package */ }
      }
    }
  }
  return [...names];
}

const swc = ['@swc/jest', {
  jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
  module: { type: 'commonjs' },
}];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.(t|j|mj)sx?$': swc },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages([path.join(__dirname, 'node_modules'), path.join(__dirname, '..', '..', 'node_modules')]).join('|')})/)`],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 120_000,
  // The end-to-end test starts two instances and loads them: it runs alone, not beside another file.
  maxWorkers: 1,
};
