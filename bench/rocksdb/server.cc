// server.cc: the native RocksDB benchmark server: a real RocksDB on tmpfs, a native open-loop generator and dispatcher, workers registered through libsyrup.
/*
 * Usage (by bench/rocksdb/native-server.ts):
 *   rocksdb_server --calibrate --db DIR --keys N [--range-x X]
 *       build the database if DIR holds none, time Get and iterator Next,
 *       print one JSON line {"bench":"calibration",...} and exit;
 *   rocksdb_server --db DIR --keys N --range-entries N --workers N --worker-cpus L --helper-cpus L
 *       --dispatcher-cpu N --generator-cpu N --parker linux|syrup [--enclave NAME] [--range-frac F]
 *       [--checkpoint-entries N] [--hint-get-ns N --hint-range-ns N] [--dispatcher-sleeps] [--generator-sleeps] [--realtime-prio N] [--out DIR]
 *       serve phases: stdin takes {"cmd":"phase","phase":P,"rate":R,"warmupS":W,"durationS":D,"seed":S}
 *       or {"cmd":"quit"} per line; stdout gets {"bench":"ready",...} once and
 *       {"bench":"phase",...} per phase, its per-request records in a file.
 *
 * The same model as bench/server.ts, natively: the generator thread draws
 * Poisson arrivals at the phase's rate and pushes each at its scheduled time
 * into a single-producer ring; the dispatcher (the main thread) hands each
 * request to the longest-idle worker and wakes it; with more workers than
 * cpus, which runnable worker runs is the scheduler's decision. A GET is one
 * db->Get of a random key; a RANGE is an iterator Seek to a random key and
 * range-entries Next()s, sized at calibration to ~500 GETs. Syrup workers
 * call syrup_checkpoint() every checkpoint-entries of a RANGE, so a
 * preemptive policy can take the cpu back cooperatively.
 *
 * Every timestamp is CLOCK_MONOTONIC in microseconds (doubles), the clock
 * the agent's commit times use, so placement splits line up.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/write_batch.h>

#include "syrup_client.h"

static double now_us()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long futex(std::atomic<int> *addr, int op, int val, const struct timespec *ts = nullptr)
{
	return syscall(SYS_futex, reinterpret_cast<int *>(addr), op, val, ts, nullptr, 0);
}

[[noreturn]] static void fail(const std::string &msg)
{
	std::string m;
	for (char c : msg) m += (c == '"' || c == '\\') ? ' ' : (c == '\n' ? ' ' : c);
	printf("{\"bench\":\"error\",\"message\":\"%s\"}\n", m.c_str());
	fflush(stdout);
	exit(1);
}

static std::vector<int> parse_cpus(const char *s)
{
	std::vector<int> out;
	while (s && *s) {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s) fail(std::string("bad cpu list ") + s);
		if (*end == '-') b = strtol(end + 1, &end, 10);
		for (long c = a; c <= b; c++) out.push_back((int)c);
		s = *end == ',' ? end + 1 : end;
	}
	return out;
}

static void pin_tid(int tid, const std::vector<int> &cpus)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	for (int c : cpus) CPU_SET(c, &set);
	if (sched_setaffinity(tid, sizeof(set), &set) != 0) fail(std::string("sched_setaffinity: ") + strerror(errno));
}

static int gettid_() { return (int)syscall(SYS_gettid); }

/* Every thread of this process, RocksDB's own background threads included. */
static std::vector<int> task_ids()
{
	std::vector<int> v;
	if (DIR *d = opendir("/proc/self/task")) {
		while (struct dirent *e = readdir(d))
			if (e->d_name[0] != '.') v.push_back(atoi(e->d_name));
		closedir(d);
	}
	return v;
}

static std::string allowed(int tid)
{
	cpu_set_t set;
	sched_getaffinity(tid, sizeof(set), &set);
	std::string s;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) s += (s.empty() ? "" : ",") + std::to_string(c);
	return s;
}

// ---- options ---------------------------------------------------------------------------
struct Opts {
	bool calibrate = false;
	std::string db, enclave = "syrup", parker = "linux", out = "/tmp";
	long keys = 1000000, range_entries = 0, checkpoint_entries = 0;
	uint64_t hint_get_ns = 3000, hint_range_ns = 1500000; /* SJF's expected runtimes, from the calibration */
	double range_x = 500, range_frac = 0.005;
	int workers = 8, dispatcher_cpu = 0, generator_cpu = 0, realtime_prio = 0;
	std::vector<int> worker_cpus, helper_cpus;
	bool dispatcher_sleeps = false, generator_sleeps = false;
};

static Opts parse_opts(int argc, char **argv)
{
	Opts o;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		auto val = [&]() -> const char * {
			if (i + 1 >= argc) fail(a + " needs a value");
			return argv[++i];
		};
		if (a == "--calibrate") o.calibrate = true;
		else if (a == "--db") o.db = val();
		else if (a == "--keys") o.keys = atol(val());
		else if (a == "--range-x") o.range_x = atof(val());
		else if (a == "--range-entries") o.range_entries = atol(val());
		else if (a == "--checkpoint-entries") o.checkpoint_entries = atol(val());
		else if (a == "--range-frac") o.range_frac = atof(val());
		else if (a == "--hint-get-ns") o.hint_get_ns = strtoull(val(), nullptr, 10);
		else if (a == "--hint-range-ns") o.hint_range_ns = strtoull(val(), nullptr, 10);
		else if (a == "--workers") o.workers = atoi(val());
		else if (a == "--worker-cpus") o.worker_cpus = parse_cpus(val());
		else if (a == "--helper-cpus") o.helper_cpus = parse_cpus(val());
		else if (a == "--dispatcher-cpu") o.dispatcher_cpu = atoi(val());
		else if (a == "--generator-cpu") o.generator_cpu = atoi(val());
		else if (a == "--parker") o.parker = val();
		else if (a == "--enclave") o.enclave = val();
		else if (a == "--out") o.out = val();
		else if (a == "--realtime-prio") o.realtime_prio = atoi(val());
		else if (a == "--dispatcher-sleeps") o.dispatcher_sleeps = true;
		else if (a == "--generator-sleeps") o.generator_sleeps = true;
		else fail("unknown option " + a);
	}
	if (o.db.empty()) fail("--db is required");
	if (o.keys < 1000) fail("--keys must be >= 1000");
	if (!o.calibrate) {
		if (o.workers < 1 || o.workers > 1024) fail("--workers must be 1-1024");
		if (o.range_entries < 1) fail("--range-entries must be >= 1 (from --calibrate)");
		if (o.worker_cpus.empty() || o.helper_cpus.empty()) fail("--worker-cpus and --helper-cpus are required");
		if (o.parker != "linux" && o.parker != "syrup") fail("--parker must be linux or syrup");
	}
	return o;
}

// ---- the database ----------------------------------------------------------------------
static void key_of(long k, char *buf) { snprintf(buf, 24, "key%012ld", k); }

static rocksdb::DB *open_db(const Opts &o, bool build)
{
	rocksdb::Options opt;
	opt.create_if_missing = build;
	opt.compression = rocksdb::kNoCompression;
	opt.max_background_jobs = 1;
	opt.max_open_files = -1;
	rocksdb::BlockBasedTableOptions t;
	t.block_cache = rocksdb::NewLRUCache(512 << 20);
	t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
	opt.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
	rocksdb::DB *db = nullptr;
	rocksdb::Status s = rocksdb::DB::Open(opt, o.db, &db);
	if (!s.ok()) fail("open " + o.db + ": " + s.ToString());
	return db;
}

/* At least `keys` keys of ~100-byte values, flushed and compacted so every configuration reads the same LSM shape. */
static void build_db(rocksdb::DB *db, long keys)
{
	std::string probe;
	char k[24];
	key_of(keys - 1, k);
	if (db->Get(rocksdb::ReadOptions(), k, &probe).ok()) return; // built by an earlier step of this run
	std::mt19937_64 rng(42);
	rocksdb::WriteOptions wo;
	wo.disableWAL = true;
	std::string v(100, 'x');
	for (long base = 0; base < keys; base += 10000) {
		rocksdb::WriteBatch b;
		for (long i = base; i < keys && i < base + 10000; i++) {
			for (auto &c : v) c = (char)('a' + rng() % 26);
			key_of(i, k);
			b.Put(k, v);
		}
		rocksdb::Status s = db->Write(wo, &b);
		if (!s.ok()) fail("write: " + s.ToString());
	}
	db->Flush(rocksdb::FlushOptions());
	db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
}

static uint64_t do_get(rocksdb::DB *db, long key)
{
	char k[24];
	key_of(key, k);
	std::string v;
	rocksdb::Status s = db->Get(rocksdb::ReadOptions(), k, &v);
	return s.ok() ? (uint64_t)(unsigned char)v[0] : 0;
}

/* An iterator scan of `entries` from a random key (wrapping to the start), calling cp() every `every` entries. */
template <typename F> static uint64_t do_range(rocksdb::DB *db, long key, long entries, long every, F cp)
{
	char k[24];
	key_of(key, k);
	std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
	uint64_t sum = 0;
	it->Seek(k);
	for (long i = 0; i < entries; i++) {
		if (!it->Valid()) it->SeekToFirst();
		sum += (unsigned char)it->value()[0];
		it->Next();
		if (every > 0 && (i + 1) % every == 0) cp();
	}
	return sum;
}

static double quiet_us(const std::vector<double> &v)
{
	std::vector<double> s = v;
	std::sort(s.begin(), s.end());
	return s[s.size() / 4]; // 25th percentile: the machine when nothing interrupts it (as bench/calibrate.ts)
}

static int calibrate(const Opts &o)
{
	rocksdb::DB *db = open_db(o, true);
	double t0 = now_us();
	build_db(db, o.keys);
	double build_s = (now_us() - t0) / 1e6;
	std::mt19937_64 rng(7);
	uint64_t sink = 0;
	for (int i = 0; i < 20000; i++) sink += do_get(db, (long)(rng() % o.keys));
	std::vector<double> gets;
	for (int r = 0; r < 200; r++) {
		double a = now_us();
		for (int i = 0; i < 100; i++) sink += do_get(db, (long)(rng() % o.keys));
		gets.push_back((now_us() - a) / 100);
	}
	double get_us = quiet_us(gets);
	std::vector<double> scans;
	for (int r = 0; r < 20; r++) {
		double a = now_us();
		sink += do_range(db, (long)(rng() % o.keys), 20000, 0, [] {});
		scans.push_back((now_us() - a) / 20000);
	}
	double entry_us = quiet_us(scans);
	long entries = std::max(1L, std::lround(o.range_x * get_us / entry_us));
	std::vector<double> checks;
	for (int r = 0; r < 8; r++) {
		double a = now_us();
		sink += do_range(db, (long)(rng() % o.keys), entries, 0, [] {});
		checks.push_back(now_us() - a);
	}
	printf("{\"bench\":\"calibration\",\"getUs\":%.3f,\"entryUs\":%.4f,\"rangeEntries\":%ld,\"rangeUs\":%.1f,\"keys\":%ld,\"buildS\":%.2f,\"sink\":%llu}\n",
	       get_us, entry_us, entries, quiet_us(checks), o.keys, build_s, (unsigned long long)(sink & 1));
	delete db;
	return 0;
}

// ---- serving -----------------------------------------------------------------------------
enum { ST_IDLE = 0, ST_ASSIGNED = 1, ST_DONE = 2 };
enum { D_AWAKE = 0, D_WANT_ARRIVAL = 1, D_WANT_COMPLETION = 2 };
static const int FLAG_RANGE = 1, FLAG_MEASURED = 2;

struct Request {
	double intended, pushed;
	long key;
	int flags;
};

/* One record per measured request, written to the phase's file: what native-server.ts turns into histograms. */
struct Record {
	double intended, pushed, dispatched, started, ended, placed;
	double flags, yields;
};

struct alignas(128) Worker {
	std::atomic<int> state{ST_IDLE};
	std::atomic<int> go{0};  /* linux parker: 1 = go */
	int tid = 0;
	syrup_handle handle = 0;
	Request req{};
	double dispatched = 0, started = 0, ended = 0, placed = NAN;
	int yields = 0;
	uint64_t checksum = 0;
};

static const size_t RING = 8192; /* backlog bound past which arrivals are dropped, as bench/protocol.ts */

struct Server {
	Opts o;
	rocksdb::DB *db = nullptr;
	syrup_enclave *enc = nullptr;
	std::vector<Worker> w;
	std::atomic<int> stop{0}, booted{0}, registered{0};
	/* generator -> dispatcher ring (single producer, single consumer) */
	std::vector<Request> ring = std::vector<Request>(RING);
	std::atomic<size_t> head{0}, tail{0};
	std::atomic<int> disp_sleep{D_AWAKE}, doorbell{0};
	/* the phase the generator runs, and its counters */
	std::atomic<int> gen_phase{-1}, gen_done{-1}, gen_tid{0};
	double rate = 0, warmup_s = 0, duration_s = 0;
	uint64_t seed = 1;
	double generated = 0, measured = 0, dropped = 0, dropped_measured = 0;
	std::atomic<int> go_register{0};
};
static Server S;

static void ring_doorbell(int want)
{
	if (S.disp_sleep.load() == want) {
		S.doorbell.store(1);
		futex(&S.doorbell, FUTEX_WAKE_PRIVATE, 1);
	}
}

static void wait_assigned(Worker &me)
{
	if (S.enc) {
		while (me.state.load() != ST_ASSIGNED && !S.stop.load()) syrup_park(S.enc);
		return;
	}
	while (!S.stop.load()) {
		if (me.go.exchange(0) == 1) return;
		futex(&me.go, FUTEX_WAIT_PRIVATE, 0);
	}
}

static void *worker_main(void *arg)
{
	Worker &me = *static_cast<Worker *>(arg);
	me.tid = gettid_();
	S.booted.fetch_add(1);
	/* The main thread pins every thread before anyone registers. */
	while (!S.go_register.load()) usleep(200);
	if (S.enc) {
		int rc = syrup_register(S.enc, nullptr, &me.handle);
		if (rc) fail(std::string("register: ") + syrup_strerror(rc));
	}
	S.registered.fetch_add(1);
	long every = S.o.checkpoint_entries;
	for (;;) {
		wait_assigned(me);
		if (S.stop.load()) break;
		me.started = now_us();
		me.placed = S.enc ? (double)syrup_placed_at_ns(S.enc, me.handle) / 1e3 : NAN;
		me.yields = 0;
		if (me.req.flags & FLAG_RANGE) {
			me.checksum += do_range(S.db, me.req.key, S.o.range_entries, S.enc ? every : 0, [&] {
				if (syrup_checkpoint(S.enc) == 1) me.yields++;
			});
		} else {
			me.checksum += do_get(S.db, me.req.key);
		}
		me.ended = now_us();
		me.state.store(ST_DONE);
		ring_doorbell(D_WANT_COMPLETION);
	}
	if (S.enc) syrup_unregister(S.enc);
	return nullptr;
}

/*
 * Sleeps to the absolute arrival time: a SCHED_FIFO thread has no timer slack,
 * so the wakeup is the hrtimer's, and no cpu time is burnt waiting. (A spin
 * margin before each arrival held the shared cpu for half of every gap at 10k
 * req/s, and the agent, which never preempts the front end, waited behind it.)
 */
static void sleep_until(double t_us)
{
	struct timespec ts = {(time_t)(t_us / 1e6), (long)(fmod(t_us, 1e6) * 1e3)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
	}
}

static void make_realtime(int prio)
{
	if (prio <= 0) return;
	struct sched_param sp = {};
	sp.sched_priority = prio;
	if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) fail(std::string("SCHED_FIFO: ") + strerror(errno));
}

static void *generator_main(void *)
{
	S.gen_tid.store(gettid_());
	pin_tid(0, {S.o.generator_cpu});
	make_realtime(S.o.realtime_prio);
	for (;;) {
		int phase;
		while ((phase = S.gen_phase.load()) < 0 || phase == S.gen_done.load()) {
			if (S.stop.load()) return nullptr;
			usleep(1000);
		}
		std::mt19937_64 rng(S.seed * 2654435761ull + (uint64_t)phase);
		std::exponential_distribution<double> gap(S.rate / 1e6);
		std::uniform_real_distribution<double> u(0, 1);
		S.generated = S.measured = S.dropped = S.dropped_measured = 0;
		double start = now_us() + 1000;
		double from = start + S.warmup_s * 1e6, end = from + S.duration_s * 1e6;
		for (double t = start + gap(rng); t < end; t += gap(rng)) {
			/* Late (after a stall of this cpu), it pushes what is due without a
			 * syscall each: an expired clock_nanosleep still programs the hrtimer,
			 * a VM exit of ~15 us here, and a SCHED_FIFO generator catching up on
			 * a few ms of arrivals that way held its cpu ~2 ms more (perf). */
			if (S.o.generator_sleeps && now_us() < t) sleep_until(t);
			while (now_us() < t) {
			}
			Request r;
			r.intended = t;
			r.key = (long)(rng() % (uint64_t)S.o.keys);
			r.flags = (u(rng) < S.o.range_frac ? FLAG_RANGE : 0) | (t >= from ? FLAG_MEASURED : 0);
			S.generated++;
			if (r.flags & FLAG_MEASURED) S.measured++;
			size_t h = S.head.load(std::memory_order_relaxed);
			if (h - S.tail.load(std::memory_order_acquire) >= RING) {
				S.dropped++;
				if (r.flags & FLAG_MEASURED) S.dropped_measured++;
				continue;
			}
			r.pushed = now_us();
			S.ring[h % RING] = r;
			S.head.store(h + 1, std::memory_order_release);
			ring_doorbell(D_WANT_ARRIVAL);
		}
		S.gen_done.store(phase);
		ring_doorbell(D_WANT_ARRIVAL);
		ring_doorbell(D_WANT_COMPLETION);
	}
}

static void wake_worker(Worker &w, bool range)
{
	if (S.enc) {
		syrup_set_hint(S.enc, w.handle, range ? S.o.hint_range_ns : S.o.hint_get_ns);
		syrup_wake(S.enc, w.handle);
	} else {
		w.go.store(1);
		futex(&w.go, FUTEX_WAKE_PRIVATE, 1);
	}
}

static void dispatcher_sleep(int want, int phase, const std::vector<int> &busy)
{
	S.doorbell.store(0);
	S.disp_sleep.store(want);
	bool nothing = true;
	if (want == D_WANT_ARRIVAL)
		nothing = S.head.load() == S.tail.load() && S.gen_done.load() != phase;
	else
		for (int b : busy)
			if (S.w[b].state.load() == ST_DONE) nothing = false;
	struct timespec ts = {0, 5000000};
	if (nothing) futex(&S.doorbell, FUTEX_WAIT_PRIVATE, 0, &ts);
	S.disp_sleep.store(D_AWAKE);
}

/* Runs one phase to its end (every request done, or 10 s past the last arrival); returns the incomplete count. */
static long run_phase(int phase, std::vector<Record> &recs, double &yields)
{
	int n = (int)S.w.size();
	std::vector<int> idle(n), busy;
	size_t idle_head = 0, idle_count = (size_t)n;
	for (int i = 0; i < n; i++) idle[i] = i;
	S.gen_phase.store(phase);
	double deadline = 0;
	for (;;) {
		bool progressed = false;
		for (size_t i = 0; i < busy.size();) {
			Worker &w = S.w[busy[i]];
			if (w.state.load() != ST_DONE) {
				i++;
				continue;
			}
			if (w.req.flags & FLAG_MEASURED) {
				recs.push_back({w.req.intended, w.req.pushed, w.dispatched, w.started, w.ended, w.placed, (double)w.req.flags, (double)w.yields});
				yields += w.yields;
			}
			w.state.store(ST_IDLE);
			idle[(idle_head + idle_count) % n] = busy[i];
			idle_count++;
			busy[i] = busy.back();
			busy.pop_back();
			progressed = true;
		}
		while (idle_count > 0 && S.tail.load() != S.head.load(std::memory_order_acquire)) {
			size_t t = S.tail.load(std::memory_order_relaxed);
			Request r = S.ring[t % RING];
			S.tail.store(t + 1, std::memory_order_release);
			int wi = idle[idle_head];
			idle_head = (idle_head + 1) % n;
			idle_count--;
			Worker &w = S.w[wi];
			w.req = r;
			w.dispatched = now_us();
			w.state.store(ST_ASSIGNED);
			busy.push_back(wi);
			wake_worker(w, r.flags & FLAG_RANGE);
			progressed = true;
		}
		if (progressed) continue;
		bool gen_done = S.gen_done.load() == phase;
		bool empty = S.head.load() == S.tail.load();
		if (gen_done && empty && busy.empty()) break;
		if (gen_done && deadline == 0) deadline = now_us() + 10e6;
		if (deadline > 0 && now_us() > deadline) break;
		if (S.o.dispatcher_sleeps) dispatcher_sleep(empty && !gen_done ? D_WANT_ARRIVAL : D_WANT_COMPLETION, phase, busy);
	}
	return (long)busy.size() + (long)(S.head.load() - S.tail.load());
}

static double json_num(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	if (!p) fail(std::string("phase command lacks ") + key);
	p += strlen(key);
	while (*p == '"' || *p == ':' || *p == ' ') p++;
	return atof(p);
}

static int serve(Opts &o)
{
	S.o = o;
	S.db = open_db(o, false);
	if (o.parker == "syrup") {
		int rc = syrup_attach(o.enclave.c_str(), &S.enc);
		if (rc) fail("attach " + o.enclave + ": " + syrup_strerror(rc));
	}
	S.w = std::vector<Worker>((size_t)o.workers);
	std::vector<pthread_t> threads((size_t)o.workers);
	for (int i = 0; i < o.workers; i++) pthread_create(&threads[i], nullptr, worker_main, &S.w[i]);
	while (S.booted.load() < o.workers) usleep(500);
	/* Before anyone registers: every thread (RocksDB's background ones too) off the worker cpus, then the workers
	 * onto them for Linux, or kept off them for Syrup until the agent places them (the TS server does the same). */
	for (int tid : task_ids()) pin_tid(tid, o.helper_cpus);
	for (auto &w : S.w) pin_tid(w.tid, o.parker == "syrup" ? o.helper_cpus : o.worker_cpus);
	pthread_t gen;
	pthread_create(&gen, nullptr, generator_main, nullptr);
	pin_tid(0, {o.dispatcher_cpu});
	make_realtime(o.realtime_prio);
	S.go_register.store(1);
	while (S.registered.load() < o.workers) usleep(500);
	while (S.gen_tid.load() == 0) usleep(100);

	printf("{\"bench\":\"ready\",\"calibration\":null,\"workers\":%d,\"storeKeys\":%ld,\"tids\":{\"dispatcher\":%d,\"generator\":%d,\"workers\":[",
	       o.workers, o.keys, gettid_(), S.gen_tid.load());
	for (int i = 0; i < o.workers; i++) printf(i ? ",%d" : "%d", S.w[i].tid);
	printf("]},\"pinned\":{\"dispatcher\":\"cpus %s\",\"generator\":\"cpus %s\",\"worker0\":\"cpus %s\"}}\n", allowed(0).c_str(),
	       allowed(S.gen_tid.load()).c_str(), allowed(S.w[0].tid).c_str());
	fflush(stdout);

	char line[4096];
	bool broken = false;
	while (fgets(line, sizeof(line), stdin)) {
		if (strstr(line, "\"quit\"")) break;
		if (!strstr(line, "\"phase\"")) continue;
		if (broken) fail("server is stuck after a drain timeout; start a new one");
		int phase = (int)json_num(line, "\"phase\":");
		S.rate = json_num(line, "\"rate\":");
		S.warmup_s = json_num(line, "\"warmupS\":");
		S.duration_s = json_num(line, "\"durationS\":");
		S.seed = (uint64_t)json_num(line, "\"seed\":");
		if (!(S.rate > 0) || !(S.duration_s > 0)) fail("phase rate and durationS must be positive");
		std::vector<Record> recs;
		recs.reserve((size_t)(S.rate * S.duration_s * 1.2) + 16);
		double yields = 0;
		long incomplete = run_phase(phase, recs, yields);
		char file[512];
		snprintf(file, sizeof(file), "%s/rocksdb-records-%d-%d.bin", o.out.c_str(), getpid(), phase);
		FILE *f = fopen(file, "wb");
		if (!f || fwrite(recs.data(), sizeof(Record), recs.size(), f) != recs.size()) fail(std::string("write ") + file);
		fclose(f);
		printf("{\"bench\":\"phase\",\"phase\":%d,\"rate\":%g,\"durationS\":%g,\"generated\":%.0f,\"measured\":%.0f,\"dropped\":%.0f,"
		       "\"droppedMeasured\":%.0f,\"incomplete\":%ld,\"records\":\"%s\",\"count\":%zu,\"checkpointYields\":%.0f}\n",
		       phase, S.rate, S.duration_s, S.generated, S.measured, S.dropped, S.dropped_measured, incomplete, file, recs.size(), yields);
		fflush(stdout);
		if (incomplete > 0) broken = true;
	}
	S.stop.store(1);
	for (auto &w : S.w) {
		if (S.enc) syrup_wake(S.enc, w.handle);
		w.go.store(1);
		futex(&w.go, FUTEX_WAKE_PRIVATE, 1);
	}
	for (auto &t : threads) pthread_join(t, nullptr);
	pthread_join(gen, nullptr);
	delete S.db;
	return 0;
}

int main(int argc, char **argv)
{
	Opts o = parse_opts(argc, argv);
	return o.calibrate ? calibrate(o) : serve(o);
}
