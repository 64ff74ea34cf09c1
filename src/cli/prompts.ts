import { UsageError } from '../errors';
import { Io } from './io';

/**
 * Asks for a yes/no before a destructive action. `--yes` answers it; without a terminal on
 * stdin there is nobody to ask, so it refuses rather than hang.
 */
export async function confirm(io: Io, yes: boolean | undefined, question: string): Promise<boolean> {
  if (yes) return true;
  assertCanPrompt(io);
  const { default: inquirer } = (require('inquirer') as typeof import('inquirer'));
  const answer = await inquirer.prompt([{ type: 'confirm', name: 'ok', message: question, default: false }]);
  return Boolean(answer.ok);
}

/** Refuses up front, before any connection, when a confirmation would be needed and impossible. */
export function assertCanPrompt(io: Io, yes?: boolean): void {
  if (yes || io.stdinIsTTY) return;
  throw new UsageError('This command changes data and needs a confirmation, but stdin is not a terminal.',
    'Pass --yes to confirm non-interactively.');
}

/** An interactive checklist (only ever called on a terminal). */
export async function chooseMany(message: string, choices: { name: string; value: string }[]): Promise<string[]> {
  if (choices.length === 0) return [];
  const { default: inquirer } = (require('inquirer') as typeof import('inquirer'));
  const answer = await inquirer.prompt([{ type: 'checkbox', name: 'ids', message, choices }]);
  return answer.ids as string[];
}
