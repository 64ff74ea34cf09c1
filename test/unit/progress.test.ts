import { createProgress, describe as describeProgress, interrupted, stoppedWork } from '../../src/cli/progress';
import { createOutput } from '../../src/cli/output';
import { InterruptedError } from '../../src/errors';
import type { Io } from '../../src/cli/io';

function io(over: Partial<Io> = {}): Io & { err: () => string } {
  let err = '';
  return {
    stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: '/',
    stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false, ...over, err: () => err,
  };
}

const opts = { label: 'seeding', unit: 'rows', total: 1_000_000 };

beforeEach(() => jest.useFakeTimers({ now: 1_000_000 }));
afterEach(() => jest.useRealTimers());

test('one line: done of total, rate and ETA over the whole run so far', () => {
  const state = { opts, done: 250_000, total: 1_000_000, started: 0 };
  expect(describeProgress(state, false, 2000)).toBe('seeding: 25% 250,000/1,000,000 rows, 125,000 rows/s, ETA 6s');
  expect(describeProgress(state, true, 2000)).toBe('seeding [█████░░░░░░░░░░░░░░░] 25% 250,000/1,000,000 rows, 125,000 rows/s, ETA 6s');
  expect(describeProgress({ ...state, done: 1_000_000 }, false, 100_000)).toBe('seeding: 100% 1,000,000/1,000,000 rows, 10,000 rows/s');
  expect(describeProgress({ ...state, done: 0, total: 0 }, false, 10)).toBe('seeding: 100% 0/0 rows, 0 rows/s');
  // Everything handed over at 4 s; the commit still runs at 9 s: the rate stays what it was.
  expect(describeProgress({ ...state, done: 1_000_000, handedOver: 4000 }, false, 9000)).toBe('seeding: 100% 1,000,000/1,000,000 rows, 250,000 rows/s, finishing');
});

test('without a terminal: nothing for short work, then a plain line every interval, and a last one at the end', () => {
  const quick = io();
  const p = createProgress(quick, opts, { quiet: false, intervalMs: 5000 });
  p.tick(500_000);
  jest.advanceTimersByTime(4000);
  p.tick(1_000_000);
  p.stop();
  jest.advanceTimersByTime(20_000);
  expect(quick.err()).toBe('');

  const slow = io();
  const q = createProgress(slow, opts, { quiet: false, intervalMs: 5000 });
  q.tick(100_000);
  jest.advanceTimersByTime(5000);
  q.tick(400_000);
  jest.advanceTimersByTime(5000);
  q.tick(1_000_000);
  q.stop();
  const lines = slow.err().split('\n').filter(Boolean);
  expect(lines[0]).toMatch(/^seeding: 10% 100,000\/1,000,000 rows, 20,000 rows\/s, ETA 45s$/);
  expect(lines).toContain('seeding: 40% 400,000/1,000,000 rows, 40,000 rows/s, ETA 15s');
  expect(lines.at(-1)).toBe('seeding: 100% 1,000,000/1,000,000 rows, 100,000 rows/s, finishing');
  expect(slow.err()).not.toMatch(/\x1b|\r/); // plain lines: no cursor movement in a log
});

test('on a terminal: a bar redrawn in place after a moment; the total may grow, never the bar go back', () => {
  const tty = io({ stderrIsTTY: true, stdoutColumns: 100 });
  const p = createProgress(tty, opts, { quiet: false });
  jest.advanceTimersByTime(300);
  p.tick(500_000);
  jest.advanceTimersByTime(200);
  p.tick(500_000, 2_000_000);
  jest.advanceTimersByTime(200);
  p.stop();
  expect(tty.err()).toContain('seeding [');
  expect(tty.err()).toContain('50% 500,000/1,000,000 rows');
  expect(tty.err()).toContain('25% 500,000/2,000,000 rows');
  expect(tty.err()).toContain('\x1b[?25h'); // the cursor is given back
});

test('--quiet shows no progress at all', () => {
  const t = io({ stderrIsTTY: true });
  const p = createProgress(t, opts, { quiet: true });
  jest.advanceTimersByTime(10_000);
  p.tick(10);
  p.stop();
  expect(t.err()).toBe('');
});

test('after Ctrl-C the next tick stops the work, saying how far it got and how to finish', () => {
  const stop = new AbortController();
  const t = io({ signal: stop.signal });
  const p = createProgress(t, { ...opts, resume: 'Run the same command again.' }, { quiet: true });
  p.tick(1000);
  stop.abort('SIGINT');
  let thrown: unknown;
  try {
    p.tick(2000);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(InterruptedError);
  expect(thrown).toMatchObject({ exitCode: 130, code: 'INTERRUPTED', message: 'Interrupted by SIGINT. Stopped after 2,000 of 1,000,000 rows (seeding).',
    hint: 'Run the same command again.' });
  expect(interrupted(t, 'SIGTERM')).toMatchObject({ exitCode: 143, code: 'TERMINATED' });
  p.stop();
  // Stopped by the interruption, the work stays known: main adds how far it got to withApp's report.
  expect(stoppedWork(t)).toEqual({ message: 'Stopped after 2,000 of 1,000,000 rows (seeding).', hint: 'Run the same command again.' });
  const idle = io();
  expect(stoppedWork(idle)).toBeUndefined();
  expect(interrupted(idle, 'SIGINT').message).toBe('Interrupted by SIGINT; the work in flight was stopped, and what had not committed was rolled back.');
  const finished = io();
  createProgress(finished, opts, { quiet: true }).stop();
  expect(stoppedWork(finished)).toBeUndefined(); // work that ended normally is forgotten
});

test('work that ends by itself once interrupted (saga load) is not stopped by a tick', () => {
  const stop = new AbortController();
  const t = io({ signal: stop.signal });
  const p = createProgress(t, { ...opts, stopsOnInterrupt: false }, { quiet: true });
  stop.abort('SIGINT');
  expect(() => p.tick(10)).not.toThrow();
  p.stop();
  expect(stoppedWork(t)?.message).toBe('Stopped after 10 of 1,000,000 rows (seeding).');
});

test('withProgress stops the display however the work ends', async () => {
  const tty = io({ stderrIsTTY: true });
  const out = createOutput(tty, {});
  await expect(out.withProgress(opts, async (p) => {
    jest.advanceTimersByTime(400);
    p.tick(10);
    throw new Error('disk full');
  })).rejects.toThrow('disk full');
  expect(tty.err()).toContain('\x1b[?25h');
  expect(await out.withProgress(opts, async () => 42)).toBe(42);
});
