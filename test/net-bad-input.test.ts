// net-bad-input.test.ts: compile errors, verifier rejections and malformed, unknown or oversized requests each get their own clear error, and syrupd keeps serving.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SyrupClient } from '../net/client.ts';
import { createReuseportGroup } from '../net/reuseport.ts';
import { pinsUnder, policyPath, startSyrupd, writePolicy, type Syrupd, type Teardown } from './net-harness.ts';

const SYNTAX_ERROR = `#include "syrup.h"
uint32_t schedule(void *pkt_start, void *pkt_end)
{
	return SYR_PASS   /* missing semicolon */
}
`;

/** Reads a packet byte without checking pkt_end: the verifier must refuse it. */
const UNCHECKED_READ = `#include "syrup.h"
uint32_t schedule(void *pkt_start, void *pkt_end)
{
	return *(__u8 *)(pkt_start + 30);
}
`;

/** Raw line-level conversation with syrupd, for requests the client API would never send. */
function raw(t: Teardown, d: Syrupd): { send(line: string): void; next(): Promise<{ id: number; ok: boolean; error?: { code: string; message: string } }> } {
  const s = net.createConnection(d.socketPath);
  t.teardown(() => s.destroy());
  let buf = '';
  const waiting: ((l: string) => void)[] = [];
  const lines: string[] = [];
  s.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  s.on('error', () => undefined);
  return {
    send: (line) => s.write(line),
    next: () => new Promise((resolve) => {
      const l = lines.shift();
      if (l !== undefined) resolve(JSON.parse(l));
      else waiting.push((x) => resolve(JSON.parse(x)));
    }),
  };
}

t.test('bad input gets a clear error and the daemon survives', async (t) => {
  const d = await startSyrupd(t);
  const group = await createReuseportGroup({ protocol: 'udp', port: 17501, count: 2, address: '127.0.0.1' });
  t.teardown(() => group.close());
  const client = await SyrupClient.connect({ socketPath: d.socketPath });
  t.teardown(() => client.close());
  const deploy = (file: string) => client.deployPolicy({ file, hook: 'socket_select', port: 17501, executors: group.sockets });

  const compile = await deploy(writePolicy(t, 'broken.c', SYNTAX_ERROR)).catch((e) => e);
  t.equal(compile.code, 'ECOMPILE');
  t.match(compile.details, /broken\.c:4:\d+: error: expected ';'/, 'clang diagnostics name the user file and line');
  t.notMatch(compile.details, new RegExp(d.cacheDir), 'no daemon-internal paths in diagnostics');

  const verifier = await deploy(writePolicy(t, 'unchecked.c', UNCHECKED_READ)).catch((e) => e);
  t.equal(verifier.code, 'EVERIFIER');
  t.match(verifier.details, /invalid access to packet|outside of the packet/, 'the relevant verifier lines come back');
  t.ok(verifier.details.split('\n').length <= 31, 'only the tail of the log');
  t.same(pinsUnder(d.pinRoot), [], 'failed deployments leave no pins');

  await t.rejects(client.deployPolicy({ file: '/nonexistent/p.c', hook: 'socket_select', port: 1 }), {
    code: 'EBADREQUEST',
    message: /options.file cannot be read/,
  });

  const r = raw(t, d);
  r.send('{"id": 1, "op": "deploy", "file": "x.c", "source": "x", "hook": "tc_egress", "port": 5}\n');
  t.match(await r.next(), { id: 1, ok: false, error: { code: 'EUNKNOWNHOOK', message: /request.hook must be one of socket_select/ } });
  r.send('this is not json\n');
  t.match(await r.next(), { id: 0, ok: false, error: { code: 'EBADREQUEST', message: /not valid JSON/ } });
  r.send('{"id": 2, "op": "deploy", "file": "x.c", "source": "x", "hook": "socket_select", "executors": [3]}\n');
  t.match(await r.next(), { id: 2, ok: false, error: { code: 'EBADREQUEST', message: 'request.port must be an integer 1..65535' } });
  r.send('{"id": 3, "op": "deploy", "file": "x.c", "source": "x", "hook": "xdp_skb", "port": 5}\n');
  t.match(await r.next(), { id: 3, ok: false, error: { code: 'EBADREQUEST', message: /request.ifname/ } });
  r.send('{"id": 31, "op": "deploy", "file": "x.c", "source": "x", "hook": "xdp_skb", "port": 5, "ifname": "lo", "target": 1}\n');
  t.match(await r.next(), { id: 31, ok: false, error: { code: 'EBADREQUEST', message: /request.target is only for socket_select/ } });
  r.send('{"id": 32, "op": "deploy", "file": "x.c", "source": "x", "hook": "socket_select", "port": 5, "target": 0}\n');
  t.match(await r.next(), { id: 32, ok: false, error: { code: 'EBADREQUEST', message: 'request.target must be an integer 1..4194304' } });
  r.send('{"id": 33, "op": "deploy", "file": "x.c", "source": "x", "hook": "socket_select", "port": 5}\n');
  t.match(await r.next(), { id: 33, ok: false, error: { code: 'EBADREQUEST', message: /request.executors must list the sockets/ } });
  r.send('{"id": 4, "op": "reboot"}\n');
  t.match(await r.next(), { id: 4, ok: false, error: { code: 'EUNKNOWNOP' } });
  r.send('{"id": 5, "op": "remove", "policy": 999}\n');
  t.match(await r.next(), { id: 5, ok: false, error: { code: 'ENOPOLICY' } });
  r.send('{"id": 6, "op": "list"}\n');
  t.match(await r.next(), { id: 6, ok: true }, 'the same connection still works after errors');

  r.send('{"id": 7, "op": "deploy", "source": "' + 'x'.repeat(2 << 20) + '"}\n');
  t.match(await r.next(), { id: 0, ok: false, error: { code: 'EMSGSIZE', message: /larger than 1048576 bytes/ } });
  r.send('{"id": 8, "op": "list"}\n');
  t.match(await r.next(), { id: 8, ok: true }, 'the oversized line was skipped; the next request is served');
  await t.rejects(
    client.deployPolicy({ file: writePolicy(t, 'huge.c', '/*' + 'x'.repeat(2 << 20) + '*/'), hook: 'socket_select', port: 17501, executors: group.sockets }),
    { code: 'EMSGSIZE' },
    'the client API gets EMSGSIZE for its request',
  );

  const ok = await deploy(policyPath('round_robin.c'));
  t.equal(ok.description.hook, 'socket_select', 'the daemon still deploys for others');

  // The wrapper's own maps: readable through requests, never writable (syr_executors holds syrupd's fds).
  const id = ok.description.id;
  const k0 = Buffer.alloc(4).toString('base64');
  await t.rejects(client.request('mapSet', { policy: id, map: 'syr_executors', key: k0, value: Buffer.alloc(8).toString('base64') }), {
    code: 'EPERM',
    message: /map syr_executors belongs to syrupd's wrapper/,
  }, 'a write to syr_executors is refused');
  await t.rejects(client.request('mapDelete', { policy: id, map: 'syr_counters', key: k0 }), { code: 'EPERM' }, 'so is a delete from syr_counters');
  const counters = (await client.request('mapGet', { policy: id, map: 'syr_counters', key: k0 })) as { value: string | null };
  t.type(counters.value, 'string', 'the owner still reads its counters');

  // Executors that are not suitable sockets, at deployment and later: one check, one error code.
  const notASocket = openSync(process.execPath, 'r');
  t.teardown(() => closeSync(notASocket));
  await t.rejects(ok.setExecutor(0, notASocket), { code: 'EEXECUTOR', message: /executor 0 \(fd \d+\) is not a socket/ }, 'setExecutor: a file is not a socket');
  const other = await createReuseportGroup({ protocol: 'udp', port: 17502, count: 1, address: '127.0.0.1' });
  t.teardown(() => other.close());
  await t.rejects(ok.setExecutor(1, other.sockets[0]!), { code: 'EEXECUTOR', message: /must be a UDP socket bound to port 17501/ }, 'setExecutor: a socket on another port');
  const group2 = await createReuseportGroup({ protocol: 'udp', port: 17503, count: 1, address: '127.0.0.1' });
  t.teardown(() => group2.close());
  await t.rejects(
    client.deployPolicy({ file: policyPath('round_robin.c'), hook: 'socket_select', port: 17503, executors: [group2.sockets[0]!, notASocket] }),
    { code: 'EEXECUTOR', message: /request.executors\[1\] \(fd \d+\) is not a socket/ },
    'deploy: a file among the executors',
  );
  t.equal(d.proc.exitCode, null, 'syrupd is still running');
});

t.test('a peer that answers with something other than JSON: the client fails the request, the app survives', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'syrupd-fake-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'fake.sock');
  const server = net.createServer((s) => s.on('data', () => s.write('HTTP/1.1 400 Bad Request\n')));
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => server.close());
  const client = await SyrupClient.connect({ socketPath: sock });
  t.teardown(() => client.close());
  await t.rejects(client.listPolicies(), { code: 'ECONNECTION', message: /not JSON/ });
  await t.rejects(client.listPolicies(), { code: 'ECONNECTION' }, 'and later requests fail the same way');
});

t.test('running out of file descriptors: syrupd survives the connections it cannot accept and serves again', async (t) => {
  const d = await startSyrupd(t);
  // Each connection costs syrupd a socket and a pidfd: a low limit runs out after a few.
  execFileSync('prlimit', ['--nofile=48', '--pid', String(d.proc.pid)]);
  const socks: net.Socket[] = [];
  t.teardown(() => socks.forEach((s) => s.destroy()));
  for (let i = 0; i < 60; i++) {
    const s = net.createConnection(d.socketPath);
    s.on('error', () => undefined);
    socks.push(s);
  }
  await new Promise((r) => setTimeout(r, 500));
  t.equal(d.proc.exitCode, null, 'syrupd is still running after accept() failed');
  socks.forEach((s) => s.destroy());
  socks.length = 0;
  // syrupd frees the fds only as it sees the hang-ups, and a connection it accepts before
  // then is dropped (no fd for its pidfd): try a fresh one until it is answered.
  const end = Date.now() + 10_000;
  let listed: unknown;
  let lastErr: unknown;
  while (listed === undefined && Date.now() < end) {
    let client: SyrupClient | undefined;
    try {
      client = await SyrupClient.connect({ socketPath: d.socketPath });
      listed = (await client.listPolicies()).policies;
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await client?.close();
    }
  }
  t.ok(Array.isArray(listed), `and answers a new connection once fds are free${listed === undefined ? ` (last error: ${String(lastErr)})` : ''}`);
});
