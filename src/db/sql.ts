/**
 * SQL text helpers shared by every statement of the core.
 *
 * The design's timestamps are TIMESTAMP without time zone and hold UTC. CURRENT_TIMESTAMP and
 * LOCALTIMESTAMP are the session's local time, so no statement of ours uses them: an application's
 * session in another zone must not move our clock.
 */
export const UTC_NOW = `timezone('UTC', now())`;

/** A statement with named parameters (`:name`), turned once into pg's numbered `$n`. */
export interface Statement {
  /** The prepared statement's name: the text is parsed once per connection, then only bound. */
  name: string;
  text: string;
  params: readonly string[];
}

// `:name`, but not the second colon of a cast (`::int`) nor a word inside a quoted format string.
const PARAM = /(?<![:\w]):([a-z][a-z_]*)\b/g;

export function statement(name: string, named: string): Statement {
  const params: string[] = [];
  const text = named.replace(PARAM, (_m, param: string) => {
    let index = params.indexOf(param);
    if (index < 0) index = params.push(param) - 1;
    return `$${index + 1}`;
  });
  return { name, text, params };
}

/** The values in the statement's order; a missing or unknown name is a bug, caught on the first call. */
export function valuesFor(stmt: Statement, args: Record<string, unknown>): unknown[] {
  for (const key of Object.keys(args)) {
    if (!stmt.params.includes(key)) throw new Error(`${stmt.name}: no parameter :${key}`);
  }
  return stmt.params.map((p) => {
    if (!(p in args)) throw new Error(`${stmt.name}: parameter :${p} not given`);
    return args[p];
  });
}
