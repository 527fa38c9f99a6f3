// fault-policy-options.test.ts: the fault-injecting policies of the soak and the tests refuse a bad option, naming it, instead of never injecting.
import t from 'tap';
import BadCpuPolicy from '../bench/soak/bad-cpu-policy.ts';
import ThrowEveryPolicy from '../bench/soak/throw-every-policy.ts';
import ThrowingPolicy from './fixtures/throwing-policy.ts';

t.test('every / throwTimes must be integers in range; unknown options are named', async (t) => {
  // Number('abc') is NaN and `n % NaN === 0` never holds: the fault would silently never happen.
  t.throws(() => new ThrowEveryPolicy({ every: 'abc' }), { code: 'BAD_POLICY_OPTION', field: 'options.every', message: 'options.every must be a positive integer (got "abc")' });
  t.throws(() => new ThrowEveryPolicy({ every: 0 }), { code: 'BAD_POLICY_OPTION', field: 'options.every' });
  t.throws(() => new BadCpuPolicy({ every: '2.5' }), { code: 'BAD_POLICY_OPTION', field: 'options.every' });
  t.throws(() => new BadCpuPolicy({ evry: '5' }), { field: 'options.evry', message: /not an option of bad-cpu \(known: every\)/ });
  t.throws(() => new ThrowingPolicy({ throwTimes: -1 }), { code: 'BAD_POLICY_OPTION', field: 'options.throwTimes' });
  t.doesNotThrow(() => new ThrowEveryPolicy({ every: '1000' }), 'a number given as text on the command line is fine');
  t.doesNotThrow(() => new BadCpuPolicy(), 'defaults');
  t.doesNotThrow(() => new ThrowingPolicy({ throwTimes: 0 }));
});
