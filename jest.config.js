// ESM-only packages (chalk, inquirer, ...) must be compiled to CommonJS for jest's loader.
// The list is built by scanning node_modules, so it does not rot when dependencies move.
const fs = require('node:fs');
const path = require('node:path');

function esmPackages(dir = path.join(__dirname, 'node_modules')) {
  const names = [];
  for (const entry of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (entry.startsWith('.')) continue;
    const scoped = entry.startsWith('@');
    const candidates = scoped ? fs.readdirSync(path.join(dir, entry)).map((n) => `${entry}/${n}`) : [entry];
    for (const name of candidates) {
      try {
        const pkg = JSON.parse(fs.readFileSync(path.join(dir, name, 'package.json'), 'utf8'));
        if (pkg.type === 'module') names.push(name);
      } catch { /* not a package */ }
    }
  }
  return names;
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
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages().join('|')})/)`],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
  collectCoverageFrom: ['src/**/*.ts', 'migrations/**/*.ts'],
  coverageReporters: ['text-summary', 'lcov'],
  // Every kind of coverage, branches and functions too (README, "Coverage"); no file is excluded to reach it.
  coverageThreshold: { global: { lines: 90, statements: 90, branches: 90, functions: 90 } },
};
