import { createHash } from 'node:crypto';
import { join } from 'node:path';

/**
 * The folder of an output's disk buffer: `<data_dir>/buffers/<name>/`. Output names are
 * secret-free (they are metric labels) but may hold `/`, `:` and the like (a webhook's
 * name is derived from its URL), so every byte outside `[A-Za-z0-9._-]` becomes `_`; when
 * that changed the name, or it is too long or a dot name, a short hash of the real name is
 * appended so two names never share a folder.
 */
export function bufferDirName(outputName: string): string {
  const safe = outputName.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100);
  if (safe === outputName && safe !== '.' && safe !== '..' && safe.length > 0) return safe;
  const hash = createHash('sha256').update(outputName).digest('hex').slice(0, 12);
  return `${safe}-${hash}`;
}

export function bufferDir(dataDir: string, outputName: string): string {
  return join(dataDir, 'buffers', bufferDirName(outputName));
}
