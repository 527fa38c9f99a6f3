/* syrup.h: the one header a Syrup network policy includes: return codes, map declarations and bounds-checked header parsing. */
#ifndef SYRUP_NET_H
#define SYRUP_NET_H

/*
 * A policy file defines
 *
 *     uint32_t schedule(void *pkt_start, void *pkt_end);
 *
 * and returns an executor index (a socket of the app's SO_REUSEPORT group, an
 * AF_XDP socket, or a cpu, depending on the hook), SYR_PASS (let the kernel
 * decide as if no policy were deployed) or SYR_DROP.
 *
 * syrupd compiles the file inside a hook-specific wrapper (net/bpf/wrap_*.bpf.c)
 * that defines SYR_INPUT_AT_L4 when the input starts at the transport header
 * (socket_select) instead of the Ethernet header (XDP hooks). The parsing
 * helpers below hide that difference, so one policy file runs at every hook.
 */

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Own fixed-width names: the BPF target has no libc stdint.h of its own. */
typedef __u8 uint8_t;
typedef __u16 uint16_t;
typedef __u32 uint32_t;
typedef __u64 uint64_t;

/*
 * Declared static and always-inline before the user defines it: the user's
 * plain `uint32_t schedule(...) { ... }` then inherits internal linkage and is
 * inlined into the hook program. As a separate global BPF function the
 * verifier would check it alone and refuse its packet-pointer arguments.
 */
static __always_inline uint32_t schedule(void *pkt_start, void *pkt_end);

#define SYR_PASS 0xffffffffu
#define SYR_DROP 0xfffffffeu

/* Executor maps hold this many slots; larger indices count as "no executor". */
#define SYR_MAX_EXECUTORS 64

/* Number of executors the app registered, set by syrupd at load time. */
const volatile __u32 syr_executor_count = 1;

/* What both map macros declare. The trailing arguments are extra fields, put where
 * SYR_MAP_MMAP always had its map_flags so that no policy's map BTF changes. */
#define SYR_MAP_DECL(_name, _type, _key, _value, _max, ...)                        \
	struct {                                                                    \
		__uint(type, BPF_MAP_TYPE_##_type);                                 \
		__uint(max_entries, _max);                                          \
		__VA_ARGS__                                                         \
		__type(key, _key);                                                  \
		__type(value, _value);                                              \
	} _name SEC(".maps")

/* SYR_MAP(name, ARRAY, __u32, __u64, 16): a map syrupd pins for the app. */
#define SYR_MAP(_name, _type, _key, _value, _max) SYR_MAP_DECL(_name, _type, _key, _value, _max, )

/* Same, for an ARRAY the app may also mmap() (shared counters without syscalls). */
#define SYR_MAP_MMAP(_name, _type, _key, _value, _max) \
	SYR_MAP_DECL(_name, _type, _key, _value, _max, __uint(map_flags, BPF_F_MMAPABLE);)

/* `p` when `len` bytes from it lie inside the packet, else NULL (NULL in gives NULL out,
 * so it can check what another helper found): the one bounds check the helpers below share. */
static __always_inline void *syr_fits(void *p, __u32 len, void *end)
{
	if (!p || p + len > end)
		return 0;
	return p;
}

#ifndef SYR_INPUT_AT_L4
static __always_inline struct ethhdr *syr_eth(void *start, void *end)
{
	return syr_fits(start, sizeof(struct ethhdr), end);
}

/* The network header after the Ethernet header when the frame's ethertype is `proto`
 * and `len` bytes of it are there. */
static __always_inline void *syr_l3(void *start, void *end, __u16 proto, __u32 len)
{
	struct ethhdr *eth = syr_eth(start, end);
	if (!eth || eth->h_proto != bpf_htons(proto))
		return 0;
	return syr_fits(eth + 1, len, end);
}

/* The IPv4 header, or NULL when the frame is not IPv4 or is truncated. */
static __always_inline struct iphdr *syr_ipv4(void *start, void *end)
{
	struct iphdr *ip = syr_l3(start, end, ETH_P_IP, sizeof(struct iphdr));
	if (!ip || ip->ihl < 5)
		return 0;
	return ip;
}

static __always_inline struct ipv6hdr *syr_ipv6(void *start, void *end)
{
	return syr_l3(start, end, ETH_P_IPV6, sizeof(struct ipv6hdr));
}

/* Start of the transport header if the frame carries protocol `proto`
 * (IPPROTO_UDP / IPPROTO_TCP), unfragmented (or first fragment), no IPv6
 * extension headers. */
static __always_inline void *syr_l4(void *start, void *end, __u8 proto)
{
	struct iphdr *ip = syr_ipv4(start, end);
	if (ip) {
		if (ip->protocol != proto || (ip->frag_off & bpf_htons(0x1fff)))
			return 0;
		return (void *)ip + ip->ihl * 4;
	}
	struct ipv6hdr *ip6 = syr_ipv6(start, end);
	if (ip6 && ip6->nexthdr == proto)
		return (void *)(ip6 + 1);
	return 0;
}
#else
/* socket_select: the input already starts at the transport header of a
 * packet of the group's own protocol, so there is nothing to check but length. */
static __always_inline void *syr_l4(void *start, void *end, __u8 proto)
{
	(void)end;
	(void)proto;
	return start;
}
#endif

static __always_inline struct udphdr *syr_udp(void *start, void *end)
{
	return syr_fits(syr_l4(start, end, IPPROTO_UDP), sizeof(struct udphdr), end);
}

static __always_inline struct tcphdr *syr_tcp(void *start, void *end)
{
	return syr_fits(syr_l4(start, end, IPPROTO_TCP), sizeof(struct tcphdr), end);
}

/* First `len` bytes of a UDP payload, or NULL when the datagram is shorter. */
static __always_inline void *syr_udp_payload(void *start, void *end, __u32 len)
{
	struct udphdr *udp = syr_udp(start, end);
	return udp ? syr_fits(udp + 1, len, end) : 0;
}

/* A 32-bit mix (murmur3 finaliser) for hash-on-a-field policies. */
static __always_inline __u32 syr_hash32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

#endif
