// nginx-bench.test.ts: bench:nginx reads wrk's own summary and latency distribution right.
import t from 'tap';
import { parseWrk } from '../bench/net/nginx.ts';

t.test("wrk's --latency output", async (t) => {
  const out = [
    'Running 5s test @ http://10.213.9.1:18101/',
    '  1 threads and 16 connections',
    '  Thread Stats   Avg      Stdev     Max   +/- Stdev',
    '    Latency   326.94us  736.63us  14.84ms   93.50%',
    '  Latency Distribution',
    '     50%   89.00us',
    '     75%  184.00us',
    '     90%  880.00us',
    '     99%    3.60ms',
    '  488876 requests in 5.10s, 77.39MB read',
    'Requests/sec:  95841.20',
    'Transfer/sec:     15.17MB',
  ].join('\n');
  t.same(parseWrk(out), { requestsPerSec: 95841.2, requests: 488876, p50: 89, p75: 184, p90: 880, p99: 3600, errors: 0 });
  t.equal(parseWrk(`${out}\n  Socket errors: connect 0, read 2, write 0, timeout 1`).errors, 3, 'socket errors are counted');
  t.throws(() => parseWrk('unable to connect to 10.0.0.1:80 Connection refused'), /wrk printed no summary/);
});
