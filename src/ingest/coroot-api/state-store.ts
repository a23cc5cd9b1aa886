/*
 * The poller's memory across restarts: the last recorded state of every alert, so a
 * restart does not re-emit every open alert (docs/coroot-api.md "State file").
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errnoCode } from '../../lib/errno.js';
import type { Logger } from '../../log.js';
import { isRecord } from '../fields.js';
import { type AlertState, isAlertState } from './api-alert.js';

const FORMAT_VERSION = 1;

export interface PollerState {
  /**
   * False until a first poll has been recorded: that poll's already-closed alerts are
   * history rather than news (see diffAlerts' `baseline`).
   */
  initialized: boolean;
  alerts: Map<string, AlertState>;
  /** `updated_at` of each alert recorded as suppressed, as seen then (diffAlerts' `suppressedAt`). */
  suppressedAt: Map<string, number>;
}

/** What identifies the data a state file holds: another Coroot's or project's states must not be used. */
export interface StateOwner {
  url: string;
  project: string;
}

/**
 * On disk: `{"version":1,"url":…,"project":…,"saved_at":…,"alerts":{"<id>":"open",…}}`.
 * Written as a temp file then renamed over the old one, so a crash mid-write leaves
 * the previous state, never half a file.
 */
export class StateStore {
  constructor(
    readonly path: string,
    private readonly owner: StateOwner,
    private readonly logger: Logger,
  ) {}

  /** Never throws: a missing file is a first start; an unreadable or corrupt one is reported and replaced. */
  async load(): Promise<PollerState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      const code = errnoCode(err);
      if (code !== 'ENOENT') {
        this.logger.error('cannot read the coroot_api state file; starting without it', {
          state_file: this.path,
          err,
        });
      }
      return fresh();
    }
    const parsed = decodeState(text, this.owner);
    if (parsed.ok) return parsed.state;
    if (parsed.foreign) {
      this.logger.warn(
        'the coroot_api state file belongs to another Coroot or project; starting without it',
        {
          state_file: this.path,
          reason: parsed.error,
        },
      );
      return fresh();
    }
    // Kept aside for whoever investigates; the next save writes a good file in its place.
    const aside = `${this.path}.corrupt`;
    await rename(this.path, aside).catch(() => undefined);
    this.logger.error(
      'the coroot_api state file is corrupt; starting without it (open alerts are recorded again)',
      {
        state_file: this.path,
        moved_to: aside,
        reason: parsed.error,
      },
    );
    return fresh();
  }

  /** Atomic replace; rejects on failure (the caller keeps the state in memory and retries). */
  async save(state: PollerState): Promise<void> {
    const alerts: Record<string, AlertState> = {};
    for (const [id, s] of state.alerts) alerts[id] = s;
    const suppressedAt: Record<string, number> = {};
    for (const [id, at] of state.suppressedAt) suppressedAt[id] = at;
    const text = `${JSON.stringify({
      version: FORMAT_VERSION,
      url: this.owner.url,
      project: this.owner.project,
      saved_at: new Date().toISOString(),
      alerts,
      suppressed_updated_at: suppressedAt,
    })}\n`;
    await mkdir(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    const handle = await open(tmp, 'w', 0o640);
    try {
      await handle.writeFile(text, 'utf8');
      // Durable before the rename, or a power loss could leave an empty file under the real name.
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
  }
}

function fresh(): PollerState {
  return { initialized: false, alerts: new Map(), suppressedAt: new Map() };
}

type Decoded = { ok: true; state: PollerState } | { ok: false; foreign: boolean; error: string };

/** Parses a state file's text; exported for unit tests. */
export function decodeState(text: string, owner: StateOwner): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, foreign: false, error: `not JSON: ${(err as Error).message}` };
  }
  if (!isRecord(value)) return { ok: false, foreign: false, error: 'not a JSON object' };
  if (value.version !== FORMAT_VERSION) {
    return { ok: false, foreign: false, error: `unknown version ${JSON.stringify(value.version)}` };
  }
  if (value.url !== owner.url || value.project !== owner.project) {
    return {
      ok: false,
      foreign: true,
      error: `written for project ${JSON.stringify(value.project)} of ${JSON.stringify(value.url)}`,
    };
  }
  const alerts = value.alerts;
  if (!isRecord(alerts)) {
    return { ok: false, foreign: false, error: '"alerts" is not an object' };
  }
  const map = new Map<string, AlertState>();
  for (const [id, s] of Object.entries(alerts)) {
    if (!isAlertState(s))
      return {
        ok: false,
        foreign: false,
        error: `alert ${JSON.stringify(id)} has state ${JSON.stringify(s)}`,
      };
    map.set(id, s);
  }
  // Absent in files written before it existed: then an un-suppression reads as one, never as a reopen.
  const suppressedAt = new Map<string, number>();
  const marks = value.suppressed_updated_at;
  if (isRecord(marks)) {
    for (const [id, at] of Object.entries(marks)) {
      if (typeof at === 'number' && Number.isFinite(at)) suppressedAt.set(id, at);
    }
  }
  return { ok: true, state: { initialized: true, alerts: map, suppressedAt } };
}
