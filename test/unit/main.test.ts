import { main } from '../../src/main';
import { runMain } from '../support/cli';
import { assertCanPrompt, confirm } from '../../src/cli/prompts';
import { NO_CACHE } from '../../src/cache/saga-cache';
import type { Io } from '../../src/cli/io';

test('--help and --version exit 0 and touch no database', async () => {
  const help = await runMain(['--help'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' });
  expect(help.code).toBe(0);
  expect(help.stdout).toContain('Exit codes:');
  for (const group of ['migrate', 'seed', 'saga', 'db']) {
    const sub = await runMain([group, '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Examples:');
  }
  const version = await runMain(['--version']);
  expect(version.code).toBe(0);
  expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
});

test('an unknown command or option is a usage error (exit 2)', async () => {
  expect((await runMain(['frobnicate'])).code).toBe(2);
  const r = await runMain(['migrate', 'up', '--frob']);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("unknown option '--frob'");
});

test('an unexpected failure is an internal error (exit 1), with the stack only under --debug', async () => {
  const failing = (debug: boolean) => {
    let err = '';
    const io: Io = {
      stdout: { write: () => { throw new Error('disk on fire'); } },
      stderr: { write: (s: string) => (err += s) },
      env: { SAGACTL_HOME: '/nonexistent/sagactl-home' }, cwd: '/', stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false,
    };
    return main(['db', 'stop', ...(debug ? ['--debug'] : [])], io).then((code) => ({ code, err }));
  };
  // Writing the result fails: not an AppError, so an internal error.
  const plain = await failing(false);
  expect(plain.code).toBe(1);
  expect(plain.err).toMatch(/internal error: .*\nRun again with --debug/);
  const debug = await failing(true);
  expect(debug.err).toMatch(/\n\s+at /);
});

test('confirmations: --yes answers, and without a terminal there is nobody to ask', async () => {
  const io = { stdinIsTTY: false } as Io;
  expect(await confirm(io, true, 'sure?')).toBe(true);
  expect(() => assertCanPrompt(io)).toThrow(/stdin is not a terminal/);
  expect(() => assertCanPrompt({ stdinIsTTY: true } as Io)).not.toThrow();
  await expect(confirm(io, false, 'sure?')).rejects.toThrow(/stdin is not a terminal/);
});

test('without Redis the cache is a no-op that never fails', async () => {
  expect(await NO_CACHE.get('x')).toBeUndefined();
  await expect(NO_CACHE.set({} as never)).resolves.toBeUndefined();
  await expect(NO_CACHE.invalidate(['x'])).resolves.toBeUndefined();
  await expect(NO_CACHE.close()).resolves.toBeUndefined();
});
