import { describe, expect, it } from 'vitest';
import { parseHttpUrl } from '../../../src/lib/url.js';

describe('parseHttpUrl', () => {
  it('accepts http and https', () => {
    for (const text of ['http://h.example/x', 'https://u:p@h.example:8443/']) {
      const { url, error } = parseHttpUrl(text);
      expect(error).toBeNull();
      expect(url?.href).toBe(new URL(text).href);
    }
  });

  it('refuses other schemes, naming only the scheme', () => {
    const { url, error } = parseHttpUrl('ftp://user:s3cret@h.example/');
    expect(url?.protocol).toBe('ftp:');
    expect(error).toBe('must use http or https, got "ftp"');
  });

  it('refuses text that is not an absolute URL without echoing it', () => {
    const { url, error } = parseHttpUrl('h.example/s3cret');
    expect(url).toBeNull();
    expect(error).not.toContain('s3cret');
  });
});
