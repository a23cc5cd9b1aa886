import { describe, expect, it } from 'vitest';
import { checkAuth } from '../../../src/ingest/auth.js';
import { isJsonContentType } from '../../../src/ingest/body.js';

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('checkAuth', () => {
  it('is open without credentials configured', () => {
    expect(checkAuth({ basic: null, bearerToken: null }, undefined)).toEqual({ ok: true });
  });

  it('checks basic auth and challenges otherwise', () => {
    const auth = { basic: { username: 'coroot', password: 'p:w' }, bearerToken: null };
    expect(checkAuth(auth, basic('coroot', 'p:w')).ok).toBe(true);
    for (const h of [undefined, basic('coroot', 'x'), basic('other', 'p:w'), 'Bearer p:w', 'Basic !!!']) {
      const r = checkAuth(auth, h);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.challenge).toMatch(/^Basic realm=/);
    }
  });

  it('checks bearer tokens', () => {
    const auth = { basic: null, bearerToken: 'tok' };
    expect(checkAuth(auth, 'Bearer tok').ok).toBe(true);
    expect(checkAuth(auth, 'Bearer tok2').ok).toBe(false);
    expect(checkAuth(auth, basic('a', 'tok')).ok).toBe(false);
  });
});

describe('isJsonContentType', () => {
  it('accepts JSON types with parameters and rejects others', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonContentType('application/vnd.coroot+json')).toBe(true);
    expect(isJsonContentType('application/x-www-form-urlencoded')).toBe(false);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
  });
});
