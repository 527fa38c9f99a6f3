// net_xsk.cc: XskSocket, a minimal receive-only AF_XDP socket (copy mode) on the raw kernel API, for apps whose xdp policy redirects to them.
//
// libbpf 1.x no longer ships xsk.h (it moved to libxdp), so this sets the
// socket up by hand: UMEM registration, fill/completion/RX rings mmapped,
// bind to (ifindex, queue). Sockets that must share one queue (an app with
// several executors on the same NIC queue) share the first socket's UMEM
// (XDP_SHARED_UMEM): the kernel allows one UMEM per queue, and the XSKMAP
// entry the policy selects decides which RX ring gets the frame.
#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "net_addon.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace syrnet {

struct XskRing {
  void *map = nullptr;
  size_t map_len = 0;
  std::atomic<uint32_t> *producer = nullptr;
  std::atomic<uint32_t> *consumer = nullptr;
  void *descs = nullptr;
  uint32_t size = 0;

  bool Map(int fd, const struct xdp_ring_offset &off, uint32_t n, size_t desc_size, off_t pgoff) {
    map_len = off.desc + n * desc_size;
    map = mmap(nullptr, map_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, pgoff);
    if (map == MAP_FAILED) {
      map = nullptr;
      return false;
    }
    producer = (std::atomic<uint32_t> *)((char *)map + off.producer);
    consumer = (std::atomic<uint32_t> *)((char *)map + off.consumer);
    descs = (char *)map + off.desc;
    size = n;
    return true;
  }
  void Unmap() {
    if (map) munmap(map, map_len);
    map = nullptr;
  }
};

class XskSocket : public Napi::ObjectWrap<XskSocket> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "XskSocket",
                       {
                           InstanceAccessor("fd", &XskSocket::Fd, nullptr),
                           InstanceMethod("receive", &XskSocket::Receive),
                           InstanceMethod("close", &XskSocket::Close),
                       });
  }

  // new XskSocket(ifindex, queue, frames, frameSize, [owner]): with an owner
  // XskSocket, shares its UMEM and fill ring (same interface and queue).
  XskSocket(const Napi::CallbackInfo &info) : Napi::ObjectWrap<XskSocket>(info) {
    Napi::Env env = info.Env();
    int ifindex = ArgInt(info, 0, "ifindex");
    int queue = ArgInt(info, 1, "queue");
    int frames = ArgInt(info, 2, "frames");
    int frame_size = ArgInt(info, 3, "frameSize");
    if (frames <= 0 || (frames & (frames - 1))) ThrowCode(env, "EINVAL", "frames must be a power of two");
    if (frame_size != 2048 && frame_size != 4096) ThrowCode(env, "EINVAL", "frameSize must be 2048 or 4096");
    XskSocket *owner = nullptr;
    if (info.Length() > 4 && info[4].IsObject()) {
      owner = Unwrap(info[4].As<Napi::Object>());
      if (!owner || owner->fd_ < 0 || owner->owner_) ThrowCode(env, "EINVAL", "owner must be an open, UMEM-owning XskSocket");
      owner_ref_ = Napi::Persistent(info[4].As<Napi::Object>());
      owner_ = owner;
    }
    fd_ = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd_ < 0) ThrowErrno(env, "cannot create an AF_XDP socket", errno);
    try {
      Setup(env, ifindex, queue, frames, frame_size);
    } catch (...) {
      Teardown();
      throw;
    }
  }

  ~XskSocket() override { Teardown(); }

 private:
  int fd_ = -1;
  XskSocket *owner_ = nullptr;
  Napi::ObjectReference owner_ref_;
  void *umem_ = nullptr;
  size_t umem_len_ = 0;
  uint32_t frame_size_ = 0;
  XskRing fill_, comp_, rx_;

  void Setup(Napi::Env env, int ifindex, int queue, int frames, int frame_size) {
    uint32_t ring = (uint32_t)frames;
    if (!owner_) {
      frame_size_ = frame_size;
      umem_len_ = (size_t)frames * frame_size;
      umem_ = mmap(nullptr, umem_len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (umem_ == MAP_FAILED) {
        umem_ = nullptr;
        ThrowErrno(env, "cannot allocate UMEM", errno);
      }
      struct xdp_umem_reg reg;
      memset(&reg, 0, sizeof(reg));
      reg.addr = (uint64_t)umem_;
      reg.len = umem_len_;
      reg.chunk_size = frame_size;
      if (setsockopt(fd_, SOL_XDP, XDP_UMEM_REG, &reg, sizeof(reg)) != 0)
        ThrowErrno(env, "XDP_UMEM_REG failed", errno);
      if (setsockopt(fd_, SOL_XDP, XDP_UMEM_FILL_RING, &ring, sizeof(ring)) != 0 ||
          setsockopt(fd_, SOL_XDP, XDP_UMEM_COMPLETION_RING, &ring, sizeof(ring)) != 0)
        ThrowErrno(env, "cannot size the UMEM rings", errno);
    }
    if (setsockopt(fd_, SOL_XDP, XDP_RX_RING, &ring, sizeof(ring)) != 0) ThrowErrno(env, "XDP_RX_RING failed", errno);
    struct xdp_mmap_offsets off;
    socklen_t olen = sizeof(off);
    if (getsockopt(fd_, SOL_XDP, XDP_MMAP_OFFSETS, &off, &olen) != 0)
      ThrowErrno(env, "XDP_MMAP_OFFSETS failed", errno);
    if (!rx_.Map(fd_, off.rx, ring, sizeof(struct xdp_desc), XDP_PGOFF_RX_RING))
      ThrowErrno(env, "cannot map the RX ring", errno);
    if (!owner_) {
      if (!fill_.Map(fd_, off.fr, ring, sizeof(uint64_t), XDP_UMEM_PGOFF_FILL_RING) ||
          !comp_.Map(fd_, off.cr, ring, sizeof(uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING))
        ThrowErrno(env, "cannot map the UMEM rings", errno);
      // Hand every frame to the kernel up front: this socket only receives.
      uint64_t *slots = (uint64_t *)fill_.descs;
      for (uint32_t i = 0; i < ring; i++) slots[i] = (uint64_t)i * frame_size;
      fill_.producer->store(ring, std::memory_order_release);
    }
    struct sockaddr_xdp sxdp;
    memset(&sxdp, 0, sizeof(sxdp));
    sxdp.sxdp_family = AF_XDP;
    sxdp.sxdp_ifindex = ifindex;
    sxdp.sxdp_queue_id = queue;
    if (owner_) {
      sxdp.sxdp_flags = XDP_SHARED_UMEM;
      sxdp.sxdp_shared_umem_fd = owner_->fd_;
    } else {
      sxdp.sxdp_flags = XDP_COPY;
    }
    if (bind(fd_, (struct sockaddr *)&sxdp, sizeof(sxdp)) != 0)
      ThrowErrno(env, "cannot bind the AF_XDP socket to ifindex " + std::to_string(ifindex) + " queue " +
                          std::to_string(queue), errno);
  }

  void Teardown() {
    rx_.Unmap();
    fill_.Unmap();
    comp_.Unmap();
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    if (umem_) munmap(umem_, umem_len_);
    umem_ = nullptr;
    if (!owner_ref_.IsEmpty()) owner_ref_.Reset();
    owner_ = nullptr;
  }

  Napi::Value Fd(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), fd_); }

  // receive(max, timeoutMs): copies of up to `max` received frames (possibly none).
  Napi::Value Receive(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    int max = ArgInt(info, 0, "max");
    int timeout = info.Length() > 1 ? ArgInt(info, 1, "timeoutMs") : 0;
    if (fd_ < 0) ThrowCode(env, "ECLOSED", "XskSocket is closed");
    XskSocket *umem_owner = owner_ ? owner_ : this;
    if (umem_owner->fd_ < 0) ThrowCode(env, "ECLOSED", "the UMEM-owning XskSocket is closed");
    Napi::Array out = Napi::Array::New(env);
    uint32_t cons = rx_.consumer->load(std::memory_order_relaxed);
    uint32_t prod = rx_.producer->load(std::memory_order_acquire);
    if (prod == cons && timeout > 0) {
      struct pollfd p = {fd_, POLLIN, 0};
      poll(&p, 1, timeout);
      prod = rx_.producer->load(std::memory_order_acquire);
    }
    XskRing &fill = umem_owner->fill_;
    uint32_t fprod = fill.producer->load(std::memory_order_relaxed);
    uint32_t n = 0;
    const struct xdp_desc *descs = (const struct xdp_desc *)rx_.descs;
    uint64_t *fslots = (uint64_t *)fill.descs;
    uint64_t chunk_mask = ~(uint64_t)(umem_owner->frame_size_ - 1);
    while (cons != prod && (int)n < max) {
      const struct xdp_desc &d = descs[cons & (rx_.size - 1)];
      out.Set(n++, Napi::Buffer<uint8_t>::Copy(env, (uint8_t *)umem_owner->umem_ + d.addr, d.len));
      // Give the frame back: the fill ring never holds more than it had, so it has room.
      fslots[fprod & (fill.size - 1)] = d.addr & chunk_mask;
      fprod++;
      cons++;
    }
    rx_.consumer->store(cons, std::memory_order_release);
    fill.producer->store(fprod, std::memory_order_release);
    return out;
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Teardown();
    return info.Env().Undefined();
  }
};

void InitXsk(Napi::Env env, Napi::Object exports) { exports.Set("XskSocket", XskSocket::Define(env)); }

}  // namespace syrnet
