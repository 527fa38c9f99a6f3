// shim_addon.cc: thin node-addon-api binding over kernel-shim/ (argument checks here, API shape in agent/native.ts).
#include <dlfcn.h>
#include <napi.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>
#include "shim.h"

namespace {

Napi::Error MakeError(Napi::Env env, int err, const std::string &detail = "") {
  std::string msg = detail.empty() ? syr_strerror(err) : detail;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, syr_errcode(err)));
  e.Set("errno", Napi::Number::New(env, err));
  return e;
}

Napi::Error ArgError(Napi::Env env, const std::string &msg) {
  Napi::Error e = Napi::TypeError::New(env, msg);
  e.Set("code", Napi::String::New(env, "BAD_ARGUMENT"));
  return e;
}

void Need(const Napi::CallbackInfo &info, size_t n, const char *fn) {
  if (info.Length() < n) throw ArgError(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments");
}

uint32_t U32(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsNumber()) throw ArgError(info.Env(), std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != (double)(uint32_t)d)
    throw ArgError(info.Env(), std::string(what) + " must be an unsigned 32-bit integer");
  return (uint32_t)d;
}

template <typename T>
T *Handle(const Napi::CallbackInfo &info, size_t i, const char *what) {
  if (!info[i].IsExternal()) throw ArgError(info.Env(), std::string(what) + " must be a handle");
  T *p = info[i].As<Napi::External<T>>().Data();
  if (!p) throw ArgError(info.Env(), std::string(what) + " is closed");
  return p;
}

// ---- misc -----------------------------------------------------------------------------

Napi::Value PinThread(const Napi::CallbackInfo &info) {
  Need(info, 1, "pinThread");
  uint32_t cpu = U32(info, 0, "cpu");
  if (cpu >= CPU_SETSIZE) throw ArgError(info.Env(), "cpu out of range");
  int rc = syr_set_affinity_one(0, (int)cpu);
  if (rc) throw MakeError(info.Env(), rc, std::string("sched_setaffinity(cpu ") + std::to_string(cpu) + "): " + strerror(-rc));
  return info.Env().Undefined();
}

Napi::Value SetAffinity(const Napi::CallbackInfo &info) {
  Need(info, 2, "setAffinity");
  uint32_t tid = U32(info, 0, "tid");
  if (!info[1].IsArray()) throw ArgError(info.Env(), "cpus must be an array");
  Napi::Array a = info[1].As<Napi::Array>();
  cpu_set_t set;
  CPU_ZERO(&set);
  for (uint32_t i = 0; i < a.Length(); i++) {
    int c = a.Get(i).As<Napi::Number>().Int32Value();
    if (c < 0 || c >= CPU_SETSIZE) throw ArgError(info.Env(), "cpu out of range");
    CPU_SET(c, &set);
  }
  if (sched_setaffinity((pid_t)tid, sizeof(set), &set) != 0) {
    int e = errno;
    throw MakeError(info.Env(), -e, std::string("sched_setaffinity(tid ") + std::to_string(tid) + "): " + strerror(e));
  }
  return info.Env().Undefined();
}

Napi::Value SchedYield(const Napi::CallbackInfo &info) {
  sched_yield();
  return info.Env().Undefined();
}

Napi::Value Nap(const Napi::CallbackInfo &info) {
  Need(info, 1, "nap");
  double ns = info[0].As<Napi::Number>().DoubleValue();
  if (!(ns >= 0 && ns <= 1e9)) throw ArgError(info.Env(), "nap: ns must be in [0, 1e9]");
  uint64_t n = (uint64_t)ns, t0 = syr_now_ns();
  struct timespec ts = {(time_t)(n / 1000000000ull), (long)(n % 1000000000ull)};
  nanosleep(&ts, nullptr);
  return Napi::Number::New(info.Env(), (double)(syr_now_ns() - t0));
}

Napi::Value NowNs(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), (double)syr_now_ns());
}

/*
 * The clock written into a bound Float64Array instead of returned: a returned
 * double is a new heap number on every call, and the agent's loop reads the
 * clock several times an iteration, millions of times a second (its
 * young-generation GC pauses were the loop's longest stalls). Bound once, so
 * a tick takes no arguments to unwrap.
 */
static Napi::Reference<Napi::Float64Array> clock_ref;
static double *clock_cell = nullptr;

Napi::Value ClockBind(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::TypedArray>().ElementLength() < 1)
    throw ArgError(info.Env(), "clockBind: expected a Float64Array of length >= 1");
  clock_ref = Napi::Persistent(info[0].As<Napi::Float64Array>());
  clock_cell = clock_ref.Value().Data();
  return info.Env().Undefined();
}

Napi::Value ClockTick(const Napi::CallbackInfo &info) {
  if (!clock_cell) throw ArgError(info.Env(), "clockTick: call clockBind first");
  *clock_cell = (double)syr_now_ns();
  return info.Env().Undefined();
}

Napi::Value GetTid(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), (double)syscall(SYS_gettid));
}

Napi::Value RegionLayout(const Napi::CallbackInfo &info) {
  // Sizes the C compiler chose, for the ABI test to compare with agent/abi.ts.
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("region", (double)sizeof(struct syr_region));
  o.Set("hdr", (double)sizeof(struct syr_hdr));
  o.Set("task", (double)sizeof(struct syr_task));
  o.Set("cpu", (double)sizeof(struct syr_cpu));
  o.Set("kstat", (double)sizeof(struct syr_kstat));
  o.Set("msg", (double)sizeof(struct syr_msg));
  o.Set("txnReq", (double)sizeof(struct syr_txn_req));
  o.Set("cring", (double)sizeof(struct syr_cring));
  return o;
}

Napi::ArrayBuffer View(Napi::Env env, void *p, size_t len) {
  // External: the memory is the shared mapping itself; it lives until close().
  return Napi::ArrayBuffer::New(env, p, len);
}

// ---- agent side -----------------------------------------------------------------------

Napi::Value AgentOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Need(info, 1, "agentOpen");
  if (!info[0].IsObject()) throw ArgError(env, "agentOpen: options must be an object");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string name = o.Get("name").As<Napi::String>().Utf8Value();
  Napi::Array cpus = o.Get("cpus").As<Napi::Array>();
  std::vector<int> cv;
  for (uint32_t i = 0; i < cpus.Length(); i++) cv.push_back(cpus.Get(i).As<Napi::Number>().Int32Value());
  syr_agent_opts opts{};
  opts.name = name.c_str();
  opts.cpus = cv.data();
  opts.ncpus = (int)cv.size();
  opts.agent_cpu = o.Get("agentCpu").As<Napi::Number>().Int32Value();
  opts.preempt_signo = o.Get("preemptSigno").As<Napi::Number>().Int32Value();
  opts.max_tasks = o.Get("maxTasks").As<Napi::Number>().Uint32Value();
  opts.region_mode = o.Get("regionMode").As<Napi::Number>().Uint32Value();
  opts.latch_timeout_ns = (uint64_t)o.Get("latchTimeoutNs").As<Napi::Number>().DoubleValue();
  opts.reorder_timeout_ns = (uint64_t)o.Get("reorderTimeoutNs").As<Napi::Number>().DoubleValue();
  opts.upgrade = o.Get("upgrade").ToBoolean().Value();
  opts.handover_timeout_ns = (uint64_t)o.Get("handoverTimeoutNs").As<Napi::Number>().DoubleValue();
  opts.preempt_grace_ns = (uint64_t)o.Get("preemptGraceNs").As<Napi::Number>().DoubleValue();
  opts.idle_poll_ns = (uint64_t)o.Get("idlePollNs").As<Napi::Number>().DoubleValue();
  syr_agent *a = nullptr;
  char err[512];
  int rc = syr_agent_open(&opts, &a, err, sizeof(err));
  if (rc) throw MakeError(env, rc, err[0] ? std::string(err) : std::string(syr_strerror(rc)));
  return Napi::External<syr_agent>::New(env, a);
}

Napi::Value AgentDrain(const Napi::CallbackInfo &info) {
  Need(info, 2, "agentDrain");
  syr_agent *a = Handle<syr_agent>(info, 0, "agent");
  if (!info[1].IsTypedArray()) throw ArgError(info.Env(), "agentDrain: buffer must be a typed array");
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  uint8_t *p = (uint8_t *)ta.ArrayBuffer().Data() + ta.ByteOffset();
  int cap = (int)(ta.ByteLength() / sizeof(syr_msg));
  if (((uintptr_t)p & 7) != 0) throw ArgError(info.Env(), "agentDrain: buffer must be 8-byte aligned");
  return Napi::Number::New(info.Env(), syr_agent_drain(a, (syr_msg *)p, cap));
}

Napi::Value AgentCommit(const Napi::CallbackInfo &info) {
  Need(info, 3, "agentCommit");
  syr_agent *a = Handle<syr_agent>(info, 0, "agent");
  if (!info[1].IsTypedArray()) throw ArgError(info.Env(), "agentCommit: txns must be an Int32Array");
  Napi::TypedArray ta = info[1].As<Napi::TypedArray>();
  uint32_t n = U32(info, 2, "n");
  if ((size_t)n * sizeof(syr_txn_req) > ta.ByteLength()) throw ArgError(info.Env(), "agentCommit: n exceeds the buffer");
  syr_agent_commit(a, (syr_txn_req *)((uint8_t *)ta.ArrayBuffer().Data() + ta.ByteOffset()), (int)n);
  return info.Env().Undefined();
}

Napi::Value AgentRequestPark(const Napi::CallbackInfo &info) {
  Need(info, 3, "agentRequestPark");
  syr_agent *a = Handle<syr_agent>(info, 0, "agent");
  int rc = syr_agent_request_park(a, U32(info, 1, "slot"), U32(info, 2, "kind"));
  return Napi::Number::New(info.Env(), rc);
}

Napi::Value AgentReleaseSlot(const Napi::CallbackInfo &info) {
  Need(info, 2, "agentReleaseSlot");
  syr_agent_release_slot(Handle<syr_agent>(info, 0, "agent"), U32(info, 1, "slot"));
  return info.Env().Undefined();
}

Napi::Value AgentEvict(const Napi::CallbackInfo &info) {
  Need(info, 2, "agentEvict");
  int rc = syr_agent_evict(Handle<syr_agent>(info, 0, "agent"), U32(info, 1, "slot"));
  if (rc) throw MakeError(info.Env(), rc);
  return info.Env().Undefined();
}

Napi::Value AgentHeartbeat(const Napi::CallbackInfo &info) {
  Need(info, 1, "agentHeartbeat");
  /* The shim's own clock, not an argument: a double passed in is a heap number allocated per call (see ClockBind). */
  bool handover = syr_agent_heartbeat(Handle<syr_agent>(info, 0, "agent"), syr_now_ns());
  return Napi::Boolean::New(info.Env(), handover);
}

Napi::Value AgentSleep(const Napi::CallbackInfo &info) {
  Need(info, 2, "agentSleep");
  syr_agent *a = Handle<syr_agent>(info, 0, "agent");
  double max = info[1].As<Napi::Number>().DoubleValue();
  if (!(max >= 0 && max <= 1e9)) throw ArgError(info.Env(), "agentSleep: maxNs must be in [0, 1e9]");
  return Napi::Number::New(info.Env(), (double)syr_agent_sleep(a, (uint64_t)max));
}

Napi::Value SetFifo(const Napi::CallbackInfo &info) {
  Need(info, 1, "setFifo");
  int prio = info[0].As<Napi::Number>().Int32Value();
  struct sched_param sp{};
  sp.sched_priority = prio;
  if (sched_setscheduler(0, prio > 0 ? SCHED_FIFO : SCHED_OTHER, &sp) != 0) {
    int e = errno;
    throw MakeError(info.Env(), -e, std::string("sched_setscheduler(SCHED_FIFO ") + std::to_string(prio) + "): " + strerror(e));
  }
  return info.Env().Undefined();
}

Napi::Value AgentHandover(const Napi::CallbackInfo &info) {
  Need(info, 1, "agentHandover");
  syr_agent_handover(Handle<syr_agent>(info, 0, "agent"));
  return info.Env().Undefined();
}

Napi::Value AgentRegion(const Napi::CallbackInfo &info) {
  Need(info, 1, "agentRegion");
  syr_map *m = syr_agent_map(Handle<syr_agent>(info, 0, "agent"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("region", View(info.Env(), m->r, sizeof(syr_region)));
  o.Set("kstat", View(info.Env(), m->ks, m->ks_len));
  return o;
}

Napi::Value AgentCounters(const Napi::CallbackInfo &info) {
  Need(info, 1, "agentCounters");
  struct syr_agent_counters c{};
  syr_agent_counters(Handle<syr_agent>(info, 0, "agent"), &c);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("kernelMsgs", (double)c.kernel_msgs);
  o.Set("clientMsgs", (double)c.client_msgs);
  o.Set("badMsgs", (double)c.bad_msgs);
  o.Set("reordered", (double)c.reordered);
  o.Set("seqGaps", (double)c.seq_gaps);
  o.Set("dupMsgs", (double)c.dup_msgs);
  o.Set("lateMsgs", (double)c.late_msgs);
  o.Set("kernelDrops", (double)c.kernel_drops);
  o.Set("clientDrops", (double)c.client_drops);
  o.Set("latchTimeouts", (double)c.latch_timeouts);
  o.Set("signals", (double)c.signals);
  o.Set("affinityCalls", (double)c.affinity_calls);
  o.Set("upgradeGapNs", (double)c.upgrade_gap_ns);
  o.Set("rediscovered", (double)c.rediscovered);
  o.Set("cringReclaimed", (double)c.cring_reclaimed);
  o.Set("coopPreempts", (double)c.coop_preempts);
  o.Set("sleeps", (double)c.sleeps);
  o.Set("sleepNs", (double)c.sleep_ns);
  o.Set("sleepWakeups", (double)c.sleep_wakeups);
  o.Set("evicted", (double)c.evicted);
  o.Set("evictedMsgs", (double)c.evicted_msgs);
  o.Set("pollDelegated", (double)c.poll_delegated);
  o.Set("pollWakes", (double)c.poll_wakes);
  o.Set("pollReclaimed", (double)c.poll_reclaimed);
  o.Set("pollSleeps", (double)c.poll_sleeps);
  return o;
}

Napi::Value AgentClose(const Napi::CallbackInfo &info) {
  Need(info, 1, "agentClose");
  if (!info[0].IsExternal()) throw ArgError(info.Env(), "agent must be a handle");
  syr_agent_close(info[0].As<Napi::External<syr_agent>>().Data());
  return info.Env().Undefined();
}

// ---- client side ----------------------------------------------------------------------

Napi::Value ClientAttach(const Napi::CallbackInfo &info) {
  Need(info, 1, "clientAttach");
  if (!info[0].IsString()) throw ArgError(info.Env(), "enclave name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  syr_client *c = nullptr;
  int rc = syr_client_attach(name.c_str(), &c);
  if (rc == -EACCES || rc == -EPERM)
    throw MakeError(info.Env(), rc,
                    std::string("attach to enclave '") + name + "': permission denied on /dev/shm/syrup." + name +
                        " or its pinned maps (the agent's --region-mode decides who may register)");
  if (rc) throw MakeError(info.Env(), rc, std::string("attach to enclave '") + name + "': " + syr_strerror(rc));
  return Napi::External<syr_client>::New(info.Env(), c);
}

Napi::Value ClientRegion(const Napi::CallbackInfo &info) {
  Need(info, 1, "clientRegion");
  syr_map *m = syr_client_map(Handle<syr_client>(info, 0, "client"));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("region", View(info.Env(), m->r, sizeof(syr_region)));
  o.Set("kstat", View(info.Env(), m->ks, m->ks_len));
  return o;
}

Napi::Value ClientRegister(const Napi::CallbackInfo &info) {
  Need(info, 4, "clientRegister");
  syr_client *c = Handle<syr_client>(info, 0, "client");
  uint32_t handle = 0;
  int rc = syr_client_register(c, U32(info, 1, "qos"), U32(info, 2, "group"), U32(info, 3, "userData"), &handle);
  if (rc) throw MakeError(info.Env(), rc);
  return Napi::Number::New(info.Env(), handle);
}

#define CLIENT_CALL(Fn, call)                                        \
  Napi::Value Fn(const Napi::CallbackInfo &info) {                   \
    Need(info, 1, #Fn);                                              \
    syr_client *c = Handle<syr_client>(info, 0, "client");           \
    int rc = call;                                                   \
    if (rc < 0) throw MakeError(info.Env(), rc);                     \
    return Napi::Number::New(info.Env(), rc);                        \
  }

CLIENT_CALL(ClientPark, syr_client_park(c))
CLIENT_CALL(ClientYield, syr_client_yield(c))
CLIENT_CALL(ClientUnregister, syr_client_unregister(c))
CLIENT_CALL(ClientCheckpoint, syr_client_checkpoint(c))

Napi::Value ClientWake(const Napi::CallbackInfo &info) {
  Need(info, 2, "clientWake");
  syr_client *c = Handle<syr_client>(info, 0, "client");
  int rc = syr_client_wake(c, U32(info, 1, "handle"));
  if (rc < 0) throw MakeError(info.Env(), rc);
  return info.Env().Undefined();
}

Napi::Value ClientDetached(const Napi::CallbackInfo &info) {
  Need(info, 1, "clientDetached");
  return Napi::Boolean::New(info.Env(), syr_client_detached(Handle<syr_client>(info, 0, "client")));
}

Napi::Value ClientMySlot(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), syr_client_my_slot());
}

}  // namespace

// Node unloads an addon when the last worker thread that loaded it exits. The
// client side leaves a watchdog thread and a signal handler pointing into this
// library, so it must never be unmapped: take a RTLD_NODELETE reference once.
static void PinLibrary() {
  static bool pinned = false;
  if (pinned) return;
  Dl_info info;
  if (dladdr((void *)&PinLibrary, &info) && info.dli_fname) pinned = dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) != nullptr;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  PinLibrary();
  exports.Set("pinThread", Napi::Function::New(env, PinThread));
  exports.Set("setAffinity", Napi::Function::New(env, SetAffinity));
  exports.Set("nowNs", Napi::Function::New(env, NowNs));
  exports.Set("clockBind", Napi::Function::New(env, ClockBind));
  exports.Set("clockTick", Napi::Function::New(env, ClockTick));
  exports.Set("schedYield", Napi::Function::New(env, SchedYield));
  exports.Set("nap", Napi::Function::New(env, Nap));
  exports.Set("setFifo", Napi::Function::New(env, SetFifo));
  exports.Set("agentSleep", Napi::Function::New(env, AgentSleep));
  exports.Set("gettid", Napi::Function::New(env, GetTid));
  exports.Set("regionLayout", Napi::Function::New(env, RegionLayout));
  exports.Set("agentOpen", Napi::Function::New(env, AgentOpen));
  exports.Set("agentDrain", Napi::Function::New(env, AgentDrain));
  exports.Set("agentCommit", Napi::Function::New(env, AgentCommit));
  exports.Set("agentRequestPark", Napi::Function::New(env, AgentRequestPark));
  exports.Set("agentReleaseSlot", Napi::Function::New(env, AgentReleaseSlot));
  exports.Set("agentEvict", Napi::Function::New(env, AgentEvict));
  exports.Set("agentHeartbeat", Napi::Function::New(env, AgentHeartbeat));
  exports.Set("agentRegion", Napi::Function::New(env, AgentRegion));
  exports.Set("agentCounters", Napi::Function::New(env, AgentCounters));
  exports.Set("agentClose", Napi::Function::New(env, AgentClose));
  exports.Set("agentHandover", Napi::Function::New(env, AgentHandover));
  exports.Set("clientAttach", Napi::Function::New(env, ClientAttach));
  exports.Set("clientRegion", Napi::Function::New(env, ClientRegion));
  exports.Set("clientRegister", Napi::Function::New(env, ClientRegister));
  exports.Set("clientPark", Napi::Function::New(env, ClientPark));
  exports.Set("clientYield", Napi::Function::New(env, ClientYield));
  exports.Set("clientWake", Napi::Function::New(env, ClientWake));
  exports.Set("clientUnregister", Napi::Function::New(env, ClientUnregister));
  exports.Set("clientCheckpoint", Napi::Function::New(env, ClientCheckpoint));
  exports.Set("clientDetached", Napi::Function::New(env, ClientDetached));
  exports.Set("clientMySlot", Napi::Function::New(env, ClientMySlot));
  return exports;
}

NODE_API_MODULE(syrup_shim, Init)
