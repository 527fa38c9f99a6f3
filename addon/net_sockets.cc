// net_sockets.cc: the socket calls Node lacks: SO_REUSEPORT groups, socket identity, reuseport BPF attach, peer credentials, pidfds and fd transfer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net_addon.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77  // Linux 6.5; older libc headers lack it
#endif
#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

namespace syrnet {

static bool ParseAddress(const std::string &address, int family, int port, struct sockaddr_storage *ss,
                         socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (family == 4) {
    auto *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    *len = sizeof(*sin);
    return inet_pton(AF_INET, address.c_str(), &sin->sin_addr) == 1;
  }
  auto *sin6 = (struct sockaddr_in6 *)ss;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  *len = sizeof(*sin6);
  return inet_pton(AF_INET6, address.c_str(), &sin6->sin6_addr) == 1;
}

// reuseportSocket(protocol 'udp'|'tcp', family 4|6, address, port, backlog):
// a bound (and for TCP listening) non-blocking socket with SO_REUSEPORT set,
// since Node 20 cannot set SO_REUSEPORT itself. Node adopts it via bind({fd}) / listen({fd}).
static Napi::Value ReuseportSocket(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::string proto = ArgString(info, 0, "protocol");
  int family = ArgInt(info, 1, "family");
  std::string address = ArgString(info, 2, "address");
  int port = ArgInt(info, 3, "port");
  int backlog = ArgInt(info, 4, "backlog");
  if (proto != "udp" && proto != "tcp") ThrowCode(env, "EINVAL", "protocol must be 'udp' or 'tcp'");
  if (family != 4 && family != 6) ThrowCode(env, "EINVAL", "family must be 4 or 6");
  if (port < 0 || port > 65535) ThrowCode(env, "EINVAL", "port must be 0..65535");
  struct sockaddr_storage ss;
  socklen_t len;
  if (!ParseAddress(address, family, port, &ss, &len))
    ThrowCode(env, "EINVAL", "address " + address + " is not an IPv" + std::to_string(family) + " address");
  int fd = socket(family == 4 ? AF_INET : AF_INET6,
                  (proto == "udp" ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket failed", errno);
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
      (proto == "tcp" && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "setsockopt SO_REUSEPORT failed", err);
  }
  if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "bind " + address + ":" + std::to_string(port) + " failed", err);
  }
  if (proto == "tcp" && listen(fd, backlog) != 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "listen failed", err);
  }
  return Napi::Number::New(env, fd);
}

// socketInfo(fd): {protocol, family, address, port, inode} of a bound socket.
static Napi::Value SocketInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  struct stat st;
  if (fstat(fd, &st) != 0) ThrowErrno(env, "fstat failed", errno);
  if (!S_ISSOCK(st.st_mode)) ThrowCode(env, "ENOTSOCK", "fd " + std::to_string(fd) + " is not a socket");
  int type = 0, protocol = 0, domain = 0;
  socklen_t olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen);
  olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &olen);
  olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &olen);
  Napi::Object o = Napi::Object::New(env);
  o.Set("inode", Napi::Number::New(env, (double)st.st_ino));
  o.Set("domain", domain);
  o.Set("protocol", protocol == IPPROTO_UDP ? "udp" : protocol == IPPROTO_TCP ? "tcp" : "other");
  int accepting = 0;
  olen = sizeof(int);
  getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &olen);
  o.Set("listening", accepting != 0);
  o.Set("family", domain == AF_INET ? 4 : domain == AF_INET6 ? 6 : 0);
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if ((domain == AF_INET || domain == AF_INET6) && getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
    char buf[INET6_ADDRSTRLEN] = "";
    int port;
    if (domain == AF_INET) {
      auto *sin = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
      port = ntohs(sin->sin_port);
    } else {
      auto *sin6 = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
      port = ntohs(sin6->sin6_port);
    }
    o.Set("address", buf);
    o.Set("port", port);
  }
  return o;
}

static Napi::Value AttachReuseport(const Napi::CallbackInfo &info) {
  int fd = ArgInt(info, 0, "socketFd");
  int prog = ArgInt(info, 1, "progFd");
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof(prog)) != 0)
    ThrowErrno(info.Env(), "SO_ATTACH_REUSEPORT_EBPF failed", errno);
  return info.Env().Undefined();
}

// detachReuseport(fd): false when the group had no program attached.
static Napi::Value DetachReuseport(const Napi::CallbackInfo &info) {
  int fd = ArgInt(info, 0, "socketFd");
  int zero = 0;
  int rc = setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof(zero));
  return Napi::Boolean::New(info.Env(), Found(info.Env(), rc, "SO_DETACH_REUSEPORT_BPF failed"));
}

// peerCred(fd): {pid, uid, gid} of the process on the other end of a Unix socket.
static Napi::Value PeerCred(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  struct ucred cred;
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) ThrowErrno(env, "SO_PEERCRED failed", errno);
  Napi::Object o = Napi::Object::New(env);
  o.Set("pid", cred.pid);
  o.Set("uid", cred.uid);
  o.Set("gid", cred.gid);
  return o;
}

// peerPidfd(fd): a pidfd for the peer that cannot be confused by pid reuse
// (SO_PEERPIDFD); falls back to pidfd_open(pid) on kernels without it.
static Napi::Value PeerPidfd(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd = ArgInt(info, 0, "fd");
  int pidfd = -1;
  socklen_t len = sizeof(pidfd);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == 0 && pidfd >= 0)
    return Napi::Number::New(env, pidfd);
  struct ucred cred;
  len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) ThrowErrno(env, "SO_PEERCRED failed", errno);
  pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
  if (pidfd < 0) ThrowErrno(env, "pidfd_open failed", errno);
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(env, pidfd);
}

// pidfdOpen(pid): a pidfd for a process named by pid (syrupd checks, through
// /proc, that the requester may act on it before it takes any of its fds).
static Napi::Value PidfdOpen(const Napi::CallbackInfo &info) {
  int pid = ArgPositive(info, 0, "pid");
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) ThrowErrno(info.Env(), "pidfd_open(" + std::to_string(pid) + ") failed", errno);
  fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  return Napi::Number::New(info.Env(), pidfd);
}

// pidfdGetfd(pidfd, targetFd): a duplicate, in this process, of another
// process's fd. Needs ptrace rights over it (syrupd runs as root).
static Napi::Value PidfdGetfd(const Napi::CallbackInfo &info) {
  int pidfd = ArgInt(info, 0, "pidfd");
  int target = ArgInt(info, 1, "targetFd");
  int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
  if (fd < 0) ThrowErrno(info.Env(), "cannot take fd " + std::to_string(target) + " from the app", errno);
  return Napi::Number::New(info.Env(), fd);
}

void InitSockets(Napi::Env env, Napi::Object exports) {
  exports.Set("reuseportSocket", Napi::Function::New(env, ReuseportSocket));
  exports.Set("socketInfo", Napi::Function::New(env, SocketInfo));
  exports.Set("attachReuseport", Napi::Function::New(env, AttachReuseport));
  exports.Set("detachReuseport", Napi::Function::New(env, DetachReuseport));
  exports.Set("peerCred", Napi::Function::New(env, PeerCred));
  exports.Set("peerPidfd", Napi::Function::New(env, PeerPidfd));
  exports.Set("pidfdGetfd", Napi::Function::New(env, PidfdGetfd));
  exports.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
}

}  // namespace syrnet
