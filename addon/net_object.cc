// net_object.cc: BpfObject, a JS handle on one libbpf bpf_object: a user policy compiled at deploy time, or a fixed skeleton (dispatcher, cpu counter).
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <functional>
#include <string>

#include "cpu_counter.skel.h"
#include "dispatcher.skel.h"
#include "net_addon.h"

namespace syrnet {

// libbpf reports verifier logs and load problems only through its print
// callback; collect them while a load runs so they can travel with the error.
static std::string *g_capture = nullptr;

static int CapturePrint(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (!g_capture || level == LIBBPF_DEBUG) return 0;
  char buf[4096];
  va_list copy;
  va_copy(copy, ap);
  int n = vsnprintf(buf, sizeof(buf), fmt, copy);
  va_end(copy);
  if (n < 0) return 0;
  if ((size_t)n < sizeof(buf)) {
    g_capture->append(buf, n);
  } else {
    std::string big(n + 1, '\0');
    vsnprintf(&big[0], big.size(), fmt, ap);
    g_capture->append(big.c_str(), n);
  }
  return 0;
}

// Text between libbpf's BEGIN/END PROG LOAD LOG markers: the verifier's own words.
static std::string VerifierLog(const std::string &all) {
  const std::string begin = "-- BEGIN PROG LOAD LOG --";
  const std::string end = "-- END PROG LOAD LOG --";
  size_t b = all.find(begin);
  if (b == std::string::npos) return "";
  b += begin.size();
  if (b < all.size() && all[b] == '\n') b++;
  size_t e = all.find(end, b);
  return all.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

class BpfObject : public Napi::ObjectWrap<BpfObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "BpfObject",
                       {
                           StaticMethod("openFile", &BpfObject::OpenFile),
                           StaticMethod("openDispatcher", &BpfObject::OpenDispatcher),
                           StaticMethod("openCpuCounter", &BpfObject::OpenCpuCounter),
                           InstanceMethod("setRodata", &BpfObject::SetRodata),
                           InstanceMethod("setIfindex", &BpfObject::SetIfindex),
                           InstanceMethod("load", &BpfObject::Load),
                           InstanceMethod("programs", &BpfObject::Programs),
                           InstanceMethod("maps", &BpfObject::Maps),
                           InstanceMethod("close", &BpfObject::Close),
                       });
  }

  BpfObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfObject>(info) {}
  ~BpfObject() override { Destroy(); }

  static Napi::FunctionReference *ctor;

 private:
  struct bpf_object *obj_ = nullptr;
  std::function<void()> destroy_;
  bool loaded_ = false;

  void Destroy() {
    if (destroy_) destroy_();
    destroy_ = nullptr;
    obj_ = nullptr;
  }

  struct bpf_object *Obj(Napi::Env env) {
    if (!obj_) ThrowCode(env, "ECLOSED", "BPF object is closed");
    return obj_;
  }

  static Napi::Value Wrap(Napi::Env env, struct bpf_object *obj, std::function<void()> destroy) {
    Napi::Object o = ctor->New({});
    BpfObject *self = Unwrap(o);
    self->obj_ = obj;
    self->destroy_ = std::move(destroy);
    return o;
  }

  static Napi::Value OpenFile(const Napi::CallbackInfo &info) {
    std::string path = ArgString(info, 0, "path");
    std::string captured;
    g_capture = &captured;
    struct bpf_object *obj = bpf_object__open_file(path.c_str(), nullptr);
    int err = obj ? 0 : errno;
    g_capture = nullptr;
    if (!obj) ThrowErrno(info.Env(), "cannot open BPF object " + path + " " + captured, err);
    return Wrap(info.Env(), obj, [obj] { bpf_object__close(obj); });
  }

  static Napi::Value OpenDispatcher(const Napi::CallbackInfo &info) {
    struct syr_dispatcher *skel = syr_dispatcher__open();
    if (!skel) ThrowErrno(info.Env(), "cannot open the dispatcher skeleton", errno);
    return Wrap(info.Env(), skel->obj, [skel] { syr_dispatcher__destroy(skel); });
  }

  static Napi::Value OpenCpuCounter(const Napi::CallbackInfo &info) {
    struct syr_cpu_counter *skel = syr_cpu_counter__open();
    if (!skel) ThrowErrno(info.Env(), "cannot open the cpu counter skeleton", errno);
    return Wrap(info.Env(), skel->obj, [skel] { syr_cpu_counter__destroy(skel); });
  }

  // setRodata(name, Buffer): writes a `const volatile` global before load.
  Napi::Value SetRodata(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::string name = ArgString(info, 0, "name");
    Napi::Buffer<uint8_t> value = ArgBuffer(info, 1, "value");
    struct bpf_object *obj = Obj(env);
    if (loaded_) ThrowCode(env, "EINVAL", "setRodata must come before load");
    struct btf *btf = bpf_object__btf(obj);
    if (!btf) ThrowCode(env, "ENOENT", "BPF object has no BTF; compile with -g");
    int sec_id = btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC);
    struct bpf_map *rodata = nullptr, *m;
    bpf_object__for_each_map(m, obj) {
      const char *mn = bpf_map__name(m);
      size_t len = strlen(mn);
      if (bpf_map__is_internal(m) && len >= 7 && strcmp(mn + len - 7, ".rodata") == 0) rodata = m;
    }
    if (sec_id < 0 || !rodata) ThrowCode(env, "ENOENT", "BPF object has no const volatile globals");
    const struct btf_type *sec = btf__type_by_id(btf, sec_id);
    const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
    for (int i = 0; i < btf_vlen(sec); i++, vs++) {
      const struct btf_type *var = btf__type_by_id(btf, vs->type);
      if (name != btf__name_by_offset(btf, var->name_off)) continue;
      if (vs->size != value.Length())
        ThrowCode(env, "EINVAL",
                  "rodata " + name + " is " + std::to_string(vs->size) + " bytes, got " +
                      std::to_string(value.Length()));
      size_t size = 0;
      uint8_t *data = (uint8_t *)bpf_map__initial_value(rodata, &size);
      if (!data || vs->offset + vs->size > size) ThrowCode(env, "EINVAL", "rodata section is malformed");
      memcpy(data + vs->offset, value.Data(), vs->size);
      return env.Undefined();
    }
    ThrowCode(env, "ENOENT", "no const volatile global named " + name);
  }

  // setIfindex(ifindex): asks for a device-bound (offloaded) load of every program and map.
  Napi::Value SetIfindex(const Napi::CallbackInfo &info) {
    int ifindex = ArgInt(info, 0, "ifindex");
    struct bpf_object *obj = Obj(info.Env());
    struct bpf_program *p;
    struct bpf_map *m;
    bpf_object__for_each_program(p, obj) bpf_program__set_ifindex(p, ifindex);
    bpf_object__for_each_map(m, obj) bpf_map__set_ifindex(m, ifindex);
    return info.Env().Undefined();
  }

  // load(): creates maps and loads programs. On failure the error carries
  // .log (everything libbpf said) and, when the verifier refused a program,
  // .verifierLog and code EVERIFIER.
  Napi::Value Load(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    struct bpf_object *obj = Obj(env);
    std::string captured;
    g_capture = &captured;
    int err = bpf_object__load(obj);
    g_capture = nullptr;
    if (err == 0) {
      loaded_ = true;
      return env.Undefined();
    }
    std::string vlog = VerifierLog(captured);
    Napi::Error e = Napi::Error::New(
        env, std::string(vlog.empty() ? "BPF load failed: " : "the BPF verifier rejected the program: ") +
                 strerror(-err));
    e.Set("code", Napi::String::New(env, vlog.empty() ? "EBPFLOAD" : "EVERIFIER"));
    e.Set("errno", Napi::Number::New(env, -err));
    e.Set("log", Napi::String::New(env, captured));
    if (!vlog.empty()) e.Set("verifierLog", Napi::String::New(env, vlog));
    throw e;
  }

  // One JS object per program or map of the object, in libbpf's order: `next`
  // is bpf_object__next_program or bpf_object__next_map, `fill` sets the fields.
  template <typename Item, typename Next, typename Fill>
  Napi::Value List(const Napi::CallbackInfo &info, Next next, Fill fill) {
    Napi::Env env = info.Env();
    struct bpf_object *obj = Obj(env);
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (Item *it = next(obj, nullptr); it; it = next(obj, it)) {
      Napi::Object o = Napi::Object::New(env);
      fill(o, it);
      out.Set(i++, o);
    }
    return out;
  }

  Napi::Value Programs(const Napi::CallbackInfo &info) {
    return List<struct bpf_program>(info, bpf_object__next_program, [](Napi::Object o, struct bpf_program *p) {
      o.Set("name", bpf_program__name(p));
      o.Set("section", bpf_program__section_name(p));
      o.Set("fd", bpf_program__fd(p));
      o.Set("type", (int)bpf_program__type(p));
    });
  }

  Napi::Value Maps(const Napi::CallbackInfo &info) {
    return List<struct bpf_map>(info, bpf_object__next_map, [](Napi::Object o, struct bpf_map *m) {
      o.Set("name", bpf_map__name(m));
      o.Set("fd", bpf_map__fd(m));
      o.Set("type", (int)bpf_map__type(m));
      o.Set("keySize", bpf_map__key_size(m));
      o.Set("valueSize", bpf_map__value_size(m));
      o.Set("maxEntries", bpf_map__max_entries(m));
      o.Set("flags", bpf_map__map_flags(m));
      o.Set("internal", bpf_map__is_internal(m));
    });
  }

  // close(): frees programs and maps (pinned maps survive until unpinned).
  Napi::Value Close(const Napi::CallbackInfo &info) {
    Destroy();
    return info.Env().Undefined();
  }
};

Napi::FunctionReference *BpfObject::ctor = nullptr;

void InitObject(Napi::Env env, Napi::Object exports) {
  libbpf_set_print(CapturePrint);
  Napi::Function f = BpfObject::Define(env);
  BpfObject::ctor = new Napi::FunctionReference(Napi::Persistent(f));
  exports.Set("BpfObject", f);
}

}  // namespace syrnet
