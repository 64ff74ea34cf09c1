import type { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../app';
import type { CancelReport } from '../db/cancel';
import { ConfigFlags, resolveConfig } from '../config';
import { InterruptedError } from '../errors';
import { Io } from './io';
import { createOutput, Output } from './output';
import { Interrupts, listenForInterrupts, StopSignal } from './signals';

export interface GlobalOptions {
  databaseUrl?: string;
  embedded?: boolean;
  pool?: string;
  lockTimeout?: string;
  statementTimeout?: string;
  json?: boolean;
  yes?: boolean;
  debug?: boolean;
  color?: boolean;
}

export interface Ctx<O> {
  io: Io;
  out: Output;
  opts: O & GlobalOptions;
  /** The root's options alone: a command's own option of the same name (migrate up --lock-timeout) is not the global one. */
  globals: GlobalOptions & ConfigFlags;
  args: string[];
}

/**
 * Turns `parse` + `run` into a commander action. `parse` validates every option before anything
 * connects (bad input writes nothing); `run` gets an App whose close() is always awaited. A
 * failure is explained while still connected (app.explain). SIGINT or SIGTERM stops the command:
 * its statements are cancelled on the server, the sagas it held are released, and it ends with
 * an InterruptedError (exit 130/143) saying what was left.
 */
export function withApp<O, I>(
  io: Io,
  name: string,
  parse: (ctx: Ctx<O>) => I,
  run: (app: App, input: I, ctx: Ctx<O>) => Promise<void>,
) {
  return async (...params: unknown[]) => {
    const ctx = contextOf<O>(io, params);
    const input = parse(ctx);
    const config = resolveConfig(ctx.globals, io.env, io.cwd);
    // Loaded here, not at the top, so --help never loads the database layer.
    const { createApp, describeTarget } = (require('../app') as typeof import('../app'));
    ctx.out.info(`database: ${describeTarget(config.database)}`);
    const interrupts = listenForInterrupts();
    try {
      const app = await connectUnlessInterrupted(createApp(config, { command: name, log: ctx.out.info }), interrupts);
      try {
        const running = run(app, input, ctx);
        const signal = await Promise.race([running.then(() => undefined, () => undefined), interrupts.first]);
        if (signal === undefined) return await running;
        const report = await app.interrupt();
        // The command sees its statements fail and ends; it is not waited for past a moment.
        await Promise.race([running.catch(() => undefined), sleep(5000)]);
        const { describeLeft } = require('../app') as typeof import('../app');
        throw interrupted(signal, report, describeLeft(report.left));
      } catch (err) {
        throw await app.explain(err);
      } finally {
        await app.close();
      }
    } finally {
      interrupts.dispose();
    }
  };
}

/** A signal while connecting: the connection is let go once made, and nothing ran. */
async function connectUnlessInterrupted(connecting: Promise<App>, interrupts: Interrupts): Promise<App> {
  const signal = await Promise.race([connecting.then(() => undefined, () => undefined), interrupts.first]);
  if (signal === undefined) return connecting;
  await (await connecting.catch(() => undefined))?.close();
  throw new InterruptedError(signal, `Interrupted by ${signal} while connecting; nothing was done.`);
}

function interrupted(signal: StopSignal, r: CancelReport, left: string): InterruptedError {
  if (r.failed !== undefined) {
    return new InterruptedError(signal, `Interrupted by ${signal}. The server could not be asked to cancel this command's statements ` +
      `(${r.failed}): any still running there go on until they end.`,
    'Check with `sagactl db health`; sagas in flight become recoverable once their leases expire: `sagactl saga recover`.');
  }
  const running = r.stillRunning.length > 0 ? `; still running: pid ${r.stillRunning.join(', ')}` : '; none of them runs any more';
  const what = r.left.length > 0 ? `${r.left.length} saga(s) left in flight.` : 'No saga was left in flight.';
  return new InterruptedError(signal, `Interrupted by ${signal}: ${r.cancelled} statement(s) cancelled on the server${running}. ${what}`, left || undefined);
}

/** A commander action that needs no database. */
export function withoutApp<O>(io: Io, run: (ctx: Ctx<O>) => Promise<void>) {
  return async (...params: unknown[]) => run(contextOf<O>(io, params));
}

function contextOf<O>(io: Io, params: unknown[]): Ctx<O> {
  const command = params[params.length - 1] as Command;
  const opts = command.optsWithGlobals() as O & GlobalOptions;
  let root = command;
  while (root.parent) root = root.parent;
  return { io, out: createOutput(io, opts), opts, globals: root.opts() as GlobalOptions, args: command.args };
}
