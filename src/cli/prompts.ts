import { InterruptedError, UsageError } from '../errors';
import { Io } from './io';

/**
 * Asks for a yes/no before a destructive action. `--yes` answers it; without a terminal on
 * stdin there is nobody to ask, so it refuses rather than hang.
 */
export async function confirm(io: Io, yes: boolean | undefined, question: string): Promise<boolean> {
  if (yes) return true;
  assertCanPrompt(io);
  const answer = await ask(io, { type: 'confirm', name: 'ok', message: question, default: false });
  return Boolean(answer.ok);
}

/** Refuses up front, before any connection, when a confirmation would be needed and impossible. */
export function assertCanPrompt(io: Io, yes?: boolean): void {
  if (yes || io.stdinIsTTY) return;
  throw new UsageError('This command changes data and needs a confirmation, but stdin is not a terminal.',
    'Pass --yes to confirm non-interactively.');
}

/** An interactive checklist (only ever called on a terminal). */
export async function chooseMany(io: Io, message: string, choices: { name: string; value: string }[]): Promise<string[]> {
  if (choices.length === 0) return [];
  const answer = await ask(io, { type: 'checkbox', name: 'ids', message, choices });
  return answer.ids as string[];
}

/**
 * Every prompt goes through here. Ctrl-C at a prompt (inquirer's ExitPromptError: the terminal is
 * in raw mode, so it arrives as a key, not a signal) or a signal while it waits is an
 * interruption before anything was written: exit 130, "aborted; nothing was changed".
 */
async function ask(io: Io, question: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { default: inquirer } = (require('inquirer') as typeof import('inquirer'));
  const prompt = inquirer.createPromptModule({ signal: io.signal });
  try {
    return await prompt([question as never]);
  } catch (err) {
    if (isPromptExit(err) || io.signal?.aborted) {
      throw new InterruptedError(io.signal?.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT', 'aborted at the prompt; nothing was changed.');
    }
    throw err;
  }
}

/** inquirer's error for a prompt closed by Ctrl-C or by the end of its input. */
export function isPromptExit(err: unknown): boolean {
  return err instanceof Error && (err.name === 'ExitPromptError' || /force closed the prompt/i.test(err.message));
}
