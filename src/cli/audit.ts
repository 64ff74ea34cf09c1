import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { addFilterOptions, FilterFlags, parseFilter } from './filters';
import { utcTime } from './saga';
import { UsageError } from '../errors';
import { parseIntOption } from '../duration';
import { AUDIT_ACTIONS } from '../saga/types';
import type { AuditQuery } from '../archive/list-audit';

const audit = () => require('../archive/list-audit') as typeof import('../archive/list-audit');

type Flags = FilterFlags & { action?: string; limit: string; after?: string };

/** sagactl audit list: who did what, without psql. */
export function registerAudit(program: Command, io: Io): void {
  const cmd = program.command('audit').description('the operator audit trail: who did what, when, to which saga, why')
    .addHelpText('after', '\nExamples:\n  $ sagactl audit list --since 24h\n  $ sagactl audit list --action prune,import --json');
  addFilterOptions(cmd.command('list').description('operator_audit rows, newest first, paged'))
    .option('--action <list>', `only these actions: ${AUDIT_ACTIONS.join(', ')}`)
    .option('--limit <n>', 'rows per page, 1 to 1000', '50')
    .option('--after <cursor>', 'the next page: the cursor the previous page printed')
    .addHelpText('after', `
--since and --until select by when the action was taken; the other FILTERS select the saga the
row names (rows of bulk actions, which name no saga, then drop out).
Examples:
  $ sagactl audit list --since 24h
  $ sagactl audit list --action compensate,prune --json
  $ sagactl audit list --user user-123 --limit 20`)
    .action(withApp<Flags, AuditQuery>(io, 'audit-list', parseAuditQuery, async (app, q, ctx) => {
      const page = await audit().listAudit(app.db, q);
      ctx.out.result(page, () => {
        ctx.out.table(['id', 'at (UTC)', 'who', 'action', 'saga', 'outcome', 'reason', 'details'], page.entries.map((e) => [
          e.id, utcTime(e.at), `${e.osUser}@${e.host}`, e.action, e.transactionId ?? '', e.outcome, e.reason, audit().summariseDetails(e.details),
        ]), { empty: 'no audit rows match', keep: ['action', 'outcome'], drop: ['details', 'id', 'reason', 'who'] });
        if (page.nextCursor) ctx.out.print(`next page: --after ${page.nextCursor}`);
      });
    }));
}

function parseAuditQuery(ctx: Ctx<Flags>): AuditQuery {
  const { since, until, ...filter } = parseFilter(ctx.opts);
  const actions = ctx.opts.action?.split(',').map((a) => a.trim());
  for (const a of actions ?? []) {
    if (!(AUDIT_ACTIONS as readonly string[]).includes(a)) throw new UsageError(`--action must be one or more of ${AUDIT_ACTIONS.join(', ')}, got "${a}".`);
  }
  const after = ctx.opts.after;
  if (after !== undefined && !/^[1-9]\d{0,18}$/.test(after)) throw new UsageError(`--after must be the cursor a previous page printed (a row id), got "${after}".`);
  return { filter, since, until, actions, limit: parseIntOption(ctx.opts.limit, '--limit', 1, 1000), before: after };
}
