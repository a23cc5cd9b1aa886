import { canonicalJson } from '../config/equality.js';
import type { Output } from '../outputs/output.js';
import type { OutputConfig } from '../outputs/registry.js';
import type { OutputSlot } from './recorder.js';

/** A running output together with the config it was built from. */
export interface RunningOutput extends OutputSlot {
  readonly config: OutputConfig;
}

export interface ReconcilePlan {
  next: RunningOutput[];
  added: RunningOutput[];
  kept: RunningOutput[];
  removed: RunningOutput[];
}

/**
 * Decides which outputs survive a reload (docs/architecture.md "Rules": keep what did not change): an output whose
 * config, filters aside, is equal keeps running untouched (same file descriptor, same
 * producer, same queue); a filter change alone only changes its slot. Everything else
 * is built anew by `create`, and the old one is handed back for draining.
 */
export function planReconcile(
  running: readonly RunningOutput[],
  wanted: readonly OutputConfig[],
  create: (config: OutputConfig) => Output,
): ReconcilePlan {
  const byName = new Map(running.map((r) => [r.output.name, r]));
  const plan: ReconcilePlan = { next: [], added: [], kept: [], removed: [] };
  const keptNames = new Set<string>();
  for (const config of wanted) {
    const current = byName.get(config.name);
    if (current && identityOf(current.config) === identityOf(config)) {
      const slot: RunningOutput = { output: current.output, filter: config.filter, config };
      plan.next.push(slot);
      plan.kept.push(slot);
      keptNames.add(config.name);
      continue;
    }
    const slot: RunningOutput = { output: create(config), filter: config.filter, config };
    plan.next.push(slot);
    plan.added.push(slot);
  }
  for (const r of running) if (!keptNames.has(r.output.name)) plan.removed.push(r);
  return plan;
}

/** The part of an output's config that requires a restart when it changes. */
function identityOf(config: OutputConfig): string {
  const { filter: _filter, ...rest } = config;
  return canonicalJson(rest);
}
