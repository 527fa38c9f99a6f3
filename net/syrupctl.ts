// syrupctl.ts: the syrupctl command: list deployed network policies (hooks, owners, counters), deploy one onto a running server, remove one.
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { SyrupClient } from './client.ts';
import { SyrupError } from './errors.ts';
import { SYRUPD_DEFAULTS } from './options.ts';
import type { ListResult, PolicyDescription, PolicyStatus } from './protocol.ts';

export const USAGE = `Usage: syrupctl [--socket PATH] [--json] <command>

Commands:
  list          deployed policies: id, hook, target, owner, executors and per-policy
                counters (decisions per executor, PASS, DROP, no-executor fallbacks;
                cpu_redirect: packets processed per cpu; mean run time when
                kernel.bpf_stats_enabled=1), then XDP dispatchers per interface
  deploy --pid PID --port PORT [--protocol tcp|udp] POLICY.c
                deploy a socket_select policy onto the SO_REUSEPORT group of a running
                process syrupd did not start (e.g. nginx with "listen ... reuseport"):
                syrupd finds its sockets bound to PORT (executor i = its i-th socket by
                fd number). Allowed for the process's own user and root. The policy
                stays until removed or until the process exits
  remove ID     detach and unpin policy ID (its owner or root); the kernel's hash is back

  --socket PATH   syrupd's socket (default: $SYRUPD_SOCKET or ${SYRUPD_DEFAULTS.socketPath})
  --json          machine-readable output
  -h, --help      this text

Exit codes: 0 ok, 1 syrupd refused or unreachable, 2 bad usage.`;

function userName(uid: number): string {
  try {
    if (uid === process.getuid?.()) return userInfo().username;
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.split(':')[2] === String(uid));
    return line ? line.split(':')[0]! : String(uid);
  } catch {
    return String(uid);
  }
}

function target(p: PolicyStatus): string {
  const ports = `${p.protocol}/${p.ports.join(',')}`;
  return p.ifname ? `${p.ifname} ${ports}` : ports;
}

function countersText(p: PolicyStatus): string {
  const c = p.counters;
  const parts = [`exec=[${c.executors.join(' ')}]`, `pass=${c.pass}`, `drop=${c.drop}`];
  if (c.noExecutor) parts.push(`no-executor=${c.noExecutor}`);
  if (c.cpuPackets) parts.push(`cpu=[${c.cpuPackets.join(' ')}]`);
  if (p.program.runCount > 0 && p.program.runTimeNs > 0) parts.push(`${(p.program.runTimeNs / p.program.runCount).toFixed(0)}ns/run`);
  return parts.join(' ');
}

export function formatList(r: ListResult): string {
  if (r.policies.length === 0 && r.interfaces.length === 0) return 'no policies deployed';
  const rows = [['ID', 'HOOK', 'TARGET', 'OWNER', 'PID', 'FILE', 'COUNTERS']];
  for (const p of r.policies)
    rows.push([String(p.id), p.hook, target(p), `${userName(p.uid)}(${p.uid})`, String(p.pid), p.file, countersText(p)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const lines = rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '));
  for (const d of r.interfaces) {
    const owned = d.ports.map((p) => `${p.protocol}/${p.port}->${p.policy}`).join(' ');
    const cost = d.program.runCount > 0 && d.program.runTimeNs > 0 ? ` ${(d.program.runTimeNs / d.program.runCount).toFixed(0)}ns/run` : '';
    lines.push(`dispatcher ${d.ifname} (${d.mode}): seen=${d.seen} unowned=${d.unowned} missing=${d.missing}${cost} ports: ${owned}`);
  }
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        socket: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        pid: { type: 'string' }, port: { type: 'string' }, protocol: { type: 'string' },
      },
    });
  } catch (err) {
    process.stderr.write(`syrupctl: ${(err as Error).message}\n${USAGE.split('\n')[0]}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command !== 'list' && command !== 'remove' && command !== 'deploy') {
    process.stderr.write(`syrupctl: ${command ? `unknown command ${command}` : 'missing command'}\n${USAGE.split('\n')[0]}\n`);
    return 2;
  }
  if (command === 'remove' && (rest.length !== 1 || !/^[1-9][0-9]*$/.test(rest[0]!))) {
    process.stderr.write('syrupctl: remove takes one policy id\n');
    return 2;
  }
  let deploy: { file: string; source: string; pid: number; port: number; protocol: 'tcp' | 'udp' } | null = null;
  if (command === 'deploy') {
    const usage = (m: string) => {
      process.stderr.write(`syrupctl: deploy: ${m}\n`);
      return 2;
    };
    if (rest.length !== 1) return usage('takes one policy file (syrupctl deploy --pid PID --port PORT POLICY.c)');
    if (!values.pid || !/^[1-9][0-9]*$/.test(values.pid)) return usage('--pid must be a process id');
    if (!values.port || !/^[0-9]+$/.test(values.port) || Number(values.port) < 1 || Number(values.port) > 65535) return usage('--port must be 1..65535');
    const protocol = values.protocol ?? 'tcp';
    if (protocol !== 'tcp' && protocol !== 'udp') return usage(`--protocol must be tcp or udp (got ${protocol})`);
    let source: string;
    try {
      source = readFileSync(rest[0]!, 'utf8');
    } catch (err) {
      return usage(`cannot read ${rest[0]}: ${(err as Error).message}`);
    }
    deploy = { file: rest[0]!, source, pid: Number(values.pid), port: Number(values.port), protocol };
  }
  let client: SyrupClient | null = null;
  try {
    client = await SyrupClient.connect(values.socket ? { socketPath: values.socket } : {});
    if (deploy) {
      const d = (await client.request('deploy', {
        file: deploy.file, source: deploy.source, hook: 'socket_select', port: deploy.port, protocol: deploy.protocol, target: deploy.pid,
      })) as PolicyDescription;
      process.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' :
        `policy ${d.id} deployed onto pid ${deploy.pid}: ${deploy.protocol} port ${deploy.port}, ${d.executors} sockets (fds ${(d.executorFds ?? []).join(', ')})\n`);
    } else if (command === 'list') {
      const r = await client.listPolicies();
      process.stdout.write((values.json ? JSON.stringify(r, null, 2) : formatList(r)) + '\n');
    } else {
      await client.request('remove', { policy: Number(rest[0]) });
      process.stdout.write(`policy ${rest[0]} removed\n`);
    }
    return 0;
  } catch (err) {
    const e = err as SyrupError;
    process.stderr.write(`syrupctl: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
    return 1;
  } finally {
    await client?.close();
  }
}
