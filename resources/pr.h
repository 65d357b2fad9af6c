/*
 * SCSI-3 persistent reservations of a shared block device (`scsireserv = true`).
 *
 * Each node has a reservation key of its own, derived from the cluster name and the
 * node name (om_pr_key), so every node can tell which node holds a key it reads. The
 * node that runs a resource holds a Write Exclusive - Registrants Only reservation; a
 * node taking over registers and preempts (PREEMPT AND ABORT) every other key, after
 * which the storage refuses the old owner's writes. Changes go through the kernel's
 * persistent-reservation block ioctls (linux/pr.h), which dm-multipath passes on to
 * every path; keys and the reservation are read with SG_IO (PERSISTENT RESERVE IN),
 * which also gives the SCSI sense of a device that does not support them.
 *
 * The parsing functions are pure (unit tested); the device functions log nothing and
 * put the reason of a failure in err.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OM_PR_MAX_KEYS 64
/* SPC-4 PERSISTENT RESERVE IN service actions */
#define OM_PR_IN_READ_KEYS 0x00
#define OM_PR_IN_READ_RESERVATION 0x01
/* SPC-4 reservation type code of Write Exclusive - Registrants Only */
#define OM_PR_SCSI_WE_RO 0x5

/* The key of node in cluster: the first 8 bytes of BLAKE2b("om scsireserv key", cluster,
 * node), big endian; never 0 (a SCSI key of 0 means "no key"). */
uint64_t om_pr_key(const char *cluster, const char *node);
/* This node's key in this cluster. */
uint64_t om_pr_key_local(void);
/* "0x" and 16 hex digits. */
void om_pr_key_format(uint64_t key, char buf[19]);
/* The node of the cluster (cluster.conf [cluster] nodes, and this node) whose key is
 * key, into buf; false when none. */
bool om_pr_key_node(uint64_t key, char *buf, size_t len);

/* The 10-byte CDB of PERSISTENT RESERVE IN (0x5e) for service action sa with an
 * allocation length of alloc bytes. */
void om_pr_in_cdb(uint8_t sa, uint16_t alloc, uint8_t cdb[10]);

struct om_pr_state {
        uint32_t generation;
        size_t n_keys;
        uint64_t keys[OM_PR_MAX_KEYS];
        bool truncated; /* more keys than OM_PR_MAX_KEYS, or than the buffer held */
        bool held;      /* a reservation exists */
        uint64_t holder;
        uint8_t type; /* SCSI type code (OM_PR_SCSI_WE_RO...) when held */
};
/* Parses the parameter data of READ KEYS (len bytes received) into st's generation and
 * keys. -EBADMSG when len is shorter than the header or the additional length is not a
 * multiple of 8. */
int om_pr_parse_keys(const uint8_t *buf, size_t len, struct om_pr_state *st);
/* Parses the parameter data of READ RESERVATION into st's held, holder, type. -EBADMSG
 * when too short for what the header announces. */
int om_pr_parse_reservation(const uint8_t *buf, size_t len, struct om_pr_state *st);
/* "ILLEGAL REQUEST, asc/ascq 0x20/0x00 (invalid command operation code)" from fixed or
 * descriptor format sense data; "no sense data" when len is 0 or the format unknown. */
void om_pr_sense_format(const uint8_t *sense, size_t len, char *buf, size_t buflen);
/* The sense key of sense data, -1 when none. */
int om_pr_sense_key(const uint8_t *sense, size_t len);
/* A PR ioctl's return value as a negative errno: the ioctl returns -1/errno, or (older
 * kernels) the SCSI result, positive: 0x18 RESERVATION CONFLICT is -EBADE, others
 * -EIO. what gets a short description ("reservation conflict"). */
int om_pr_ioctl_result(int rv, int err, const char **what);

/* Reads the keys and the reservation of dev. -EOPNOTSUPP when dev does not support
 * persistent reservations (not a SCSI device, or the command refused: the reason with
 * the sense is in err). A unit attention is retried. */
int om_pr_read(const char *dev, struct om_pr_state *ret, char *err, size_t errlen);
/* Registers key (REGISTER AND IGNORE EXISTING KEY). */
int om_pr_register(const char *dev, uint64_t key, char *err, size_t errlen);
/* Removes the registration of key. */
int om_pr_unregister(const char *dev, uint64_t key, char *err, size_t errlen);
int om_pr_reserve(const char *dev, uint64_t key, char *err, size_t errlen);
int om_pr_release(const char *dev, uint64_t key, char *err, size_t errlen);
/* PREEMPT AND ABORT of victim by key (registered), taking the reservation (WE-RO). */
int om_pr_preempt_abort(const char *dev, uint64_t key, uint64_t victim, char *err, size_t errlen);
/* CLEAR by key (registered): every registration and the reservation go. */
int om_pr_clear(const char *dev, uint64_t key, char *err, size_t errlen);
