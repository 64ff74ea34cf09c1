/** An outbox event, delivered in-process after the statement that wrote it committed. */
export interface SagaEvent {
  id: string;
  type: string;
  transactionId: string;
}

export type Handler<R> = (event: SagaEvent) => Promise<R>;

/**
 * The in-process event bus of choreography: one handler per event type. `publish` resolves with
 * what the chain of reactions ended in, so a caller can wait for its saga to settle. Delivery
 * is at least once; handlers are idempotent because each consumes its event in its own statement.
 */
export class EventBus<R> {
  private readonly handlers = new Map<string, Handler<R>>();

  subscribe(type: string, handler: Handler<R>): void {
    if (this.handlers.has(type)) throw new Error(`a handler for ${type} exists already`);
    this.handlers.set(type, handler);
  }

  async publish(event: SagaEvent): Promise<R | undefined> {
    const handler = this.handlers.get(event.type);
    return handler ? handler(event) : undefined;
  }
}
