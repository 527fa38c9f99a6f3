// net-app.ts: a tiny Syrup application run as a child process (often as another user) by the isolation and lifecycle tests, driven by JSON lines on stdin.
import dgram from 'node:dgram';
import readline from 'node:readline';
import { SyrupClient, type Policy } from '../net/client.ts';
import type { HookName } from '../net/hooks.ts';
import { PinnedMap } from '../net/maps.ts';

// Commands: {cmd:'bind', address, port} | {cmd:'deploy', file, hook, ifname?, port} |
// {cmd:'status'} | {cmd:'mapSet'|'mapGet', map, key, value?} | {cmd:'openPin', path, valueSize} |
// {cmd:'request', op, args} | {cmd:'exit'};
// one JSON reply per line.
const [socketPath] = process.argv.slice(2);
const client = await SyrupClient.connect({ socketPath: socketPath! });
const sockets: dgram.Socket[] = [];
let policy: Policy | null = null;

const reply = (o: unknown): void => {
  process.stdout.write(JSON.stringify(o) + '\n');
};

for await (const line of readline.createInterface({ input: process.stdin })) {
  const c = JSON.parse(line) as Record<string, unknown>;
  try {
    switch (c.cmd) {
      case 'bind': {
        const s = dgram.createSocket('udp4');
        await new Promise<void>((r) => s.bind(c.port as number, c.address as string, () => r()));
        sockets.push(s);
        reply({ ok: true });
        break;
      }
      case 'deploy':
        policy = await client.deployPolicy({
          file: c.file as string,
          hook: c.hook as HookName,
          port: c.port as number,
          ...(c.ifname ? { ifname: c.ifname as string } : {}),
        });
        reply({ ok: true, policy: policy.description });
        break;
      case 'status':
        reply({ ok: true, status: await policy!.status() });
        break;
      case 'mapSet': {
        const m = policy!.openMap(c.map as string, { key: 'u32', value: 'u32' });
        await m.set(c.key as number, c.value as number);
        reply({ ok: true, via: m.via });
        break;
      }
      case 'mapGet': {
        const m = policy!.openMap(c.map as string, { key: 'u32', value: 'u32' });
        reply({ ok: true, value: (await m.get(c.key as number)) ?? null, via: m.via });
        break;
      }
      case 'openPin': {
        const m = new PinnedMap(c.path as string, { key: 'u32', value: { bytes: c.valueSize as number } });
        m.close();
        reply({ ok: true });
        break;
      }
      case 'request':
        reply({ ok: true, result: await client.request(c.op as string, c.args as Record<string, unknown>) });
        break;
      case 'exit':
        process.exit(0);
    }
  } catch (err) {
    const e = err as { code?: string; message: string };
    reply({ ok: false, code: e.code, message: e.message });
  }
}
