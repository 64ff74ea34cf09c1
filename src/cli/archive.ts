import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { Io } from './io';
import { Ctx, withApp } from './adapter';
import { Output } from './output';
import { addFilterOptions, FILTERS_HELP, FilterFlags, parseFilter } from './filters';
import { assertCanPrompt, confirm } from './prompts';
import { EXIT, OutcomeExit, UsageError } from '../errors';
import { parseDuration, parseIntOption } from '../duration';
import type { SagaFilter } from '../saga/filter';
import type { ExportFormat, ExportResult } from '../archive/export';
import type { Write } from '../archive/copy-out';
import type { ImportResult } from '../archive/import';
import type { PrunePlan, PruneResult } from '../archive/prune';

const archive = () => ({
  ...(require('../archive/export') as typeof import('../archive/export')),
  ...(require('../archive/import') as typeof import('../archive/import')),
  ...(require('../archive/prune') as typeof import('../archive/prune')),
  ...(require('../archive/file-sink') as typeof import('../archive/file-sink')),
});

const actor = () => ({ user: os.userInfo().username, host: os.hostname() });

/** saga export, saga import, saga prune. */
export function registerArchive(saga: Command, io: Io): void {
  registerExport(saga, io);
  registerImport(saga, io);
  registerPrune(saga, io);
}

/** A file to write: its folder must exist (checked before connecting). */
function outputPath(raw: string | undefined, option: string): string | undefined {
  if (raw === undefined) return undefined;
  const dir = path.dirname(path.resolve(raw));
  if (raw.trim() === '' || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UsageError(`${option} ${JSON.stringify(raw)}: the folder ${dir} does not exist.`);
  }
  return raw;
}

/** stdout as a sink: waits for it to drain when it says its buffer is full. */
function stdoutSink(io: Io): Write {
  const stream = io.stdout as NodeJS.WritableStream;
  return (chunk) => {
    if (stream.write(chunk) === false && typeof stream.once === 'function') return once(stream, 'drain').then(() => undefined);
  };
}

type ExportFlags = FilterFlags & { format: string; output?: string; jobs: string };
interface ExportInput { filter: SagaFilter; format: ExportFormat; output?: string; jobs: number }

function registerExport(saga: Command, io: Io): void {
  addFilterOptions(saga.command('export').description('write sagas with their steps, events, audit and ledger (and the users and items they touch) as ndjson or csv'))
    .option('--format <format>', 'ndjson (an archive, what saga import reads) | csv (one flat row per saga, for spreadsheets)', 'ndjson')
    .option('--output <file>', 'write there, atomically (renamed into place when complete); default stdout')
    .option('--jobs <n>', 'connections building saga lines at once, 1 to 8, in one snapshot (more cores of the server, faster)', '1')
    .addHelpText('after', `${FILTERS_HELP}

Without FILTERS every saga, user and item is written: a backup that saga import restores.
The ndjson format (a header line, then user, item and saga records, then an end line) is
described in docs/runbook.md, "Backup, restore and retention".
Examples:
  $ sagactl saga export --output backup.ndjson
  $ sagactl saga export --output backup.ndjson --jobs 2
  $ sagactl saga export --status failed,compensated --since 7d --format csv > failures.csv
  $ sagactl saga export --user user-123 | gzip > user-123.ndjson.gz`)
    .action(withApp<ExportFlags, ExportInput>(io, 'saga-export', parseExport, async (app, input, ctx) => {
      const sink = input.output ? archive().openFileSink(input.output) : undefined;
      try {
        const result = await ctx.out.withProgress({ label: 'saga export', unit: 'sagas', total: 0 },
          (progress) => archive().exportSagas(app.db, { filter: input.filter, format: input.format, jobs: input.jobs, write: sink?.write ?? stdoutSink(ctx.io),
            onProgress: (done, total) => progress.tick(done, total) }));
        await sink?.done();
        reportExport(ctx.out, result, input.output);
      } catch (err) {
        await sink?.abort();
        throw err;
      }
    }));
}

function parseExport(ctx: Ctx<ExportFlags>): ExportInput {
  const format = ctx.opts.format;
  if (format !== 'ndjson' && format !== 'csv') throw new UsageError(`--format must be ndjson or csv, got "${format}".`);
  return { filter: parseFilter(ctx.opts), format, output: outputPath(ctx.opts.output, '--output'), jobs: parseIntOption(ctx.opts.jobs, '--jobs', 1, 8) };
}

/** The data went to stdout unless --output: then the summary may go there (--json), else it is a line on stderr. */
function reportExport(out: Output, r: ExportResult, file: string | undefined): void {
  const line = `exported ${r.sagas} sagas, ${r.users} users, ${r.items} items (${r.format}, ${r.bytes} bytes) in ${r.seconds.toFixed(2)} s` +
    (file ? ` to ${file}` : '');
  if (file) out.result({ ...r, file }, () => out.print(line));
  else out.info(line);
}

type ImportFlags = { skipBad?: boolean; reason?: string };
interface ImportInput { file: string; reason: string; skipBad: boolean }

function registerImport(saga: Command, io: Io): void {
  saga.command('import <file>').description('load an ndjson archive of saga export: idempotent, checked line by line')
    .option('--skip-bad', 'skip malformed lines (each named in the report) instead of stopping at the first')
    .option('--reason <text>', 'why, for the operator audit (default: "import of FILE")')
    .addHelpText('after', `
A user, item or saga that exists with the same contents is skipped; with other contents it is
refused and left as it is (exit 3, the others are still imported). A malformed line stops the
import (exit 2, naming the line and why): the lines before it are in, nothing from it on.
Exit: 0 imported, 2 a bad line or a file cut short (no end record), 3 records refused.
Examples:
  $ sagactl saga import backup.ndjson
  $ sagactl saga import backup.ndjson --skip-bad --json`)
    .action(withApp<ImportFlags, ImportInput>(io, 'saga-import', parseImport, async (app, input, ctx) => {
      const stream = fs.createReadStream(input.file);
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      const size = fs.statSync(input.file).size;
      const result = await ctx.out.withProgress({ label: 'saga import', unit: 'bytes', total: size },
        (progress) => archive().importSagas(app.db, lines, { actor: actor(), reason: input.reason, source: path.resolve(input.file),
          skipBad: input.skipBad, signal: io.signal, onProgress: () => progress.tick(stream.bytesRead) }));
      ctx.out.result(result, () => renderImport(ctx.out, result));
      if (!result.complete) {
        const message = 'the archive ends without its end record, or its counts differ: was it cut short? What it held was imported.';
        ctx.out.warn(message);
        throw new OutcomeExit(EXIT.usage, message, 'USAGE');
      }
      if (result.refused > 0) throw new OutcomeExit(EXIT.notFound, `${result.refused} record(s) refused: they exist with other contents`, 'STATE');
    }));
}

function parseImport(ctx: Ctx<ImportFlags>): ImportInput {
  const file = ctx.args[0];
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new UsageError(`${JSON.stringify(file)} is not a file.`);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    throw new UsageError(`${JSON.stringify(file)} cannot be read.`);
  }
  return { file, reason: reasonOf(ctx.opts.reason, `import of ${path.basename(file)}`), skipBad: ctx.opts.skipBad === true };
}

function reasonOf(raw: string | undefined, fallback: string): string {
  if (raw === undefined) return fallback;
  if (/^['"\s]*$/.test(raw) || raw.length > 2000) throw new UsageError('--reason must be 1 to 2000 characters of text.');
  return raw.trim();
}

function renderImport(out: Output, r: ImportResult): void {
  out.table(['', 'imported', 'already there'], (['user', 'item', 'saga'] as const).map((k) => [`${k}s`, r.imported[k], r.skipped[k]]));
  out.print(`${r.lines} lines in ${r.seconds.toFixed(2)} s`);
  for (const x of r.refusedSample) out.print(`refused, line ${x.line}: ${x.why}`);
  if (r.refused > r.refusedSample.length) out.print(`... and ${r.refused - r.refusedSample.length} more refused`);
  for (const x of r.badSample) out.print(`skipped, line ${x.line}: ${x.why}`);
  if (r.badLines > r.badSample.length) out.print(`... and ${r.badLines - r.badSample.length} more bad lines skipped`);
}

type PruneFlags = FilterFlags & { before?: string; archive?: string; batch: string; dryRun?: boolean; reason?: string };
interface PruneInput { filter: SagaFilter; before: Date; beforeMs: number; batch: number; archive?: string; reason: string }

function registerPrune(saga: Command, io: Io): void {
  addFilterOptions(saga.command('prune').description('delete finished sagas older than --before, in short batches; stats and the ledger keep their sums'),
    { stuck: false })
    .option('--before <duration>', 'required: sagas created longer ago than this (90d, 12h; 0s for all finished ones)')
    .option('--archive <file>', 'export the sagas to this file (ndjson) before deleting any')
    .option('--batch <n>', 'sagas per transaction, 1 to 10000', '1000')
    .option('--dry-run', 'print the counts, change nothing')
    .option('--reason <text>', 'why, for the operator audit (default: "retention")')
    .addHelpText('after', `${FILTERS_HELP}

Only completed, compensated and failed sagas are ever pruned (--status picks among them).
Sagas of the last minutes not yet folded into the statistics wait for a later run (counted as deferred).
Examples:
  $ sagactl saga prune --before 90d --dry-run
  $ sagactl saga prune --before 90d --archive archive-2026-11.ndjson --yes
  $ sagactl saga prune --before 30d --status failed --user user-123 --yes --json`)
    .action(withApp<PruneFlags, PruneInput>(io, 'saga-prune', parsePrune, async (app, input, ctx) => {
      const core = archive();
      const plan = await core.planPrune(app.db, input);
      if (ctx.opts.dryRun) return ctx.out.result({ dryRun: true, ...plan }, () => renderPlan(ctx.out, plan));
      if (!ctx.out.json) renderPlan(ctx.out, plan);
      // Nothing to delete needs no confirmation, but the run is still audited (it was asked for).
      if (plan.total > 0 && !(await confirm(io, ctx.opts.yes, `Delete ${plan.total} saga(s)${input.archive ? ` after archiving them to ${input.archive}` : ''}?`))) {
        throw new UsageError('Not confirmed; nothing pruned.');
      }
      const sink = input.archive ? core.openFileSink(input.archive) : undefined;
      try {
        const result = await ctx.out.withProgress({ label: 'saga prune', unit: 'sagas', total: plan.total, resume: 'run the same prune again' },
          (progress) => core.prune(app.db, { ...input, actor: actor(), archive: sink && { sink, file: input.archive! },
            signal: io.signal, onProgress: (done, total) => progress.tick(done, total) }));
        ctx.out.result(result, () => renderPruned(ctx.out, result));
      } catch (err) {
        await sink?.abort();
        throw err;
      }
    }));
}

function parsePrune(ctx: Ctx<PruneFlags>): PruneInput {
  const o = ctx.opts;
  if (o.before === undefined) throw new UsageError('--before is required: how old a finished saga must be to go, e.g. --before 90d.');
  const beforeMs = parseDuration(o.before, '--before');
  const filter = parseFilter(o);
  archive().prunableStatuses(filter);
  const input = { filter, before: new Date(Date.now() - beforeMs), beforeMs, batch: parseIntOption(o.batch, '--batch', 1, 10_000),
    archive: outputPath(o.archive, '--archive'), reason: reasonOf(o.reason, 'retention') };
  if (!o.dryRun) assertCanPrompt(ctx.io, o.yes);
  return input;
}

function renderPlan(out: Output, p: PrunePlan): void {
  out.table(['status', 'sagas'], Object.entries(p.byStatus).map(([s, n]) => [s, n]));
  out.print(`${p.total} saga(s) created before ${p.before} to prune` + (p.deferred ? `; ${p.deferred} more wait until the statistics fold their minute` : ''));
}

function renderPruned(out: Output, r: PruneResult): void {
  if (r.archived) out.print(`archived ${r.archived.sagas} saga(s) to ${r.archived.file} (${r.archived.bytes} bytes)`);
  out.print(`pruned ${r.deleted} saga(s) in ${r.batches} batch(es), ${r.seconds.toFixed(2)} s; ` +
    `ledger movements folded into ${r.ledgerAccountsFolded} opening entr${r.ledgerAccountsFolded === 1 ? 'y' : 'ies'}`);
}
