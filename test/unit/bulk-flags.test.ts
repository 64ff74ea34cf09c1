import { assertBulkOutcome, assertNoPacingWithIds, BulkFlags, countsText, parsePacing, renderChanges, renderPlan } from '../../src/cli/bulk';
import { createOutput } from '../../src/cli/output';
import { EXIT, OutcomeExit, UsageError } from '../../src/errors';
import type { Io } from '../../src/cli/io';
import type { BulkPlan, BulkReport } from '../../src/operator/bulk';
import type { WhatIfChanges } from '../../src/operator/what-if';

const defaults: BulkFlags = { batch: '100', parallel: '4' };

function capture() {
  let text = '';
  const io: Io = { stdout: { write: (s: string) => (text += s) }, stderr: { write: () => true }, env: { NO_COLOR: '1' }, cwd: '/',
    stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
  return { out: createOutput(io, { wide: true }), text: () => text };
}

const usage = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('pacing flags (--rate, --batch, --limit, --parallel)', () => {
  test('the defaults: no rate, batches of 100, no limit, 4 at once', () => {
    expect(parsePacing(defaults)).toEqual({ ratePerSec: undefined, batch: 100, limit: undefined, concurrency: 4 });
  });

  test('--rate reads "50/s", "50", " 2.5 /s "', () => {
    expect(parsePacing({ ...defaults, rate: '50/s' }).ratePerSec).toBe(50);
    expect(parsePacing({ ...defaults, rate: '50' }).ratePerSec).toBe(50);
    expect(parsePacing({ ...defaults, rate: ' 2.5 /s ' }).ratePerSec).toBe(2.5);
    expect(parsePacing({ ...defaults, rate: '100000' }).ratePerSec).toBe(100_000);
  });

  test.each(['0', '0/s', '-5/s', 'fast', '50/m', '', '100001'])('--rate %p is refused, naming the option and the value', (rate) => {
    expect(usage(() => parsePacing({ ...defaults, rate }))).toBe(`--rate must be more than 0 and at most 100000 sagas per second (e.g. 50/s), got "${rate}".`);
  });

  test('--batch, --limit and --parallel are whole numbers in their ranges', () => {
    expect(parsePacing({ ...defaults, batch: '10000', limit: '1', parallel: '32' })).toEqual({ ratePerSec: undefined, batch: 10_000, limit: 1, concurrency: 32 });
    expect(usage(() => parsePacing({ ...defaults, batch: '0' }))).toContain('--batch must be a whole number from 1 to 10000, got "0"');
    expect(usage(() => parsePacing({ ...defaults, limit: '1.5' }))).toContain('--limit must be a whole number');
    expect(usage(() => parsePacing({ ...defaults, parallel: '33' }))).toContain('--parallel must be a whole number from 1 to 32');
  });

  test('with transaction ids, every pacing flag given is refused by name; the defaults are not', () => {
    expect(() => assertNoPacingWithIds(defaults, ['t1'])).not.toThrow();
    expect(() => assertNoPacingWithIds({ ...defaults, rate: '5/s', limit: '3' }, [])).not.toThrow();
    expect(usage(() => assertNoPacingWithIds({ rate: '5/s', limit: '3', batch: '10', parallel: '2' }, ['t1'])))
      .toBe('--rate, --limit, --batch, --parallel pace a run selected by FILTERS; with transaction ids the sagas named are done one by one.');
    expect(usage(() => assertNoPacingWithIds({ ...defaults, parallel: '1' }, ['t1']))).toMatch(/^--parallel pace/);
  });
});

describe('the exit code of a bulk run', () => {
  const report = (over: Partial<BulkReport>): BulkReport => ({ action: 'compensate', outcome: 'done', processed: 3, counts: {}, refunded: '0.00', restocked: 0,
    results: [], violations: [], ...over });
  const exitOf = (r: BulkReport, success = ['compensated']) => {
    try {
      assertBulkOutcome(r, success);
      return 0;
    } catch (err) {
      expect(err).toBeInstanceOf(OutcomeExit);
      return { code: (err as OutcomeExit).exitCode, message: (err as Error).message };
    }
  };
  const result = (outcome: string) => ({ transactionId: `t-${outcome}`, before: 'failed', outcome, detail: null });

  test('all done as asked: 0', () => {
    expect(exitOf(report({ results: [result('compensated'), result('compensated')] }))).toBe(0);
  });

  test('the guard stopped it: 6, naming the check and the row', () => {
    expect(exitOf(report({ outcome: 'guard_stopped', processed: 2, violations: [{ check: 'balance_matches_ledger', id: 'user-1', detail: 'balance 5.00, ledger 7.00' }] })))
      .toEqual({ code: EXIT.checkFailed, message: 'guard stopped the run after 2 saga(s): balance_matches_ledger broken by user-1 (balance 5.00, ledger 7.00)' });
  });

  test('an undo failed: 5, before any refusal is counted', () => {
    expect(exitOf(report({ counts: { compensation_failed: 1 }, results: [result('compensation_failed'), result('refused')] })))
      .toEqual({ code: EXIT.compensationFailed, message: '1 of 3 compensation(s) failed' });
  });

  test('some refused or not found: 3', () => {
    expect(exitOf(report({ results: [result('compensated'), result('refused'), result('not_found')] })))
      .toEqual({ code: EXIT.notFound, message: '2 of 3 saga(s) refused or not found' });
  });

  test('counts read as words, "none" when empty', () => {
    expect(countsText({ compensated: 2, refused: 1 })).toBe('2 compensated, 1 refused');
    expect(countsText({})).toBe('none');
  });
});

describe('what a human reads before and after', () => {
  const plan = (over: Partial<BulkPlan>): BulkPlan => ({ action: 'compensate', filter: {}, description: '--status failed', sagas: 2, refund: '30.00', restock: 2,
    byUser: [{ userId: 'user-1', sagas: 2, refund: '30.00' }], byItem: [{ itemId: 'item-1', sagas: 2, restock: 2 }], leftAlone: [], ...over });

  test('the plan: totals, per user and item, and what it leaves alone and why', () => {
    const c = capture();
    renderPlan(c.out, plan({ leftAlone: [{ status: 'completed', sagas: 4, why: 'needs --include-completed' }] }), 'Compensate');
    expect(c.text()).toContain('Compensate 2 saga(s) selected by --status failed: refund 30.00, restock 2.');
    expect(c.text()).toMatch(/user-1 +2 +30\.00/);
    expect(c.text()).toMatch(/item-1 +2 +2/);
    expect(c.text()).toContain('left alone: 4 completed (needs --include-completed)');
  });

  test('an empty plan prints no tables', () => {
    const c = capture();
    renderPlan(c.out, plan({ sagas: 0, refund: '0.00', restock: 0, byUser: [], byItem: [] }), 'Retry');
    expect(c.text()).toBe('Retry 0 saga(s) selected by --status failed: refund 0.00, restock 0.\n');
  });

  test('--what-if changes: rows appearing or vanishing read "-", loose ledger rows name their source', () => {
    const changes: WhatIfChanges = {
      sagas: [{ transactionId: 't1', before: 'failed', after: 'compensated' }, { transactionId: 't2', before: null, after: 'completed' }],
      users: [{ userId: 'user-1', before: '70.00', after: '100.00' }],
      items: [{ itemId: 'item-1', before: 4, after: 5 }],
      ledger: [{ account: 'user', accountId: 'user-1', delta: '30.00', source: 'saga', transactionId: 't1', step: 'debit_user', kind: 'undo' },
        { account: 'item', accountId: 'item-1', delta: '1', source: 'seed', transactionId: null, step: null, kind: null }],
      notifications: [{ notificationId: 'n1', before: { status: 'failed', attempts: 1 }, after: { status: 'sent', attempts: 2 } },
        { notificationId: 'n2', before: null, after: null }],
      transactionLogs: [{ logId: 'l1', before: null, after: 'failed' }, { logId: 'l2', before: 'completed', after: null }],
      auditRows: 3,
    };
    const c = capture();
    renderChanges(c.out, changes);
    const text = c.text();
    expect(text).toMatch(/^What if \(rolled back, nothing changed\):\n/);
    expect(text).toMatch(/t1 +failed +compensated/);
    expect(text).toMatch(/t2 +- +completed/);
    expect(text).toMatch(/user-1 +70\.00 +100\.00/);
    expect(text).toMatch(/item item-1 +1 +seed\s*\n/);
    expect(text).toContain('notification n1: failed -> sent (attempts 2)');
    expect(text).toContain('notification n2: - -> - (attempts -)');
    expect(text).toContain('transaction log l1: - -> failed');
    expect(text).toContain('transaction log l2: completed -> -');
    expect(text).toContain('3 audit row(s) would be written.');
  });

  test('--what-if with nothing changed says so per table', () => {
    const c = capture();
    renderChanges(c.out, { sagas: [], users: [], items: [], ledger: [], notifications: [], transactionLogs: [], auditRows: 0 });
    for (const empty of ['no saga changes status', 'no balance moves', 'no stock moves', 'no ledger rows', '0 audit row(s) would be written.']) expect(c.text()).toContain(empty);
  });
});
