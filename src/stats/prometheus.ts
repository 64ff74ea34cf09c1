import { SAGA_STATUS } from '../saga/types';
import { SagaStats } from './summary';
import { escapeLabel, formatSample } from '../health/exposition';

export { escapeLabel };

/**
 * The Prometheus text exposition format (version 0.0.4): for node_exporter's textfile collector
 * or a scrape through a small wrapper. Counts are gauges, not counters: they describe the window
 * asked for, and a saga moving between statuses makes them go down as well as up.
 */
type Labels = Record<string, string>;
interface Metric { name: string; help: string; type: 'gauge' | 'summary'; samples: { suffix?: string; labels?: Labels; value: number | null }[] }

const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);

function metrics(s: SagaStats): Metric[] {
  const l = s.latencyMs;
  return [
    { name: 'sagactl_sagas', help: 'Sagas created in the window, by status.', type: 'gauge',
      samples: Object.entries(SAGA_STATUS).map(([key, status]) => ({ labels: { status }, value: s[key as keyof typeof SAGA_STATUS] })) },
    { name: 'sagactl_sagas_by_mode', help: 'Sagas created in the window, by mode.', type: 'gauge',
      samples: Object.entries(s.byMode).map(([mode, value]) => ({ labels: { mode }, value })) },
    { name: 'sagactl_success_ratio', help: 'Completed sagas over all sagas in the window.', type: 'gauge',
      samples: [{ value: s.successRate }] },
    { name: 'sagactl_compensation_ratio', help: 'Compensating, compensated and compensation_failed sagas over all sagas in the window.',
      type: 'gauge', samples: [{ value: s.compensationRate }] },
    { name: 'sagactl_stuck_sagas', help: 'Stuck sagas (unmoved past --older-than with no live lease, or compensation_failed).', type: 'gauge',
      samples: [{ value: s.stuck }] },
    { name: 'sagactl_saga_latency_seconds',
      help: `Created to completed, completed sagas; quantiles estimated from log-scale bins (relative error <= ${l.relativeError}).`,
      type: 'summary', samples: [
        { labels: { quantile: '0.5' }, value: seconds(l.p50) },
        { labels: { quantile: '0.95' }, value: seconds(l.p95) },
        { labels: { quantile: '0.99' }, value: seconds(l.p99) },
        { suffix: '_sum', value: l.mean === null ? 0 : (l.mean * l.count) / 1000 },
        { suffix: '_count', value: l.count },
      ] },
    { name: 'sagactl_saga_latency_max_seconds', help: 'The slowest completed saga in the window (exact).', type: 'gauge',
      samples: [{ value: seconds(l.max) }] },
    { name: 'sagactl_saga_errors', help: 'Sagas by error code (the most frequent codes).', type: 'gauge',
      samples: s.topErrors.map((e) => ({ labels: { code: e.code }, value: e.count })) },
    { name: 'sagactl_saga_step_failures', help: 'Sagas that failed at each forward step.', type: 'gauge',
      samples: s.failuresByStep.map((f) => ({ labels: { step: f.step }, value: f.count })) },
    { name: 'sagactl_saga_throughput_per_minute', help: 'Sagas created per minute, averaged over the window.', type: 'gauge',
      samples: [{ value: s.throughput?.averagePerMinute ?? null }] },
  ];
}

export function renderPrometheus(stats: SagaStats): string {
  const lines: string[] = [];
  for (const m of metrics(stats)) {
    lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`);
    for (const sample of m.samples) {
      const labels = Object.entries(sample.labels ?? {}).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      lines.push(`${m.name}${sample.suffix ?? ''}${labels ? `{${labels}}` : ''} ${formatSample(sample.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
