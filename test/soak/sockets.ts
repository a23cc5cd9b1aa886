/*
 * Names the daemon's descriptors by what they are: a file path, or a TCP socket by its peer
 * (read from /proc/net/tcp{,6}: socket inode → local and remote port). That turns "the fd
 * count went up" into "two sockets to the webhook receiver stayed open", which is what a
 * leak report needs.
 */
import { readFile } from 'node:fs/promises';

interface TcpSocket {
  localPort: number;
  remotePort: number;
  /** Kernel TCP state: 0A is LISTEN, 01 ESTABLISHED, … */
  state: string;
}

async function tcpSockets(): Promise<Map<string, TcpSocket>> {
  const byInode = new Map<string, TcpSocket>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, remote, state, inode] = [f[1], f[2], f[3], f[9]];
      if (!local || !remote || !state || !inode) continue;
      byInode.set(inode, {
        localPort: Number.parseInt(local.split(':')[1] ?? '0', 16),
        remotePort: Number.parseInt(remote.split(':')[1] ?? '0', 16),
        state,
      });
    }
  }
  return byInode;
}

/** Inodes of Unix domain sockets (the daemon's own stdio and libuv plumbing, not network peers). */
async function unixSocketInodes(): Promise<Set<string>> {
  const text = await readFile('/proc/net/unix', 'utf8').catch(() => '');
  return new Set(
    text
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/)[6])
      .filter((inode): inode is string => inode !== undefined),
  );
}

export interface KnownPorts {
  /** The daemon's ingest listener. */
  listen: number;
  receiver: number;
  /** Every listener of the soak's broker (PLAINTEXT, SASL, controller). */
  kafka: readonly number[];
}

/**
 * Each descriptor target classified: `socket:listen`, `socket:ingest-client` (a sender's
 * connection to the listener), `socket:receiver`, `socket:kafka`, `socket:unix`, `socket:other`; files and
 * everything else keep their target.
 */
export async function classifyFds(targets: readonly string[], ports: KnownPorts): Promise<string[]> {
  const tcp = await tcpSockets();
  const unix = await unixSocketInodes();
  return targets.map((t) => {
    const m = /^socket:\[(\d+)\]$/.exec(t);
    if (!m) return t;
    const s = tcp.get(m[1] as string);
    if (!s) return unix.has(m[1] as string) ? 'socket:unix' : 'socket:other';
    if (s.state === '0A') return s.localPort === ports.listen ? 'socket:listen' : 'socket:other-listen';
    if (s.localPort === ports.listen) return 'socket:ingest-client';
    if (s.remotePort === ports.receiver) return 'socket:receiver';
    if (ports.kafka.includes(s.remotePort)) return 'socket:kafka';
    return 'socket:other';
  });
}

/** `{ kind: count }`, sorted by kind, for the report. */
export function countKinds(kinds: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of [...kinds].sort()) out[k] = (out[k] ?? 0) + 1;
  return out;
}
