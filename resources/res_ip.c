/*
 * ip.host: a floating address (`ipname`, an IPv4 or IPv6 literal or a name that
 * resolves to one) added to the interface `ipdev` with prefix `netmask` (a length or a
 * dotted mask; /32 or /128 when unset), through rtnetlink (no `ip` program). Status:
 * up when the address is on ipdev. Start refuses an address already held by another
 * local interface. Once the address is up, start tells the link's neighbours where it
 * now lives: `arp_announce` gratuitous ARP requests (IPv4) or unsolicited neighbour
 * advertisements with the override flag (IPv6), 100 ms apart, sent through a packet
 * socket, so that clients stop sending to the MAC address of the node that held it
 * before (their caches would otherwise keep it until they expire). It does not probe
 * the network for a duplicate address; nothing to provision.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "resources/res.h"

struct ipaddr {
        int family;
        unsigned char addr[16];
        unsigned prefix;
        char text[INET6_ADDRSTRLEN];
        char dev[IF_NAMESIZE];
};

static int parse_prefix(const char *s, int family, unsigned *ret) {
        long long n;
        unsigned max = family == AF_INET ? 32 : 128;
        if (om_parse_int(s, 0, max, &n) == 0) {
                *ret = (unsigned)n;
                return 0;
        }
        struct in_addr m;
        if (family != AF_INET || inet_pton(AF_INET, s, &m) != 1)
                return -EINVAL;
        uint32_t v = ntohl(m.s_addr);
        unsigned len = 0;
        while (len < 32 && (v & (0x80000000u >> len)))
                len++;
        if (len < 32 && (v << len) != 0)
                return -EINVAL; /* not contiguous */
        *ret = len;
        return 0;
}

/* Reads ipname, ipdev and netmask; with log, failures are logged. */
static int get_ip(struct om_res *r, struct ipaddr *ret, bool log) {
        _cleanup_free_ char *name = NULL, *dev = NULL, *mask = NULL;
        char err[512];
        int e;
        if ((e = om_res_kw(r, "ipname", &name, err, sizeof(err))) < 0)
                return log ? log_error_errno(e, "ipname: %s", err) : e;
        if ((e = om_res_kw(r, "ipdev", &dev, err, sizeof(err))) < 0)
                return log ? log_error_errno(e, "ipdev: %s", err) : e;
        struct ipaddr ip = {0};
        if (inet_pton(AF_INET, name, ip.addr) == 1)
                ip.family = AF_INET;
        else if (inet_pton(AF_INET6, name, ip.addr) == 1)
                ip.family = AF_INET6;
        else {
                struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
                if (getaddrinfo(name, NULL, &hints, &ai) != 0 || !ai)
                        return log ? log_error_errno(-EINVAL, "ipname %s does not resolve", name)
                                   : -EINVAL;
                ip.family = ai->ai_family;
                if (ai->ai_family == AF_INET)
                        memcpy(ip.addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
                else
                        memcpy(ip.addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
                freeaddrinfo(ai);
        }
        inet_ntop(ip.family, ip.addr, ip.text, sizeof(ip.text));
        ip.prefix = ip.family == AF_INET ? 32 : 128;
        if (om_res_kw(r, "netmask", &mask, NULL, 0) == 0 &&
            parse_prefix(mask, ip.family, &ip.prefix) < 0)
                return log ? log_error_errno(-EINVAL,
                                             "netmask '%s' is not a prefix length or a mask", mask)
                           : -EINVAL;
        if (strlen(dev) >= sizeof(ip.dev))
                return log ? log_error_errno(-EINVAL, "ipdev '%s' is too long", dev) : -EINVAL;
        snprintf(ip.dev, sizeof(ip.dev), "%s", dev);
        *ret = ip;
        return 0;
}

/* The interface holding the address, "" when none. */
static int where(const struct ipaddr *ip, char *ret, size_t len) {
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) < 0)
                return -errno;
        ret[0] = 0;
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != ip->family)
                        continue;
                const void *a =
                        ip->family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
                if (!memcmp(a, ip->addr, ip->family == AF_INET ? 4 : 16)) {
                        snprintf(ret, len, "%s", i->ifa_name);
                        /* an alias label "eth0:1" is on eth0 */
                        ret[strcspn(ret, ":")] = 0;
                        if (!strcmp(ret, ip->dev))
                                break;
                }
        }
        freeifaddrs(ifa);
        return 0;
}

static int ip_status(struct om_res *r) {
        struct ipaddr ip;
        char on[IF_NAMESIZE + 8];
        if (get_ip(r, &ip, false) < 0)
                return OM_RES_UNDEF;
        if (!if_nametoindex(ip.dev)) {
                _cleanup_free_ char *n = om_asprintf("warn: ipdev %s does not exist", ip.dev);
                if (n)
                        om_strv_push(&r->notes, n);
                return OM_RES_DOWN;
        }
        if (where(&ip, on, sizeof(on)) < 0)
                return OM_RES_UNDEF;
        if (on[0] && strcmp(on, ip.dev) != 0) {
                _cleanup_free_ char *n = om_asprintf("warn: %s is on %s", ip.text, on);
                if (n)
                        om_strv_push(&r->notes, n);
                return OM_RES_DOWN;
        }
        return on[0] ? OM_RES_UP : OM_RES_DOWN;
}

/* Sends one RTM_NEWADDR or RTM_DELADDR and waits for the kernel's answer. */
static int rtnl_addr(const struct ipaddr *ip, int type) {
        struct {
                struct nlmsghdr nh;
                struct ifaddrmsg ifa;
                char attrs[64];
        } req = {0};
        unsigned idx = if_nametoindex(ip->dev);
        if (!idx)
                return -ENODEV;
        size_t alen = ip->family == AF_INET ? 4 : 16;
        req.nh.nlmsg_type = (unsigned short)type;
        req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        if (type == RTM_NEWADDR)
                req.nh.nlmsg_flags |= NLM_F_CREATE | NLM_F_EXCL;
        req.nh.nlmsg_seq = 1;
        req.ifa.ifa_family = (unsigned char)ip->family;
        req.ifa.ifa_prefixlen = (unsigned char)ip->prefix;
        req.ifa.ifa_index = idx;
        req.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
        size_t off = NLMSG_ALIGN(sizeof(req.nh) + sizeof(req.ifa));
        const unsigned short kinds[2] = {IFA_LOCAL, IFA_ADDRESS};
        for (int k = 0; k < 2; k++) {
                struct rtattr *rta = (struct rtattr *)((char *)&req + off);
                rta->rta_type = kinds[k];
                rta->rta_len = (unsigned short)RTA_LENGTH(alen);
                memcpy(RTA_DATA(rta), ip->addr, alen);
                off += RTA_ALIGN(rta->rta_len);
        }
        req.nh.nlmsg_len = (unsigned)off;

        _cleanup_close_ int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
        if (sendto(fd, &req, off, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
             h = NLMSG_NEXT(h, n))
                if (h->nlmsg_type == NLMSG_ERROR)
                        return ((struct nlmsgerr *)NLMSG_DATA(h))->error;
        return -EIO;
}

/* ---- announcements: gratuitous ARP and unsolicited neighbour advertisements ---- */

#define ANNOUNCE_GAP_MS 100
#define ANNOUNCE_MAX 10

/* One gratuitous ARP request: sender and target protocol address both the address,
 * target hardware address zero, to the link's broadcast address. Receivers that hold
 * an entry for the address update it to the sender's hardware address. */
struct arp_announce {
        uint16_t htype, ptype;
        uint8_t hlen, plen;
        uint16_t op;
        uint8_t sha[ETH_ALEN], spa[4], tha[ETH_ALEN], tpa[4];
} __attribute__((packed));
_Static_assert(sizeof(struct arp_announce) == 28, "ARP packet for Ethernet and IPv4");

/* An IPv6 header, then a neighbour advertisement (RFC 4861 4.4) with the target
 * link-layer address option: to all nodes (ff02::1), override set, solicited not. */
struct na_announce {
        uint8_t ip6[40];
        uint8_t type, code;
        uint16_t csum;
        uint32_t flags;
        uint8_t target[16];
        uint8_t opt_type, opt_len, opt_mac[ETH_ALEN];
} __attribute__((packed));
_Static_assert(sizeof(struct na_announce) == 40 + 32, "IPv6 header + NA with one option");

static uint16_t csum_fold(uint32_t sum) {
        while (sum >> 16)
                sum = (sum & 0xffff) + (sum >> 16);
        return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len) {
        for (size_t i = 0; i + 1 < len; i += 2)
                sum += (uint32_t)(p[i] << 8 | p[i + 1]);
        if (len & 1)
                sum += (uint32_t)(p[len - 1] << 8);
        return sum;
}

static void na_build(struct na_announce *na, const uint8_t addr[16], const uint8_t mac[ETH_ALEN]) {
        static const uint8_t all_nodes[16] = {0xff, 0x02, [15] = 0x01};
        const uint16_t icmp_len = sizeof(*na) - sizeof(na->ip6);
        memset(na, 0, sizeof(*na));
        na->ip6[0] = 0x60;                     /* version 6 */
        na->ip6[4] = (uint8_t)(icmp_len >> 8); /* payload length */
        na->ip6[5] = (uint8_t)icmp_len;
        na->ip6[6] = IPPROTO_ICMPV6;
        na->ip6[7] = 255; /* hop limit: receivers drop an NA with any other */
        memcpy(na->ip6 + 8, addr, 16);
        memcpy(na->ip6 + 24, all_nodes, 16);
        na->type = 136;
        na->flags = htonl(0x20000000u); /* override */
        memcpy(na->target, addr, 16);
        na->opt_type = 2; /* target link-layer address */
        na->opt_len = 1;  /* in units of 8 bytes */
        memcpy(na->opt_mac, mac, ETH_ALEN);
        /* checksum over the pseudo-header (addresses, length, next header) and message */
        uint32_t sum = csum_add(0, na->ip6 + 8, 32);
        sum += icmp_len + IPPROTO_ICMPV6;
        sum = csum_add(sum, &na->type, icmp_len);
        na->csum = htons(csum_fold(sum));
}

/* Sends count announcements of ip on its interface. An interface without ARP
 * (loopback, point-to-point) or without an Ethernet address has no neighbour to tell:
 * 0, said in the log. */
static int ip_announce(const struct ipaddr *ip, long long count) {
        if (count <= 0)
                return 0;
        _cleanup_close_ int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open a packet socket to announce %s: %m",
                                       ip->text);
        struct ifreq ifr = {0};
        snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ip->dev);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return log_error_errno(-errno, "cannot read the flags of %s: %m", ip->dev);
        bool noarp = ifr.ifr_flags & (IFF_NOARP | IFF_LOOPBACK);
        if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
                return log_error_errno(-errno, "cannot read the address of %s: %m", ip->dev);
        if (noarp || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
                log_info("%s has no neighbour discovery: %s not announced", ip->dev, ip->text);
                return 0;
        }
        const uint8_t *mac = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
        struct sockaddr_ll to = {
                .sll_family = AF_PACKET,
                .sll_ifindex = (int)if_nametoindex(ip->dev),
                .sll_halen = ETH_ALEN,
        };
        struct arp_announce arp;
        struct na_announce na;
        const void *pkt;
        size_t len;
        if (ip->family == AF_INET) {
                arp = (struct arp_announce){
                        .htype = htons(ARPHRD_ETHER),
                        .ptype = htons(ETH_P_IP),
                        .hlen = ETH_ALEN,
                        .plen = 4,
                        .op = htons(ARPOP_REQUEST),
                };
                memcpy(arp.sha, mac, ETH_ALEN);
                memcpy(arp.spa, ip->addr, 4);
                memcpy(arp.tpa, ip->addr, 4);
                to.sll_protocol = htons(ETH_P_ARP);
                memset(to.sll_addr, 0xff, ETH_ALEN);
                pkt = &arp;
                len = sizeof(arp);
        } else {
                na_build(&na, ip->addr, mac);
                to.sll_protocol = htons(ETH_P_IPV6);
                /* the Ethernet group of ff02::1 */
                memcpy(to.sll_addr, (const uint8_t[]){0x33, 0x33, 0, 0, 0, 1}, ETH_ALEN);
                pkt = &na;
                len = sizeof(na);
        }
        const char *what = ip->family == AF_INET ? "gratuitous ARP" : "neighbour advertisement";
        log_info("announce %s on %s: %lld %s%s", ip->text, ip->dev, count, what,
                 count > 1 ? "s" : "");
        for (long long k = 0; k < count; k++) {
                if (k)
                        usleep(ANNOUNCE_GAP_MS * 1000);
                if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
                        return log_error_errno(-errno, "cannot send the %s of %s on %s: %m", what,
                                               ip->text, ip->dev);
        }
        return 0;
}

/* arp_announce: 0 to ANNOUNCE_MAX, 3 when unset. */
static int get_announce(struct om_res *r, long long *ret) {
        _cleanup_free_ char *s = NULL;
        *ret = 3;
        if (om_res_kw(r, "arp_announce", &s, NULL, 0) < 0)
                return 0;
        if (om_parse_int(s, 0, ANNOUNCE_MAX, ret) < 0)
                return log_error_errno(-EINVAL, "arp_announce '%s' is not a count from 0 to %d", s,
                                       ANNOUNCE_MAX);
        return 0;
}

static int ip_check(struct om_res *r, enum om_res_action a) {
        struct ipaddr ip;
        char on[IF_NAMESIZE + 8];
        int e = get_ip(r, &ip, true);
        if (e < 0 || (a != OM_ACT_START && a != OM_ACT_PROVISION))
                return e;
        if (!if_nametoindex(ip.dev))
                return log_error_errno(-ENODEV, "ipdev %s does not exist", ip.dev);
        if (where(&ip, on, sizeof(on)) == 0 && on[0] && strcmp(on, ip.dev) != 0)
                return log_error_errno(-EADDRINUSE, "%s is already on %s", ip.text, on);
        long long n;
        return get_announce(r, &n);
}

static int ip_start(struct om_res *r) {
        struct ipaddr ip;
        int e = ip_check(r, OM_ACT_START);
        if (e < 0 || (e = get_ip(r, &ip, true)) < 0)
                return e;
        if (ip_status(r) == OM_RES_UP) {
                log_info("%s is already up on %s", ip.text, ip.dev);
                return 0;
        }
        log_info("ip addr add %s/%u dev %s", ip.text, ip.prefix, ip.dev);
        if ((e = rtnl_addr(&ip, RTM_NEWADDR)) < 0)
                return log_error_errno(e, "cannot add %s/%u to %s: %m", ip.text, ip.prefix, ip.dev);
        long long count;
        if ((e = get_announce(r, &count)) < 0)
                return e;
        /* the address is up: a neighbour that was not told still reaches it once its
         * cache expires, so a failed announcement does not fail the start */
        (void)ip_announce(&ip, count);
        return 0;
}

static int ip_stop(struct om_res *r) {
        struct ipaddr ip;
        char on[IF_NAMESIZE + 8];
        int e = get_ip(r, &ip, true);
        if (e < 0)
                return e;
        if (where(&ip, on, sizeof(on)) < 0 || strcmp(on, ip.dev) != 0) {
                log_info("%s is already down on %s", ip.text, ip.dev);
                return 0;
        }
        log_info("ip addr del %s/%u dev %s", ip.text, ip.prefix, ip.dev);
        if ((e = rtnl_addr(&ip, RTM_DELADDR)) < 0)
                return log_error_errno(e, "cannot remove %s from %s: %m", ip.text, ip.dev);
        return 0;
}

static char *ip_label(struct om_res *r) {
        struct ipaddr ip;
        if (get_ip(r, &ip, false) == 0)
                return om_asprintf("%s/%u@%s", ip.text, ip.prefix, ip.dev);
        _cleanup_free_ char *name = om_res_kw_label(r, "ipname");
        _cleanup_free_ char *dev = om_res_kw_label(r, "ipdev");
        return om_asprintf("%s@%s", name ? name : "", dev ? dev : "");
}

static const char *const ip_keywords[] = {"ipname", "ipdev", "netmask", "arp_announce", NULL};

const struct om_res_driver om_res_driver_ip = {
        .group = "ip",
        .type = "host",
        .name = "ip",
        .keywords = ip_keywords,
        .check = ip_check,
        .status = ip_status,
        .start = ip_start,
        .stop = ip_stop,
        .label = ip_label,
};
