// net_addon.h: shared declarations of the syrup_net addon: per-area init functions and the errno-to-JS-error helper.
#pragma once
#include <napi.h>
#include <string>

namespace syrnet {

// Throws a JS Error whose .code is the errno's name (e.g. "EPERM") and whose
// message says what was being done, so TypeScript can branch on .code.
[[noreturn]] void ThrowErrno(Napi::Env env, const std::string &what, int err);
[[noreturn]] void ThrowCode(Napi::Env env, const char *code, const std::string &message);

// Argument checks shared by every entry point.
int ArgInt(const Napi::CallbackInfo &info, size_t i, const char *name);
std::string ArgString(const Napi::CallbackInfo &info, size_t i, const char *name);
Napi::Buffer<uint8_t> ArgBuffer(const Napi::CallbackInfo &info, size_t i, const char *name);
// A size argument: a number above 0.
int ArgPositive(const Napi::CallbackInfo &info, size_t i, const char *name);

// For calls where ENOENT answers the question (no such key, nothing attached)
// instead of failing it: whether the call that returned rc found its target;
// any other failure throws ThrowErrno(what, errno).
bool Found(Napi::Env env, int rc, const char *what);

void InitObject(Napi::Env env, Napi::Object exports);
void InitMaps(Napi::Env env, Napi::Object exports);
void InitSockets(Napi::Env env, Napi::Object exports);
void InitXdp(Napi::Env env, Napi::Object exports);
void InitXsk(Napi::Env env, Napi::Object exports);

}  // namespace syrnet
