/**
 * libpq's `options` string (the PGOPTIONS variable, a URL's `options=` parameter): server settings
 * sent when a session starts, as `-c name=value`, `-cname=value` or `--name=value`, with `\ ` for
 * a space inside a value. Parsed so that the tool's own settings can be merged with the user's
 * instead of replacing them; anything else in the string is kept as it was.
 */
export interface ParsedOptions {
  /** Settings by lower-case name (PostgreSQL's names are case-insensitive), in order. */
  settings: Map<string, { name: string; value: string }>;
  /** Words that are not a setting (other backend switches), passed on untouched. */
  other: string[];
}

/** Splits on unescaped whitespace; `\x` stands for x. */
function words(raw: string): string[] {
  const out: string[] = [];
  let word = '';
  let started = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === '\\' && i + 1 < raw.length) {
      word += raw[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(word);
      word = '';
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (started) out.push(word);
  return out;
}

export function parseOptions(raw: string | undefined): ParsedOptions {
  const parsed: ParsedOptions = { settings: new Map(), other: [] };
  const list = words(raw ?? '');
  for (let i = 0; i < list.length; i++) {
    const w = list[i];
    let assignment: string | undefined;
    if (w === '-c' && i + 1 < list.length) assignment = list[++i];
    else if (w.startsWith('-c') && w.length > 2) assignment = w.slice(2);
    else if (w.startsWith('--') && w.includes('=')) assignment = w.slice(2);
    const eq = assignment?.indexOf('=') ?? -1;
    if (assignment === undefined || eq <= 0) {
      parsed.other.push(w);
      continue;
    }
    const name = assignment.slice(0, eq).replace(/-/g, '_');
    parsed.settings.set(name.toLowerCase(), { name, value: assignment.slice(eq + 1) });
  }
  return parsed;
}

const escape = (s: string) => s.replace(/\\/g, '\\\\').replace(/\s/g, (c) => `\\${c}`);

/** The options string for these settings (and the untouched words), as libpq sends it. */
export function formatOptions(settings: Iterable<{ name: string; value: string }>, other: string[] = []): string {
  return [...[...settings].map((s) => `-c ${escape(s.name)}=${escape(s.value)}`), ...other.map(escape)].join(' ');
}

const PG_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time setting as PostgreSQL reads it (`5s`, `1500`, `2min`, `250ms`): a number with an
 * optional unit among us, ms, s, min, h, d; no unit means milliseconds. Undefined when it is
 * not one (the server would refuse it too).
 */
export function parsePgDuration(raw: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(raw);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * PG_UNITS_MS[m[2] ?? 'ms']);
}
