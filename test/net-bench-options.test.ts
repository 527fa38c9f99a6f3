// net-bench-options.test.ts: the network benchmark's options: defaults, and bad values refused up front, naming the option and the value.
import t from 'tap';
import { NetBenchOptionError, parseNetBenchArgs, resolveNetBenchOptions } from '../bench/net/options.ts';

const resolve = (argv: string[]) => resolveNetBenchOptions(parseNetBenchArgs(argv) as object);

t.test('bad values name the option and what was given', async (t) => {
  t.equal(resolve([]).senderCpu, 0);
  t.throws(() => resolve(['--policies', 'hash,hash']), new NetBenchOptionError('options.policies names a policy twice (hash,hash)'));
  t.throws(() => resolve(['--policies', 'hash,']), { message: /unknown policy ""/ });
  t.throws(() => resolve(['--workers', '0']), { message: 'options.workers must be an integer 1..64 (got 0)' });
  t.throws(() => resolve(['--sender-cpu', '4000']), { message: /options.senderCpu must be an online cpu .*got 4000/ });
  t.throws(() => resolve(['--duration', 'soon']), { message: '--duration must be a number (got soon)' });
});
