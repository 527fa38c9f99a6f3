// policy-registry.test.ts: every built-in policy builds by name, passes its options through, and rejects bad ones clearly.
import t from 'tap';
import { Policy } from '../agent/policy.ts';
import { RateGroups } from '../policies/rate-groups.ts';
import { createPolicy, POLICIES, POLICY_NAMES, policyNames } from '../policies/registry.ts';
import { ShinjukuPolicy } from '../policies/shinjuku.ts';

t.test('the names', async (t) => {
  t.same(policyNames, ['fifo', 'shinjuku', 'sjf', 'mfq', 'edf']);
  t.same(Object.keys(POLICIES), [...POLICY_NAMES]);
});

t.test('each name builds its policy with defaults', async (t) => {
  for (const name of POLICY_NAMES) {
    const p = createPolicy(name);
    t.ok(p instanceof Policy, name);
    t.equal(p.name, name);
    t.equal(p.queueDepth(), 0);
    t.type(p.stats(), 'object');
  }
});

t.test('options reach the policy; rate-group options wrap it', async (t) => {
  const s = createPolicy('shinjuku', { sliceUs: 30, classes: 2 }) as ShinjukuPolicy;
  t.equal(s.sliceNs, 30_000);
  t.equal(s.classes, 2);
  const r = createPolicy('edf', { preempt: false, groups: { batch: { id: 4, ratePct: 25 } } });
  t.ok(r instanceof RateGroups);
  t.equal(r.name, 'edf+rate');
  t.equal((r as RateGroups).windowNs, 10e6);
});

t.test('errors', async (t) => {
  t.throws(() => createPolicy('cfs'), { code: 'UNKNOWN_POLICY', message: 'unknown policy "cfs" (built in: fifo, shinjuku, sjf, mfq, edf)' });
  t.throws(() => createPolicy('shinjuku', { sliceUs: -5 }), {
    code: 'BAD_POLICY_OPTION',
    message: 'options.sliceUs must be a positive number or Infinity (got -5)',
  });
  t.throws(() => createPolicy('mfq', { sliceUs: 5 }), { code: 'BAD_POLICY_OPTION', message: 'options.sliceUs is not an option of mfq (known: thresholdsMs, starvationMs)' });
  t.throws(() => createPolicy('sjf', { groups: { x: { id: 1, ratePct: 101 } } }), {
    code: 'BAD_POLICY_OPTION',
    message: 'options.groups.x.ratePct must be a number in (0, 100] (got 101)',
  });
});
