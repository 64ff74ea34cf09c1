import { Command } from 'commander';
import { Io } from './io';
import { withoutApp } from './adapter';
import { resolveConfig } from '../config';
import { UsageError } from '../errors';

export function registerDb(program: Command, io: Io): void {
  const db = program.command('db').description('the embedded server, database health and the integrity check')
    .addHelpText('after', '\nExamples:\n  $ sagactl db start     keep the embedded server running between commands\n  $ sagactl db stop');

  db.command('start').description('start the embedded PostgreSQL and keep it running; prints its URL')
    .addHelpText('after', '\nExamples:\n  $ sagactl db start\n  $ psql "$(sagactl db start)"')
    .action(withoutApp(io, async (ctx) => {
      const home = embeddedHome(io, ctx.opts);
      const { startDaemon } = (require('../db/embedded') as typeof import('../db/embedded'));
      const url = await startDaemon(home, ctx.out.info);
      ctx.out.result({ running: true, home, url }, () => {
        ctx.out.print(url);
        ctx.out.info(`the embedded server keeps running; stop it with: sagactl db stop`);
      });
    }));

  db.command('stop').description('stop the embedded PostgreSQL started by `db start`')
    .addHelpText('after', '\nExamples:\n  $ sagactl db stop')
    .action(withoutApp(io, async (ctx) => {
      const home = embeddedHome(io, ctx.opts);
      const { stopDaemon } = (require('../db/embedded') as typeof import('../db/embedded'));
      const stopped = await stopDaemon(home);
      ctx.out.result({ stopped, home }, () => ctx.out.print(stopped ? 'stopped' : 'not running'));
    }));
}

function embeddedHome(io: Io, opts: { databaseUrl?: string; embedded?: boolean; pool?: string }): string {
  const config = resolveConfig({ ...opts, embedded: opts.databaseUrl === undefined ? true : opts.embedded }, io.env, io.cwd);
  if (config.database.kind !== 'embedded') throw new UsageError('db start/stop manage the embedded server; no --database-url here.');
  return config.database.home;
}
