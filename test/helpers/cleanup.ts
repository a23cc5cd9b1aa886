/*
 * Vitest setup file: after each test file, remove the temporary folders its tests made with
 * `tempDir` (daemon data, configs, certificates), so repeated runs do not fill /tmp. Registered
 * first, this afterAll runs after the file's own hooks have stopped their daemons.
 */
import { afterAll } from 'vitest';
import { removeTempDirs } from './daemon.js';

afterAll(removeTempDirs);
