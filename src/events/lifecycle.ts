import { uniqueDedupKey } from './dedup-key.js';
import type { EventDraft, EventType } from './event.js';
import { fingerprintOf } from './fingerprint.js';

export interface LifecycleInfo {
  version: string;
  configHash: string;
  outputs: string[];
  added?: string[];
  removed?: string[];
  kept?: string[];
  reason?: string;
}

/** The daemon's own events (`source: recorder`); all of one instance share a fingerprint. */
export function lifecycleDraft(
  type: Extract<EventType, 'recorder_started' | 'recorder_stopped' | 'config_reloaded'>,
  instance: string,
  info: LifecycleInfo,
): EventDraft {
  const recorder: Record<string, string | string[]> = {
    version: info.version,
    config_hash: info.configHash,
    outputs: info.outputs,
  };
  if (info.added) recorder.added = info.added;
  if (info.removed) recorder.removed = info.removed;
  if (info.kept) recorder.kept = info.kept;
  if (info.reason) recorder.reason = info.reason;
  return {
    source: 'recorder',
    type,
    fingerprint: fingerprintOf(`recorder/${instance}`),
    // Every start, stop and reload is news, never a copy of an earlier one.
    dedupKey: uniqueDedupKey(),
    severity: 'info',
    data: { recorder },
  };
}
