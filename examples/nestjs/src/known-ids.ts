/**
 * Ids found to exist, so a returning buyer's purchase does not pay a lookup: on the HTTP path the
 * gates' lookups were one query each per purchase, where the saga's steps are batched. Bounded
 * (cleared when full). A user or item deleted after it was seen is not refused here but by the
 * saga itself (a failed USER_NOT_FOUND or ITEM_NOT_FOUND saga): the cache can cost a recorded
 * refusal, never money.
 */
export class KnownIds {
  private readonly ids = new Set<string>();

  constructor(private readonly max = 100_000) {}

  async check(id: string, exists: (id: string) => Promise<boolean>): Promise<boolean> {
    if (this.ids.has(id)) return true;
    if (!(await exists(id))) return false;
    if (this.ids.size >= this.max) this.ids.clear();
    this.ids.add(id);
    return true;
  }
}
