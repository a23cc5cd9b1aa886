/*
 * config/kubernetes/: every file parses, and the manifests carry what the README promises:
 * the ConfigMap's recorder.yaml is a valid config (run through the real validator, with the
 * Secret's keys as the files its `*_file` keys read), the Secret is mounted where those keys
 * point, the JSONL is on a writable volume, the probes hit /-/ready and /-/healthy on the
 * listen port, the container is locked down, resources are set and the pod outlives the drain.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { RecorderConfig } from '../../src/recorder-config/schema.js';
import { parseTestConfig } from '../helpers/config.js';
import { ROOT } from '../helpers/daemon.js';

const DIR = join(ROOT, 'config/kubernetes');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at a dotted path, or undefined. */
function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const key of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

/** Kubernetes memory quantity in bytes (enough for Ki/Mi/Gi and plain numbers). */
function bytes(q: unknown): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(str(q));
  if (!m) return Number.NaN;
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

interface Manifests {
  /** File name → documents. */
  files: Map<string, Obj[]>;
}

function loadManifests(): Manifests {
  const files = new Map<string, Obj[]>();
  for (const name of readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f))) {
    const docs = parseAllDocuments(readFileSync(join(DIR, name), 'utf8'));
    const parsed: Obj[] = [];
    for (const doc of docs) {
      if (doc.errors.length > 0) throw new Error(`${name}: ${doc.errors[0]?.message}`);
      const value: unknown = doc.toJS();
      if (value !== null) parsed.push(value as Obj);
    }
    files.set(name, parsed);
  }
  return { files };
}

function kindOf(m: Manifests, kind: string): Obj[] {
  return [...m.files.values()].flat().filter((d) => d.kind === kind);
}

/** Every broken promise of the manifests; empty when all hold. */
function manifestProblems(m: Manifests): string[] {
  const problems: string[] = [];
  const fail = (msg: string): void => void problems.push(msg);

  for (const [name, docs] of m.files) {
    if (docs.length === 0) fail(`${name}: no document`);
    for (const d of docs) {
      if (!str(d.apiVersion) || !str(d.kind)) fail(`${name}: a document without apiVersion/kind`);
      if (d.kind !== 'Kustomization' && !str(at(d, 'metadata.name')))
        fail(`${name}: ${d.kind} without a name`);
    }
  }
  const kustomization = kindOf(m, 'Kustomization')[0];
  const resources = at(kustomization, 'resources');
  const others = [...m.files.keys()].filter((f) => f !== 'kustomization.yaml').sort();
  if (!Array.isArray(resources) || JSON.stringify(resources.map(str).sort()) !== JSON.stringify(others)) {
    fail(
      `kustomization.yaml resources ${JSON.stringify(resources)} are not the folder's files ${JSON.stringify(others)}`,
    );
  }

  const deployment = kindOf(m, 'Deployment')[0];
  const configMap = kindOf(m, 'ConfigMap')[0];
  const secret = kindOf(m, 'Secret')[0];
  const service = kindOf(m, 'Service')[0];
  if (!deployment || !configMap || !secret || !service) {
    fail('needs a Deployment, a ConfigMap, a Secret and a Service');
    return problems;
  }
  const pod = at(deployment, 'spec.template.spec');
  const podLabels = (at(deployment, 'spec.template.metadata.labels') ?? {}) as Obj;
  const container = list(at(pod, 'containers')).find((c) => c.name === 'recorder');
  if (!container) {
    fail('no container named "recorder"');
    return problems;
  }
  const selector = (at(deployment, 'spec.selector.matchLabels') ?? {}) as Obj;
  if (Object.keys(selector).length === 0 || !Object.entries(selector).every(([k, v]) => podLabels[k] === v)) {
    fail('the Deployment selector does not match its pod labels');
  }
  if (at(deployment, 'spec.replicas') !== 1)
    fail('replicas must be 1 (each replica records and polls on its own)');

  const image = str(container.image);
  if (!image.endsWith(`:${VERSION}`))
    fail(`image ${image} is not tagged with the package version ${VERSION}`);

  // Volumes and mounts.
  const volumes = new Map(list(at(pod, 'volumes')).map((v) => [str(v.name), v]));
  const mounts = list(container.volumeMounts).map((vm) => ({
    path: str(vm.mountPath),
    volume: volumes.get(str(vm.name)),
    readOnly: vm.readOnly === true,
  }));
  const mountOf = (pred: (v: Obj) => boolean) => mounts.find((x) => x.volume && pred(x.volume));
  const configMount = mountOf((v) => at(v, 'configMap.name') === at(configMap, 'metadata.name'));
  const secretMount = mountOf((v) => at(v, 'secret.secretName') === at(secret, 'metadata.name'));
  const dataMount = mountOf((v) => isObj(v.emptyDir) || isObj(v.persistentVolumeClaim));
  if (!configMount) fail('the ConfigMap is not mounted');
  if (!secretMount) fail('the Secret is not mounted');
  if (!dataMount) fail('no emptyDir or PVC is mounted for the JSONL');
  if (secretMount && !secretMount.readOnly) fail('the Secret must be mounted read-only');
  if (configMount && !configMount.readOnly) fail('the ConfigMap must be mounted read-only');

  // The config file the container runs is the ConfigMap's.
  const args = (Array.isArray(container.args) ? container.args : []).map(str);
  const configPath = args[args.indexOf('--config') + 1] ?? '';
  const configKey = configMount ? posix.relative(configMount.path, configPath) : '';
  const configText = str(((at(configMap, 'data') ?? {}) as Obj)[configKey]);
  if (!args.includes('--config') || !configText) {
    fail(`--config ${configPath} is not a key of the mounted ConfigMap`);
    return problems;
  }
  if (args.includes('--listen-address'))
    fail("listen on the config's listen_address, not a --listen-address flag");

  // The config, read as the container reads it: its env, and the Secret's keys as files.
  const env: NodeJS.ProcessEnv = {};
  for (const e of list(container.env)) env[str(e.name)] = str(e.value);
  const secretFiles: Record<string, string> = {};
  const secretData = { ...((at(secret, 'stringData') ?? {}) as Obj) };
  for (const [k, v] of Object.entries((at(secret, 'data') ?? {}) as Obj)) {
    secretData[k] = Buffer.from(str(v), 'base64').toString('utf8');
  }
  if (secretMount)
    for (const [k, v] of Object.entries(secretData)) secretFiles[posix.join(secretMount.path, k)] = str(v);
  const loaded = parseTestConfig(configText, env, secretFiles, configPath);
  if (!loaded.ok) {
    fail(`the ConfigMap's ${configKey} is invalid:\n${loaded.issues.map(String).join('\n')}`);
    return problems;
  }
  const config: RecorderConfig = loaded.config;
  const referenced = new Set(config.referencedFiles);
  for (const file of Object.keys(secretFiles)) {
    if (!referenced.has(file)) fail(`Secret key ${posix.basename(file)} is not referenced by any *_file key`);
  }
  if (referenced.size === 0) fail('the config reads no credentials from the Secret (*_file keys)');
  const writable = [
    ...config.outputs.flatMap((o) => (o.type === 'file' ? [o.path] : [])),
    ...config.ingest.corootApi.map((c) => c.stateFile),
  ];
  if (!config.outputs.some((o) => o.type === 'file')) fail('no file output (the JSONL audit file)');
  for (const p of writable) {
    if (!dataMount || !p.startsWith(`${dataMount.path}/`)) fail(`${p} is not on the data volume`);
  }
  if (!config.ingest.coroot.enabled) fail('the Coroot webhook endpoint is disabled');

  // Ports and probes: all on the port the config listens on.
  const port = config.listenAddress.port;
  if (config.listenAddress.host !== '0.0.0.0')
    fail(`listen_address must be 0.0.0.0:PORT, got ${config.listenAddress.host}`);
  const containerPort = list(container.ports).find((p) => p.containerPort === port);
  if (!containerPort) fail(`no containerPort ${port}`);
  const portMatches = (p: unknown): boolean =>
    p === port || (containerPort !== undefined && p === containerPort.name);
  const probes: Array<[string, string]> = [
    ['readinessProbe', '/-/ready'],
    ['livenessProbe', '/-/healthy'],
  ];
  for (const [probe, path] of probes) {
    if (at(container, `${probe}.httpGet.path`) !== path) fail(`${probe} must GET ${path}`);
    if (!portMatches(at(container, `${probe}.httpGet.port`))) fail(`${probe} is not on port ${port}`);
  }
  const annotations = (at(deployment, 'spec.template.metadata.annotations') ?? {}) as Obj;
  if (annotations['prometheus.io/scrape'] !== 'true' || annotations['prometheus.io/port'] !== String(port)) {
    fail(`the pod lacks prometheus.io/scrape "true" and prometheus.io/port "${port}"`);
  }

  // Resources: requests sized, a memory limit above them.
  const requests = (at(container, 'resources.requests') ?? {}) as Obj;
  if (!str(requests.cpu) || !str(requests.memory)) fail('resources.requests needs cpu and memory');
  const limit = bytes(at(container, 'resources.limits.memory'));
  if (!(limit >= bytes(requests.memory))) fail('resources.limits.memory must be set and >= the request');

  // Locked down.
  const sc = (container.securityContext ?? {}) as Obj;
  if (sc.readOnlyRootFilesystem !== true) fail('readOnlyRootFilesystem must be true');
  if (sc.allowPrivilegeEscalation !== false) fail('allowPrivilegeEscalation must be false');
  const drop = (at(sc, 'capabilities.drop') as unknown[] | undefined) ?? [];
  if (!drop.includes('ALL')) fail('capabilities must drop ALL');
  const runAsNonRoot = sc.runAsNonRoot ?? at(pod, 'securityContext.runAsNonRoot');
  if (runAsNonRoot !== true) fail('runAsNonRoot must be true');
  const uid = sc.runAsUser ?? at(pod, 'securityContext.runAsUser');
  if (uid === 0) fail('runAsUser must not be 0');

  // The kubelet waits for the drain.
  const grace = Number(at(pod, 'terminationGracePeriodSeconds') ?? 30);
  if (!(grace * 1000 > config.shutdownTimeoutMs)) {
    fail(
      `terminationGracePeriodSeconds ${grace} must exceed shutdown_timeout (${config.shutdownTimeoutMs} ms)`,
    );
  }

  // The Service reaches the pod on the listen port.
  const svcSelector = (at(service, 'spec.selector') ?? {}) as Obj;
  if (
    Object.keys(svcSelector).length === 0 ||
    !Object.entries(svcSelector).every(([k, v]) => podLabels[k] === v)
  ) {
    fail('the Service selector does not match the pod labels');
  }
  const svcPort = list(at(service, 'spec.ports'))[0];
  if (!svcPort || !portMatches(svcPort.targetPort ?? svcPort.port))
    fail(`the Service does not target port ${port}`);
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
      /Service does not target/,
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
