import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { shortDuration } from './format';
import { assertCanPrompt, confirm } from './prompts';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseIntOption } from '../duration';
import { OLDER_THAN_HELP, parseOlderThan } from './filters';
import type { App } from '../app';
import type { StuckSaga } from '../operator/stuck';
import type { SagaForensics, SessionInfo, Termination } from '../operator/forensics';


/** The flags `saga stuck` and `saga show` share for lock and lease forensics. */
export type ExplainFlags = { explain?: boolean; terminateBlocker?: boolean; reason?: string };
export interface ExplainInput { explain: boolean; terminate: boolean; reason: string }

export function addExplainOptions(cmd: Command): Command {
  return cmd
    .option('--explain', 'who holds the saga: the database sessions holding or waiting on its rows (pg_locks, pg_stat_activity), and the process behind its lease')
    .option('--terminate-blocker', 'with --explain: end the sessions holding its rows (pg_terminate_backend), each after a confirmation; audited')
    .option('--reason <text>', 'with --terminate-blocker: why, recorded in operator_audit', 'terminate blocker');
}

/** Checked before connecting: --terminate-blocker needs --explain, and a confirmation (a terminal or --yes). */
export function parseExplain(ctx: Ctx<ExplainFlags>): ExplainInput {
  const o = ctx.opts;
  if (o.terminateBlocker && !o.explain) {
    throw new UsageError('--terminate-blocker needs --explain: look at the blocker before ending it.', 'e.g. sagactl saga stuck --explain --terminate-blocker');
  }
  const reason = (o.reason ?? '').trim();
  if (o.terminateBlocker && reason === '') throw new UsageError('--reason must not be empty.');
  if (o.terminateBlocker) assertCanPrompt(ctx.io, o.yes);
  return { explain: Boolean(o.explain), terminate: Boolean(o.terminateBlocker), reason };
}

export function registerStuck(saga: Command, io: Io): void {
  type Flags = ExplainFlags & { olderThan: string; limit: string };
  addExplainOptions(saga.command('stuck').description('sagas nobody is driving, and those waiting for an operator (compensation_failed)')
    .option('--older-than <duration>', OLDER_THAN_HELP, '1m')
    .option('--limit <n>', 'at most this many, stalest first, 1 to 1000000', '1000'))
    .addHelpText('after', `
With --explain, each stuck saga also shows the sessions holding or waiting on its rows (pid,
application, client, how long idle in its transaction, the query) and whether its lease owner runs.
--terminate-blocker then ends each holding session after a confirmation (exit 3 when none is left
to end or one ended meanwhile, 4 when the role may not end it). See docs/runbook.md.
Examples:
  $ sagactl saga stuck
  $ sagactl saga stuck --older-than 10m --json
  $ sagactl saga stuck --explain
  $ sagactl saga stuck --explain --terminate-blocker --reason "INC-12: psql left open" --yes`)
    .action(withApp<Flags, ExplainInput & { olderThanMs: number; limit: number }>(io, 'saga-stuck',
      (ctx) => ({ olderThanMs: parseOlderThan(ctx.opts.olderThan),
        limit: parseIntOption(ctx.opts.limit, '--limit', 1, 1_000_000), ...parseExplain(ctx) }),
      async (app, input, ctx) => {
        const stuck = await app.client().findStuck(input);
        const human = () => renderStuck(ctx.out, stuck, input.limit);
        if (!input.explain) return ctx.out.result({ stuck }, human);
        await explainAndTerminate(app, ctx, input, stuck.map((s) => s.transactionId), { stuck }, human);
      }));
}

export function renderStuck(out: Output, stuck: StuckSaga[], limit: number): void {
  out.table(['transaction id', 'status', 'mode', 'idle', 'why', 'last step', 'attempts', 'last error'],
    stuck.map((s) => [s.transactionId, s.status, s.mode, shortDuration(s.idleSeconds), s.why, s.lastStep, s.attempts, s.errorCode]),
    { empty: 'no stuck sagas', keep: ['status', 'idle'], drop: ['mode', 'attempts', 'last error', 'last step', 'why'] });
  if (stuck.length > 0) out.print(`${stuck.length} stuck${stuck.length === limit ? ` (the ${limit} stalest; raise --limit for more)` : ''}`);
}

/**
 * The forensics of `ids`, added to the command's own report as `forensics` (and `terminations`
 * with --terminate-blocker). The human report is printed before any confirmation, so the
 * operator sees what they are asked to end.
 */
export async function explainAndTerminate(app: App, ctx: Ctx<ExplainFlags>, input: ExplainInput, ids: string[],
  report: object, human: () => void): Promise<void> {
  const client = app.client();
  const forensics = await client.explainSagas(ids);
  const explained = () => { human(); renderForensics(ctx.out, forensics); };
  if (!input.terminate) return ctx.out.result({ ...report, forensics }, explained);
  if (!ctx.out.json) explained();
  const blockers = distinctBlockers(forensics);
  const terminations: Termination[] = [];
  for (const { blocker, sagas } of blockers) {
    if (!(await confirm(ctx.io, ctx.opts.yes, `Terminate backend pid ${blocker.pid} (${describeSession(blocker)})? `
      + `It holds rows of saga(s) ${sagas.join(', ')}; its transaction rolls back.`))) continue;
    terminations.push(await client.terminateBlocker({ sagas, blocker, reason: input.reason }));
  }
  const noBlocker = 'no session holds or blocks these sagas\' rows; nothing to terminate';
  ctx.out.result({ ...report, forensics, terminations }, () => (blockers.length === 0 ? ctx.out.print(noBlocker) : renderTerminations(ctx.out, terminations)));
  if (blockers.length === 0) throw new OutcomeExit(EXIT.notFound, noBlocker);
  if (terminations.length === 0) throw new UsageError('Not confirmed; nothing terminated.');
  const gone = terminations.filter((t) => t.outcome === 'gone');
  if (gone.length > 0) throw new OutcomeExit(EXIT.notFound, `blocker(s) ${gone.map((t) => t.pid).join(', ')} ended or let go meanwhile; not terminated`);
}

/** Each blocking session once, with every saga whose rows it holds. */
function distinctBlockers(forensics: SagaForensics[]): { blocker: SessionInfo; sagas: string[] }[] {
  const byPid = new Map<number, { blocker: SessionInfo; sagas: string[] }>();
  for (const f of forensics) {
    for (const s of f.sessions.filter((x) => x.role !== 'waits')) {
      const entry = byPid.get(s.pid) ?? { blocker: s, sagas: [] };
      entry.sagas.push(f.transactionId);
      byPid.set(s.pid, entry);
    }
  }
  return [...byPid.values()];
}

const ago = (seconds: number | null) => (seconds === null ? '?' : shortDuration(seconds));

function describeSession(s: SessionInfo): string {
  if (!s.visible) return 'details hidden from this role';
  const query = (s.query ?? '').replace(/\s+/g, ' ').trim();
  return `${s.applicationName || 'no application_name'}, ${s.state ?? 'state unknown'} for ${ago(s.stateSeconds)}, in its transaction for ${ago(s.xactSeconds)}: ${query}`;
}

export function renderForensics(out: Output, forensics: SagaForensics[]): void {
  for (const f of forensics) {
    out.print('');
    out.print(`${out.color.bold(f.transactionId)}  ${f.status} (${f.mode})  lease: ${f.lease.verdict}${f.lease.owner ? ` [${f.lease.owner}]` : ''}`);
    out.table(['pid', 'role', 'rows', 'application', 'client', 'state', 'for', 'in xact', 'blocked by', 'query'], f.sessions.map((s) => [
      s.pid, s.role === 'waits' ? s.role : out.color.red(s.role), s.rows.join(', '), s.visible ? s.applicationName : '(hidden)', s.clientAddr ?? '',
      s.state ?? '', ago(s.stateSeconds), ago(s.xactSeconds), s.blockedBy.join(', '), (s.query ?? '').replace(/\s+/g, ' ').trim().slice(0, 80),
    ]), { empty: '  no session holds or waits on its rows', keep: ['pid', 'role', 'state'], drop: ['client', 'blocked by', 'in xact', 'rows'] });
    for (const note of f.hidden) out.print(`  note: ${note}`);
  }
}

function renderTerminations(out: Output, terminations: Termination[]): void {
  for (const t of terminations) {
    out.print(t.outcome === 'terminated'
      ? `terminated backend pid ${t.pid} (${t.applicationName || 'no application_name'}, in its transaction for ${ago(t.xactSeconds)}); sagas ${t.sagas.join(', ')} are free`
      : out.color.yellow(`backend pid ${t.pid} no longer holds those rows (ended or moved on meanwhile); not terminated`));
  }
}
