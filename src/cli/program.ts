import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { packageRoot } from '../paths';
import { Io } from './io';
import { registerMigrate } from './migrate';
import { registerSeed } from './seed';
import { registerDb } from './db';
import { registerSaga } from './saga';
import { registerStats } from './stats';

const EXIT_CODES = `
Exit codes:
  0 ok                        4 database unreachable or lock timeout
  1 internal error            5 a compensation failed
  2 usage or invalid input    6 a check failed
  3 not found / illegal state 7 saga ended without completing`;

export function buildProgram(io: Io): Command {
  const version = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')).version;
  const program = new Command('sagactl')
    .description('Administration and migration tool for the saga-pattern purchase system on PostgreSQL.')
    .version(version)
    .option('--database-url <url>', 'PostgreSQL URL (else DATABASE_URL, DB_*/PG* variables, else the embedded server)')
    .option('--embedded', 'use the embedded PostgreSQL in ./.sagactl (SAGACTL_HOME)')
    .addOption(new Option('--pool <size>', 'connection pool size (DB_POOL_SIZE)'))
    .option('--no-cache', 'bypass the Redis saga cache even when REDIS_URL is set')
    .option('--json', 'print results as JSON on stdout')
    .option('-y, --yes', 'answer yes to confirmations')
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('--debug', 'print stack traces')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
    })
    .addHelpText('after', `
Examples:
  $ sagactl migrate up                 apply pending migrations (embedded database by default)
  $ sagactl seed fixtures              load the design's users and items
  $ sagactl migrate status --check     exit 6 when anything is pending or changed (CI gate)
  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/saga_pattern sagactl migrate up
${EXIT_CODES}`);
  registerMigrate(program, io);
  registerSeed(program, io);
  registerSaga(program, io);
  registerDb(program, io);
  registerStats(program, io);
  // Subcommands inherit the error handling and output routing of the root.
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError('(add --help for usage)');
  }
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}
