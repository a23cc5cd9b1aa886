/*
 * Distinctive secret values for leak tests (issue 7 "Secrets") and a grep that finds them
 * in any text in the forms a leak usually takes: as written, percent-encoded (a URL),
 * JSON-escaped, inside `Basic base64(user:password)`, or cut short (a truncated snippet).
 */
import { randomBytes } from 'node:crypto';

export interface PlantedSecret {
  /** What the secret is for, named in a failure. */
  label: string;
  value: string;
  /** Strings whose presence anywhere means the secret leaked. */
  needles: string[];
}

/**
 * `label-<32 random hex>` plus an optional suffix (characters that need encoding in a URL).
 * The hex core is what is searched for: it survives percent-encoding and JSON escaping, and
 * each half of it (64 random bits) is unique enough to flag a truncated copy.
 */
export function secretValue(label: string, suffix = ''): string {
  return `${label}-${randomBytes(16).toString('hex')}${suffix}`;
}

function hexCore(value: string): string | null {
  return /[0-9a-f]{32}/.exec(value)?.[0] ?? null;
}

function base64Forms(text: string): string[] {
  // A secret inside a longer base64 string is encoded differently at each of the 3 byte
  // offsets; searching the middle of each encoding finds it wherever it sits.
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.from(`${'\0'.repeat(shift)}${text}`).toString('base64');
    out.push(encoded.slice(4, -4));
  }
  return out;
}

export class SecretSet {
  readonly all: PlantedSecret[] = [];

  /** A new random secret; `basicUser` adds the forms of an `Authorization: Basic` header. */
  add(label: string, opts: { suffix?: string; basicUser?: string } = {}): string {
    const value = secretValue(label, opts.suffix);
    this.plant(label, value, opts.basicUser);
    return value;
  }

  /** A secret chosen elsewhere (e.g. the suite broker's SASL password, a session cookie). */
  plant(label: string, value: string, basicUser?: string): void {
    const core = hexCore(value);
    const needles = core ? [core.slice(0, 16), core.slice(16)] : [value];
    needles.push(value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1));
    needles.push(...base64Forms(value));
    if (basicUser !== undefined) needles.push(Buffer.from(`${basicUser}:${value}`).toString('base64'));
    this.all.push({ label, value, needles: [...new Set(needles)] });
  }

  /** `label (needle)` of every secret found in `text`. */
  leaksIn(text: string): string[] {
    const found: string[] = [];
    for (const s of this.all) {
      const needle = s.needles.find((n) => text.includes(n));
      if (needle !== undefined) found.push(`${s.label} (as ${JSON.stringify(needle)})`);
    }
    return found;
  }

  /** Throws naming `where`, the secrets and the lines that hold them. */
  assertNoLeaks(where: string, text: string): void {
    const leaks = this.leaksIn(text);
    if (leaks.length === 0) return;
    const lines = text
      .split('\n')
      .filter((line) => this.leaksIn(line).length > 0)
      .slice(0, 5)
      .map((line) => `  ${line.slice(0, 400)}`);
    throw new Error(`${where} leaks ${leaks.join(', ')}:\n${lines.join('\n')}`);
  }
}
