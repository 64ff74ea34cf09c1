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

describe('every command', () => {
  const { buildProgram, allCommands } = require('../../src/cli/program') as typeof import('../../src/cli/program');
  const io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: '/', stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
  const paths = allCommands(buildProgram(io)).map((c) => {
    const names: string[] = [];
    for (let at: typeof c | null = c; at && at.parent; at = at.parent) names.unshift(at.name());
    return names;
  });

  test.each(paths.map((p) => [p.join(' '), p]))('%s --help has examples', async (_name, path) => {
    const r = await runMain([...(path as string[]), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
  });

  test('-o takes only wide; a bad value is exit 2 naming the choices', async () => {
    const r = await runMain(['saga', 'list', '-o', 'tall']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: option '-o <view>' argument 'tall' is invalid. Allowed choices are wide.");
  });
});

describe('shell completion', () => {
  const script = async (shell: string) => {
    const r = await runMain(['completion', shell]);
    expect(r.code).toBe(0);
    return r.stdout;
  };

  test('bash, zsh and fish scripts name every command and flag of the tree', async () => {
    for (const shell of ['bash', 'zsh', 'fish']) {
      const text = await script(shell);
      for (const word of ['migrate', 'seed', 'saga', 'stuck', 'compensate', 'recover', 'health', 'completion', 'older-than', 'json', 'quiet']) {
        expect(text).toContain(word);
      }
      expect(text).not.toContain('stuck-after'); // hidden options stay hidden
    }
  });

  test('the bash script parses and completes: subcommands, their flags, and -o values', async () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const fs = require('node:fs') as typeof import('node:fs');
    const file = `${require('node:os').tmpdir()}/sagactl-completion-${process.pid}.bash`;
    const complete = (line: string) => {
      const words = line.split(' ');
      const run = spawnSync('bash', ['-c', `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); ` +
        `COMP_CWORD=${words.length - 1}; _sagactl; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      return run.stdout.trim().split('\n');
    };
    const bashScript = await script('bash');
    fs.writeFileSync(file, bashScript);
    try {
      expect(spawnSync('bash', ['-n', file]).status).toBe(0);
      expect(complete('sagactl sa')).toEqual(['saga']);
      expect(complete('sagactl saga st')).toEqual(['stuck']);
      expect(complete('sagactl saga stuck --ol')).toEqual(['--older-than']);
      expect(complete('sagactl --json saga compensate --reason up --dr')).toEqual(['--dry-run']);
      expect(complete('sagactl db health --for')).toEqual(['--format']);
      expect(complete('sagactl saga list -o ')).toEqual(['wide']);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  const has = (shell: string) => require('node:child_process').spawnSync(shell, ['-c', 'true']).status === 0;
  const withFile = async <T>(shell: string, fn: (file: string) => T): Promise<T> => {
    const fs = require('node:fs') as typeof import('node:fs');
    const file = `${require('node:os').tmpdir()}/sagactl-completion-${process.pid}.${shell}`;
    fs.writeFileSync(file, await script(shell));
    try {
      return fn(file);
    } finally {
      fs.rmSync(file, { force: true });
    }
  };
  const run = (shell: string, code: string) => require('node:child_process').spawnSync(shell, ['-c', code], { encoding: 'utf8' });

  // zsh and fish are not always installed (CI installs neither): these run where they are.
  (has('zsh') ? test : test.skip)('the zsh script parses and offers subcommands and flags with their descriptions', async () => {
    await withFile('zsh', (file) => {
      expect(run('zsh', `zsh -n ${file}`).status).toBe(0);
      const stub = `source ${file}; _describe() { local arr=\${@[-1]}; print -rl -- \${(P)arr} }; compadd() { shift; print -rl -- "$@" };`;
      expect(run('zsh', `${stub} words=(sagactl saga); CURRENT=3; _sagactl`).stdout).toContain('stuck:sagas nobody is driving');
      expect(run('zsh', `${stub} words=(sagactl saga stuck --ol); CURRENT=4; _sagactl`).stdout).toContain('--older-than:');
      expect(run('zsh', `${stub} words=(sagactl saga list -o ''); CURRENT=5; _sagactl`).stdout).toBe('wide\n');
    });
  });

  (has('fish') ? test : test.skip)('the fish script parses and completes', async () => {
    await withFile('fish', (file) => {
      expect(run('fish', `fish -n ${file}`).status).toBe(0);
      expect(run('fish', `source ${file}; complete -C 'sagactl saga st'`).stdout).toMatch(/^stuck\t/);
      expect(run('fish', `source ${file}; complete -C 'sagactl saga stuck --ol'`).stdout).toMatch(/^--older-than\t/);
      expect(run('fish', `source ${file}; complete -C 'sagactl saga list -o '`).stdout).toMatch(/^wide\t/);
    });
  });

  test('an unknown shell is exit 2', async () => {
    const r = await runMain(['completion', 'powershell']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('completion: the shell must be one of bash, zsh, fish, got "powershell".');
    expect(r.stdout).toBe('');
  });
});

test('--help, completion and usage errors load neither TypeORM nor pg (commands require them lazily)', () => {
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const path = require('node:path') as typeof import('node:path');
  const dist = path.join(__dirname, '..', '..', 'dist', 'src', 'main.js');
  for (const argv of [['--help'], ['saga', 'list', '--help'], ['completion', 'bash'], ['saga', 'list', '--limit', '0']]) {
    const probe = `const m = require(${JSON.stringify(dist)}); const io = { stdout: { write() {} }, stderr: { write() {} }, env: {}, cwd: '/',
      stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
      m.main(${JSON.stringify(argv)}, io).then(() => console.log(JSON.stringify(Object.keys(require.cache))));`;
    const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    const loaded: string[] = JSON.parse(r.stdout);
    expect(loaded.some((f) => f.includes('/src/main.js'))).toBe(true);
    expect(loaded.filter((f) => /node_modules\/(typeorm|pg|pg-pool|cli-progress)\//.test(f))).toEqual([]);
  }
});

describe('signals', () => {
  const { EventEmitter } = require('node:events') as typeof import('node:events');
  const { handleInterrupts, onceOnly, exitAfterFlush } = require('../../src/main') as typeof import('../../src/main');
  afterEach(() => jest.useRealTimers());

  test('the first signal asks the work to stop; a second one stops at once', () => {
    const proc = new EventEmitter();
    const stops: string[] = [];
    const signal = handleInterrupts(proc as never, (s) => stops.push(s), 60_000);
    expect(signal.aborted).toBe(false);
    proc.emit('SIGINT');
    expect([signal.aborted, signal.reason, stops]).toEqual([true, 'SIGINT', []]);
    proc.emit('SIGTERM');
    expect(stops).toEqual(['SIGTERM']);
  });

  test('work that does not stop within the grace period is stopped anyway', () => {
    jest.useFakeTimers();
    const proc = new EventEmitter();
    const stops: string[] = [];
    const signal = handleInterrupts(proc as never, (s) => stops.push(s), 3000);
    proc.emit('SIGTERM');
    expect(signal.reason).toBe('SIGTERM');
    jest.advanceTimersByTime(2999);
    expect(stops).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(stops).toEqual(['SIGTERM']);
  });

  test('the exit happens once, after every stream has flushed what was written before it', () => {
    const calls: number[] = [];
    const finish = onceOnly((code: number) => calls.push(code));
    finish(130);
    finish(0);
    expect(calls).toEqual([130]);

    const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
    try {
      const pending: (() => void)[] = [];
      const stream = { write: (_s: string, cb: () => void) => void pending.push(cb) } as unknown as NodeJS.WritableStream;
      exitAfterFlush(7, [stream, stream]);
      expect(exit).not.toHaveBeenCalled();
      pending[0]();
      expect(exit).not.toHaveBeenCalled();
      pending[1]();
      expect(exit).toHaveBeenCalledWith(7);
    } finally {
      exit.mockRestore();
    }
  });

  test('an error after Ctrl-C is the interruption: exit 130, saying the work was stopped', async () => {
    const stop = new AbortController();
    stop.abort('SIGINT');
    const r = await runMain(['saga', 'list'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' }, false, stop.signal);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('error: Interrupted by SIGINT; the work in flight was stopped, and what had not committed was rolled back.');
  });
});
