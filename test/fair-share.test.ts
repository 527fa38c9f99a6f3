// fair-share.test.ts: a SCHED_FIFO agent naps fairShareUs in every 500 us of running, idle sleeps count as naps, and bad values are refused naming the field.
import t from 'tap';
import { MsgType } from '../agent/abi.ts';
import { Agent, FAIR_SHARE_PERIOD_NS } from '../agent/agent.ts';
import { FakeChannel } from '../agent/fake-channel.ts';
import { resolveAgentOptions } from '../agent/options.ts';
import { FifoPolicy } from '../policies/fifo.ts';

/** A fake channel whose nap() and sleep() record their lengths and let that time pass. */
class NappingChannel extends FakeChannel {
  readonly naps: number[] = [];
  readonly sleeps: number[] = [];
  nap(ns: number): number {
    this.naps.push(ns);
    this.now += ns;
    return ns;
  }
  sleep(maxNs: number): number {
    this.sleeps.push(maxNs);
    this.now += maxNs;
    return maxNs;
  }
}

function setup(fairShareUs: number, idleSleepUs = 0) {
  const ch = new NappingChannel([0]);
  const agent = new Agent(ch, new FifoPolicy(), { name: 'share', statsIntervalMs: 0, yieldEveryMs: 1, fairShareUs, idleSleepUs });
  return { ch, agent };
}

t.test('a busy agent naps once per period, not more', async (t) => {
  const { ch, agent } = setup(30);
  ch.post(MsgType.TASK_NEW, 1);
  agent.step(); // starts the period
  for (let i = 0; i < 100; i++) {
    ch.now += 10_000; // 1 ms of 10 us iterations
    agent.step();
  }
  t.same(ch.naps, [30_000, 30_000], 'two 30 us naps in ~1 ms of running');
  t.equal(agent.stats.fairShareNaps, 2);
  t.equal(agent.stats.fairShareNs, 60_000);
});

t.test('without fairShareUs it never naps', async (t) => {
  const { ch, agent } = setup(0);
  for (let i = 0; i < 200; i++) {
    ch.now += 10_000;
    agent.step();
  }
  t.same(ch.naps, []);
});

t.test('an idle sleep at least as long as the nap counts as the share', async (t) => {
  const { ch, agent } = setup(30, 1000);
  agent.step();
  ch.now += 300_000; // past the spin before sleeping: idle sleeps of 1 ms from here on
  for (let i = 0; i < 20; i++) agent.step();
  t.ok(ch.sleeps.length > 0, 'it slept');
  t.same(ch.naps, [], 'and took no extra naps');
  t.ok(FAIR_SHARE_PERIOD_NS > 30_000 * 10, 'a nap is under a tenth of its period');
});

t.test('bad fairShareUs is refused naming the field', async (t) => {
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, fairShareUs: 500 }), /options\.fairShareUs must be an integer in \[0, 400\]/);
  t.throws(() => resolveAgentOptions({ cpus: [0], agentCpu: 1, fairShareUs: -1 }), /options\.fairShareUs/);
  t.equal(resolveAgentOptions({ cpus: [0], agentCpu: 1 }).fairShareUs, 30, 'default 30');
  const { runAgentCli } = await import('./helpers/live.ts');
  const a = await runAgentCli(['--enclave', 'cpus=0', '--fair-share-us', 'lots']);
  t.equal(a.code, 2);
  t.match(a.stderr, /--fair-share-us must be a non-negative integer/);
});
