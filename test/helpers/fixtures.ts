import { readdirSync, readFileSync } from 'node:fs';

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** A fixture parsed exactly as the HTTP layer would: JSON.parse of the raw bytes. */
export function loadFixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as unknown;
}

/** Fixture file names in a folder, e.g. `listFixtures('coroot')` → `['alert-….json', …]`. */
export function listFixtures(folder: string): string[] {
  return readdirSync(new URL(`${folder}/`, FIXTURES))
    .filter((name) => name.endsWith('.json'))
    .sort();
}
