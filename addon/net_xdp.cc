// net_xdp.cc: attaching an XDP program to an interface through a bpf_link, in generic, native or offload mode.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <cerrno>

#include "net_addon.h"

namespace syrnet {

static Napi::Value Ifindex(const Napi::CallbackInfo &info) {
  std::string name = ArgString(info, 0, "ifname");
  unsigned idx = if_nametoindex(name.c_str());
  if (idx == 0) ThrowErrno(info.Env(), "no interface named " + name, errno);
  return Napi::Number::New(info.Env(), idx);
}

// xdpLink(progFd, ifindex, mode 'skb'|'drv'|'hw'): a link fd; the program
// stays attached exactly as long as the link fd is open (or pinned), so a
// crashed daemon cannot leave it behind.
static Napi::Value XdpLink(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int prog = ArgInt(info, 0, "progFd");
  int ifindex = ArgInt(info, 1, "ifindex");
  std::string mode = ArgString(info, 2, "mode");
  __u32 flags;
  if (mode == "skb")
    flags = XDP_FLAGS_SKB_MODE;
  else if (mode == "drv")
    flags = XDP_FLAGS_DRV_MODE;
  else if (mode == "hw")
    flags = XDP_FLAGS_HW_MODE;
  else
    ThrowCode(env, "EINVAL", "mode must be 'skb', 'drv' or 'hw'");
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
  int fd = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
  if (fd < 0) ThrowErrno(env, "cannot attach XDP program in " + mode + " mode", errno);
  return Napi::Number::New(env, fd);
}

// xdpAttachedId(ifindex, mode): id of the program attached in that mode, 0 if none.
static Napi::Value XdpAttachedId(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int ifindex = ArgInt(info, 0, "ifindex");
  std::string mode = ArgString(info, 1, "mode");
  int flags = mode == "skb" ? XDP_FLAGS_SKB_MODE : mode == "drv" ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_HW_MODE;
  __u32 id = 0;
  int err = bpf_xdp_query_id(ifindex, flags, &id);
  if (err) ThrowErrno(env, "cannot query XDP programs", -err);
  return Napi::Number::New(env, id);
}

void InitXdp(Napi::Env env, Napi::Object exports) {
  exports.Set("ifindex", Napi::Function::New(env, Ifindex));
  exports.Set("xdpLink", Napi::Function::New(env, XdpLink));
  exports.Set("xdpAttachedId", Napi::Function::New(env, XdpAttachedId));
}

}  // namespace syrnet
