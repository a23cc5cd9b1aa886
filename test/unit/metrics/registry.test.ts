import { describe, expect, it } from 'vitest';
import { Metrics, type OutputState } from '../../../src/metrics/registry.js';
import { registrySum } from '../../helpers/metrics.js';

class State implements OutputState {
  constructor(
    public up: boolean,
    public held: number,
  ) {}
  isUp(): boolean {
    return this.up;
  }
  pending(): number {
    return this.held;
  }
}

const series = async (metrics: Metrics, name: string): Promise<string[]> =>
  (await metrics.registry.metrics())
    .split('\n')
    .filter((l) => l.startsWith(`coroot_event_recorder_${name}{`));

describe('Metrics: output gauges read at scrape time', () => {
  it('follow the output without anyone setting them', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    const state = new State(false, 0);
    metrics.forOutput('o', state);
    expect(await series(metrics, 'output_up')).toEqual(['coroot_event_recorder_output_up{output="o"} 0']);
    state.up = true;
    state.held = 5;
    expect(await registrySum(metrics.registry, 'coroot_event_recorder_output_up', { output: 'o' })).toBe(1);
    expect(
      await registrySum(metrics.registry, 'coroot_event_recorder_output_queue_length', { output: 'o' }),
    ).toBe(5);
  });

  it('a same-named successor: up is the newest one, the queue counts both, release removes only the old', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    const old = new State(false, 7);
    const oldMeter = metrics.forOutput('o', old);
    const next = new State(true, 2);
    metrics.forOutput('o', next);
    expect(await series(metrics, 'output_up')).toEqual(['coroot_event_recorder_output_up{output="o"} 1']);
    expect(await series(metrics, 'output_queue_length')).toEqual([
      'coroot_event_recorder_output_queue_length{output="o"} 9',
    ]);
    oldMeter.release();
    oldMeter.release();
    expect(await series(metrics, 'output_queue_length')).toEqual([
      'coroot_event_recorder_output_queue_length{output="o"} 2',
    ]);
    expect(await series(metrics, 'output_up')).toEqual(['coroot_event_recorder_output_up{output="o"} 1']);
  });

  it('a released output without successor leaves no series behind', async () => {
    const metrics = new Metrics('test', { defaultMetrics: false });
    const meter = metrics.forOutput('gone', new State(true, 0));
    metrics.forOutput('stays', new State(true, 0));
    meter.release();
    expect(await series(metrics, 'output_up')).toEqual(['coroot_event_recorder_output_up{output="stays"} 1']);
    expect(await series(metrics, 'output_queue_length')).toEqual([
      'coroot_event_recorder_output_queue_length{output="stays"} 0',
    ]);
  });
});
