import { escapeLabel, renderPrometheus } from '../../src/stats/prometheus';
import { SagaStats, summarise } from '../../src/stats/summary';
import { runWatch } from '../../src/watch';
import { renderStats } from '../../src/cli/stats';
import { createOutput } from '../../src/cli/output';
import { binOf } from '../../src/stats/histogram';
import type { Io } from '../../src/cli/io';

function stats(extra: Partial<SagaStats> = {}): SagaStats {
  return {
    ...summarise({
      groups: [
        { status: 'completed', mode: 'orchestration', errorCode: '', failedStep: '', sagas: 90, latencySumMs: 450, latencyMaxMs: 40 },
        { status: 'failed', mode: 'choreography', errorCode: 'USER_NOT_ACTIVE', failedStep: 'validate_user', sagas: 7, latencySumMs: null, latencyMaxMs: null },
        { status: 'in_progress', mode: 'orchestration', errorCode: '', failedStep: '', sagas: 3, latencySumMs: null, latencyMaxMs: null },
      ],
      bins: [{ bin: binOf(4), sagas: 80 }, { bin: binOf(30), sagas: 10 }],
      stuck: 3,
      series: { bucketMinutes: 60, from: new Date('2026-11-24T10:00:00Z'), perMinute: [1, 2, 0.5], averagePerMinute: 1.17 },
      window: { since: '2026-11-24T10:00:00.000Z', until: null, now: '2026-11-24T12:30:00.000Z' },
      rollup: { rolledUntil: '2026-11-24T12:25:00.000Z', settleMinutes: 5, minutesRolled: 3, minutesReRolled: 0 },
    }),
    ...extra,
  };
}

/** A sample line: name, optional {labels}, one space, a value Prometheus can read. */
const SAMPLE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (NaN|[+-]Inf|-?\d+(\.\d+)?(e[+-]?\d+)?)$/;

describe('the Prometheus text format', () => {
  test('every line is # HELP, # TYPE or a sample; names start sagactl_; each family is typed once before its samples', () => {
    const text = renderPrometheus(stats());
    expect(text.endsWith('\n')).toBe(true);
    const typed = new Set<string>();
    for (const line of text.trimEnd().split('\n')) {
      if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
        const [, kind, name] = line.split(' ');
        expect(name).toMatch(/^sagactl_/);
        if (kind === 'TYPE') {
          expect(typed.has(name)).toBe(false);
          typed.add(name);
        }
        continue;
      }
      expect(line).toMatch(SAMPLE);
      const name = line.split(/[{ ]/)[0];
      expect([...typed].some((t) => name === t || name === `${t}_sum` || name === `${t}_count`)).toBe(true);
    }
    expect(text).toContain('sagactl_sagas{status="completed"} 90\n');
    expect(text).toContain('sagactl_sagas{status="in_progress"} 3\n');
    expect(text).toContain('sagactl_stuck_sagas 3\n');
    expect(text).toContain('# TYPE sagactl_saga_latency_seconds summary\n');
    expect(text).toMatch(/sagactl_saga_latency_seconds\{quantile="0.5"\} 0\.00\d+\n/);
    expect(text).toContain('sagactl_saga_latency_seconds_count 90\n');
    expect(text).toContain('sagactl_saga_latency_seconds_sum 0.45\n');
    expect(text).toContain('sagactl_saga_errors{code="USER_NOT_ACTIVE"} 7\n');
    expect(text).toContain('sagactl_saga_step_failures{step="validate_user"} 7\n');
    expect(text).toContain('sagactl_saga_throughput_per_minute 1.17\n');
  });

  test('no sagas: rates and quantiles are NaN, never a missing value', () => {
    const empty = summarise({ groups: [], bins: [], stuck: 0, series: null, window: { since: null, until: null, now: 'x' },
      rollup: { rolledUntil: null, settleMinutes: 5, minutesRolled: 0, minutesReRolled: 0 } });
    const text = renderPrometheus(empty);
    expect(text).toContain('sagactl_success_ratio NaN\n');
    expect(text).toContain('sagactl_saga_latency_seconds{quantile="0.99"} NaN\n');
    expect(text).toContain('sagactl_saga_latency_seconds_sum 0\n');
    expect(text).toContain('sagactl_saga_throughput_per_minute NaN\n');
    for (const line of text.trimEnd().split('\n').filter((l) => !l.startsWith('#'))) expect(line).toMatch(SAMPLE);
  });

  test('label values escape backslash, quote and newline', () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const s = stats({ topErrors: [{ code: 'WEIRD"\\\n', count: 1 }] });
    const line = renderPrometheus(s).split('\n').find((l) => l.startsWith('sagactl_saga_errors{'))!;
    expect(line).toBe('sagactl_saga_errors{code="WEIRD\\"\\\\\\n"} 1');
    expect(line).toMatch(SAMPLE);
  });
});

describe('the table for people', () => {
  function capture(): { io: Io; out: () => string } {
    let text = '';
    const io: Io = { stdout: { write: (s: string) => (text += s) }, stderr: { write: () => true }, env: { NO_COLOR: '1' },
      cwd: '/', stdinIsTTY: false, stdoutIsTTY: false, stderrIsTTY: false };
    return { io, out: () => text };
  }

  test('counts, shares, rates, latency, the chart and the bars', () => {
    const { io, out } = capture();
    renderStats(createOutput(io, {}), stats());
    const text = out();
    expect(text).toContain('sagas created from 2026-11-24T10:00:00.000Z to now');
    expect(text).toMatch(/^completed +90 +90\.00%$/m);
    expect(text).toMatch(/^total +100$/m);
    expect(text).not.toContain('│ 90'); // no box, no rule between rows
    expect(text).toContain('success 90.00%   compensation 0.00%   stuck 3');
    expect(text).toContain('by mode: orchestration 93   choreography 7');
    expect(text).toMatch(/latency ms, 90 completed: p50 3\.974 {2}p95 29\.15 {2}p99 29\.15 {2}max 40 {2}mean 5 /);
    expect(text).toContain('sagas per minute, one column per 1 h from 2026-11-24 10:00: avg 1.17, peak 2');
    expect(text).toContain('▄█▂');
    expect(text).toMatch(/USER_NOT_ACTIVE │█+ 7/);
    expect(text).toMatch(/validate_user │█+ 7/);
  });

  test('an empty window prints dashes, no chart and no bars', () => {
    const { io, out } = capture();
    const empty = summarise({ groups: [], bins: [], stuck: 0, series: null, window: { since: null, until: '2026-01-01T00:00:00.000Z', now: 'x' },
      rollup: { rolledUntil: null, settleMinutes: 5, minutesRolled: 0, minutesReRolled: 0 } });
    renderStats(createOutput(io, {}), empty);
    expect(out()).toContain('sagas created from the first saga to 2026-01-01T00:00:00.000Z');
    expect(out()).toContain('success -   compensation -   stuck 0');
    expect(out()).toContain('p50 -  p95 -');
    expect(out()).not.toContain('sagas per minute');
    expect(out()).not.toContain('top error codes');
  });
});

describe('the watch loop', () => {
  test('stops after maxIterations, without waiting after the last round', async () => {
    const started = Date.now();
    const rounds: number[] = [];
    expect(await runWatch({ intervalMs: 20, maxIterations: 3 }, async (i) => void rounds.push(i))).toBe(3);
    expect(rounds).toEqual([0, 1, 2]);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('an abort ends the sleep at once; an abort before the start runs nothing', async () => {
    const stop = new AbortController();
    const done = runWatch({ intervalMs: 60_000, signal: stop.signal }, async () => undefined);
    setTimeout(() => stop.abort(), 20);
    expect(await done).toBe(1);
    expect(await runWatch({ intervalMs: 1, signal: stop.signal }, async () => undefined)).toBe(0);
  });

  test('an error in a round ends the loop with it', async () => {
    await expect(runWatch({ intervalMs: 1 }, async () => { throw new Error('db down'); })).rejects.toThrow('db down');
  });
});
