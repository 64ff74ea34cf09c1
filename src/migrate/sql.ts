/**
 * An identifier we generate (a scratch database's name, a table or column read from the catalog)
 * quoted for SQL text, where a parameter cannot stand. Values are always parameters.
 */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A duration in milliseconds as PostgreSQL reads a setting (`set_config('lock_timeout', $1, ...)`). */
export function msSetting(ms: number): string {
  return `${Math.max(0, Math.round(ms))}ms`;
}
