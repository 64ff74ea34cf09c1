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
  0 ok                        4 database unreachable, permission refused, lock or statement timeout
  1 internal error            5 a compensation failed
  2 usage or invalid input    6 a check failed
  3 not found / illegal state 7 saga ended without completing
  130/143 interrupted (SIGINT/SIGTERM): queries cancelled on the server, what was left printed`;

export function buildProgram(io: Io): Command {
  const version = JSON.parse(readFileSync(`${packageRoot()}/package.json`, 'utf8')).version;
  const program = new Command('sagactl')
    .description('Administration and migration tool for the saga-pattern purchase system on PostgreSQL.')
    .version(version)
    .option('--database-url <url>', 'PostgreSQL URL (else DATABASE_URL, DB_*/PG* variables, else the embedded server)')
    .option('--embedded', 'use the embedded PostgreSQL in ./.sagactl (SAGACTL_HOME)')
    .addOption(new Option('--pool <size>', 'connection pool size (DB_POOL_SIZE)'))
    .addOption(new Option('--lock-timeout <duration>', 'how long a statement may wait for a row or table lock, then exit 4 naming ' +
      'the session holding it (DB_LOCK_TIMEOUT; 1ms to 30s; default 5s). On migrate up|down the option of that ' +
      'command instead: the wait for another run\'s migration lock'))
    .addOption(new Option('--statement-timeout <duration>', 'cancel any statement of this tool that runs longer, exit 4 ' +
      '(DB_STATEMENT_TIMEOUT; 0 for none; default: the server\'s or role\'s own)'))
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
  program.hook('preAction', (_root, action) => giveOwnOption(program, action, 'lockTimeout'));
  // Subcommands inherit the error handling and output routing of the root.
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError('(add --help for usage)');
  }
  return program;
}

/**
 * Commander gives an option the root defines to the root, wherever it is written. A command with
 * an option of the same name (`migrate up --lock-timeout`: the wait for another run's migration
 * lock) gets the value back, and the global setting keeps its default there.
 */
function giveOwnOption(root: Command, action: Command, key: string): void {
  const own = action.options.some((o) => o.attributeName() === key);
  if (!own || action === root || root.getOptionValueSource(key) !== 'cli' || action.getOptionValueSource(key) === 'cli') return;
  action.setOptionValueWithSource(key, root.getOptionValue(key), 'cli');
  // Removed, not set to undefined: optsWithGlobals() lets the root's keys win over the command's.
  delete root.opts()[key];
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}
