/*
 * wsclient: the load client of `lago bench` (fanout, idle, groupbuy; compiled at run time with
 * `cc -O2`).
 *
 * One process opens K WebSocket connections to a socket.io server on 127.0.0.1, does the
 * engine.io/socket.io handshake with one access token per connection (read from a file, one per
 * line), optionally joins a channel (`channel:join` with an ack; `--join CID` for every connection,
 * or `--joins FILE` with one community id per line beside the tokens), answers engine.io pings and then
 * counts `channel:event` frames. Each benchmark message carries `lgb:<step>:<CLOCK_MONOTONIC ns>`
 * in its text; the latency send -> receive goes into a log-bucketed histogram (1/64 precision).
 *
 * In --send mode the (single) connection also emits `<event>` with an ack id at a target rate
 * during each step, without waiting for acks.
 *
 * In --race FILE mode (`lago bench groupbuy`) the connections race for group-buy seats. FILE has
 * one line `<step> <group uuid>` per group, in order. During [start, end) of a step the process
 * offers `groupbuy:join` attempts at its rate on a fixed schedule; each offer goes to the next
 * ready connection (round-robin) with no attempt outstanding and fewer than --limit seats in this
 * step, for a random group among the first --hot groups of the step (file order) that this
 * process has not seen full and this connection has not joined in this step. An offer nobody can
 * take is counted as skipped. Acks are counted by outcome code; latency is send -> ack. A group
 * is "seen full" from a `group_full` refusal, and (with --max-members M) from an acknowledgement
 * or a `groupbuy.updated` event showing it with M members — what a resident's app knows. Other
 * channel events are counted and dropped unparsed.
 *
 * Control, one line at a time on stdin:
 *   step <id> <start_ns> <measure_ns> <end_ns> <stop_ns> <rate> [<drained_ns>]
 *   quit
 * (race mode: <rate> is this process's attempts/s; the step ends at <stop_ns>, or earlier once
 * <drained_ns> has passed and no attempt is outstanding; `quit` prints a last line with the ok
 * acks of the whole run, late ones included.)
 * Output, one JSON line at a time on stdout: {"ready":...} once connected, then one result per step.
 * Every wait is bounded: the connect phase by --connect-timeout, each step by its stop time.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_CONNECTING, ST_HTTP, ST_EIO_OPEN, ST_SIO_CONNECT, ST_JOINING, ST_READY, ST_FAILED, ST_CLOSED };

#define SUB 64
#define NBUCKETS (SUB * 48)
#define MAX_OUT (8u << 20)

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

typedef struct {
    int fd;
    int state;
    int want_out;
    const char *token;
    const char *join; /* the community this connection joins (NULL: none) */
    buf_t in, out, frag;
    int frag_opcode;
    /* race mode: the attempt in flight (at most one), and the seats won in step `jstep` */
    int busy, gidx, astep, jstep, seats, njoined, join_tries;
    long ack, next_ack;
    int64_t sent_ns;
    int *joined; /* group indices joined in step `jstep` (at most --limit) */
} conn_t;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *msg) {
    fprintf(stderr, "wsclient: %s\n", msg);
    exit(2);
}

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return;
    size_t cap = b->cap ? b->cap : 16384;
    while (cap < b->len + extra) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) die("out of memory");
    b->cap = cap;
}

static void buf_append(buf_t *b, const void *data, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_consume(buf_t *b, size_t n) {
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* --- options and global state ------------------------------------------------------------- */

static int opt_port;
static const char *opt_tokens;
static int opt_first, opt_count = 1;
static const char *opt_join;
static const char *opt_joins; /* file: one community id per line, aligned with the tokens */
static const char *opt_event = "chat:send";
static int opt_send;
static int opt_concurrency = 64;
static double opt_connect_timeout = 60;
static int opt_pad;
static const char *opt_race; /* file: `<step> <group uuid>` per line */
static int opt_max_members; /* race mode: seats per group; 0 = learn fullness from refusals only */
static int opt_limit = 10, opt_hot = 32;
static unsigned long long opt_seed = 1;

static int epfd;
static conn_t *conns;
static int nconns;
static int n_ready, n_failed, n_closed, n_pending;
static char first_error[256];

/* step state */
static int step_id = -1;
static int64_t st_start, st_measure, st_end, st_stop;
static double st_rate;
static int st_measure_seen, st_end_seen;
static double cpu_at_measure, cpu_at_end;
static uint64_t cnt_all, cnt_window, cnt_other, cnt_unmarked, cnt_sent, cnt_ack_ok, cnt_ack_err,
    cnt_skipped, cnt_bytes;
static uint64_t hist[NBUCKETS];
static int64_t lat_max_us;

/* race state */
#define MAX_HOT 1024
#define MAX_CODES 16
static char (*rg_id)[40]; /* the groups of the race file, in file order */
static int *rg_step;
static unsigned char *rg_full; /* seen full (or gone) by this process */
static int nrg;
static int *sg, nsg, sg_next; /* the current step's groups (indices), the next not yet in the window */
static int win[MAX_HOT], nwin; /* the hot window: the first --hot groups of the step not seen full */
static int rr_next;           /* round-robin position over the connections */
static int n_busy;            /* attempts outstanding */
static int64_t st_drained;
static uint64_t r_sent_window, r_skip_nogroup, r_skip_noconn, r_answered, r_answered_window, r_ok_window,
    r_late, r_late_ok, r_lost, r_stray, r_events, r_event_bytes, r_ok_total, r_late_ok_total;
static struct {
    char name[32];
    uint64_t n;
} r_codes[MAX_CODES];
static int r_ncodes;
static uint64_t rng_state = 88172645463325252ULL;

static int bucket_of(int64_t v) {
    if (v < 0) v = 0;
    if (v < 2 * SUB) return (int)v;
    int k = 63 - __builtin_clzll((uint64_t)v);
    int shift = k - 5; /* v >> shift in [SUB, 2*SUB) */
    int idx = (shift + 1) * SUB + (int)((v >> shift) - SUB);
    return idx < NBUCKETS ? idx : NBUCKETS - 1;
}

static double bucket_value(int idx) {
    if (idx < 2 * SUB) return idx;
    int shift = idx / SUB - 1;
    int64_t m = idx % SUB + SUB;
    return (double)(m << shift) + (double)(1LL << shift) / 2.0;
}

/* --- frames ---------------------------------------------------------------------------------- */

static void set_events(conn_t *c) {
    int want = c->out.len > 0 || c->state == ST_CONNECTING;
    if (want == c->want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void conn_fail(conn_t *c, const char *why) {
    if (c->state == ST_FAILED || c->state == ST_CLOSED) return;
    int was_ready = c->state == ST_READY;
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", why);
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->busy) { /* its attempt will never be answered */
        c->busy = 0;
        n_busy--;
        r_lost++;
    }
    if (was_ready) {
        c->state = ST_CLOSED;
        n_closed++;
    } else {
        c->state = ST_FAILED;
        n_failed++;
        n_pending--;
    }
}

static void flush_out(conn_t *c) {
    while (c->out.len > 0) {
        ssize_t n = write(c->fd, c->out.p, c->out.len);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        conn_fail(c, "write failed");
        return;
    }
    set_events(c);
}

/* A masked client text frame; the zero mask key leaves the payload as it is. */
static void send_text(conn_t *c, const char *payload, size_t n) {
    unsigned char hdr[14];
    size_t h = 0;
    hdr[h++] = 0x81;
    if (n < 126) {
        hdr[h++] = 0x80 | (unsigned char)n;
    } else if (n < 65536) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (unsigned char)(n >> 8);
        hdr[h++] = (unsigned char)n;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) hdr[h++] = (unsigned char)((uint64_t)n >> (8 * i));
    }
    memset(hdr + h, 0, 4);
    h += 4;
    buf_append(&c->out, hdr, h);
    buf_append(&c->out, payload, n);
    flush_out(c);
}

static void become_ready(conn_t *c) {
    c->state = ST_READY;
    n_ready++;
    n_pending--;
}


/* --- race mode (group-buy joins) ------------------------------------------------------------- */

static uint64_t rng_next(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static void win_fill(void) {
    while (nwin < opt_hot && sg_next < nsg) {
        int g = sg[sg_next++];
        if (!rg_full[g]) win[nwin++] = g;
    }
}

/* The group is full (or gone) for this process: out of the window, the next one in. */
static void mark_full(int g) {
    if (g < 0 || g >= nrg || rg_full[g]) return;
    rg_full[g] = 1;
    for (int i = 0; i < nwin; i++) {
        if (win[i] == g) {
            win[i] = win[--nwin];
            break;
        }
    }
    win_fill();
}

/* Group ids -> index in the race file (open addressing), to read what the server says of them. */
static int *rg_slots;
static size_t rg_nslots;
static int64_t r_seen_seq = -1; /* the last groupbuy.updated read (every connection gets a copy) */
static uint64_t r_learnt_ack, r_learnt_event;

static uint64_t id_hash(const char *id) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < 36; i++) h = (h ^ (unsigned char)id[i]) * 1099511628211ULL;
    return h;
}

static void rg_index(void) {
    rg_nslots = 16;
    while (rg_nslots < (size_t)nrg * 2 + 16) rg_nslots *= 2;
    rg_slots = malloc(sizeof *rg_slots * rg_nslots);
    if (!rg_slots) die("out of memory");
    for (size_t i = 0; i < rg_nslots; i++) rg_slots[i] = -1;
    for (int g = 0; g < nrg; g++) {
        if (strlen(rg_id[g]) != 36) continue;
        size_t k = id_hash(rg_id[g]) & (rg_nslots - 1);
        while (rg_slots[k] >= 0) k = (k + 1) & (rg_nslots - 1);
        rg_slots[k] = g;
    }
}

static int rg_find(const char *id) {
    size_t k = id_hash(id) & (rg_nslots - 1);
    while (rg_slots[k] >= 0) {
        if (!memcmp(rg_id[rg_slots[k]], id, 36)) return rg_slots[k];
        k = (k + 1) & (rg_nslots - 1);
    }
    return -1;
}

static long read_number(const char *p, const char *e) {
    long v = 0;
    while (p < e && *p >= '0' && *p <= '9') v = v * 10 + (*p++ - '0');
    return v;
}

/* Mark full every group that `text` shows with `"group_id":"<id>"` followed by `"members":N`
 * where N reaches --max-members: what a resident's app knows from the acknowledgement of a join
 * and from the channel's `groupbuy.updated` events, so it does not press join on a full group. */
static uint64_t learn_full(const char *text, size_t n) {
    static const char key[] = "\"group_id\":\"";
    uint64_t learnt = 0;
    const char *p = text, *e = text + n;
    while (opt_max_members > 0 && p < e) {
        const char *k = memmem(p, (size_t)(e - p), key, sizeof key - 1);
        if (!k || k + sizeof key - 1 + 36 > e) break;
        const char *id = k + sizeof key - 1;
        p = id + 36;
        const char *m = memmem(p, (size_t)(e - p) < 80 ? (size_t)(e - p) : 80, "\"members\":", 10);
        if (!m) continue;
        if (read_number(m + 10, e) < opt_max_members) continue;
        int g = rg_find(id);
        if (g >= 0 && !rg_full[g]) {
            mark_full(g);
            learnt++;
        }
    }
    return learnt;
}

static void race_on_event(const char *p, size_t n) {
    const char *head_end = p + (n < 200 ? n : 200);
    const char *t = memmem(p, (size_t)(head_end - p), "\"type\":\"groupbuy.updated\"", 26);
    if (!t) return;
    const char *q = memmem(p, (size_t)(head_end - p), "\"seq\":", 6);
    if (!q) return;
    int64_t seq = read_number(q + 6, head_end);
    if (seq <= r_seen_seq) return; /* another connection's copy, already read */
    r_seen_seq = seq;
    r_learnt_event += learn_full(t, (size_t)(p + n - t));
}

static void race_begin_step(void) {
    nsg = sg_next = nwin = 0;
    for (int i = 0; i < nrg; i++)
        if (rg_step[i] == step_id) sg[nsg++] = i;
    win_fill();
    r_events = r_event_bytes = 0; /* the join storm's presence events are not a step's */
    r_learnt_ack = r_learnt_event = 0;
}

static void count_code(const char *name, size_t len) {
    if (len >= sizeof r_codes[0].name) len = sizeof r_codes[0].name - 1;
    for (int i = 0; i < r_ncodes; i++) {
        if (strlen(r_codes[i].name) == len && memcmp(r_codes[i].name, name, len) == 0) {
            r_codes[i].n++;
            return;
        }
    }
    if (r_ncodes == MAX_CODES) { /* the last slot takes the rest */
        strcpy(r_codes[MAX_CODES - 1].name, "more_codes");
        r_codes[MAX_CODES - 1].n++;
        return;
    }
    int i = r_ncodes++;
    memcpy(r_codes[i].name, name, len);
    r_codes[i].name[len] = 0;
    r_codes[i].n = 1;
}

static int has_joined(const conn_t *c, int g) {
    for (int i = 0; i < c->njoined; i++)
        if (c->joined[i] == g) return 1;
    return 0;
}

/* A random hot group this connection has not joined in this step, or -1. */
static int pick_group(const conn_t *c) {
    if (nwin == 0) return -1;
    for (int k = 0; k < 4; k++) {
        int g = win[rng_next() % (uint64_t)nwin];
        if (!has_joined(c, g)) return g;
    }
    int r = (int)(rng_next() % (uint64_t)nwin);
    for (int k = 0; k < nwin; k++) {
        int g = win[(r + k) % nwin];
        if (!has_joined(c, g)) return g;
    }
    return -1;
}

static void race_offer(void) {
    if (nwin == 0) {
        cnt_skipped++;
        r_skip_nogroup++;
        return;
    }
    for (int tries = 0; tries < nconns; tries++) {
        conn_t *c = &conns[rr_next];
        rr_next = rr_next + 1 < nconns ? rr_next + 1 : 0;
        if (c->state != ST_READY || c->busy || c->out.len > MAX_OUT) continue;
        if (c->jstep != step_id) {
            c->jstep = step_id;
            c->seats = c->njoined = 0;
        }
        if (c->seats >= opt_limit) continue;
        int g = pick_group(c);
        if (g < 0) continue;
        char msg[256];
        long id = ++c->next_ack;
        int len = snprintf(msg, sizeof msg,
                           "42%ld[\"groupbuy:join\",{\"community_id\":\"%.40s\",\"group_id\":\"%s\"}]", id,
                           opt_join ? opt_join : "", rg_id[g]);
        c->busy = 1;
        c->ack = id;
        c->gidx = g;
        c->astep = step_id;
        c->sent_ns = now_ns();
        n_busy++;
        cnt_sent++;
        if (c->sent_ns >= st_measure && c->sent_ns < st_end) r_sent_window++;
        send_text(c, msg, (size_t)len);
        return;
    }
    cnt_skipped++;
    r_skip_noconn++;
}

static void race_due(int64_t now) {
    if (!opt_race || step_id < 0 || now < st_start || now >= st_end || st_rate <= 0) return;
    uint64_t due = (uint64_t)((double)(now - st_start) * st_rate / 1e9) + 1;
    int burst = 0;
    while (cnt_sent + cnt_skipped < due && burst < 10000) {
        burst++;
        race_offer();
    }
}

/* An ack of a join attempt: 43<id>[{"ok":true,...}] or 43<id>[{"ok":false,"error":{"code":"..."}}]. */
static void race_on_ack(conn_t *c, long id, const char *p, size_t n, int64_t now) {
    if (!c->busy || id != c->ack) {
        r_stray++;
        return;
    }
    c->busy = 0;
    n_busy--;
    const char *body = memchr(p, '[', n);
    size_t bn = body ? n - (size_t)(body - p) : 0;
    int ok = body && (memmem(body, bn < 16 ? bn : 16, "\"ok\":true", 9) || memmem(body, bn < 16 ? bn : 16, "\"ok\": true", 10));
    int already = ok && (memmem(body, bn, "\"already\":true", 14) || memmem(body, bn, "\"already\": true", 15));
    const char *code = "unparsed";
    size_t code_len = 8;
    if (!ok && body) {
        const char *k = memmem(body, bn, "\"code\":\"", 8);
        int skip = 8;
        if (!k) {
            k = memmem(body, bn, "\"code\": \"", 9);
            skip = 9;
        }
        if (k) {
            const char *v = k + skip, *e = body + bn;
            const char *q = memchr(v, '"', (size_t)(e - v));
            if (q) {
                code = v;
                code_len = (size_t)(q - v);
            }
        }
    }
    int full = !ok && ((code_len == 10 && !memcmp(code, "group_full", 10)) ||
                       (code_len == 15 && !memcmp(code, "group_not_found", 15)) ||
                       (code_len == 11 && !memcmp(code, "group_ended", 11)));
    if (ok && !already) r_ok_total++;
    if (full) mark_full(c->gidx); /* what this process has learnt: it stops offering that group */
    if (ok && body) r_learnt_ack += learn_full(body, bn);
    if (c->astep == c->jstep) {
        if (ok && c->njoined < opt_limit) c->joined[c->njoined++] = c->gidx;
        if (ok) c->seats++;
        if (!ok && code_len == 13 && !memcmp(code, "limit_reached", 13)) c->seats = opt_limit;
    }
    if (c->astep != step_id) { /* answered after its step's results were printed */
        r_late++;
        if (ok && !already) {
            r_late_ok++;
            r_late_ok_total++;
        }
        return;
    }
    r_answered++;
    if (now >= st_measure && now < st_end) {
        r_answered_window++;
        if (ok && !already) r_ok_window++;
    }
    if (c->sent_ns >= st_measure && c->sent_ns < st_end) {
        int64_t us = (now - c->sent_ns) / 1000;
        hist[bucket_of(us)]++;
        if (us > lat_max_us) lat_max_us = us;
    }
    if (ok) {
        count_code(already ? "already" : "ok", already ? 7 : 2);
        return;
    }
    count_code(code, code_len);
    int expected = full || (code_len == 13 && !memcmp(code, "limit_reached", 13));
    if (!expected && !first_error[0])
        snprintf(first_error, sizeof first_error, "join refused: %.*s", (int)(n < 200 ? n : 200), p);
}

static void on_event_frame(const char *p, size_t n, int64_t now) {
    static const char marker[] = "lgb:";
    const char *m = memmem(p, n, marker, sizeof marker - 1);
    if (!m) {
        cnt_unmarked++;
        return;
    }
    const char *q = m + 4, *e = p + n;
    long step = 0;
    while (q < e && *q >= '0' && *q <= '9') step = step * 10 + (*q++ - '0');
    if (q >= e || *q != ':') return;
    q++;
    int64_t ts = 0;
    while (q < e && *q >= '0' && *q <= '9') ts = ts * 10 + (*q++ - '0');
    if (step != step_id) {
        cnt_other++;
        return;
    }
    cnt_all++;
    cnt_bytes += n;
    if (now >= st_measure && now <= st_end) cnt_window++;
    if (ts >= st_measure) {
        int64_t us = (now - ts) / 1000;
        hist[bucket_of(us)]++;
        if (us > lat_max_us) lat_max_us = us;
    }
}

static void on_message(conn_t *c, const char *p, size_t n, int64_t now) {
    if (n == 0) return;
    if (p[0] == '2' && n == 1) { /* engine.io ping */
        send_text(c, "3", 1);
        return;
    }
    if (p[0] == '1') { /* engine.io close */
        conn_fail(c, "engine.io close");
        return;
    }
    if (p[0] != '4' || n < 2) return;
    char t = p[1];
    if (c->state == ST_EIO_OPEN) return; /* not expected before the open packet */
    if (t == '2') {
        if (c->state != ST_READY) return;
        if (opt_race) { /* channel events: counted; groupbuy.updated read once per process */
            r_events++;
            r_event_bytes += n;
            race_on_event(p, n);
        } else {
            on_event_frame(p, n, now);
        }
        return;
    }
    if (t == '3') { /* ack: 43<id>[...] */
        size_t i = 2;
        long id = 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') id = id * 10 + (p[i++] - '0');
        if (c->state == ST_JOINING && id == 0) {
            if (memmem(p, n, "\"ok\":true", 9) || memmem(p, n, "\"ok\": true", 10)) {
                become_ready(c);
            } else if (opt_race && c->join_tries < 5 && memmem(p, n, "channel_unavailable", 19)) {
                /* a join storm in one big channel can outlast the forwarding deadline: again */
                c->join_tries++;
                char msg[256];
                int len = snprintf(msg, sizeof msg, "420[\"channel:join\",{\"community_id\":\"%.100s\"}]", c->join);
                send_text(c, msg, (size_t)len);
            } else {
                char why[200];
                snprintf(why, sizeof why, "join refused: %.*s", (int)(n < 150 ? n : 150), p);
                conn_fail(c, why);
            }
        } else if (id > 0 && opt_race) {
            race_on_ack(c, id, p, n, now);
        } else if (id > 0) {
            if (memmem(p, n, "\"ok\":true", 9) || memmem(p, n, "\"ok\": true", 10)) {
                cnt_ack_ok++;
            } else {
                cnt_ack_err++;
                if (!first_error[0]) snprintf(first_error, sizeof first_error, "send refused: %.*s", (int)(n < 150 ? n : 150), p);
            }
        }
        return;
    }
    if (t == '0' && c->state == ST_SIO_CONNECT) {
        if (c->join) {
            char msg[256];
            int len = snprintf(msg, sizeof msg, "420[\"channel:join\",{\"community_id\":\"%.100s\"}]", c->join);
            c->state = ST_JOINING;
            send_text(c, msg, (size_t)len);
        } else {
            become_ready(c);
        }
        return;
    }
    if (t == '4') {
        char why[200];
        snprintf(why, sizeof why, "connect refused: %.*s", (int)(n < 150 ? n : 150), p);
        conn_fail(c, why);
        return;
    }
    if (t == '1') conn_fail(c, "socket.io disconnect");
}

static void on_frame(conn_t *c, int opcode, int fin, const char *p, size_t n, int64_t now) {
    if (opcode == 0x8) {
        conn_fail(c, "websocket close");
        return;
    }
    if (opcode == 0x9) { /* ping -> pong */
        unsigned char hdr[6] = {0x8A, (unsigned char)(0x80 | (n < 126 ? n : 0)), 0, 0, 0, 0};
        buf_append(&c->out, hdr, 6);
        buf_append(&c->out, p, n < 126 ? n : 0);
        flush_out(c);
        return;
    }
    if (opcode == 0xA) return;
    if (opcode == 0x0 || !fin) { /* fragmented message */
        if (opcode != 0x0) {
            c->frag.len = 0;
            c->frag_opcode = opcode;
        }
        buf_append(&c->frag, p, n);
        if (!fin) return;
        on_message(c, c->frag.p, c->frag.len, now);
        c->frag.len = 0;
        return;
    }
    if (opcode == 0x1) {
        if (c->state == ST_EIO_OPEN) {
            if (n > 0 && p[0] == '0') {
                char msg[2048];
                int len = snprintf(msg, sizeof msg, "40{\"token\":\"%s\"}", c->token);
                c->state = ST_SIO_CONNECT;
                send_text(c, msg, (size_t)len);
            } else {
                conn_fail(c, "no engine.io open packet");
            }
            return;
        }
        on_message(c, p, n, now);
    }
}

static void parse_frames(conn_t *c, int64_t now) {
    size_t off = 0;
    const unsigned char *b = (const unsigned char *)c->in.p;
    while (c->state != ST_FAILED && c->state != ST_CLOSED) {
        size_t avail = c->in.len - off;
        if (avail < 2) break;
        const unsigned char *h = b + off;
        int fin = h[0] & 0x80, opcode = h[0] & 0x0F, masked = h[1] & 0x80;
        uint64_t len = h[1] & 0x7F;
        size_t hl = 2;
        if (len == 126) {
            if (avail < 4) break;
            len = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
            hl = 10;
        }
        if (len > (1ULL << 30)) {
            conn_fail(c, "frame too large");
            return;
        }
        size_t mk = masked ? 4 : 0;
        if (avail < hl + mk + len) break;
        char *payload = (char *)(h + hl + mk);
        if (masked) {
            for (uint64_t i = 0; i < len; i++) payload[i] ^= h[hl + (i & 3)];
        }
        on_frame(c, opcode, fin, payload, (size_t)len, now);
        off += hl + mk + len;
    }
    if (c->state != ST_FAILED && c->state != ST_CLOSED) buf_consume(&c->in, off);
}

static void on_readable(conn_t *c, int64_t now) {
    buf_reserve(&c->in, 65536);
    ssize_t n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
    if (n == 0) {
        conn_fail(c, "connection closed by server");
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        conn_fail(c, "read failed");
        return;
    }
    c->in.len += (size_t)n;
    if (c->state == ST_HTTP) {
        char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
        if (!end) return;
        if (c->in.len < 12 || memcmp(c->in.p + 9, "101", 3) != 0) {
            char why[200];
            snprintf(why, sizeof why, "upgrade refused: %.*s", (int)(c->in.len < 120 ? c->in.len : 120), c->in.p);
            conn_fail(c, why);
            return;
        }
        buf_consume(&c->in, (size_t)(end + 4 - c->in.p));
        c->state = ST_EIO_OPEN;
    }
    parse_frames(c, now);
}

static int open_next(int i) {
    conn_t *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket() failed (raise the open-files limit?)");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int r = connect(c->fd, (struct sockaddr *)&sa, sizeof sa);
    if (r < 0 && errno != EINPROGRESS) die("connect() failed");
    c->state = ST_CONNECTING;
    c->want_out = 1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    n_pending++;
    return 0;
}

static void on_writable(conn_t *c) {
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            conn_fail(c, "connect failed");
            return;
        }
        char req[512];
        int n = snprintf(req, sizeof req,
                         "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
                         "Host: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         opt_port);
        c->state = ST_HTTP;
        buf_append(&c->out, req, (size_t)n);
    }
    flush_out(c);
}

/* --- steps ----------------------------------------------------------------------------------- */

static uint64_t percentiles(double pv[4]) {
    uint64_t total = 0;
    for (int i = 0; i < NBUCKETS; i++) total += hist[i];
    double pct[4] = {0.5, 0.9, 0.99, 0.999};
    for (int k = 0; k < 4; k++) {
        pv[k] = 0;
        if (!total) continue;
        uint64_t want = (uint64_t)(pct[k] * (double)total + 0.999999), acc = 0;
        if (want < 1) want = 1;
        for (int i = 0; i < NBUCKETS; i++) {
            acc += hist[i];
            if (acc >= want) {
                pv[k] = bucket_value(i) / 1000.0;
                break;
            }
        }
    }
    return total;
}

static void print_escaped(const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar((unsigned char)*s >= 0x20 ? *s : ' ');
    }
}

static void print_hist(void) {
    printf("\"hist\":[");
    int first = 1;
    for (int i = 0; i < NBUCKETS; i++) {
        if (!hist[i]) continue;
        printf("%s[%.1f,%llu]", first ? "" : ",", bucket_value(i), (unsigned long long)hist[i]);
        first = 0;
    }
    printf("]");
}

static void print_race_step(void) {
    double pv[4];
    uint64_t total = percentiles(pv);
    double win_cpu = (st_measure_seen && st_end_seen) ? cpu_at_end - cpu_at_measure : -1;
    printf("{\"step\":%d,\"connections\":%d,\"ready\":%d,\"closed\":%d,\"groups\":%d,\"groups_left\":%d,"
           "\"offered\":%llu,\"sent\":%llu,\"sent_window\":%llu,\"skipped\":%llu,\"skipped_no_group\":%llu,"
           "\"skipped_no_connection\":%llu,\"answered\":%llu,\"answered_window\":%llu,\"ok_window\":%llu,"
           "\"outstanding\":%d,\"late\":%llu,\"late_ok\":%llu,\"lost\":%llu,\"stray\":%llu,\"ok_total\":%llu,"
           "\"events\":%llu,\"event_bytes\":%llu,\"learnt_full_ack\":%llu,\"learnt_full_event\":%llu,\"latency_samples\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"cpu_window_s\":%.4f,\"cpu_total_s\":%.4f,\"codes\":{",
           step_id, nconns, n_ready, n_closed, nsg, nwin + (nsg - sg_next),
           (unsigned long long)(cnt_sent + cnt_skipped), (unsigned long long)cnt_sent,
           (unsigned long long)r_sent_window, (unsigned long long)cnt_skipped, (unsigned long long)r_skip_nogroup,
           (unsigned long long)r_skip_noconn, (unsigned long long)r_answered, (unsigned long long)r_answered_window,
           (unsigned long long)r_ok_window, n_busy, (unsigned long long)r_late, (unsigned long long)r_late_ok,
           (unsigned long long)r_lost, (unsigned long long)r_stray, (unsigned long long)r_ok_total,
           (unsigned long long)r_events, (unsigned long long)r_event_bytes, (unsigned long long)r_learnt_ack,
           (unsigned long long)r_learnt_event, (unsigned long long)total, pv[0], pv[1],
           pv[2], pv[3], lat_max_us / 1000.0, win_cpu, cpu_s());
    for (int i = 0; i < r_ncodes; i++) {
        printf("%s\"", i ? "," : "");
        print_escaped(r_codes[i].name);
        printf("\":%llu", (unsigned long long)r_codes[i].n);
    }
    printf("},\"error\":\"");
    print_escaped(first_error);
    printf("\",");
    print_hist();
    printf("}\n");
    fflush(stdout);
    first_error[0] = 0;
    memset(hist, 0, sizeof hist);
    cnt_sent = cnt_skipped = 0;
    lat_max_us = 0;
    step_id = -1;
    /* what arrives before the next step (late acks, events) is reported with it */
    r_sent_window = r_skip_nogroup = r_skip_noconn = r_answered = r_answered_window = r_ok_window = 0;
    r_late = r_late_ok = r_lost = r_stray = 0;
    r_ncodes = 0;
}

static void print_step(void) {
    if (opt_race) {
        print_race_step();
        return;
    }
    double pv[4];
    uint64_t total = percentiles(pv);
    double win_cpu = (st_measure_seen && st_end_seen) ? cpu_at_end - cpu_at_measure : -1;
    printf("{\"step\":%d,\"connections\":%d,\"ready\":%d,\"closed\":%d,\"count\":%llu,\"window_count\":%llu,"
           "\"other_step\":%llu,\"unmarked\":%llu,\"bytes\":%llu,\"sent\":%llu,\"ack_ok\":%llu,\"ack_err\":%llu,"
           "\"skipped\":%llu,\"latency_samples\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"cpu_window_s\":%.4f,\"cpu_total_s\":%.4f,\"error\":\"",
           step_id, nconns, n_ready, n_closed, (unsigned long long)cnt_all, (unsigned long long)cnt_window,
           (unsigned long long)cnt_other, (unsigned long long)cnt_unmarked, (unsigned long long)cnt_bytes,
           (unsigned long long)cnt_sent, (unsigned long long)cnt_ack_ok, (unsigned long long)cnt_ack_err,
           (unsigned long long)cnt_skipped, (unsigned long long)total, pv[0], pv[1], pv[2], pv[3],
           lat_max_us / 1000.0, win_cpu, cpu_s());
    print_escaped(first_error);
    printf("\",");
    print_hist();
    printf("}\n");
    fflush(stdout);
    first_error[0] = 0;
    memset(hist, 0, sizeof hist);
    cnt_all = cnt_window = cnt_other = cnt_unmarked = cnt_sent = cnt_ack_ok = cnt_ack_err = cnt_skipped = cnt_bytes = 0;
    lat_max_us = 0;
    step_id = -1;
}

static void send_due(int64_t now) {
    if (!opt_send || step_id < 0 || now < st_start || now >= st_end || st_rate <= 0) return;
    conn_t *c = &conns[0];
    if (c->state != ST_READY) return;
    uint64_t due = (uint64_t)((double)(now - st_start) * st_rate / 1e9) + 1;
    static char pad[4096];
    if (!pad[0]) memset(pad, 'x', sizeof pad - 1);
    int burst = 0;
    while (cnt_sent + cnt_skipped < due && burst < 10000) {
        burst++;
        if (c->out.len > MAX_OUT) { /* the server is not reading: do not buffer without end */
            cnt_skipped++;
            continue;
        }
        char msg[4600];
        uint64_t i = cnt_sent + cnt_skipped + 1;
        int len = snprintf(msg, sizeof msg,
                           "42%llu[\"%s\",{\"community_id\":\"%s\",\"client_msg_id\":\"s%lld-%d-%llu\","
                           "\"text\":\"lgb:%d:%lld%s%.*s\"}]",
                           (unsigned long long)i, opt_event, opt_join ? opt_join : "", (long long)st_start, step_id,
                           (unsigned long long)i, step_id, (long long)now_ns(), opt_pad ? " " : "",
                           opt_pad, pad);
        send_text(c, msg, (size_t)len);
        cnt_sent++;
    }
}

static void handle_command(char *line) {
    if (strncmp(line, "quit", 4) == 0) {
        if (opt_race) {
            printf("{\"quit\":true,\"ok_total\":%llu,\"late_ok_total\":%llu,\"outstanding\":%d,\"closed\":%d,"
                   "\"cpu_total_s\":%.4f}\n",
                   (unsigned long long)r_ok_total, (unsigned long long)r_late_ok_total, n_busy, n_closed, cpu_s());
            fflush(stdout);
        }
        exit(0);
    }
    int id;
    long long a, b, c, d, e = 0;
    double rate;
    int got = sscanf(line, "step %d %lld %lld %lld %lld %lf %lld", &id, &a, &b, &c, &d, &rate, &e);
    if (got >= 6) {
        step_id = id;
        st_start = a;
        st_measure = b;
        st_end = c;
        st_stop = d;
        st_rate = rate;
        st_drained = got == 7 ? e : d;
        if (opt_race) race_begin_step();
        st_measure_seen = st_end_seen = 0;
        memset(hist, 0, sizeof hist);
        cnt_all = cnt_window = cnt_other = cnt_unmarked = cnt_sent = cnt_ack_ok = cnt_ack_err = cnt_skipped = cnt_bytes = 0;
        lat_max_us = 0;
    }
}

static char ctl[4096];
static size_t ctl_len;

static void on_stdin(void) {
    ssize_t n = read(0, ctl + ctl_len, sizeof ctl - 1 - ctl_len);
    if (n <= 0) exit(0); /* the orchestrator went away: stop */
    ctl_len += (size_t)n;
    char *nl;
    while ((nl = memchr(ctl, '\n', ctl_len)) != NULL) {
        *nl = 0;
        handle_command(ctl);
        size_t used = (size_t)(nl + 1 - ctl);
        memmove(ctl, ctl + used, ctl_len - used);
        ctl_len -= used;
    }
    if (ctl_len == sizeof ctl - 1) ctl_len = 0;
}

static char **read_tokens(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open the token file");
    int cap = 1024, cnt = 0;
    char **out = malloc(sizeof(char *) * (size_t)cap);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (cnt == cap) out = realloc(out, sizeof(char *) * (size_t)(cap *= 2));
        out[cnt++] = strdup(line);
    }
    free(line);
    fclose(f);
    *n = cnt;
    return out;
}

static void read_race(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open the --race file");
    int cap = 1024;
    rg_id = malloc(sizeof *rg_id * (size_t)cap);
    rg_step = malloc(sizeof *rg_step * (size_t)cap);
    char *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        int step;
        char id[40];
        if (sscanf(line, "%d %39s", &step, id) != 2) continue;
        if (nrg == cap) {
            cap *= 2;
            rg_id = realloc(rg_id, sizeof *rg_id * (size_t)cap);
            rg_step = realloc(rg_step, sizeof *rg_step * (size_t)cap);
        }
        if (!rg_id || !rg_step) die("out of memory");
        memcpy(rg_id[nrg], id, sizeof id);
        rg_step[nrg++] = step;
    }
    free(line);
    fclose(f);
    rg_full = calloc((size_t)nrg + 1, 1);
    sg = malloc(sizeof *sg * ((size_t)nrg + 1));
    if (!rg_full || !sg) die("out of memory");
    rg_index();
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--send")) { opt_send = 1; continue; }
        if (!v) die("missing option value");
        if (!strcmp(a, "--port")) opt_port = atoi(v);
        else if (!strcmp(a, "--tokens")) opt_tokens = v;
        else if (!strcmp(a, "--first")) opt_first = atoi(v);
        else if (!strcmp(a, "--count")) opt_count = atoi(v);
        else if (!strcmp(a, "--join")) opt_join = v;
        else if (!strcmp(a, "--joins")) opt_joins = v;
        else if (!strcmp(a, "--event")) opt_event = v;
        else if (!strcmp(a, "--concurrency")) opt_concurrency = atoi(v);
        else if (!strcmp(a, "--connect-timeout")) opt_connect_timeout = atof(v);
        else if (!strcmp(a, "--pad")) opt_pad = atoi(v);
        else if (!strcmp(a, "--race")) opt_race = v;
        else if (!strcmp(a, "--max-members")) opt_max_members = atoi(v);
        else if (!strcmp(a, "--limit")) opt_limit = atoi(v);
        else if (!strcmp(a, "--hot")) opt_hot = atoi(v);
        else if (!strcmp(a, "--seed")) opt_seed = strtoull(v, NULL, 10);
        else die("unknown option");
        i++;
    }
    if (opt_port <= 0 || !opt_tokens || opt_count <= 0)
        die("usage: wsclient --port P --tokens FILE [--first I] [--count K] [--join CID | --joins FILE] [--send] "
            "[--event NAME] [--race GROUPS_FILE [--limit N] [--hot N] [--seed S]]");
    if (opt_pad < 0 || opt_pad > 4000) die("--pad must be 0..4000");
    if (opt_race) {
        if (opt_send || !opt_join) die("--race needs --join CID and no --send");
        if (opt_limit < 1 || opt_limit > 100) die("--limit must be 1..100");
        if (opt_hot < 1 || opt_hot > MAX_HOT) die("--hot must be 1..1024");
        read_race(opt_race);
        rng_state ^= opt_seed * 0x9E3779B97F4A7C15ULL;
        if (!rng_state) rng_state = 1;
    }
    int ntok;
    char **tokens = read_tokens(opt_tokens, &ntok);
    if (opt_first + opt_count > ntok) die("not enough tokens in the token file");
    int njoins = 0;
    char **joins = opt_joins ? read_tokens(opt_joins, &njoins) : NULL;
    if (joins && opt_first + opt_count > njoins) die("not enough lines in the --joins file");
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    nconns = opt_count;
    conns = calloc((size_t)nconns, sizeof(conn_t));
    epfd = epoll_create1(0);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &sev);
    for (int i = 0; i < nconns; i++) {
        conns[i].fd = -1;
        conns[i].token = tokens[opt_first + i];
        conns[i].join = joins ? joins[opt_first + i] : opt_join;
        conns[i].jstep = -1;
        conns[i].astep = -1;
        if (opt_race && !(conns[i].joined = malloc(sizeof(int) * (size_t)opt_limit))) die("out of memory");
    }

    int next = 0, announced = 0;
    int64_t deadline = now_ns() + (int64_t)(opt_connect_timeout * 1e9);
    struct epoll_event evs[256];
    for (;;) {
        while (!announced && next < nconns && n_pending < opt_concurrency) open_next(next++);
        if (!announced && next == nconns && n_pending == 0) {
            printf("{\"ready\":%d,\"failed\":%d,\"cpu_total_s\":%.4f,\"error\":\"", n_ready, n_failed, cpu_s());
            for (const char *s = first_error; *s; s++) {
                if (*s == '"' || *s == '\\') putchar('\\');
                putchar((unsigned char)*s >= 0x20 ? *s : ' ');
            }
            printf("\"}\n");
            fflush(stdout);
            first_error[0] = 0;
            announced = 1;
        }
        int64_t now = now_ns();
        if (!announced && now > deadline) {
            for (int i = 0; i < nconns; i++)
                if (conns[i].state < ST_READY && conns[i].fd >= 0) conn_fail(&conns[i], "connect phase timed out");
            next = nconns;
            continue;
        }
        int timeout = 100;
        if (step_id >= 0) {
            if (!st_measure_seen && now >= st_measure) { cpu_at_measure = cpu_s(); st_measure_seen = 1; }
            if (!st_end_seen && now >= st_end) { cpu_at_end = cpu_s(); st_end_seen = 1; }
            if (now >= st_stop || (opt_race && now >= st_drained && now >= st_end && n_busy == 0)) {
                print_step();
                continue;
            }
            if (opt_race)
                race_due(now);
            else
                send_due(now);
            int64_t wake = st_stop;
            if (!st_measure_seen && st_measure < wake) wake = st_measure;
            if (!st_end_seen && st_end < wake) wake = st_end;
            int offers = opt_send || opt_race;
            if (offers && now >= st_start && now < st_end && st_rate > 0) {
                int64_t nxt = st_start + (int64_t)((double)(cnt_sent + cnt_skipped + 1) * 1e9 / st_rate);
                if (nxt < wake) wake = nxt;
            } else if (offers && now < st_start && st_start < wake) {
                wake = st_start;
            }
            if (opt_race && now < st_drained && st_drained < wake) wake = st_drained;
            int64_t ms = (wake - now + 999999) / 1000000;
            timeout = ms < 0 ? 0 : (ms > 100 ? 100 : (int)ms);
        }
        int n = epoll_wait(epfd, evs, 256, timeout);
        now = now_ns();
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c) {
                on_stdin();
                continue;
            }
            if (c->fd < 0) continue;
            if (evs[i].events & (EPOLLOUT)) on_writable(c);
            if (c->fd >= 0 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) on_readable(c, now);
        }
    }
}
