/*
 * config/kubernetes/statefulset/: several replicas. Every file parses; the pod keeps every
 * promise of the single Deployment (the ConfigMap's recorder.yaml through the real
 * validator, with the Secret's keys as files); and what docs/operations.md "Several replicas"
 * says holds: each replica's data_dir is its own PersistentVolumeClaim (a claim template,
 * kept on scale-down), Kafka is the shared log keyed by fingerprint, no replica polls the
 * Coroot API, a Service spreads the senders over the replicas, a headless Service names each,
 * and a disruption budget keeps all but one up.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/daemon.js';
import {
  at,
  folderProblems,
  kindOf,
  list,
  loadManifests,
  type Manifests,
  type Obj,
  recorderPodProblems,
  selects,
  serviceProblems,
  str,
} from '../helpers/manifests.js';

const DIR = join(ROOT, 'config/kubernetes/statefulset');

function problemsOf(m: Manifests): string[] {
  const problems = folderProblems(m);
  const fail = (msg: string): void => void problems.push(msg);
  const sts = kindOf(m, 'StatefulSet')[0];
  const configMap = kindOf(m, 'ConfigMap')[0];
  const secret = kindOf(m, 'Secret')[0];
  const services = kindOf(m, 'Service');
  const pdb = kindOf(m, 'PodDisruptionBudget')[0];
  if (!sts || !configMap || !secret || !pdb || services.length === 0) {
    fail('needs a StatefulSet, a ConfigMap, a Secret, Services and a PodDisruptionBudget');
    return problems;
  }
  if (kindOf(m, 'Deployment').length > 0) fail('a Deployment besides the StatefulSet');
  const replicas = Number(at(sts, 'spec.replicas'));
  if (!(replicas >= 2)) fail(`replicas must be at least 2, got ${replicas}`);

  // data_dir on a claim per replica, kept when scaled down.
  const claims = list(at(sts, 'spec.volumeClaimTemplates'));
  const claimNames = new Set(claims.map((c) => str(at(c, 'metadata.name'))));
  const podVolumes = list(at(sts, 'spec.template.spec.volumes')).map((v) => str(v.name));
  for (const name of claimNames) {
    if (podVolumes.includes(name)) fail(`volume ${name} is both a pod volume and a claim template`);
  }
  for (const c of claims) {
    const modes = (at(c, 'spec.accessModes') as unknown[] | undefined) ?? [];
    if (!modes.includes('ReadWriteOnce')) fail(`claim ${str(at(c, 'metadata.name'))} must be ReadWriteOnce`);
    if (!str(at(c, 'spec.resources.requests.storage'))) fail('a claim template without a storage request');
  }
  if (at(sts, 'spec.persistentVolumeClaimRetentionPolicy.whenScaled') === 'Delete')
    fail('scaling down must keep the claims (an audit file and buffers live there)');

  const pod = recorderPodProblems(sts, configMap, secret, claimNames);
  problems.push(...pod.problems);
  const config = pod.config;
  if (!config) return problems;
  // The pod's data mount must be one of the claims, not an emptyDir.
  const container = list(at(sts, 'spec.template.spec.containers')).find((c) => c.name === 'recorder');
  const dataEnv = list(container?.env).find((e) => e.name === 'DATA_DIR');
  const dataMount = list(container?.volumeMounts).find((vm) => vm.mountPath === str(dataEnv?.value));
  if (!dataMount || !claimNames.has(str(dataMount.name))) fail('DATA_DIR is not on a per-replica claim');

  // Kafka is the shared log, keyed by fingerprint; nobody polls the Coroot API.
  const kafka = config.outputs.filter((o) => o.type === 'kafka');
  if (kafka.length === 0) fail('no Kafka output (the shared log of the replicas)');
  for (const o of kafka) if (o.key !== 'fingerprint') fail(`Kafka output ${o.name} must key by fingerprint`);
  // What Kafka has not acknowledged waits on the replica's claim, not in memory: it survives a
  // restart and comes back with the ordinal (docs/operations.md "Several replicas").
  const mountPath = str(dataMount?.mountPath);
  const onClaim = (dir: string | null): boolean =>
    dir !== null && mountPath !== '' && (dir === mountPath || dir.startsWith(`${mountPath}/`));
  if (!onClaim(config.dataDir))
    fail(`data_dir ${config.dataDir} is not under the claim's mount ${mountPath}`);
  for (const o of kafka) {
    if (o.buffer.type !== 'disk') fail(`Kafka output ${o.name} must have a disk buffer (under data_dir)`);
    else if (!(o.buffer.maxSize > 0)) fail(`Kafka output ${o.name} needs a max_size`);
  }
  if (config.ingest.corootApi.length > 0) fail('coroot_api pollers would poll once per replica');
  // instance defaults to the host name, which is the pod name: distinct and stable per replica.
  const configText = str((at(configMap, 'data') as Obj | undefined)?.['recorder.yaml']);
  if (/^instance:/m.test(configText)) fail('a fixed instance would give every replica the same one');

  // Services: the governing one is headless; another spreads the senders.
  const podLabels = (at(sts, 'spec.template.metadata.labels') ?? {}) as Obj;
  const governing = services.find((s) => at(s, 'metadata.name') === at(sts, 'spec.serviceName'));
  if (!governing) fail(`serviceName ${str(at(sts, 'spec.serviceName'))} is not a Service of the folder`);
  else if (at(governing, 'spec.clusterIP') !== 'None') fail('the governing Service must be headless');
  const front = services.find((s) => s !== governing && at(s, 'spec.clusterIP') !== 'None');
  if (!front) fail('no ClusterIP Service for Coroot and Alertmanager');
  for (const s of services) problems.push(...serviceProblems(s, podLabels, pod.portMatches));

  // All but one replica stay up through voluntary disruptions.
  if (!selects(at(pdb, 'spec.selector.matchLabels'), podLabels))
    fail('the PodDisruptionBudget selects no pod');
  const maxUnavailable = Number(at(pdb, 'spec.maxUnavailable'));
  if (!(maxUnavailable >= 1 && maxUnavailable < replicas))
    fail('the PodDisruptionBudget must allow one replica down and keep the rest');
  return problems;
}

const load = (): Manifests => loadManifests(DIR);
const stsOf = (m: Manifests): Obj => kindOf(m, 'StatefulSet')[0] as Obj;
const editConfig = (m: Manifests, edit: (text: string) => string): void => {
  const data = at(kindOf(m, 'ConfigMap')[0], 'data') as Obj;
  data['recorder.yaml'] = edit(str(data['recorder.yaml']));
};

describe('config/kubernetes/statefulset', () => {
  it('parses and keeps every promise', () => {
    const m = load();
    expect([...m.files.keys()].sort()).toEqual([
      'configmap.yaml',
      'kustomization.yaml',
      'poddisruptionbudget.yaml',
      'secret.yaml',
      'service-headless.yaml',
      'service.yaml',
      'statefulset.yaml',
    ]);
    expect(problemsOf(m)).toEqual([]);
  });

  it.each<[string, (m: Manifests) => void, RegExp]>([
    ['one replica', (m) => Object.assign(stsOf(m).spec as Obj, { replicas: 1 }), /at least 2/],
    [
      'an invalid config',
      (m) => editConfig(m, (t) => t.replace(/^( +)key: fingerprint$/m, '$1key: sometimes')),
      /invalid/,
    ],
    [
      'Kafka keyed by instance',
      (m) => editConfig(m, (t) => t.replace(/^( +)key: fingerprint$/m, '$1key: instance')),
      /fingerprint/,
    ],
    [
      'no Kafka output',
      (m) => editConfig(m, (t) => t.slice(0, t.indexOf('\nkafka_outputs:'))),
      /no Kafka output/,
    ],
    [
      'a Kafka output buffered in memory',
      (m) => editConfig(m, (t) => t.replace(/buffer: \{ type: disk, [^}]*\}/, 'buffer: { type: memory }')),
      /must have a disk buffer/,
    ],
    [
      'data_dir off the claim',
      (m) => editConfig(m, (t) => t.replace('data_dir: ${DATA_DIR}', 'data_dir: /tmp/recorder')),
      /not under the claim's mount/,
    ],
    [
      'a Coroot API poller',
      (m) =>
        editConfig(m, (t) =>
          t.replace(
            '\nfile_outputs:',
            '  coroot_api:\n    - url: http://coroot:8080\n      project: p1\n      state_file: ${DATA_DIR}/s.json\n\nfile_outputs:',
          ),
        ),
      /poll once per replica/,
    ],
    [
      'the data on an emptyDir shared by nobody',
      (m) => {
        const spec = stsOf(m).spec as Obj;
        spec.volumeClaimTemplates = [];
        (at(spec, 'template.spec.volumes') as Obj[]).push({ name: 'data', emptyDir: {} });
      },
      /not on a per-replica claim/,
    ],
    [
      'claims deleted on scale-down',
      (m) =>
        Object.assign(at(stsOf(m), 'spec.persistentVolumeClaimRetentionPolicy') as Obj, {
          whenScaled: 'Delete',
        }),
      /keep the claims/,
    ],
    [
      'a governing Service with a cluster IP',
      (m) => {
        const headless = kindOf(m, 'Service').find((s) => at(s, 'spec.clusterIP') === 'None') as Obj;
        delete (headless.spec as Obj).clusterIP;
      },
      /headless/,
    ],
    ['a fixed instance', (m) => editConfig(m, (t) => `instance: recorder\n${t}`), /same one/],
    [
      'a budget of zero',
      (m) => Object.assign(kindOf(m, 'PodDisruptionBudget')[0]?.spec as Obj, { maxUnavailable: 0 }),
      /PodDisruptionBudget/,
    ],
    [
      'a writable root filesystem',
      (m) => {
        const c = list(at(stsOf(m), 'spec.template.spec.containers'))[0] as Obj;
        Object.assign(c.securityContext as Obj, { readOnlyRootFilesystem: false });
      },
      /readOnlyRootFilesystem/,
    ],
    [
      'a file missing from kustomization',
      (m) => (at(kindOf(m, 'Kustomization')[0], 'resources') as unknown[]).pop(),
      /kustomization/,
    ],
  ])('catches %s', (_name, breakIt, expected) => {
    const m = load();
    breakIt(m);
    expect(problemsOf(m).join('\n')).toMatch(expected);
  });
});
