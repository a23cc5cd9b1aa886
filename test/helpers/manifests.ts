/**
 * Reading config/kubernetes/ manifests in tests, and the promises every recorder pod keeps
 * whatever runs it (a Deployment or a StatefulSet): the ConfigMap's recorder.yaml is valid
 * (the real validator, with the Secret's keys as the files its `*_file` keys read), the Secret
 * and the config are mounted read-only, what the recorder writes is on the data volume,
 * probes and scrape annotations are on the listen port, the container is locked down and
 * sized, and the kubelet waits for the drain.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { RecorderConfig } from '../../src/recorder-config/schema.js';
import { parseTestConfig } from './config.js';
import { ROOT } from './daemon.js';

export type Obj = Record<string, unknown>;

export const PACKAGE_VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value at a dotted path, or undefined. */
export function at(v: unknown, path: string): unknown {
  let cur = v;
  for (const key of path.split('.')) {
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

export function list(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

export function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

/** Kubernetes memory quantity in bytes (enough for Ki/Mi/Gi and plain numbers). */
export function bytes(q: unknown): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(str(q));
  if (!m) return Number.NaN;
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}

export interface Manifests {
  /** File name → documents. */
  files: Map<string, Obj[]>;
}

/** The YAML files directly in `dir` (not in sub-folders), each parsed into its documents. */
export function loadManifests(dir: string): Manifests {
  const files = new Map<string, Obj[]>();
  for (const name of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
    const docs = parseAllDocuments(readFileSync(join(dir, name), 'utf8'));
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

export function kindOf(m: Manifests, kind: string): Obj[] {
  return [...m.files.values()].flat().filter((d) => d.kind === kind);
}

/** Every document has apiVersion, kind and a name; the Kustomization lists exactly the folder's files. */
export function folderProblems(m: Manifests): string[] {
  const problems: string[] = [];
  for (const [name, docs] of m.files) {
    if (docs.length === 0) problems.push(`${name}: no document`);
    for (const d of docs) {
      if (!str(d.apiVersion) || !str(d.kind)) problems.push(`${name}: a document without apiVersion/kind`);
      if (d.kind !== 'Kustomization' && !str(at(d, 'metadata.name')))
        problems.push(`${name}: ${d.kind} without a name`);
    }
  }
  const resources = at(kindOf(m, 'Kustomization')[0], 'resources');
  const others = [...m.files.keys()].filter((f) => f !== 'kustomization.yaml').sort();
  if (!Array.isArray(resources) || JSON.stringify(resources.map(str).sort()) !== JSON.stringify(others)) {
    problems.push(
      `kustomization.yaml resources ${JSON.stringify(resources)} are not the folder's files ${JSON.stringify(others)}`,
    );
  }
  return problems;
}

/** Whether a selector's labels all match a pod's labels (and it selects something). */
export function selects(selector: unknown, podLabels: Obj): boolean {
  const s = (selector ?? {}) as Obj;
  return Object.keys(s).length > 0 && Object.entries(s).every(([k, v]) => podLabels[k] === v);
}

export interface PodCheck {
  problems: string[];
  /** The config the recorder container runs, when it could be read and is valid. */
  config: RecorderConfig | null;
  /** The container port the config listens on, by number or name. */
  portMatches: (p: unknown) => boolean;
}

/**
 * The promises of the recorder pod of `workload` (a Deployment or a StatefulSet).
 * `isDataVolume` says which pod volumes may hold the data (an emptyDir or a PVC volume; a
 * StatefulSet's claim templates are passed as names).
 */
export function recorderPodProblems(
  workload: Obj,
  configMap: Obj,
  secret: Obj,
  dataClaims: ReadonlySet<string> = new Set(),
): PodCheck {
  const problems: string[] = [];
  const fail = (msg: string): void => void problems.push(msg);
  const result: PodCheck = { problems, config: null, portMatches: () => false };
  const pod = at(workload, 'spec.template.spec');
  const podLabels = (at(workload, 'spec.template.metadata.labels') ?? {}) as Obj;
  const container = list(at(pod, 'containers')).find((c) => c.name === 'recorder');
  if (!container) {
    fail('no container named "recorder"');
    return result;
  }
  if (!selects(at(workload, 'spec.selector.matchLabels'), podLabels)) {
    fail(`the ${str(workload.kind)} selector does not match its pod labels`);
  }
  const image = str(container.image);
  if (!image.endsWith(`:${PACKAGE_VERSION}`))
    fail(`image ${image} is not tagged with the package version ${PACKAGE_VERSION}`);

  // Volumes and mounts: a claim template stands for a volume of that name.
  const volumes = new Map(list(at(pod, 'volumes')).map((v) => [str(v.name), v]));
  for (const claim of dataClaims) {
    if (!volumes.has(claim)) volumes.set(claim, { name: claim, persistentVolumeClaim: { claimName: claim } });
  }
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
    return result;
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
    return result;
  }
  const config: RecorderConfig = loaded.config;
  result.config = config;
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
  result.portMatches = (p: unknown): boolean =>
    p === port || (containerPort !== undefined && p === containerPort.name);
  const probes: Array<[string, string]> = [
    ['readinessProbe', '/-/ready'],
    ['livenessProbe', '/-/healthy'],
  ];
  for (const [probe, path] of probes) {
    if (at(container, `${probe}.httpGet.path`) !== path) fail(`${probe} must GET ${path}`);
    if (!result.portMatches(at(container, `${probe}.httpGet.port`))) fail(`${probe} is not on port ${port}`);
  }
  const annotations = (at(workload, 'spec.template.metadata.annotations') ?? {}) as Obj;
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
  return result;
}

/** A Service that selects the pod and reaches it on the listen port. */
export function serviceProblems(
  service: Obj,
  podLabels: Obj,
  portMatches: (p: unknown) => boolean,
): string[] {
  const problems: string[] = [];
  if (!selects(at(service, 'spec.selector'), podLabels)) {
    problems.push(`the Service ${str(at(service, 'metadata.name'))} selector does not match the pod labels`);
  }
  const svcPort = list(at(service, 'spec.ports'))[0];
  if (!svcPort || !portMatches(svcPort.targetPort ?? svcPort.port))
    problems.push(`the Service ${str(at(service, 'metadata.name'))} does not target the listen port`);
  return problems;
}
