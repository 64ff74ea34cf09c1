import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { packageRoot } from '../paths';
import { Io } from './io';
import { registerMigrate } from './migrate';
import { registerSeed } from './seed';
import { registerDb } from './db';
import { registerSaga } from './saga';
import { registerStats } from './stats';
import { registerCompletion } from './completion';

const EXIT_CODES = `
Exit codes:                                    (the code of the --json error object)
  0 ok
  1 internal error                             INTERNAL
  2 usage, configuration or invalid input      USAGE
  3 not found / illegal state                  NOT_FOUND, STATE
  4 database unreachable, permission refused,  UNREACHABLE, AUTH, PERMISSION, TIMEOUT
    lock or statement timeout
  5 a compensation failed                      COMPENSATION_FAILED
  6 a check failed                             CHECK_FAILED
  7 saga ended without completing              SAGA_NOT_COMPLETED
  130/143 interrupted (SIGINT/SIGTERM): queries INTERRUPTED, TERMINATED
    cancelled on the server, what was left printed
With --json a failure also ends stderr with one line: {"error":{"code","exitCode","message","hint"}}.`;

export function buildProgram(io: Io, mode: { json: boolean } = { json: false }): Command {
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
    .option('--json', 'print results as JSON on stdout, and errors as one JSON line on stderr')
    .option('-y, --yes', 'answer yes to confirmations')
    .option('-q, --quiet', 'no progress and no info lines on stderr (data, warnings and errors are still printed)')
    .addOption(new Option('-o <view>', 'wide: tables show every column in full, whatever the width (also --wide)').choices(['wide']))
    .option('--wide', 'tables show every column in full, whatever the width')
    .option('--no-color', 'no colours (NO_COLOR is honoured too)')
    .option('--debug', 'print stack traces')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      // With --json an error is one JSON line (main writes it); commander's text would only be noise.
      outputError: (s, write) => void (mode.json || write(s)),
    })
    .addHelpText('after', `
Examples:
  $ sagactl migrate up                 apply pending migrations (embedded database by default)
  $ sagactl seed fixtures              load the design's users and items
  $ sagactl migrate status --check     exit 6 when anything is pending or changed (CI gate)
  $ sagactl saga list -o wide          tables fit the terminal ($COLUMNS); -o wide shows every column in full
  $ DATABASE_URL=postgres://postgres@127.0.0.1:5432/saga_pattern sagactl migrate up
  $ source <(sagactl completion bash)  tab completion (also zsh, fish)
${EXIT_CODES}`);
  registerMigrate(program, io);
  registerSeed(program, io);
  registerSaga(program, io);
  registerDb(program, io);
  registerStats(program, io);
  registerCompletion(program, io);
  (require('./audit') as typeof import('./audit')).registerAudit(program, io);
  program.hook('preAction', (_root, action) => giveOwnOption(program, action, 'lockTimeout'));
  // Subcommands inherit the error handling and output routing of the root.
  for (const cmd of allCommands(program)) {
    cmd.exitOverride().configureOutput(program.configureOutput()).showHelpAfterError(mode.json ? false : '(add --help for usage)');
  }
  if (mode.json) program.showHelpAfterError(false);
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

export function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}
