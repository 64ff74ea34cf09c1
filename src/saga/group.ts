/**
 * Group execution, as group commit does for WAL: while one statement for a step is in flight, the
 * sagas that reach that step queue; the next statement takes all of them (up to `max`) at once.
 * Nothing ever waits to form a batch: a request finding no statement in flight goes at once, alone.
 * A saga is never twice in one batch (its second request waits for the next).
 *
 * When a batch fails for a reason that is not the database's passing trouble (`isTransient`),
 * its sagas are retried one by one, so one saga's bad data fails that saga alone.
 */
export interface Keyed {
  id: string;
}

interface Pending<I, O> {
  item: I;
  resolve: (out: O) => void;
  reject: (err: unknown) => void;
}

export class GroupExecutor<I extends Keyed, O> {
  private readonly queue: Pending<I, O>[] = [];
  private running = false;

  constructor(
    private readonly exec: (items: I[]) => Promise<O[]>,
    private readonly opts: { grouping: boolean; max: number; isTransient: (err: unknown) => boolean },
  ) {}

  submit(item: I): Promise<O> {
    if (!this.opts.grouping) return this.exec([item]).then((out) => out[0]);
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.take();
      try {
        const out = await this.exec(batch.map((p) => p.item));
        batch.forEach((p, i) => p.resolve(out[i]));
      } catch (err) {
        if (batch.length === 1 || this.opts.isTransient(err)) batch.forEach((p) => p.reject(err));
        else await Promise.all(batch.map((p) => this.exec([p.item]).then((out) => p.resolve(out[0]), p.reject)));
      }
    }
    this.running = false;
  }

  private take(): Pending<I, O>[] {
    const ids = new Set<string>();
    const batch: Pending<I, O>[] = [];
    for (let i = 0; i < this.queue.length && batch.length < this.opts.max;) {
      const pending = this.queue[i];
      if (ids.has(pending.item.id)) {
        i++;
        continue;
      }
      ids.add(pending.item.id);
      batch.push(pending);
      this.queue.splice(i, 1);
    }
    return batch;
  }
}
