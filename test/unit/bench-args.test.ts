import { benchArgs, OptionKind } from '../../bench/support';

/**
 * The benchmarks' shared command line: each bad value names the option and exits 2 before a
 * database is created; --help exits 0.
 */
interface Args { baseUrl: string; sagas: number; rounds: number; json: boolean }
const DEFAULTS: Args = { baseUrl: 'postgres://x/postgres', sagas: 100, rounds: 3, json: false };
const OPTIONS: Record<string, readonly [keyof Args, OptionKind]> = {
  '--database-url': ['baseUrl', 'text'], '--sagas': ['sagas', [10, 1000]], '--rounds': ['rounds', [1]], '--json': ['json', 'switch'],
};

function parse(...argv: string[]): { args?: Args; code?: number; stderr: string } {
  let stderr = '';
  const write = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  const exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
    throw Object.assign(new Error('exit'), { exitCode: code });
  });
  try {
    return { args: benchArgs('demo', 'usage: demo [--sagas N]', argv, DEFAULTS, OPTIONS), stderr };
  } catch (err) {
    return { code: (err as { exitCode: number }).exitCode, stderr };
  } finally {
    write.mockRestore();
    exit.mockRestore();
  }
}

test('defaults, then each option sets its key: a switch, a text, whole numbers', () => {
  expect(parse().args).toEqual(DEFAULTS);
  expect(parse('--sagas', '1000', '--rounds', '7', '--json', '--database-url', 'postgres://y/z').args)
    .toEqual({ baseUrl: 'postgres://y/z', sagas: 1000, rounds: 7, json: true });
});

test.each([
  [['--sagas', '9'], '--sagas must be a whole number from 10 to 1000, got "9"'],
  [['--sagas', '1001'], '--sagas must be a whole number from 10 to 1000, got "1001"'],
  [['--sagas', '1e3'], '--sagas must be a whole number from 10 to 1000, got "1e3"'],
  [['--rounds', '0'], '--rounds must be a whole number >= 1, got "0"'],
  [['--rounds'], '--rounds needs a value'],
  [['--database-url'], '--database-url needs a value'],
  [['--bogus'], 'unknown option --bogus'],
])('%j: exit 2, naming it, with the usage', (argv, why) => {
  const r = parse(...argv);
  expect(r.code).toBe(2);
  expect(r.stderr).toBe(`bench:demo: ${why}\nusage: demo [--sagas N]\n`);
});

test('--help and -h print the usage and exit 0', () => {
  for (const flag of ['--help', '-h']) expect(parse('--sagas', '50', flag)).toEqual({ code: 0, stderr: 'usage: demo [--sagas N]\n' });
});
