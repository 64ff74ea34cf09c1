import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ROOT } from '../support/cli';

/**
 * The README's first two commands, as a newcomer in a container runs them: root, a fresh copy of
 * the checkout inside a private temp folder (mktemp -d makes it 0700, so the postgres user the
 * embedded server runs as cannot enter it), nothing configured. The real `npm ci` (from npm's
 * cache when it can: ~20 s) and the real `npm run quickstart`.
 */
const asRoot = process.getuid?.() === 0 ? test : test.skip;

/** The checkout as `git clone` would give it, with the work not yet committed: tracked and new files, nothing ignored. */
function copyCheckout(to: string): void {
  const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
  for (const file of files) {
    if (!fs.existsSync(path.join(ROOT, file))) continue; // deleted, not yet committed
    fs.mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(to, file));
  }
}

/** As a newcomer's shell: no database configured, not CI, none of npm's variables from the test run. */
function newcomerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) {
    if (/^(DATABASE_URL|DB_|PG|CI$|REDIS_URL|SAGACTL_|npm_|JEST)/.test(key)) delete env[key];
  }
  return env;
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: newcomerEnv() });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('close', (code) => resolve({ code, output }));
  });
}

asRoot('as root, `npm ci && npm run quickstart` passes in a fresh copy inside a 0700 temp folder', async () => {
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'sagactl-quickstart-'));
  expect(fs.statSync(parent).mode & 0o777).toBe(0o700);
  const clone = path.join(parent, 'sagactl');
  let server = '';
  try {
    copyCheckout(clone);
    const install = await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], clone);
    expect([install.code, install.code === 0 ? '' : install.output]).toEqual([0, '']);
    const quickstart = await run('npm', ['run', 'quickstart'], clone);
    expect([quickstart.code, quickstart.code === 0 ? '' : quickstart.output]).toEqual([0, '']);
    expect(quickstart.output).toContain(`as root: the postgres user cannot enter ${parent} (mode 700)`);
    expect(quickstart.output).toMatch(/applied 1764000000000-create-tables/);
    expect(quickstart.output).toContain('users: 3 inserted');
    expect(quickstart.output).toMatch(/\S+ {2}completed {2}\(orchestration\)/);
    server = fs.readFileSync(path.join(clone, '.sagactl', 'server-dir'), 'utf8').trim();
    expect(fs.existsSync(path.join(server, 'data', 'PG_VERSION'))).toBe(true);
  } finally {
    fs.rmSync(parent, { recursive: true, force: true });
    if (server) fs.rmSync(server, { recursive: true, force: true });
  }
}, 300_000);
