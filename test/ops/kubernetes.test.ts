/*
 * config/kubernetes/: every file parses, and the manifests carry what the README promises:
 * the ConfigMap's recorder.yaml is a valid config (run through the real validator, with the
 * Secret's keys as the files its `*_file` keys read), the Secret is mounted where those keys
 * point, the JSONL is on a writable volume, the probes hit /-/ready and /-/healthy on the
 * listen port, the container is locked down, resources are set and the pod outlives the drain.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';
import {
  at,
  folderProblems,
  kindOf,
  list,
  loadManifests as loadFolder,
  type Manifests,
  type Obj,
  recorderPodProblems,
  serviceProblems,
  str,
} from '../helpers/manifests.js';

const DIR = join(ROOT, 'config/kubernetes');
const loadManifests = (): Manifests => loadFolder(DIR);

/** Every broken promise of the manifests; empty when all hold. */
function manifestProblems(m: Manifests): string[] {
  const problems = folderProblems(m);
  const deployment = kindOf(m, 'Deployment')[0];
  const configMap = kindOf(m, 'ConfigMap')[0];
  const secret = kindOf(m, 'Secret')[0];
  const service = kindOf(m, 'Service')[0];
  if (!deployment || !configMap || !secret || !service) {
    problems.push('needs a Deployment, a ConfigMap, a Secret and a Service');
    return problems;
  }
  if (at(deployment, 'spec.replicas') !== 1)
    problems.push('replicas must be 1 (each replica records and polls on its own)');
  const pod = recorderPodProblems(deployment, configMap, secret);
  problems.push(...pod.problems);
  if (!pod.config) return problems;
  const podLabels = (at(deployment, 'spec.template.metadata.labels') ?? {}) as Obj;
  problems.push(...serviceProblems(service, podLabels, pod.portMatches));
  return problems;
}

describe('config/kubernetes', () => {
  it('parses and keeps every promise', () => {
    const m = loadManifests();
    expect([...m.files.keys()].sort()).toEqual([
      'configmap.yaml',
      'deployment.yaml',
      'kustomization.yaml',
      'secret.yaml',
      'service.yaml',
    ]);
    expect(manifestProblems(m)).toEqual([]);
  });

  const deploymentOf = (m: Manifests): Obj => kindOf(m, 'Deployment')[0] as Obj;
  const recorderOf = (m: Manifests): Obj =>
    list(at(deploymentOf(m), 'spec.template.spec.containers')).find((c) => c.name === 'recorder') as Obj;
  const configMapOf = (m: Manifests): Obj => kindOf(m, 'ConfigMap')[0] as Obj;
  const editConfig = (m: Manifests, edit: (text: string) => string): void => {
    const data = at(configMapOf(m), 'data') as Obj;
    data['recorder.yaml'] = edit(str(data['recorder.yaml']));
  };

  // Each promise can fail: break one thing in a fresh copy and see it reported.
  it.each<[string, (m: Manifests) => void, RegExp]>([
    [
      'an invalid config',
      (m) => editConfig(m, (t) => t.replace('queue_size: 8192', 'queue_size: many')),
      /invalid/,
    ],
    ['an unknown config key', (m) => editConfig(m, (t) => `${t}\nqueue_sise: 1\n`), /unknown key/],
    [
      'a secret file that is not in the Secret',
      (m) => editConfig(m, (t) => t.replace('alertmanager-token', 'alertmanager-tokn')),
      /cannot read/,
    ],
    [
      'an unreferenced Secret key',
      (m) => Object.assign(at(kindOf(m, 'Secret')[0], 'stringData') as Obj, { extra: 'x' }),
      /extra is not referenced/,
    ],
    [
      'the JSONL off the data volume',
      (m) => editConfig(m, (t) => t.replace('${DATA_DIR}/events', '/tmp/events')),
      /not on the data volume/,
    ],
    [
      'a writable root filesystem',
      (m) => Object.assign(recorderOf(m).securityContext as Obj, { readOnlyRootFilesystem: false }),
      /readOnlyRootFilesystem/,
    ],
    [
      'capabilities kept',
      (m) => Object.assign(recorderOf(m).securityContext as Obj, { capabilities: {} }),
      /drop ALL/,
    ],
    [
      'root',
      (m) => Object.assign(recorderOf(m).securityContext as Obj, { runAsNonRoot: false }),
      /runAsNonRoot/,
    ],
    [
      'readiness on /-/healthy',
      (m) => Object.assign(at(recorderOf(m), 'readinessProbe.httpGet') as Obj, { path: '/-/healthy' }),
      /readinessProbe/,
    ],
    [
      'liveness on another port',
      (m) => Object.assign(at(recorderOf(m), 'livenessProbe.httpGet') as Obj, { port: 8080 }),
      /livenessProbe/,
    ],
    [
      'a listen port the container does not expose',
      (m) => editConfig(m, (t) => t.replace('0.0.0.0:9880', '0.0.0.0:9999')),
      /containerPort 9999/,
    ],
    [
      'no resource requests',
      (m) => Object.assign(at(recorderOf(m), 'resources') as Obj, { requests: {} }),
      /requests/,
    ],
    [
      'a short grace period',
      (m) =>
        Object.assign(at(deploymentOf(m), 'spec.template.spec') as Obj, {
          terminationGracePeriodSeconds: 10,
        }),
      /terminationGracePeriodSeconds/,
    ],
    [
      'no data volume',
      (m) => {
        const vols = list(at(deploymentOf(m), 'spec.template.spec.volumes'));
        for (const v of vols)
          if (v.name === 'data') Object.assign(v, { emptyDir: undefined, hostPath: { path: '/x' } });
      },
      /no emptyDir or PVC/,
    ],
    [
      'a Service on another port',
      (m) => Object.assign(list(at(kindOf(m, 'Service')[0], 'spec.ports'))[0] as Obj, { targetPort: 8080 }),
      /Service .* does not target/,
    ],
    [
      'a file missing from kustomization',
      (m) => (at(kindOf(m, 'Kustomization')[0], 'resources') as unknown[]).pop(),
      /kustomization/,
    ],
    [
      'an old image tag',
      (m) => Object.assign(recorderOf(m), { image: 'coroot-event-recorder:0.0.1' }),
      /image/,
    ],
  ])('catches %s', (_name, breakIt, expected) => {
    const m = loadManifests();
    breakIt(m);
    expect(manifestProblems(m).join('\n')).toMatch(expected);
  });
});
