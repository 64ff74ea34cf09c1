import type { Command } from 'commander';
import type { App } from '../app';
import { resolveConfig } from '../config';
import { Io } from './io';
import { createOutput, Output } from './output';

export interface GlobalOptions {
  databaseUrl?: string;
  embedded?: boolean;
  pool?: string;
  json?: boolean;
  yes?: boolean;
  debug?: boolean;
  color?: boolean;
}

export interface Ctx<O> {
  io: Io;
  out: Output;
  opts: O & GlobalOptions;
  args: string[];
}

/**
 * Turns `parse` + `run` into a commander action. `parse` validates every option before anything
 * connects (bad input writes nothing); `run` gets an App whose close() is always awaited.
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
    const config = resolveConfig(ctx.opts, io.env, io.cwd);
    // Loaded here, not at the top, so --help never loads the database layer.
    const { createApp, describeTarget } = (require('../app') as typeof import('../app'));
    ctx.out.info(`database: ${describeTarget(config.database)}`);
    const app = await createApp(config, { command: name, log: ctx.out.info });
    try {
      await run(app, input, ctx);
    } finally {
      await app.close();
    }
  };
}

/** A commander action that needs no database. */
export function withoutApp<O>(io: Io, run: (ctx: Ctx<O>) => Promise<void>) {
  return async (...params: unknown[]) => run(contextOf<O>(io, params));
}

function contextOf<O>(io: Io, params: unknown[]): Ctx<O> {
  const command = params[params.length - 1] as Command;
  const opts = command.optsWithGlobals() as O & GlobalOptions;
  return { io, out: createOutput(io, opts), opts, args: command.args };
}
