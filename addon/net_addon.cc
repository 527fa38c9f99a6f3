// net_addon.cc: entry point of the syrup_net addon (BPF objects, maps, sockets, XDP, AF_XDP) and its shared error/argument helpers.
#include "net_addon.h"

#include <cerrno>
#include <cstring>

namespace syrnet {

static const char *ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOSYS: return "ENOSYS";
    case ENOTSOCK: return "ENOTSOCK";
    case EPROTOTYPE: return "EPROTOTYPE";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    default: return "EUNKNOWN";
  }
}

void ThrowErrno(Napi::Env env, const std::string &what, int err) {
  if (err < 0) err = -err;
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, ErrnoName(err)));
  e.Set("errno", Napi::Number::New(env, err));
  throw e;
}

void ThrowCode(Napi::Env env, const char *code, const std::string &message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

int ArgInt(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (info.Length() <= i || !info[i].IsNumber())
    ThrowCode(info.Env(), "EINVAL", std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

std::string ArgString(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (info.Length() <= i || !info[i].IsString())
    ThrowCode(info.Env(), "EINVAL", std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo &info, size_t i, const char *name) {
  if (info.Length() <= i || !info[i].IsBuffer())
    ThrowCode(info.Env(), "EINVAL", std::string(name) + " must be a Buffer");
  return info[i].As<Napi::Buffer<uint8_t>>();
}

int ArgPositive(const Napi::CallbackInfo &info, size_t i, const char *name) {
  int n = ArgInt(info, i, name);
  if (n <= 0) ThrowCode(info.Env(), "EINVAL", std::string(name) + " must be positive");
  return n;
}

bool Found(Napi::Env env, int rc, const char *what) {
  if (rc == 0) return true;
  int err = errno;
  if (err == ENOENT) return false;
  ThrowErrno(env, what, err);
}

}  // namespace syrnet

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  syrnet::InitObject(env, exports);
  syrnet::InitMaps(env, exports);
  syrnet::InitSockets(env, exports);
  syrnet::InitXdp(env, exports);
  syrnet::InitXsk(env, exports);
  return exports;
}

NODE_API_MODULE(syrup_net, Init)
