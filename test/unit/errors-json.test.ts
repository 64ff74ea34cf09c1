import { CommanderError } from 'commander';
import { reportOf, wantsJson, writeError } from '../../src/cli/error-report';
import { AppError, CheckFailedError, defaultErrorCode, ERROR_CODES, EXIT, InterruptedError, NotFoundError, OutcomeExit, StateError,
  UnreachableError, UsageError } from '../../src/errors';
import { formatSample } from '../../src/health/exposition';
import { renderPrometheusDown } from '../../src/health/prometheus';
import { renderPrometheus } from '../../src/stats/prometheus';
import { runMain } from '../support/cli';
import type { Io } from '../../src/cli/io';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code });

describe('one table of error codes beside the exit codes', () => {
  test('every code belongs to one exit code, and each exit code but 0 has its codes', () => {
    const exits = new Set(Object.values(ERROR_CODES));
    for (const exit of Object.values(EXIT)) if (exit !== EXIT.ok) expect(exits.has(exit)).toBe(true);
    expect(defaultErrorCode(EXIT.notFound)).toBe('NOT_FOUND');
    expect(defaultErrorCode(EXIT.unreachable)).toBe('UNREACHABLE');
    expect(defaultErrorCode(99)).toBe('INTERNAL');
  });

  test('the typed errors carry their code', () => {
    expect(new UsageError('x')).toMatchObject({ code: 'USAGE', exitCode: 2 });
    expect(new NotFoundError('x')).toMatchObject({ code: 'NOT_FOUND', exitCode: 3 });
    expect(new StateError('x')).toMatchObject({ code: 'STATE', exitCode: 3 });
    expect(new UnreachableError('x')).toMatchObject({ code: 'UNREACHABLE', exitCode: 4 });
    expect(new CheckFailedError('x')).toMatchObject({ code: 'CHECK_FAILED', exitCode: 6 });
    expect(new AppError('x', EXIT.compensationFailed)).toMatchObject({ code: 'COMPENSATION_FAILED' });
    expect(new InterruptedError('SIGINT')).toMatchObject({ code: 'INTERRUPTED', exitCode: 130, message: 'aborted; nothing was changed.' });
    expect(new InterruptedError('SIGTERM')).toMatchObject({ code: 'TERMINATED', exitCode: 143 });
    expect(new OutcomeExit(EXIT.sagaNotCompleted)).toMatchObject({ code: 'SAGA_NOT_COMPLETED', message: 'the saga ended without completing (see the output)' });
    expect(new OutcomeExit(EXIT.checkFailed, '2 of 12 checks fail')).toMatchObject({ code: 'CHECK_FAILED', message: '2 of 12 checks fail' });
    expect(new OutcomeExit(EXIT.usage).message).toBe('exit 2');
  });
});

describe('what main says about a failure', () => {
  test.each([
    ['57014', 4, 'TIMEOUT'], ['55P03', 4, 'TIMEOUT'], ['42501', 4, 'PERMISSION'], ['25006', 4, 'PERMISSION'],
    ['28P01', 4, 'AUTH'], ['28000', 4, 'AUTH'], ['ECONNREFUSED', 4, 'UNREACHABLE'], ['08006', 4, 'UNREACHABLE'],
    ['42P01', 3, 'STATE'], ['42P07', 3, 'STATE'],
  ])('a PostgreSQL error %s is exit %d, code %s', (sqlstate, exitCode, code) => {
    expect(reportOf(pgError(sqlstate))).toMatchObject({ exitCode, code, internal: false });
  });

  test('commander errors are usage errors it already printed; help and version are successes', () => {
    expect(reportOf(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--frob'")))
      .toMatchObject({ code: 'USAGE', exitCode: 2, message: "unknown option '--frob'", shown: true });
    expect(reportOf(new CommanderError(1, 'commander.help', '(outputHelp)'))).toMatchObject({ exitCode: 2, message: expect.stringContaining('subcommand') });
    expect(reportOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')).exitCode).toBe(0);
  });

  test('anything else is an internal error, with the hint to rerun with --debug', () => {
    expect(reportOf(new TypeError('x is undefined'))).toMatchObject({ code: 'INTERNAL', exitCode: 1, internal: true });
    expect(reportOf('a string')).toMatchObject({ code: 'INTERNAL', message: 'a string' });
  });

  function capture(): Io & { err: () => string } {
    let err = '';
    return { stdout: { write: () => true }, stderr: { write: (s: string) => (err += s) }, env: {}, cwd: '/', stdinIsTTY: false,
      stdoutIsTTY: false, stderrIsTTY: false, err: () => err };
  }

  test('with --json: one line of JSON, last on stderr, and no human text; the stack before it with --debug', () => {
    const io = capture();
    const code = writeError(reportOf(new NotFoundError('No saga with id "x".', 'Check the id.')), io, { json: true, debug: true });
    expect(code).toBe(3);
    const lines = io.err().trimEnd().split('\n');
    expect(JSON.parse(lines.at(-1)!)).toEqual({ error: { code: 'NOT_FOUND', exitCode: 3, message: 'No saga with id "x".', hint: 'Check the id.' } });
    expect(lines[0]).toMatch(/^NotFoundError: No saga/);
    expect(io.err()).not.toContain('error: No saga');
  });

  test('without --json: the human text; an outcome already printed says nothing more', () => {
    const io = capture();
    writeError(reportOf(new UsageError('bad', 'do this')), io, { json: false, debug: false });
    writeError(reportOf(new OutcomeExit(EXIT.checkFailed)), io, { json: false, debug: false });
    expect(io.err()).toBe('error: bad\ndo this\n');
  });

  test('--json or --format json asks for JSON errors', () => {
    expect(wantsJson(['saga', 'list', '--json'])).toBe(true);
    expect(wantsJson(['stats', '--format', 'json'])).toBe(true);
    expect(wantsJson(['stats', '--format=json'])).toBe(true);
    expect(wantsJson(['stats', '--format', 'prometheus'])).toBe(false);
  });

  test('a usage error of commander itself, with --json: exit 2, the JSON object is the only thing on stderr', async () => {
    const r = await runMain(['saga', 'list', '--frob', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      JSON.stringify({ error: { code: 'USAGE', exitCode: 2, message: "unknown option '--frob'", hint: 'Add --help for usage.' } })]);
    const human = await runMain(['saga', 'list', '--frob']);
    expect(human.stderr).toBe("error: unknown option '--frob'\n(add --help for usage)\n");
    const missing = await runMain(['saga', 'show', '--json']);
    expect(JSON.parse(missing.stderr.trimEnd().split('\n').at(-1)!).error).toMatchObject({ code: 'USAGE', message: "missing required argument 'txid'" });
  });

  test('our own usage errors with --json, before anything connects', async () => {
    const r = await runMain(['saga', 'list', '--limit', '0', '--json'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr.trimEnd())).toEqual({ error: { code: 'USAGE', exitCode: 2,
      message: '--limit must be a whole number from 1 to 1000, got "0".', hint: null } });
  });

  test('an unreachable server with --json: exit 4, UNREACHABLE, and nothing on stdout', async () => {
    const r = await runMain(['saga', 'list', '--json'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/x' });
    expect(r.code).toBe(4);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr.trimEnd().split('\n').at(-1)!).error).toMatchObject({ code: 'UNREACHABLE', exitCode: 4 });
  });
});

describe('Prometheus values', () => {
  test('rounded to six decimals: no float noise, big and whole numbers as they are', () => {
    expect(formatSample(0.024515000000000002)).toBe('0.024515');
    expect(formatSample(0.1 + 0.2)).toBe('0.3');
    expect(formatSample(1764000000.1234567)).toBe('1764000000.123457');
    expect(formatSample(3145728)).toBe('3145728');
    expect(formatSample(1e-9)).toBe('0');
    expect([null, NaN, Infinity, -Infinity].map(formatSample)).toEqual(['NaN', 'NaN', '+Inf', '-Inf']);
  });

  test('stats exports rounded values too', () => {
    const text = renderPrometheus({ total: 3, pending: 0, inProgress: 0, completed: 1, failed: 1, compensating: 0, compensated: 1,
      compensationFailed: 0, successRate: 1 / 3, compensationRate: 1 / 3, stuck: 0, byMode: { orchestration: 3 },
      latencyMs: { count: 1, p50: 24.515000000000002, p95: 24.515000000000002, p99: 24.515000000000002, max: 24.515000000000002,
        mean: 24.515000000000002, approximate: true, relativeError: 0.0443 },
      throughput: null, topErrors: [], failuresByStep: [] } as never);
    expect(text).toContain('sagactl_success_ratio 0.333333\n');
    expect(text).toContain('sagactl_saga_latency_max_seconds 0.024515\n');
    expect(text).not.toMatch(/\d{7,}\n/);
  });

  test('when the database is down the file says so', () => {
    expect(renderPrometheusDown(new Date('2026-11-24T10:00:00.5Z'))).toBe([
      '# HELP sagactl_db_up Whether the database answered the health queries.', '# TYPE sagactl_db_up gauge', 'sagactl_db_up 0',
      '# HELP sagactl_health_timestamp_seconds When this report was taken (Unix time).', '# TYPE sagactl_health_timestamp_seconds gauge',
      'sagactl_health_timestamp_seconds 1795514400.5', ''].join('\n'));
  });
});
