/*
 * The cluster simulator: N nodes (2 to 16), each running the real liveness judgement,
 * view, quorum, restart guard and decide step (cluster/cl_view.h, cluster/cl_decide.h),
 * over a simulated network and clock. Nothing here decides for a node: the simulator
 * only carries messages (beats, node data pulls, arbitrator requests), runs the actions
 * the decisions ask for (a start or stop takes some time and may fail), and injects
 * faults: message delay and loss, partitions, one-way loss, a node paused (no decision,
 * no message; resumed with every timer late, which is the stall path), a power loss
 * (its services die; restarted blank) or an agent crash (its services keep running;
 * restarted with the state kept), and an arbitrator reached by some nodes only.
 *
 * After every event the invariants are checked:
 * - safety: never two nodes that both believe they may run one failover service (the
 *   instance starting, or up and not being stopped, on each, each holding the quorum);
 * - liveness: while nothing is cut or paused and a quorum can exist, a service that runs
 *   nowhere runs again within the bound (timeout, the arbitrator's lease when one
 *   decides, ready period, evaluation, a start's duration);
 * - convergence: after the last fault heals, within two timeouts (plus the actions),
 *   every service runs on exactly one node and every node's view agrees with the others.
 *
 * Two arbitrator models: the TCP-connect arbitrator the agent probed until now (a vote
 * for every node that reaches it), kept as a scenario that must break safety (so this
 * test shows the simulator catches a double start), and the lease arbitrator that gives
 * its vote to one partition at a time: cluster/arb_vote.h, the code the arbitrator
 * daemon and the agent run.
 *
 * Found and fixed with it: on links that lose most frames (OM_SIM_SEED=25136 before the
 * fix: two nodes and the lease arbitrator, 70% of the frames between them lost) a node
 * counted a peer's vote on the word of a beat the peer sent just before it stopped
 * hearing it, while the peer, holding the arbitrator's vote, took over: one vote on both
 * sides. Votes are now lent for a bounded time and the lender waits its promises out
 * (cluster/cl_view.h, "A vote is lent for a bounded time"). And a thawed owner whose
 * stop took longer than a timeout made the node that took over stop its copy too, and
 * the service went back to the owner ("...thawed, its stop slow" scenarios). ctest runs
 * the schedules from seed 1; tests/bench/bench-sim.sh the long runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cluster/arb_vote.h"
#include "cluster/cl_decide.h"
#include "cluster/cl_quorum.h"
#include "cluster/cl_view.h"

#define MAXN 16
#define MAXS 3
#define INTERVAL 100
#define TIMEOUT 300
#define EVAL_MS 50
#define READY 150
#define LEASE OM_ARB_LEASE_MIN_MS /* the lease arbitrator's lease */
#define WINDOW (LEASE / 3)        /* a contest for the vote lasts this long */
#define STALL_LIMIT (INTERVAL > TIMEOUT / 2 ? INTERVAL : TIMEOUT / 2)
#define ARB (MAXN) /* the arbitrator's index as a message endpoint */

/* ---- a tiny deterministic random generator (the seed replays a schedule) ---- */

static uint64_t rng;
static uint32_t rnd(void) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng >> 16);
}
static uint32_t rnd_in(uint32_t lo, uint32_t hi) { /* [lo, hi] */
        return lo + rnd() % (hi - lo + 1);
}
static bool chance(uint32_t permille) {
        return rnd() % 1000 < permille;
}

/* ---- events ---- */

/* at equal times: timers first, then the actions' ends, then I/O (as a libuv loop
 * that wakes late runs its timers before it reads the frames queued meanwhile) */
enum ev_kind { EV_TICK, EV_EVAL, EV_JOB, EV_MSG, EV_FAULT };

struct ev {
        uint64_t at;
        uint64_t seq;
        uint8_t kind;
        uint8_t node;
        uint32_t arg;   /* EV_JOB: service; EV_MSG: message index; EV_FAULT: fault index */
        uint32_t token; /* the incarnation it belongs to (stale events are dropped) */
};

enum msg_kind { M_BEAT, M_PULL, M_DATA, M_ARB_REQ, M_ARB_ANS };

struct msg {
        uint8_t kind, from, to;
        bool next_free;
        uint32_t boot;
        uint64_t gen;
        uint64_t hears[OM_HB_HEARS_WORDS];
        uint64_t lends[OM_HB_HEARS_WORDS];
        size_t n_inst;
        struct om_cl_instance inst[MAXS];
        uint32_t load15; /* the sender's metrics (placement load avg) */
        /* arbitrator */
        uint64_t sent;
        uint64_t stalls; /* M_PULL, M_DATA: the puller's stall count when it asked */
        uint32_t view;
        int services;
        int answer; /* ARB_TCP: 1 answered; ARB_LEASE: enum om_arb_kind */
        uint64_t lease_ms;
        uint32_t holders;
        bool holders_known;
};

enum arb_model { ARB_NONE, ARB_TCP, ARB_LEASE };

struct job {
        bool on;
        uint32_t token; /* node's incarnation */
        uint32_t power; /* node's power epoch: a power loss ends it for good */
        enum om_mon state;
        bool refresh, ok;
};

struct node {
        bool up;      /* the agent runs */
        bool powered; /* the machine runs (its services with it) */
        bool paused;
        uint64_t pause_until;
        uint32_t boot, power;
        struct om_peer peers[MAXN];
        struct om_cl_instance pinst[MAXN][MAXS];
        struct om_cl_nodedata local;
        struct om_cl_instance linst[MAXS];
        struct om_dec_obj st[MAXS];
        struct job job[MAXS];
        bool avail[MAXS]; /* the service runs here, whatever the agent knows */
        uint64_t started, tick_due, stalls, stall_until;
        bool boot_ready, quorum_have, quorum_keep;
        bool kick;
        uint64_t pull_at[MAXN];
        uint32_t fail_permille; /* actions fail this often here */
        /* arbitrator, as this node sees it */
        bool arb_ok;               /* ARB_TCP: the last probe answered */
        struct om_arb_license lic; /* ARB_LEASE (cluster/arb_vote.h) */
};

struct link {
        int cut;       /* faults that cut it now */
        uint32_t loss; /* permille */
};

enum fault_kind {
        F_PARTITION, /* arg: the side mask; both directions */
        F_ONEWAY,    /* a -> b lost */
        F_LOSS,      /* a <-> b lossy */
        F_PAUSE,
        F_POWER,     /* power loss, restarted blank after dur (0: never) */
        F_AGENT,     /* agent crash, restarted with its services still up */
        F_HEAL,      /* every link whole again */
        F_ARB_REACH, /* arb reachable by the nodes in mask only */
};

struct fault {
        enum fault_kind kind;
        uint64_t at, dur;
        uint32_t mask;
        int a, b;
        uint32_t loss;
};

#define MAXF 16
#define HEAP_MAX 65536
#define MSG_MAX 8192

struct sim {
        int n, ns;
        enum arb_model arb;
        bool quorum;
        struct om_dec_cfg cfg[MAXS];
        struct node nodes[MAXN];
        struct link link[MAXN + 1][MAXN + 1]; /* [from][to], ARB included */
        uint32_t arb_reach;                   /* nodes that reach the arbitrator */
        uint64_t now, seq;
        struct ev heap[HEAP_MAX];
        size_t n_heap;
        struct msg msgs[MSG_MAX];
        uint32_t msg_free[MSG_MAX];
        size_t n_msg_free;
        struct fault faults[MAXF];
        size_t n_faults;
        uint64_t end, heal_at, quiet_since;
        uint64_t whole_since;  /* the network is whole (nothing cut, lossy or paused) since */
        uint64_t started_last; /* an agent (re)started last at */
        uint32_t stop_ms;      /* the scenario's stop duration, 0 random */
        bool faults_over, failures;
        /* the lease arbitrator: cluster/arb_vote.h's state */
        struct om_arb_vote arbv;
        /* invariants */
        uint64_t down_since[MAXS]; /* 0: runs somewhere or not checked */
        char violation[512];
        bool trace;
        uint64_t events;
};

static struct sim S;

static void trace(const char *fmt, ...) _printf_(1, 2);
static void trace(const char *fmt, ...) {
        if (!S.trace)
                return;
        va_list ap;
        va_start(ap, fmt);
        printf("%6llu ", (unsigned long long)S.now);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
}

static void violate(const char *fmt, ...) _printf_(1, 2);
static void violate(const char *fmt, ...) {
        if (S.violation[0])
                return;
        va_list ap;
        va_start(ap, fmt);
        int o = snprintf(S.violation, sizeof(S.violation), "t=%llu: ", (unsigned long long)S.now);
        vsnprintf(S.violation + o, sizeof(S.violation) - (size_t)o, fmt, ap);
        va_end(ap);
}

static bool ev_before(const struct ev *x, const struct ev *y) {
        if (x->at != y->at)
                return x->at < y->at;
        if (x->kind != y->kind)
                return x->kind < y->kind;
        return x->seq < y->seq;
}

static void push(uint64_t at, enum ev_kind kind, int node, uint32_t arg, uint32_t token) {
        if (S.n_heap >= HEAP_MAX) {
                violate("simulator: event heap full");
                return;
        }
        struct ev e = {.at = at,
                       .seq = S.seq++,
                       .kind = (uint8_t)kind,
                       .node = (uint8_t)node,
                       .arg = arg,
                       .token = token};
        size_t i = S.n_heap++;
        while (i > 0 && ev_before(&e, &S.heap[(i - 1) / 2])) {
                S.heap[i] = S.heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        S.heap[i] = e;
}

static struct ev pop(void) {
        struct ev top = S.heap[0], last = S.heap[--S.n_heap];
        size_t i = 0;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= S.n_heap)
                        break;
                if (c + 1 < S.n_heap && ev_before(&S.heap[c + 1], &S.heap[c]))
                        c++;
                if (!ev_before(&S.heap[c], &last))
                        break;
                S.heap[i] = S.heap[c];
                i = c;
        }
        if (S.n_heap)
                S.heap[i] = last;
        return top;
}

/* ---- network ---- */

static struct msg *msg_new(int kind, int from, int to) {
        if (!S.n_msg_free) {
                violate("simulator: message pool full");
                return NULL;
        }
        struct msg *m = &S.msgs[S.msg_free[--S.n_msg_free]];
        memset(m, 0, offsetof(struct msg, inst)); /* the instances are copied in whole */
        memset(&m->sent, 0, sizeof(*m) - offsetof(struct msg, sent));
        m->kind = (uint8_t)kind;
        m->from = (uint8_t)from;
        m->to = (uint8_t)to;
        return m;
}

static void msg_free(struct msg *m) {
        S.msg_free[S.n_msg_free++] = (uint32_t)(m - S.msgs);
}

static void net_send(struct msg *m) {
        const struct link *l = &S.link[m->from][m->to];
        bool arb_side = m->from == ARB || m->to == ARB;
        int node = m->from == ARB ? m->to : m->from;
        if (l->cut || (l->loss && chance(l->loss)) || (arb_side && !(S.arb_reach & (1u << node)))) {
                msg_free(m);
                return;
        }
        push(S.now + rnd_in(1, 8), EV_MSG, m->to == ARB ? 0 : m->to, (uint32_t)(m - S.msgs), 0);
}

/* ---- a node's agent ---- */

static struct om_view view_of(struct node *nd, int self) {
        return (struct om_view){.peers = nd->peers,
                                .n = (size_t)S.n,
                                .self = self,
                                .local = &nd->local,
                                .stalled = S.now < nd->stall_until,
                                .now = S.now,
                                .vote_ms = om_vote_window(INTERVAL)};
}

static uint32_t view_mask(struct node *nd, int self) {
        struct om_view v = view_of(nd, self);
        uint32_t m = 0;
        for (int i = 0; i < S.n; i++)
                if (om_view_votes(&v, (size_t)i))
                        m |= 1u << i;
        return m;
}

/* The nodes this node hears and those it lends its vote to, as its beats carry them
 * (each lent vote a promise: daemon.c). */
static void hears_of(struct node *nd, int self, struct msg *m) {
        struct om_view v = view_of(nd, self);
        memset(m->hears, 0, sizeof(m->hears));
        memset(m->lends, 0, sizeof(m->lends));
        for (int i = 0; i < S.n; i++) {
                if (i != self && om_view_heard(&v, (size_t)i))
                        m->hears[0] |= 1ull << i;
                if (om_view_endorses(&v, (size_t)i)) {
                        m->lends[0] |= 1ull << i;
                        nd->peers[i].endorsed_at = S.now;
                }
        }
}

/* A node's 15-minute load (x 100) at now: it moves every LOAD_EPOCH ms until the heal,
 * differently on each node, so that the leader of a `load avg` service changes under the
 * faults. */
#define LOAD_EPOCH 1000
static uint32_t load_at(int self, uint64_t now) {
        uint64_t h = (uint64_t)(self + 1) * 0x9e3779b97f4a7c15ULL ^ (now / LOAD_EPOCH);
        h ^= h >> 31;
        h *= 0xbf58476d1ce4e5b9ULL;
        h ^= h >> 29;
        return (uint32_t)(h % 400);
}

/* The local node data, as om_cl_nodedata_collect and om_orch_fill make it. */
static void collect(struct node *nd, int self) {
        struct om_cl_instance fresh[MAXS];
        memset(fresh, 0, sizeof(fresh));
        for (int s = 0; s < S.ns; s++) {
                struct om_cl_instance *in = &fresh[s];
                const char *avail = nd->st[s].state == OM_MON_STOP_FAILED ? "warn"
                                    : nd->avail[s]                        ? "up"
                                                                          : "down";
                memcpy(in->path, S.cfg[s].path, sizeof(in->path));
                strcpy(in->avail, avail);
                strcpy(in->overall, avail);
                in->provisioned = true;
                in->monitor = nd->st[s].state;
                if (nd->st[s].tver) {
                        memcpy(in->target, nd->st[s].target, sizeof(in->target));
                        in->target_ver = nd->st[s].tver;
                        memcpy(in->target_writer, nd->st[s].twriter, sizeof(in->target_writer));
                        in->target_done = nd->st[s].tdone;
                }
        }
        /* still after the heal: the convergence checks want a view that settles */
        uint32_t load = load_at(self, S.now < S.heal_at ? S.now : S.heal_at);
        if (nd->local.gen && memcmp(fresh, nd->linst, sizeof(fresh)) == 0 &&
            nd->local.load15 == load)
                return;
        memcpy(nd->linst, fresh, sizeof(fresh));
        nd->local.metrics = true;
        nd->local.load15 = load;
        nd->local.mem_avail = 500;
        nd->local.ncpu = 2;
        nd->local.inst = nd->linst;
        nd->local.n_inst = (size_t)S.ns;
        nd->local.inst_sorted = true; /* s1 < s2 < s3 */
        nd->local.gen++;
        /* beaten at once */
        for (int i = 0; i < S.n; i++) {
                if (i == self)
                        continue;
                struct msg *m = msg_new(M_BEAT, self, i);
                if (!m)
                        return;
                m->boot = nd->boot;
                m->gen = nd->local.gen;
                hears_of(nd, self, m);
                net_send(m);
        }
}

static void kick(int self) {
        struct node *nd = &S.nodes[self];
        if (!nd->kick) {
                nd->kick = true;
                push(S.now, EV_EVAL, self, 1, nd->boot);
        }
}

static void set_peer_state(struct node *nd, int self, int i, enum om_peer_state s) {
        if (nd->peers[i].state == s)
                return;
        trace("n%d: node n%d %s => %s", self + 1, i + 1,
              om_peer_state_to_string(nd->peers[i].state), om_peer_state_to_string(s));
        nd->peers[i].state = s;
        kick(self);
}

static void judge(struct node *nd, int self) {
        for (int i = 0; i < S.n; i++)
                if (i != self)
                        set_peer_state(nd, self, i,
                                       om_peer_judge(&nd->peers[i], S.now, INTERVAL, TIMEOUT));
}

static void job_start(struct node *nd, int self, int s, const struct om_eff *e) {
        struct job *j = &nd->job[s];
        j->on = true;
        j->token = nd->boot;
        j->power = nd->power;
        j->state = e->to;
        j->refresh = e->kind == OM_EFF_REFRESH;
        j->ok = j->refresh || !chance(nd->fail_permille);
        trace("n%d: %s %s", self + 1, S.cfg[s].path, j->refresh ? "refresh" : om_mon_action(e->to));
        uint64_t dur = j->refresh                              ? rnd_in(2, 10)
                       : S.stop_ms && e->to == OM_MON_STOPPING ? S.stop_ms
                                                               : rnd_in(20, 150);
        push(S.now + dur, EV_JOB, self, (uint32_t)s, nd->boot);
}

static void apply(struct node *nd, int self, int s, const struct om_decision *d) {
        for (size_t k = 0; k < d->n; k++) {
                const struct om_eff *e = &d->eff[k];
                switch (e->kind) {
                case OM_EFF_STATE:
                        trace("n%d: %s monitor status change: %s => %s%s%s", self + 1,
                              S.cfg[s].path, om_mon_to_string(e->from), om_mon_to_string(e->to),
                              e->why[0] ? ": " : "", e->why);
                        break;
                case OM_EFF_SPAWN:
                case OM_EFF_REFRESH:
                        job_start(nd, self, s, e);
                        break;
                case OM_EFF_WAKE:
                        push(e->at, EV_EVAL, self, 1, nd->boot);
                        break;
                default:
                        break;
                }
        }
}

/* The arbitrator's weight this node counts now: 1 vote, 0 none; *keep when a lease
 * holds that is not counted (start nothing, split nothing for it). */
static int arb_votes(struct node *nd, int self, bool *keep) {
        *keep = false;
        if (S.arb == ARB_TCP)
                return nd->arb_ok;
        if (S.arb != ARB_LEASE)
                return 0;
        struct om_arb_set view = {0};
        uint32_t m = view_mask(nd, self);
        for (int i = 0; i < S.n; i++)
                if (m >> i & 1)
                        om_arb_set_add(&view, (size_t)i);
        enum om_arb_count c = om_arb_license_count(&nd->lic, &view, S.now);
        *keep = c == OM_ARB_COUNT_KEEP;
        return c == OM_ARB_COUNT_VOTE;
}

static void quorum_update(struct node *nd, int self) {
        struct om_view v = view_of(nd, self);
        struct om_quorum q;
        bool keep;
        int votes = arb_votes(nd, self, &keep);
        om_view_quorum(&v, S.quorum, S.arb != ARB_NONE, votes, keep, &q);
        if (nd->quorum_have != q.have || nd->quorum_keep != q.keep)
                trace("n%d: quorum %s: %d/%d votes (arbitrator %d)", self + 1,
                      q.have   ? "held"
                      : q.keep ? "in doubt"
                               : "not held",
                      q.votes, q.total, votes);
        nd->quorum_have = q.have;
        nd->quorum_keep = q.keep;
}

static void eval(int self) {
        struct node *nd = &S.nodes[self];
        nd->kick = false;
        /* the judge timer: not while a stall is pending (the late tick handles it) */
        if (S.now - nd->tick_due < STALL_LIMIT || S.now < nd->tick_due)
                judge(nd, self);
        struct om_view v = view_of(nd, self);
        quorum_update(nd, self);
        if (!nd->boot_ready) {
                bool any_init = false;
                for (int s = 0; s < S.ns; s++)
                        any_init |= nd->st[s].state == OM_MON_INIT;
                nd->boot_ready = om_decide_boot_ready(&v, S.now, nd->started, TIMEOUT, any_init);
        }
        char self_name[8];
        snprintf(self_name, sizeof(self_name), "n%d", self + 1);
        const struct om_dec_ctx c = {
                .view = &v,
                .self = self_name,
                .now = S.now,
                .timeout = TIMEOUT,
                .stalls = nd->stalls,
                .quorum_enabled = S.quorum,
                .quorum_have = nd->quorum_have,
                .quorum_keep = nd->quorum_keep,
                .boot_ready = nd->boot_ready,
                .promise_end = om_view_promise_end(&v, om_promise_hold(INTERVAL, TIMEOUT))};
        for (int s = 0; s < S.ns; s++) {
                struct om_decision d;
                d.n = 0; /* not zeroed whole: see cl_decide.h */
                om_decide(&c, &S.cfg[s], &nd->st[s], NULL, &d);
                apply(nd, self, s, &d);
        }
        collect(nd, self);
}

static void send_beats(struct node *nd, int self) {
        for (int i = 0; i < S.n; i++) {
                if (i == self)
                        continue;
                struct msg *m = msg_new(M_BEAT, self, i);
                if (!m)
                        return;
                m->boot = nd->boot;
                m->gen = nd->local.gen;
                hears_of(nd, self, m);
                net_send(m);
        }
        if (S.arb == ARB_TCP) {
                /* a connect answered at once, or refused after a timeout */
                struct msg *m = msg_new(M_ARB_ANS, ARB, self);
                if (!m)
                        return;
                m->answer = (S.arb_reach >> self) & 1;
                m->boot = nd->boot;
                if (m->answer)
                        net_send(m);
                else
                        push(S.now + TIMEOUT, EV_MSG, self, (uint32_t)(m - S.msgs), 0);
        } else if (S.arb == ARB_LEASE) {
                struct msg *m = msg_new(M_ARB_REQ, self, ARB);
                if (!m)
                        return;
                m->sent = S.now;
                m->boot = nd->boot;
                m->view = view_mask(nd, self);
                for (int s = 0; s < S.ns; s++)
                        m->services += nd->avail[s];
                net_send(m);
        }
}

static void tick(int self) {
        struct node *nd = &S.nodes[self];
        uint64_t late = S.now > nd->tick_due ? S.now - nd->tick_due : 0;
        nd->tick_due = S.now + INTERVAL;
        push(S.now + INTERVAL, EV_TICK, self, 0, nd->boot);
        if (late >= STALL_LIMIT) {
                nd->stalls++;
                nd->stall_until = S.now + 2 * TIMEOUT;
                trace("n%d: loop stalled %llums", self + 1, (unsigned long long)late);
                for (int i = 0; i < S.n; i++) {
                        nd->peers[i].last_rx = S.now;
                        om_peer_stalled(&nd->peers[i]);
                }
                quorum_update(nd, self);
                kick(self);
        }
        send_beats(nd, self);
        judge(nd, self);
}

static void agent_start(int self) {
        struct node *nd = &S.nodes[self];
        S.started_last = S.now;
        nd->up = true;
        nd->boot++;
        nd->kick = false;
        nd->started = S.now;
        nd->tick_due = S.now + INTERVAL;
        nd->stalls = nd->stall_until = 0;
        nd->boot_ready = nd->quorum_have = nd->quorum_keep = false;
        nd->arb_ok = false;
        memset(&nd->lic, 0, sizeof(nd->lic));
        memset(nd->peers, 0, sizeof(nd->peers));
        for (int i = 0; i < S.n; i++) {
                struct om_peer *p = &nd->peers[i];
                snprintf(p->name, sizeof(p->name), "n%d", i + 1);
                p->self = i == self;
                p->state = p->self ? OM_PEER_UP : OM_PEER_UNKNOWN;
                p->last_rx = S.now;
                p->endorsed_at = p->self ? 0 : S.now; /* as daemon.c: an old promise */
                nd->pull_at[i] = 0;
        }
        memcpy(nd->peers[self].boot_id, &nd->boot, sizeof(nd->boot));
        memset(&nd->local, 0, sizeof(nd->local));
        memset(nd->linst, 0, sizeof(nd->linst));
        for (int s = 0; s < S.ns; s++) {
                memset(&nd->st[s], 0, sizeof(nd->st[s]));
                nd->st[s].state = OM_MON_INIT;
                nd->st[s].present = true;
                nd->job[s].on = false;
        }
        collect(nd, self);
        push(S.now + INTERVAL, EV_TICK, self, 0, nd->boot);
        push(S.now + EVAL_MS, EV_EVAL, self, 0, nd->boot);
        kick(self);
}

/* ---- receiving ---- */

static void recv_msg(struct msg *m) {
        if (m->to == ARB) {
                /* the lease arbitrator, cluster/arb_vote.h's rule */
                char names[MAXN][8];
                const char *view[MAXN];
                size_t n_view = 0;
                for (int i = 0; i < S.n; i++)
                        if (m->view >> i & 1) {
                                snprintf(names[n_view], sizeof(names[0]), "n%d", i + 1);
                                view[n_view] = names[n_view];
                                n_view++;
                        }
                char me[8];
                snprintf(me, sizeof(me), "n%d", m->from + 1);
                struct om_arb_request req = {.node = me,
                                             .view = view,
                                             .n_view = n_view,
                                             .services = (uint32_t)m->services};
                struct om_arb_answer ans;
                if (om_arb_vote_request(&S.arbv, &req, S.now, &ans) < 0) {
                        violate("simulator: the arbitrator refused a request as malformed");
                        return;
                }
                struct msg *a = msg_new(M_ARB_ANS, ARB, m->from);
                if (!a)
                        return;
                a->sent = m->sent;
                a->boot = m->boot;
                a->answer = (int)ans.kind;
                a->lease_ms = ans.lease_ms;
                a->holders_known = true;
                for (size_t i = 0; i < OM_ARB_NODES_MAX && ans.has_holder; i++) {
                        if (!om_arb_set_has(&ans.holders, i))
                                continue;
                        int k = atoi(om_arb_vote_name(&S.arbv, i) + 1) - 1;
                        if (k < 0 || k >= S.n)
                                a->holders_known = false;
                        else
                                a->holders |= 1u << k;
                }
                if (S.trace)
                        trace("arbitrator: %s (%s) to n%d (view %#x), holders %#x",
                              om_arb_kind_to_string(ans.kind), om_arb_reason_to_string(ans.reason),
                              m->from + 1, m->view, a->holders);
                net_send(a);
                return;
        }
        struct node *nd = &S.nodes[m->to];
        int self = m->to;
        if (!nd->up)
                return;
        if (m->from == ARB) {
                if (m->boot != nd->boot)
                        return;
                if (S.arb == ARB_TCP) {
                        if (nd->arb_ok != (m->answer == 1))
                                kick(self);
                        nd->arb_ok = m->answer == 1;
                        return;
                }
                struct om_arb_set holders = {0};
                for (int i = 0; i < S.n; i++)
                        if (m->holders >> i & 1)
                                om_arb_set_add(&holders, (size_t)i);
                if (om_arb_license_apply(&nd->lic, m->sent, (enum om_arb_kind)m->answer,
                                         m->lease_ms, &holders, m->holders_known) == 1)
                        kick(self);
                return;
        }
        struct om_peer *p = &nd->peers[m->from];
        uint8_t boot[OM_HB_BOOT_ID_LEN] = {0};
        memcpy(boot, &m->boot, sizeof(m->boot));
        switch (m->kind) {
        case M_BEAT:
                p->last_rx = S.now;
                p->gen_announced = m->gen;
                memcpy(p->boot_id, boot, sizeof(boot));
                p->hears_known = true;
                memcpy(p->hears, m->hears, sizeof(p->hears));
                p->lends_known = true;
                memcpy(p->lends, m->lends, sizeof(p->lends));
                set_peer_state(nd, self, m->from, OM_PEER_UP);
                if ((p->unsure || !p->have_data || memcmp(p->data_boot, boot, sizeof(boot)) != 0 ||
                     p->data.gen < m->gen) &&
                    (!nd->pull_at[m->from] || S.now - nd->pull_at[m->from] > TIMEOUT)) {
                        nd->pull_at[m->from] = S.now;
                        struct msg *q = msg_new(M_PULL, self, m->from);
                        if (q) {
                                q->stalls = nd->stalls;
                                net_send(q);
                        }
                }
                break;
        case M_PULL: {
                struct msg *q = msg_new(M_DATA, self, m->from);
                if (!q)
                        return;
                q->boot = nd->boot;
                q->stalls = m->stalls;
                q->gen = nd->local.gen;
                q->n_inst = nd->local.n_inst;
                memcpy(q->inst, nd->linst, sizeof(q->inst));
                q->load15 = nd->local.load15;
                net_send(q);
                break;
        }
        case M_DATA:
                nd->pull_at[m->from] = 0;
                if (p->have_data && memcmp(p->data_boot, boot, sizeof(boot)) == 0 &&
                    m->gen <= p->data.gen) {
                        if (m->stalls == nd->stalls && p->unsure) {
                                om_peer_seen(p);
                                kick(self);
                        }
                        break;
                }
                memcpy(nd->pinst[m->from], m->inst, sizeof(m->inst));
                p->data.inst = nd->pinst[m->from];
                p->data.n_inst = m->n_inst;
                p->data.inst_sorted = true;
                p->data.gen = m->gen;
                p->data.metrics = true;
                p->data.load15 = m->load15;
                p->data.mem_avail = 500;
                p->data.ncpu = 2;
                memcpy(p->data_boot, boot, sizeof(boot));
                p->have_data = true;
                if (m->stalls == nd->stalls)
                        om_peer_seen(p);
                kick(self);
                break;
        }
}

static bool is_paused(const struct node *nd);

/* ---- the invariants ---- */

static bool believes(const struct node *nd, int s) {
        /* a node whose restart guard is not lifted has judged nothing yet */
        if (!nd->up || is_paused(nd) || !nd->quorum_have || !nd->boot_ready)
                return false;
        enum om_mon st = nd->st[s].state;
        return st == OM_MON_STARTING ||
               (nd->avail[s] && st != OM_MON_STOPPING && st != OM_MON_STOP_FAILED);
}

/* A set of running, unpaused nodes that all reach each other both ways and hold a
 * majority (with the arbitrator if they all reach it). */
static bool quorum_possible(void) {
        uint32_t live = 0;
        for (int i = 0; i < S.n; i++)
                if (S.nodes[i].up && !is_paused(&S.nodes[i]))
                        live |= 1u << i;
        for (int i = 0; i < S.n; i++) {
                if (!(live >> i & 1))
                        continue;
                uint32_t side = 1u << i;
                for (int j = 0; j < S.n; j++)
                        if (j != i && (live >> j & 1) && !S.link[i][j].cut && !S.link[j][i].cut)
                                side |= 1u << j;
                int votes = __builtin_popcount(side);
                if (S.arb != ARB_NONE && (side & ~S.arb_reach) == 0)
                        votes++;
                int total = S.n + (S.arb != ARB_NONE);
                if (!S.quorum || votes > total / 2)
                        return true;
        }
        return false;
}

/* How long a service may run nowhere while a quorum exists: its node's silence is
 * judged (timeout, plus one interval for a third node's report that it no longer hears
 * it), the lease arbitrator's vote moves (the dead holder's lease, a contest window),
 * the leader waits its ready period and the end of the promises it made to the lost
 * node (whichever is later), two evaluations, a few message delays. */
static uint64_t live_bound(void) {
        uint64_t decide = TIMEOUT + INTERVAL;
        if (S.arb == ARB_LEASE && decide < LEASE + WINDOW + INTERVAL)
                decide = LEASE + WINDOW + INTERVAL;
        uint64_t wait = decide + READY;
        /* the survivors' last promises to it: sent up to a vote window after its last
         * frame, held for om_promise_hold */
        uint64_t promise = om_vote_window(INTERVAL) + om_promise_hold(INTERVAL, TIMEOUT);
        return (wait > promise ? wait : promise) + 2 * EVAL_MS + 4 * 8;
}

static bool network_whole(void) {
        for (int a = 0; a < S.n; a++) {
                if (S.nodes[a].paused)
                        return false;
                for (int b = 0; b < S.n; b++)
                        if (S.link[a][b].cut || S.link[a][b].loss)
                                return false;
        }
        return S.arb == ARB_NONE || S.arb_reach == (1u << S.n) - 1;
}

static void check(void) {
        for (int s = 0; s < S.ns; s++) {
                int who = -1;
                for (int i = 0; i < S.n; i++) {
                        if (!believes(&S.nodes[i], s))
                                continue;
                        if (who >= 0)
                                violate("safety: %s: n%d and n%d both run it holding the "
                                        "quorum",
                                        S.cfg[s].path, who + 1, i + 1);
                        who = i;
                }
        }
        /* liveness: while the network is whole (a node may be dead: that is the case),
         * a quorum exists and no action fails; counted from the latest of: the service
         * ran nowhere, the network became whole, two timeouts after an agent started (a
         * restarted leader's guard waits that long for silent peers) */
        if (S.failures)
                return;
        int quiet = -1; /* computed when a service runs nowhere */
        uint64_t from = S.whole_since;
        if (S.started_last + 2 * TIMEOUT > from)
                from = S.started_last + 2 * TIMEOUT;
        for (int s = 0; s < S.ns; s++) {
                bool runs = false;
                for (int i = 0; i < S.n; i++)
                        runs |= S.nodes[i].avail[s] || S.nodes[i].st[s].state == OM_MON_STARTING;
                if (!runs && quiet < 0)
                        quiet = network_whole() && quorum_possible();
                if (runs || !quiet) {
                        S.down_since[s] = 0;
                        continue;
                }
                if (!S.down_since[s])
                        S.down_since[s] = S.now;
                uint64_t t0 = S.down_since[s] > from ? S.down_since[s] : from;
                /* a load that moved makes another node the leader of a `load avg`
                 * service, which waits a ready period of its own: counted from the
                 * latest move (the loads stop moving at the heal) */
                if (S.cfg[s].placement == OM_PLACE_LOAD_AVG) {
                        uint64_t moved =
                                (S.now < S.heal_at ? S.now : S.heal_at) / LOAD_EPOCH * LOAD_EPOCH;
                        if (moved > t0)
                                t0 = moved;
                }
                if (S.now > t0 && S.now - t0 > live_bound())
                        violate("liveness: %s runs nowhere since t=%llu (network whole since "
                                "t=%llu), a quorum exists",
                                S.cfg[s].path, (unsigned long long)S.down_since[s],
                                (unsigned long long)S.whole_since);
        }
}

/* After the last heal: one instance per service, and every running node sees every
 * other one alive with fresh data that matches what that node says of itself. */
static void check_converged(void) {
        if (!quorum_possible())
                return;
        for (int s = 0; s < S.ns && !S.failures; s++) {
                int n_up = 0;
                for (int i = 0; i < S.n; i++)
                        n_up += S.nodes[i].avail[s];
                if (n_up != 1)
                        violate("convergence: %s runs on %d nodes %llums after the heal",
                                S.cfg[s].path, n_up, (unsigned long long)(S.now - S.heal_at));
        }
        for (int i = 0; i < S.n; i++) {
                struct node *nd = &S.nodes[i];
                if (!nd->up)
                        continue;
                struct om_view v = view_of(nd, i);
                for (int j = 0; j < S.n; j++) {
                        if (!S.nodes[j].up || j == i)
                                continue;
                        if (!om_view_alive(&v, (size_t)j) || !om_view_fresh(&v, (size_t)j) ||
                            memcmp(nd->pinst[j], S.nodes[j].linst,
                                   sizeof(struct om_cl_instance) * (size_t)S.ns) != 0)
                                violate("convergence: n%d's view of n%d disagrees %llums after "
                                        "the heal",
                                        i + 1, j + 1, (unsigned long long)(S.now - S.heal_at));
                }
        }
        /* every node whose view is whole and fresh computes the same leader */
        for (int s = 0; s < S.ns; s++) {
                int leader = -2, first = -1;
                for (int i = 0; i < S.n; i++) {
                        struct node *nd = &S.nodes[i];
                        if (!nd->up)
                                continue;
                        struct om_view v = view_of(nd, i);
                        bool whole = true;
                        for (int j = 0; j < S.n; j++)
                                whole &= S.nodes[j].up == om_view_alive(&v, (size_t)j) &&
                                         (!S.nodes[j].up || om_view_fresh(&v, (size_t)j));
                        if (!whole)
                                continue;
                        int l = om_decide_leader(&v, &S.cfg[s], false, false);
                        if (leader == -2) {
                                leader = l;
                                first = i;
                        } else if (l != leader)
                                violate("placement: %s's leader is n%d for n%d, n%d for n%d",
                                        S.cfg[s].path, leader + 1, first + 1, l + 1, i + 1);
                }
        }
}

/* ---- faults ---- */

static void cut(int a, int b, bool on) {
        S.link[a][b].cut += on ? 1 : -1;
}

/* Paused: the node runs nothing. It resumes with its first event at or after the end of
 * the pause (its late tick first), or when the pause's end is processed. */
static bool is_paused(const struct node *nd) {
        return nd->paused;
}

static bool defer(struct node *nd) {
        if (nd->paused && S.now >= nd->pause_until)
                nd->paused = false;
        return nd->paused;
}

static void fault(struct fault *f, bool begin) {
        S.whole_since = S.now; /* at most later: checked with network_whole() */
        switch (f->kind) {
        case F_PARTITION:
                trace("%s partition %#x", begin ? "begin" : "end", f->mask);
                for (int a = 0; a < S.n; a++)
                        for (int b = 0; b < S.n; b++)
                                if ((f->mask >> a & 1) != (f->mask >> b & 1))
                                        cut(a, b, begin);
                break;
        case F_ONEWAY:
                trace("%s one-way loss n%d -> n%d", begin ? "begin" : "end", f->a + 1, f->b + 1);
                cut(f->a, f->b, begin);
                break;
        case F_LOSS:
                trace("%s loss %u/1000 n%d <-> n%d", begin ? "begin" : "end", f->loss, f->a + 1,
                      f->b + 1);
                S.link[f->a][f->b].loss = S.link[f->b][f->a].loss = begin ? f->loss : 0;
                break;
        case F_PAUSE:
                trace("%s pause n%d", begin ? "begin" : "end", f->a + 1);
                if (begin) { /* overlapping pauses: the node runs again after the last */
                        struct node *nd = &S.nodes[f->a];
                        if (!nd->paused || nd->pause_until < f->at + f->dur)
                                nd->pause_until = f->at + f->dur;
                        nd->paused = nd->up;
                } else if (S.now >= S.nodes[f->a].pause_until)
                        S.nodes[f->a].paused = false;
                break;
        case F_POWER:
                if (begin) {
                        struct node *nd = &S.nodes[f->a];
                        trace("power loss n%d", f->a + 1);
                        nd->up = nd->powered = nd->paused = false;
                        nd->power++;
                        for (int s = 0; s < S.ns; s++)
                                nd->avail[s] = false;
                } else if (!S.nodes[f->a].up) {
                        trace("n%d boots", f->a + 1);
                        S.nodes[f->a].powered = true;
                        agent_start(f->a);
                }
                break;
        case F_AGENT:
                if (begin) {
                        trace("agent crash n%d", f->a + 1);
                        S.nodes[f->a].up = S.nodes[f->a].paused = false;
                } else if (!S.nodes[f->a].up && S.nodes[f->a].powered) {
                        trace("agent restart n%d", f->a + 1);
                        agent_start(f->a);
                }
                break;
        case F_HEAL:
                break;
        case F_ARB_REACH:
                trace("%s arbitrator reached by %#x only", begin ? "begin" : "end", f->mask);
                S.arb_reach = begin ? f->mask : (1u << S.n) - 1;
                break;
        }
}

/* ---- one schedule ---- */

struct scenario {
        const char *name;
        int n, ns;
        enum arb_model arb;
        uint64_t len; /* of the faulty part, ms */
        bool random;
        size_t n_faults;
        struct fault faults[MAXF];
        bool expect_unsafe;
        uint32_t fail_permille; /* actions of node fail_node fail this often */
        int fail_node;
        uint32_t stop_ms; /* every stop takes this long (0: 20 to 150 ms) */
        int end_on;       /* 1-based: s1 must end on this node (a takeover that stands) */
};

static void setup(const struct scenario *sc) {
        memset(&S.cfg, 0, sizeof(S.cfg));
        S.n = sc->n;
        S.ns = sc->ns;
        S.arb = sc->arb;
        S.quorum = om_quorum_default((size_t)S.n, S.arb != ARB_NONE);
        S.now = S.seq = S.events = 0;
        S.n_heap = 0;
        S.n_msg_free = 0;
        for (uint32_t i = 0; i < MSG_MAX; i++)
                S.msg_free[S.n_msg_free++] = MSG_MAX - 1 - i;
        memset(S.link, 0, sizeof(S.link));
        S.arb_reach = (1u << S.n) - 1;
        om_arb_vote_init(&S.arbv, LEASE, 0);
        memset(S.down_since, 0, sizeof(S.down_since));
        S.violation[0] = 0;
        S.faults_over = false;
        S.failures = false;
        S.whole_since = S.started_last = 0;
        for (int s = 0; s < S.ns; s++) {
                struct om_dec_cfg *c = &S.cfg[s];
                snprintf(c->path, sizeof(c->path), "root/svc/s%d", s + 1);
                /* a preference order of its own: a rotation of the nodes; s1 places by
                 * it, s2 by spread, s3 by the load, which changes on every node */
                for (int k = 0; k < S.n; k++)
                        snprintf(c->nodes[k], OM_CL_NAME_MAX, "n%d", (k + s) % S.n + 1);
                c->n_nodes = (size_t)S.n;
                c->placement = s == 1   ? OM_PLACE_SPREAD
                               : s == 2 ? OM_PLACE_LOAD_AVG
                                        : OM_PLACE_NODES_ORDER;
                c->ha = c->failover = true;
                c->ready_ms = READY;
                c->mon_ms = 5000;
                snprintf(c->split_action, sizeof(c->split_action), "stop");
        }
        memset(S.nodes, 0, sizeof(S.nodes));
        for (int i = 0; i < S.n; i++) {
                S.nodes[i].powered = true;
                agent_start(i);
        }
        S.n_faults = sc->n_faults;
        memcpy(S.faults, sc->faults, sizeof(S.faults));
        for (size_t k = 0; k < S.n_faults; k++) {
                push(S.faults[k].at, EV_FAULT, 0, (uint32_t)(2 * k), 0);
                if (S.faults[k].dur)
                        push(S.faults[k].at + S.faults[k].dur, EV_FAULT, 0, (uint32_t)(2 * k + 1),
                             0);
        }
        S.heal_at = sc->len;
        S.end = sc->len + 2 * TIMEOUT + 150 + 2 * INTERVAL +
                (S.arb == ARB_LEASE ? LEASE + WINDOW : 0);
}

/* A random schedule: the nodes come up and place the services, then faults. */
static void random_scenario(struct scenario *sc) {
        memset(sc, 0, sizeof(*sc));
        sc->name = "random";
        sc->random = true;
        sc->n = chance(150) ? (int)rnd_in(6, MAXN) : (int)rnd_in(2, 5);
        sc->ns = (int)rnd_in(1, MAXS);
        /* two nodes without an arbitrator run without quorum (split brain accepted, as
         * documented): not a configuration whose safety can be checked */
        sc->arb = sc->n == 2 || (sc->n % 2 == 0 && chance(700)) ? ARB_LEASE : ARB_NONE;
        sc->len = rnd_in(2000, 5000);
        sc->n_faults = rnd_in(1, 5);
        if (chance(100)) {
                sc->fail_node = (int)rnd_in(0, (uint32_t)sc->n - 1);
                sc->fail_permille = rnd_in(100, 1000);
        }
        for (size_t k = 0; k < sc->n_faults; k++) {
                struct fault *f = &sc->faults[k];
                f->at = rnd_in(1000, (uint32_t)sc->len - 200);
                f->dur = rnd_in(50, 1500);
                if (f->at + f->dur > sc->len)
                        f->dur = sc->len - f->at;
                f->a = (int)rnd_in(0, (uint32_t)sc->n - 1);
                do
                        f->b = (int)rnd_in(0, (uint32_t)sc->n - 1);
                while (f->b == f->a);
                switch (rnd() % 8) {
                case 0:
                case 1:
                        f->kind = F_PARTITION;
                        f->mask = rnd_in(1, (1u << sc->n) - 2);
                        break;
                case 2:
                        f->kind = F_ONEWAY;
                        break;
                case 3:
                        f->kind = F_LOSS;
                        f->loss = rnd_in(100, 900);
                        break;
                case 4:
                        f->kind = F_PAUSE;
                        break;
                case 5:
                        f->kind = F_POWER;
                        break;
                case 6:
                        f->kind = F_AGENT;
                        f->dur = rnd_in(20, TIMEOUT / 2);
                        break;
                default:
                        f->kind = sc->arb != ARB_NONE ? F_ARB_REACH : F_PAUSE;
                        f->mask = rnd_in(0, (1u << sc->n) - 1);
                        break;
                }
        }
}

/* Runs one schedule; returns 0 when every invariant held. */
static int run(const struct scenario *sc) {
        setup(sc);
        bool converged_checked = false;
        S.failures = sc->fail_permille > 0;
        if (S.failures)
                S.nodes[sc->fail_node].fail_permille = sc->fail_permille;
        S.stop_ms = sc->stop_ms;
        while (S.n_heap && !S.violation[0]) {
                struct ev e = pop();
                if (e.at > S.end)
                        break;
                S.now = e.at;
                S.events++;
                if (!S.faults_over && S.now >= S.heal_at) {
                        S.faults_over = true;
                        S.quiet_since = S.now;
                }
                if (!converged_checked && S.now >= S.end - 1) {
                        converged_checked = true;
                        check_converged();
                }
                struct node *nd = e.kind == EV_FAULT ? NULL : &S.nodes[e.node];
                if (e.kind == EV_FAULT) {
                        fault(&S.faults[e.arg / 2], e.arg % 2 == 0);
                } else if (e.kind == EV_MSG) {
                        struct msg *m = &S.msgs[e.arg];
                        if (m->to != ARB && defer(&S.nodes[m->to])) {
                                push(S.nodes[m->to].pause_until, EV_MSG, m->to, e.arg, 0);
                                continue;
                        }
                        recv_msg(m);
                        msg_free(m);
                } else if (e.kind == EV_JOB) {
                        struct job *j = &nd->job[e.arg];
                        int s = (int)e.arg;
                        if (!j->on || j->power != nd->power)
                                continue;
                        if (!j->refresh && j->ok && j->state == OM_MON_STARTING)
                                nd->avail[s] = true;
                        if (!j->refresh && j->ok && j->state == OM_MON_STOPPING)
                                nd->avail[s] = false;
                        if (j->token != nd->boot || !nd->up) {
                                j->on = false; /* the agent that spawned it is gone */
                                continue;
                        }
                        if (defer(nd)) { /* seen when the agent runs again */
                                push(nd->pause_until, EV_JOB, e.node, e.arg, e.token);
                                continue;
                        }
                        j->on = false;
                        struct om_decision d;
                        d.n = 0; /* not zeroed whole: see cl_decide.h */
                        om_decide_job_done(&S.cfg[s], &nd->st[s], j->ok ? 0 : 1, NULL, &d);
                        apply(nd, e.node, s, &d);
                        collect(nd, e.node);
                        kick(e.node);
                } else {
                        if (!nd->up || e.token != nd->boot)
                                continue;
                        if (defer(nd)) { /* its timers fire late, all at once */
                                push(nd->pause_until, e.kind, e.node, e.arg, e.token);
                                continue;
                        }
                        if (e.kind == EV_TICK)
                                tick(e.node);
                        else {
                                if (e.arg == 0)
                                        push(S.now + EVAL_MS, EV_EVAL, e.node, 0, nd->boot);
                                eval(e.node);
                        }
                }
                check();
        }
        if (!converged_checked && !S.violation[0]) {
                S.now = S.end;
                check_converged();
        }
        if (sc->end_on && !S.violation[0] && !S.nodes[sc->end_on - 1].avail[0])
                violate("takeover undone: %s does not end on n%d", S.cfg[0].path, sc->end_on);
        return S.violation[0] ? -1 : 0;
}

/* ---- written scenarios ---- */

#define SPLIT2                                                                                     \
        { .kind = F_PARTITION, .at = 1500, .dur = 2000, .mask = 0x1 }

static const struct scenario scenarios[] = {
        /* the double start the TCP-connect arbitrator allowed: two nodes, the link
         * between them cut, both reach the arbitrator */
        {"2 nodes, tcp arbitrator reached by both, link cut",
         2,
         1,
         ARB_TCP,
         4000,
         false,
         1,
         {SPLIT2},
         .expect_unsafe = true},
        {"2 nodes, lease arbitrator reached by both, link cut",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         1,
         {SPLIT2}},
        {"2 nodes, lease arbitrator reached by n2 only, link cut",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         2,
         {SPLIT2, {.kind = F_ARB_REACH, .at = 1400, .dur = 2100, .mask = 0x2}}},
        {"2 nodes, lease arbitrator down, nodes see each other",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         1,
         {{.kind = F_ARB_REACH, .at = 1500, .dur = 2000, .mask = 0}}},
        {"2 nodes, lease arbitrator, the holder paused past its lease",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         1,
         {{.kind = F_PAUSE, .at = 1500, .dur = 1500, .a = 0}}},
        {"2 nodes, lease arbitrator, owner powered off",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         1,
         {{.kind = F_POWER, .at = 1500, .dur = 0, .a = 0}}},
        /* the splits of the integration tests (failover-partition, netns-partition,
         * failover-random): three nodes */
        {"3 nodes, the owner cut off",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_PARTITION, .at = 1500, .dur = 2000, .mask = 0x1}}},
        {"3 nodes, a non-owner cut off",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_PARTITION, .at = 1500, .dur = 2000, .mask = 0x4}}},
        {"3 nodes, the owner paused past the timeout",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_PAUSE, .at = 1500, .dur = 1000, .a = 0}}},
        /* the owner thawed after the takeover: it stops its copy (its stop slower than a
         * timeout) and the node that took over keeps the service */
        {"3 nodes, the owner paused past the timeout, thawed, its stop slow",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_PAUSE, .at = 1500, .dur = 1000, .a = 0}},
         .stop_ms = 2 * TIMEOUT,
         .end_on = 2},
        {"2 nodes, lease arbitrator, the owner paused past its lease, thawed, its stop slow",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         1,
         {{.kind = F_PAUSE, .at = 1500, .dur = 1500, .a = 0}},
         .stop_ms = 2 * TIMEOUT,
         .end_on = 2},
        {"3 nodes, the owner paused shorter than the timeout",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_PAUSE, .at = 1500, .dur = 200, .a = 0}}},
        {"3 nodes, the owner killed, restarted blank",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_POWER, .at = 1500, .dur = 1000, .a = 0}}},
        {"3 nodes, the owner's agent crashed and restarted",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_AGENT, .at = 1500, .dur = 100, .a = 0}}},
        {"3 nodes, one-way loss n1 -> n2",
         3,
         1,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_ONEWAY, .at = 1500, .dur = 2000, .a = 0, .b = 1}}},
        /* a vote counted on both sides before votes were lent for a bounded time */
        {"2 nodes, lease arbitrator, the link between them losing 70%",
         2,
         2,
         ARB_LEASE,
         8000,
         false,
         1,
         {{.kind = F_LOSS, .at = 1500, .dur = 6000, .a = 0, .b = 1, .loss = 700}}},
        {"2 nodes, lease arbitrator, one-way loss n1 -> n2",
         2,
         1,
         ARB_LEASE,
         4000,
         false,
         1,
         {{.kind = F_ONEWAY, .at = 1500, .dur = 2000, .a = 0, .b = 1}}},
        {"4 nodes, halves, lease arbitrator reached by both",
         4,
         2,
         ARB_LEASE,
         4000,
         false,
         1,
         {{.kind = F_PARTITION, .at = 1500, .dur = 2000, .mask = 0x3}}},
        {"16 nodes, the owner's side a minority",
         16,
         3,
         ARB_NONE,
         4000,
         false,
         1,
         {{.kind = F_PARTITION, .at = 1500, .dur = 2000, .mask = 0x7f}}},
};

static uint64_t env_u64(const char *name, uint64_t def) {
        const char *s = getenv(name);
        return s && *s ? strtoull(s, NULL, 0) : def;
}

static void report(const struct scenario *sc, int k, uint64_t seed) {
        printf("VIOLATION in \"%s\" (seed %llu): %s\n", sc->name, (unsigned long long)seed,
               S.violation);
        if (k >= 0)
                printf("replay: OM_SIM_SCENARIO=%d OM_SIM_SEED=%llu OM_SIM_TRACE=1 "
                       "build/tests/test-sim\n",
                       k, (unsigned long long)seed);
        else
                printf("replay: OM_SIM_SEED=%llu OM_SIM_TRACE=1 build/tests/test-sim\n",
                       (unsigned long long)seed);
}

static void test_scenarios(void **state) {
        int bad = 0;
        /* OM_SIM_SCENARIO=k (with OM_SIM_SEED) replays one written scenario */
        const char *only = getenv("OM_SIM_SCENARIO");
        uint64_t seed_only = env_u64("OM_SIM_SEED", 0);
        if ((!only && seed_only) || getenv("OM_SIM_BENCH"))
                skip(); /* a random schedule is replayed by test_random */
        S.trace = only && env_u64("OM_SIM_TRACE", 0);
        for (size_t k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++) {
                const struct scenario *sc = &scenarios[k];
                if (only && strtoul(only, NULL, 10) != k)
                        continue;
                for (uint64_t seed = seed_only ? seed_only : 1;
                     seed <= (seed_only ? seed_only : 20); seed++) {
                        rng = seed * 0x9E3779B97F4A7C15ull;
                        int r = run(sc);
                        if (sc->expect_unsafe) {
                                if (r == 0)
                                        continue;
                                if (strstr(S.violation, "safety")) {
                                        printf("found as expected in \"%s\" (seed %llu): %s\n",
                                               sc->name, (unsigned long long)seed, S.violation);
                                        goto next;
                                }
                        }
                        if (r < 0) {
                                report(sc, (int)k, seed);
                                bad++;
                                goto next;
                        }
                }
                if (sc->expect_unsafe) {
                        printf("NOT FOUND: \"%s\" should break safety\n", sc->name);
                        bad++;
                }
        next:;
        }
        assert_int_equal(bad, 0);
}

static void test_random(void **state) {
        if (getenv("OM_SIM_SCENARIO") || getenv("OM_SIM_BENCH"))
                skip();
        uint64_t seed0 = env_u64("OM_SIM_SEED", 0);
        uint64_t n = env_u64("OM_SIM_SCHEDULES", seed0 ? 1 : 300);
        if (!seed0)
                seed0 = 1;
        S.trace = env_u64("OM_SIM_TRACE", 0) != 0;
        struct timespec t0, t1, c0, c1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        uint64_t events = 0;
        int bad = 0;
        uint64_t ran = 0;
        for (uint64_t seed = seed0; seed < seed0 + n && bad < 3; seed++, ran++) {
                struct scenario sc;
                rng = seed * 0x9E3779B97F4A7C15ull;
                random_scenario(&sc);
                if (run(&sc) < 0) {
                        report(&sc, -1, seed);
                        bad++;
                }
                events += S.events;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
        printf("%llu schedules from seed %llu, %llu events, %.2fs (%.2fs of CPU), %.0f "
               "schedules/s (%.0f per CPU second)\n",
               (unsigned long long)n, (unsigned long long)seed0, (unsigned long long)events, s, cpu,
               (double)n / s, (double)n / cpu);
        assert_int_equal(bad, 0);
}

/* ---- bench: one decide pass over 1000 services x 16 nodes (OM_SIM_BENCH=1) ---- */

#define BENCH_S 1000
#define BENCH_N 16

static int cmp_u64(const void *x, const void *y) {
        uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
        return a < b ? -1 : a > b;
}

/* CPU time of this thread: on a shared machine, the wall clock measures the others */
static uint64_t now_ns(void) {
        struct timespec t;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void test_bench(void **state) {
        if (!env_u64("OM_SIM_BENCH", 0))
                skip();
        static struct om_peer peers[BENCH_N];
        static struct om_cl_nodedata local;
        static struct om_dec_cfg cfg[BENCH_S];
        static struct om_dec_obj st[BENCH_S], st0[BENCH_S];
        struct om_cl_instance *inst = calloc((size_t)BENCH_N * BENCH_S, sizeof(*inst));
        assert_non_null(inst);
        for (int i = 0; i < BENCH_N; i++) {
                struct om_peer *p = &peers[i];
                snprintf(p->name, sizeof(p->name), "n%d", i + 1);
                p->self = i == 0;
                p->state = OM_PEER_UP;
                p->have_data = i != 0;
                p->gen_announced = 1;
                struct om_cl_nodedata *nd = i == 0 ? &local : &p->data;
                nd->gen = 1;
                nd->inst = &inst[(size_t)i * BENCH_S];
                nd->n_inst = BENCH_S;
                nd->inst_sorted = true; /* the paths below are in strcmp order */
                for (int k = 0; k < BENCH_S; k++) {
                        struct om_cl_instance *in = &nd->inst[k];
                        snprintf(in->path, sizeof(in->path), "root/svc/s%04d", k);
                        /* each service up on one node, its first in `nodes` */
                        snprintf(in->avail, sizeof(in->avail), "%s",
                                 k % BENCH_N == i ? "up" : "down");
                        snprintf(in->overall, sizeof(in->overall), "%s", in->avail);
                        in->provisioned = true;
                        in->monitor = OM_MON_IDLE;
                }
        }
        for (int k = 0; k < BENCH_S; k++) {
                snprintf(cfg[k].path, sizeof(cfg[k].path), "root/svc/s%04d", k);
                for (int j = 0; j < BENCH_N; j++)
                        snprintf(cfg[k].nodes[j], OM_CL_NAME_MAX, "n%d", (k + j) % BENCH_N + 1);
                cfg[k].n_nodes = BENCH_N;
                cfg[k].ha = cfg[k].failover = true;
                cfg[k].ready_ms = 1000;
                cfg[k].mon_ms = 5000;
                snprintf(cfg[k].split_action, sizeof(cfg[k].split_action), "stop");
                st0[k] = (struct om_dec_obj){.state = OM_MON_IDLE, .present = true, .booted = true};
        }
        struct om_view v = {.peers = peers, .n = BENCH_N, .self = 0, .local = &local};
        struct om_dec_ctx c = {.view = &v,
                               .self = "n1",
                               .now = 10000,
                               .timeout = 3000,
                               .quorum_enabled = true,
                               .quorum_have = true,
                               .boot_ready = true};
        uint64_t t[21];
        size_t effects = 0;
        for (size_t r = 0; r < ARRAY_SIZE(t); r++) {
                memcpy(st, st0, sizeof(st));
                uint64_t t0 = now_ns();
                for (int k = 0; k < BENCH_S; k++) {
                        struct om_decision d;
                        d.n = 0; /* not zeroed whole: see cl_decide.h */
                        om_decide(&c, &cfg[k], &st[k], NULL, &d);
                        effects += d.n;
                }
                t[r] = now_ns() - t0;
        }
        qsort(t, ARRAY_SIZE(t), sizeof(t[0]), cmp_u64);
        printf("decide pass, %d services x %d nodes: median %.0f us of CPU (%zu effects)\n",
               BENCH_S, BENCH_N, (double)t[ARRAY_SIZE(t) / 2] / 1000.0, effects);
        free(inst);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scenarios),
                cmocka_unit_test(test_random),
                cmocka_unit_test(test_bench),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
