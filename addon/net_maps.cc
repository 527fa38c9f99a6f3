// net_maps.cc: fd-level BPF calls for the maps API and syrupd: lookups/updates, pinning, object/program info, run-time stats, mmap.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net_addon.h"

namespace syrnet {

// mapLookup(fd, key, valueSize): Buffer, or null when the key is absent.
static Napi::Value MapLookup(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, "key");
  Napi::Buffer<uint8_t> value = Napi::Buffer<uint8_t>::New(env, ArgPositive(info, 2, "valueSize"));
  if (!Found(env, bpf_map_lookup_elem(fd, key.Data(), value.Data()), "map lookup failed")) return env.Null();
  return value;
}

// mapUpdate(fd, key, value, flags): flags are BPF_ANY / BPF_NOEXIST / BPF_EXIST.
static Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
  int fd = ArgInt(info, 0, "fd");
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, "key");
  Napi::Buffer<uint8_t> value = ArgBuffer(info, 2, "value");
  int flags = info.Length() > 3 ? ArgInt(info, 3, "flags") : BPF_ANY;
  if (bpf_map_update_elem(fd, key.Data(), value.Data(), flags) != 0)
    ThrowErrno(info.Env(), "map update failed", errno);
  return info.Env().Undefined();
}

// mapDelete(fd, key): true when something was deleted.
static Napi::Value MapDelete(const Napi::CallbackInfo &info) {
  int fd = ArgInt(info, 0, "fd");
  Napi::Buffer<uint8_t> key = ArgBuffer(info, 1, "key");
  return Napi::Boolean::New(info.Env(), Found(info.Env(), bpf_map_delete_elem(fd, key.Data()), "map delete failed"));
}

// mapNextKey(fd, key|null, keySize): the key after `key` (first key for null), or null at the end.
static Napi::Value MapNextKey(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  int size = ArgPositive(info, 2, "keySize");
  const void *cur = nullptr;
  if (info.Length() > 1 && info[1].IsBuffer()) cur = info[1].As<Napi::Buffer<uint8_t>>().Data();
  Napi::Buffer<uint8_t> next = Napi::Buffer<uint8_t>::New(env, size);
  if (!Found(env, bpf_map_get_next_key(fd, cur, next.Data()), "map iteration failed")) return env.Null();
  return next;
}

// The kernel's info record (bpf_map_info, bpf_prog_info) of the fd in argument 0;
// `mismatch` is the error when the fd is not that kind of BPF object.
template <typename Info>
static Info ObjInfo(const Napi::CallbackInfo &info, const char *mismatch) {
  int fd = ArgInt(info, 0, "fd");
  Info out;
  memset(&out, 0, sizeof(out));
  uint32_t len = sizeof(out);
  if (bpf_obj_get_info_by_fd(fd, &out, &len) != 0) ThrowErrno(info.Env(), mismatch, errno);
  return out;
}

static Napi::Value MapInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct bpf_map_info mi = ObjInfo<struct bpf_map_info>(info, "not a BPF map");
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", mi.id);
  o.Set("name", mi.name);
  o.Set("type", mi.type);
  o.Set("keySize", mi.key_size);
  o.Set("valueSize", mi.value_size);
  o.Set("maxEntries", mi.max_entries);
  o.Set("flags", mi.map_flags);
  return o;
}

static Napi::Value ProgInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct bpf_prog_info pi = ObjInfo<struct bpf_prog_info>(info, "not a BPF program");
  Napi::Object o = Napi::Object::New(env);
  o.Set("id", pi.id);
  o.Set("name", pi.name);
  o.Set("type", pi.type);
  o.Set("runTimeNs", Napi::Number::New(env, (double)pi.run_time_ns));
  o.Set("runCount", Napi::Number::New(env, (double)pi.run_cnt));
  return o;
}

static Napi::Value ObjGet(const Napi::CallbackInfo &info) {
  std::string path = ArgString(info, 0, "path");
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) ThrowErrno(info.Env(), "cannot open pinned BPF object " + path, errno);
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value ObjPin(const Napi::CallbackInfo &info) {
  int fd = ArgInt(info, 0, "fd");
  std::string path = ArgString(info, 1, "path");
  if (bpf_obj_pin(fd, path.c_str()) != 0) ThrowErrno(info.Env(), "cannot pin BPF object at " + path, errno);
  return info.Env().Undefined();
}

static Napi::Value CloseFd(const Napi::CallbackInfo &info) {
  int fd = ArgInt(info, 0, "fd");
  if (close(fd) != 0) ThrowErrno(info.Env(), "close failed", errno);
  return info.Env().Undefined();
}

// enableRunStats(): fd that keeps kernel.bpf_stats_enabled on until closed.
static Napi::Value EnableRunStats(const Napi::CallbackInfo &info) {
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) ThrowErrno(info.Env(), "cannot enable BPF run-time stats", errno);
  return Napi::Number::New(info.Env(), fd);
}

static Napi::Value PossibleCpus(const Napi::CallbackInfo &info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) ThrowErrno(info.Env(), "cannot count possible cpus", -n);
  return Napi::Number::New(info.Env(), n);
}

// mapMmap(fd, length): an ArrayBuffer over an mmapable array map's values,
// shared with the BPF programs (atomics on it are seen by the policy).
static Napi::Value MapMmap(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  int length = ArgPositive(info, 1, "length");
  void *p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) ThrowErrno(env, "cannot mmap the map (was it declared with SYR_MAP_MMAP?)", errno);
  return Napi::ArrayBuffer::New(
      env, p, length, [](Napi::Env, void *data, size_t *len) { munmap(data, *len); delete len; },
      new size_t(length));
}

void InitMaps(Napi::Env env, Napi::Object exports) {
  exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
  exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
  exports.Set("mapNextKey", Napi::Function::New(env, MapNextKey));
  exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
  exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
  exports.Set("objGet", Napi::Function::New(env, ObjGet));
  exports.Set("objPin", Napi::Function::New(env, ObjPin));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("enableRunStats", Napi::Function::New(env, EnableRunStats));
  exports.Set("possibleCpus", Napi::Function::New(env, PossibleCpus));
  exports.Set("mapMmap", Napi::Function::New(env, MapMmap));
}

}  // namespace syrnet
