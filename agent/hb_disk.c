/*
 * The disk heartbeat streams (`[hb#N] type = disk`): every interval this node seals a
 * beat (the payload of the network beats, frame type OM_HB_DISK_BEAT), and a job in the
 * thread pool writes it to this node's slot of the shared device with O_DIRECT and
 * O_DSYNC, then reads every node's slot back in one read; the loop thread judges the
 * slots (cluster/hb_disk.h) and takes in the new beats as any beat. The loop never
 * touches the device: a device that hangs holds one thread of the pool and this stream
 * (a tick finding a job in flight skips, counted as busy), nothing else.
 *
 * Before its first write, the job only reads: this node writes its slot once the slot
 * was found blank, its own or a former node's (om_hbd_own_slot_check), so a `dev` that
 * names a disk holding data, or a node list that disagrees with another node's, is an
 * error in the daemon log, never an overwrite.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "cluster/cl_mp.h"
#include "core/log.h"
#include "core/util.h"
#include "secrets/cluster_key.h"

struct hbd_job {
        uv_work_t work;
        struct om_hb_stream *s;
        char dev[256];
        int fd;     /* the stream's, or -1: the job opens it */
        bool write; /* our slot is ours: write it before reading */
        size_t self, n_nodes;
        uint64_t queued;                   /* loop time the job was queued */
        uint64_t lends[OM_HB_HEARS_WORDS]; /* the peers the beat written lends our vote to */
        uint8_t *buf;                      /* aligned: our slot to write, then the slots read */
        size_t n_read;                     /* slots read, from node 0 */
        int r;                             /* 0, or the errno of the failed step (in err) */
        bool wrote;
        char err[320];
};

static uint8_t *slot_out(struct hbd_job *j) {
        return j->buf;
}

static uint8_t *slot_in(struct hbd_job *j, size_t i) {
        return j->buf + OM_HBD_SLOT_SIZE * (1 + i);
}

static int dev_size(int fd, uint64_t *ret) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISBLK(st.st_mode))
                return ioctl(fd, BLKGETSIZE64, ret) < 0 ? -errno : 0;
        if (!S_ISREG(st.st_mode))
                return -ENOTBLK;
        *ret = (uint64_t)st.st_size;
        return 0;
}

static void job_fail(struct hbd_job *j, int r, const char *what) {
        j->r = r;
        snprintf(j->err, sizeof(j->err), "%s: %s: %s", j->dev, what, strerror(-r));
}

static void hbd_work(uv_work_t *w) {
        struct hbd_job *j = container_of(w, struct hbd_job, work);
        uint64_t size = 0;
        int r;
        if (j->fd < 0) {
                j->fd = open(j->dev, O_RDWR | O_DIRECT | O_DSYNC | O_CLOEXEC);
                if (j->fd < 0)
                        return job_fail(j, -errno, "cannot open with O_DIRECT");
        }
        if ((r = dev_size(j->fd, &size)) < 0)
                return job_fail(j, r,
                                r == -ENOTBLK ? "neither a block device nor a file"
                                              : "cannot read its size");
        size_t fit = om_hbd_slots_fit(size);
        if (j->self >= fit) {
                j->r = -ENOSPC;
                snprintf(j->err, sizeof(j->err),
                         "%s: %llu bytes, too small for the slot of node %zu: the slots of %zu "
                         "nodes need %llu bytes ((nodes + 1) x %d)",
                         j->dev, (unsigned long long)size, j->self + 1, j->n_nodes,
                         (unsigned long long)om_hbd_slot_offset(j->n_nodes), OM_HBD_SLOT_SIZE);
                return;
        }
        if (j->write) {
                ssize_t n = pwrite(j->fd, slot_out(j), OM_HBD_SLOT_SIZE,
                                   (off_t)om_hbd_slot_offset(j->self));
                if (n != OM_HBD_SLOT_SIZE)
                        return job_fail(j, n < 0 ? -errno : -EIO, "cannot write this node's slot");
                j->wrote = true;
        }
        size_t want = OM_MIN(j->n_nodes, fit);
        if (want < j->n_nodes)
                snprintf(j->err, sizeof(j->err),
                         "%s: %llu bytes hold the slots of %zu nodes, not of the %zu of the "
                         "cluster: the last are not read ((nodes + 1) x %d bytes needed)",
                         j->dev, (unsigned long long)size, fit, j->n_nodes, OM_HBD_SLOT_SIZE);
        ssize_t n =
                pread(j->fd, slot_in(j, 0), want * OM_HBD_SLOT_SIZE, (off_t)om_hbd_slot_offset(0));
        if (n < 0)
                return job_fail(j, -errno, "cannot read the slots");
        j->n_read = (size_t)n / OM_HBD_SLOT_SIZE;
}

/* An error is logged when it differs from the stream's last one, and its end once. */
static void stream_error(struct om_hb_stream *s, const char *err) {
        if (strcmp(s->error, err) == 0)
                return;
        om_log_set_component("hb");
        if (err[0])
                log_error("%s: %s", s->agent->cfg->hb[s->index].name, err);
        else
                log_info("%s: the disk heartbeat works again", s->agent->cfg->hb[s->index].name);
        snprintf(s->error, sizeof(s->error), "%s", err);
}

static void hbd_after(uv_work_t *w, int status) {
        struct hbd_job *j = container_of(w, struct hbd_job, work);
        struct om_hb_stream *s = j->s;
        struct om_agent *a = s->agent;
        s->inflight = false;
        if (j->fd >= 0 && s->fd < 0)
                s->fd = j->fd;
        if (status < 0 || a->stopping)
                goto out;
        if (j->wrote) {
                /* the promise of the beat counts from now, when a reader may see it */
                uv_update_time(&a->loop);
                om_agent_endorsed(a, j->lends, uv_now(&a->loop));
                for (size_t i = 0; i < a->n_peers; i++) /* a slot is one beat to each */
                        if (!a->peers[i].self)
                                a->peers[i].tx_frames[s->index]++;
                s->io_writes++;
                s->io_write_bytes += OM_HBD_SLOT_SIZE;
                s->st.tx_frames++;
                s->st.tx_bytes += OM_HBD_SLOT_SIZE;
        } else if (j->write)
                s->st.tx_errors++;
        if (j->n_read) {
                s->io_reads++;
                s->io_read_bytes += j->n_read * OM_HBD_SLOT_SIZE;
        }
        /* the node list changed while the job ran (a reload): its slots say nothing */
        if (j->self != (size_t)a->self_idx || j->n_nodes != a->cfg->n_nodes)
                goto out;
        char err[320] = "";
        snprintf(err, sizeof(err), "%s", j->err);
        /* our own slot: ours to write before the first write, and still ours after */
        if (j->self < j->n_read) {
                char owner[OM_HB_SENDER_MAX + 1];
                int r = om_hbd_own_slot_check(slot_in(j, j->self), a->self, a->cfg->n_nodes,
                                              (const char(*)[64])a->cfg->nodes, owner);
                if (r == -ENOTBLK)
                        snprintf(err, sizeof(err),
                                 "%s: block %zu (this node's slot) holds data that is not a disk "
                                 "heartbeat slot: not written (is dev the right device?)",
                                 j->dev, j->self + 1);
                else if (r == -EEXIST)
                        snprintf(err, sizeof(err),
                                 "%s: block %zu (this node's slot) holds the beats of %s: the "
                                 "nodes lists of cluster.conf differ between nodes%s",
                                 j->dev, j->self + 1, owner, s->own_checked ? "" : "; not written");
                else if (!s->own_checked) {
                        s->own_checked = true;
                        uv_timer_again(&s->timer); /* the first write, at once */
                }
        }
        stream_error(s, err);

        struct om_hb_rx_ctx ctx = om_agent_hb_rx_ctx(a, s->dwin, OM_HB_DISK_BEAT);
        /* When a new beat counts as received. It was not on the device when the previous
         * read began (that read would have seen it), so its writer's write, and the
         * promise of the vote it lends (from the end of the write), came after that
         * moment. A receiver may count a beat's vote for the vote window after receipt,
         * and the writer holds its promise for the vote window plus the stall bound
         * (cluster/cl_view.h): counted as received when this job was queued, but never
         * later than the stall bound after the previous read began, the vote ends before
         * the promise does. */
        uint64_t slack = om_promise_hold(a->interval, a->timeout) - om_vote_window(a->interval);
        uint64_t when = OM_MIN(j->queued, s->read_prev + slack);
        for (size_t i = 0; i < j->n_read && i < a->cfg->n_nodes; i++) {
                struct om_hb_beat beat;
                if (om_hbd_slot_receive(&ctx, &s->st, &s->slots[i], i, slot_in(j, i), &beat) == 1 &&
                    s->read_prev)
                        om_agent_beat_accepted(a, s->index, &beat, when);
        }
        if (j->n_read)
                s->read_prev = j->queued;
out:
        free(j->buf);
        free(j);
}

static void hbd_tick(uv_timer_t *t) {
        struct om_hb_stream *s = container_of(t, struct om_hb_stream, timer);
        struct om_agent *a = s->agent;
        const struct om_cl_hb_conf *conf = &a->cfg->hb[s->index];
        if (a->stopping)
                return;
        if (s->inflight) {
                s->io_busy++;
                return;
        }
        struct hbd_job *j = calloc(1, sizeof(*j));
        if (!j)
                return;
        j->s = s;
        j->fd = s->fd;
        j->self = (size_t)a->self_idx;
        j->n_nodes = a->cfg->n_nodes;
        j->queued = uv_now(&a->loop);
        j->write = s->own_checked;
        snprintf(j->dev, sizeof(j->dev), "%s", conf->dev);
        if (posix_memalign((void **)&j->buf, OM_HBD_SLOT_SIZE,
                           OM_HBD_SLOT_SIZE * (1 + j->n_nodes)) != 0) {
                free(j);
                return;
        }
        if (j->write) {
                uint8_t payload[256], frame[OM_HB_UDP_MAX];
                struct om_hb_info info = {
                        .type = OM_HB_DISK_BEAT, .keygen = a->keygen, .seq = ++a->seq};
                snprintf(info.sender, sizeof(info.sender), "%s", a->self);
                memcpy(info.boot_id, a->boot_id, OM_HB_BOOT_ID_LEN);
                int plen = om_agent_beat_payload(a, j->lends, payload, sizeof(payload));
                int flen = plen < 0 ? plen
                                    : om_hb_seal(a->hb_key, &info, payload, (size_t)plen, frame,
                                                 sizeof(frame));
                if (flen < 0 || om_hbd_slot_pack(frame, (size_t)flen, slot_out(j)) < 0) {
                        s->st.tx_errors++;
                        j->write = false;
                }
        }
        if (uv_queue_work(&a->loop, &j->work, hbd_work, hbd_after) < 0) {
                free(j->buf);
                free(j);
                return;
        }
        s->inflight = true;
}

int om_hbd_start(struct om_agent *a, size_t h) {
        struct om_hb_stream *s = &a->hb[h];
        const struct om_cl_hb_conf *conf = &a->cfg->hb[h];
        s->agent = a;
        s->index = (int)h;
        s->disk = true;
        s->fd = -1;
        snprintf(s->bind, sizeof(s->bind), "%s", conf->dev);
        int r = uv_timer_init(&a->loop, &s->timer);
        if (r < 0)
                return r;
        /* the first job reads at once; its repeat is the stream's interval */
        uv_timer_start(&s->timer, hbd_tick, 0, conf->interval_ms);
        s->running = true;
        return 0;
}

void om_hbd_nodes_moved(struct om_agent *a, const int *from, size_t n) {
        for (size_t h = 0; h < a->n_hb; h++) {
                struct om_hb_stream *s = &a->hb[h];
                if (!s->disk)
                        continue;
                struct om_hb_window win[OM_CL_NODES_MAX] = {0};
                struct om_hbd_slot_state slots[OM_CL_NODES_MAX] = {0};
                for (size_t i = 0; i < n && i < OM_CL_NODES_MAX; i++)
                        if (from[i] >= 0) {
                                win[i] = s->dwin[from[i]];
                                /* a node whose slot moved is read afresh (primed again) */
                                if ((size_t)from[i] == i)
                                        slots[i] = s->slots[i];
                        }
                memcpy(s->dwin, win, sizeof(win));
                memcpy(s->slots, slots, sizeof(slots));
                if (from[a->self_idx] != a->self_idx)
                        s->own_checked = false; /* our slot moved: check it before writing */
        }
}

void om_hbd_pack_io(const struct om_hb_stream *s, msgpack_packer *pk) {
        msgpack_pack_map(pk, 5);
        om_cl_mp_kv_u64(pk, "reads", s->io_reads);
        om_cl_mp_kv_u64(pk, "read_bytes", s->io_read_bytes);
        om_cl_mp_kv_u64(pk, "writes", s->io_writes);
        om_cl_mp_kv_u64(pk, "write_bytes", s->io_write_bytes);
        om_cl_mp_kv_u64(pk, "busy", s->io_busy);
}
