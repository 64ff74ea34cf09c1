import { chooseMany, confirm, isPromptExit } from '../../src/cli/prompts';
import { InterruptedError } from '../../src/errors';
import type { Io } from '../../src/cli/io';

/** inquirer replaced: the prompt answers, or fails the way inquirer fails on Ctrl-C, or waits until aborted. */
let behaviour: 'yes' | 'ctrl-c' | 'broken' | 'wait' = 'yes';
jest.mock('inquirer', () => ({
  __esModule: true,
  default: {
    createPromptModule: ({ signal }: { signal?: AbortSignal }) => async (questions: { name: string }[]) => {
      if (behaviour === 'ctrl-c') throw Object.assign(new Error('User force closed the prompt with SIGINT'), { name: 'ExitPromptError' });
      if (behaviour === 'broken') throw new Error('terminal exploded');
      if (behaviour === 'wait') {
        await new Promise((_resolve, reject) => signal!.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortPromptError' }))));
      }
      return { [questions[0].name]: questions[0].name === 'ids' ? ['a'] : true };
    },
  },
}));

const tty = (signal?: AbortSignal) => ({ stdinIsTTY: true, signal } as Io);

test('a prompt answers through inquirer', async () => {
  behaviour = 'yes';
  expect(await confirm(tty(), false, 'sure?')).toBe(true);
  expect(await chooseMany(tty(), 'which?', [{ name: 'a', value: 'a' }])).toEqual(['a']);
  expect(await chooseMany(tty(), 'which?', [])).toEqual([]);
});

test('Ctrl-C at a prompt: aborted, nothing changed, exit 130', async () => {
  behaviour = 'ctrl-c';
  const err = await confirm(tty(), false, 'sure?').catch((e) => e);
  expect(err).toBeInstanceOf(InterruptedError);
  expect(err).toMatchObject({ exitCode: 130, code: 'INTERRUPTED', message: 'aborted at the prompt; nothing was changed.' });
});

test('SIGTERM while a prompt waits: aborted, exit 143', async () => {
  behaviour = 'wait';
  const stop = new AbortController();
  const asked = confirm(tty(stop.signal), false, 'sure?').catch((e) => e);
  stop.abort('SIGTERM');
  expect(await asked).toMatchObject({ exitCode: 143, code: 'TERMINATED' });
});

test('any other prompt failure is not an interruption', async () => {
  behaviour = 'broken';
  await expect(confirm(tty(), false, 'sure?')).rejects.toThrow('terminal exploded');
  expect(isPromptExit(new Error('x'))).toBe(false);
  expect(isPromptExit('x')).toBe(false);
});
