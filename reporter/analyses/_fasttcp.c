/* The TCP analysis's fast path for plainly ordinary connections, compiled (reporter/analyses/fastpath.py).
 *
 * Why: the Python analysis (tcp.py, echo.py, reassembly.py) is the reference and handles every
 * connection, whatever happens in it, at ~4 us a packet. Most connections of a big capture are
 * plain: a handshake, bytes in order both ways, an echo of what was sent, a close. This module
 * reads a pcap file, decodes the common frame (the reader's own fast layout), tracks every
 * connection exactly as tcp.py opens them (the same ids, client numbers, port reuse), and follows
 * the plain ones along the very branches tcp.py and echo.py take for such packets. The first
 * packet that would take any other branch (a retransmission, a gap, a capture duplicate, data on a
 * SYN/FIN/RST, a server ahead of its client, a limit reached) *taints* its connection: everything
 * computed for it is dropped and the Python reference analyses it from its first packet in a
 * second pass (Replay), which also hands out every frame the Python side needs (DNS, frames the
 * fast layout does not cover). Whatever this module cannot vouch for (another file format or link
 * type, a damaged file, a frame that might be TCP but is not in the fast layout) makes it decline
 * the whole capture, and the reference does all of it.
 *
 * Every constant comes from the Python modules at call time (one source of truth). Names follow
 * tcp.py / echo.py / conn.py so a change there can be found here; tests/test_fastpath.py compares
 * this path with the reference on the snapshot corpus, its mutants and the bench shapes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <errno.h>

#define API_VERSION 2

#define M32 0xFFFFFFFFu
#define HALF 0x80000000u
#define WRAP 0x100000000LL

/* TCP flags */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

/* Zeek endpoint states (conn.py) */
enum { INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET };
/* history bits (conn.py), the server's << 16 */
#define H_SYN 1
#define H_FIN 2
#define H_RST 4
#define H_ACK 8
#define H_DATA 16
#define WAIT_HANDSHAKE H_ACK
#define WAIT_REQUEST (H_ACK << 16)

#define HIST_MAX 48

/* frame classes */
enum { K_OTHER = 0, K_DNS = 1, K_TCP = 2, K_SWEEP = 3, K_UDP_SKIP = 10, K_TCP_FAST = 11, K_ABORT = 12 };

typedef struct {
    int64_t chunk, max_caplen, preview, exchange_gap_ns, max_exchanges, max_frames, lead_cap, other_cap;
    int64_t idle_ns, sweep_every, dup_ns;
} Consts;

/* ---- growable arrays --------------------------------------------------------------------- */

typedef struct { int64_t *v; Py_ssize_t n, cap; } I64Vec;

static int i64_push(I64Vec *a, int64_t x) {
    if (a->n == a->cap) {
        Py_ssize_t cap = a->cap ? a->cap * 2 : 4;
        int64_t *v = PyMem_Realloc(a->v, (size_t)cap * sizeof(int64_t));
        if (!v) { PyErr_NoMemory(); return -1; }
        a->v = v; a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

typedef struct { uint8_t *v; Py_ssize_t lo, n, cap; } Bytes;  /* bytes [lo, n) are live */

static int bytes_add(Bytes *b, const uint8_t *p, Py_ssize_t k) {
    if (b->n + k > b->cap) {
        if (b->lo > 0 && b->lo >= (b->n - b->lo)) {  /* compact before growing */
            memmove(b->v, b->v + b->lo, (size_t)(b->n - b->lo));
            b->n -= b->lo; b->lo = 0;
        }
        if (b->n + k > b->cap) {
            Py_ssize_t cap = b->cap ? b->cap : 64;
            while (cap < b->n + k) cap *= 2;
            uint8_t *v = PyMem_Realloc(b->v, (size_t)cap);
            if (!v) { PyErr_NoMemory(); return -1; }
            b->v = v; b->cap = cap;
        }
    }
    memcpy(b->v + b->n, p, (size_t)k);
    b->n += k;
    return 0;
}

static void bytes_free(Bytes *b) { PyMem_Free(b->v); b->v = NULL; b->lo = b->n = b->cap = 0; }

/* ---- per-connection analysis state (plain connections only) ------------------------------- */

typedef struct {
    int64_t start, end, req_ts, last_ts, echo_ts;
    int has_echo_ts;
    I64Vec req, echo;
} Exchange;

typedef struct {
    /* reassembly.Half, the fields plain connections use */
    int64_t next, top, bytes, segments, w_count;
    uint32_t nseq;
    int state;
    int has_syn_seq, has_hist_syn, has_hist_fin, has_hist_rst;
    uint32_t syn_seq, hist_syn, hist_rst;
    int64_t hist_fin;
    /* the last payload-less packet (capture duplicates of it) */
    int has_last, last_flags, last_ipid, last_win, last_optlen;
    int64_t last_ts;
    uint32_t last_seq, last_ack;
    uint8_t last_opt[40];
    /* the stream: preview, bytes not yet hashed, the hash object once there are many */
    Bytes preview, pend;
    PyObject *hasher;
} HalfA;

typedef struct {
    HalfA c, s;
    int64_t syn_frame, syn_ts, synack_frame, ack_frame, ack_ts, rtt_from;  /* -1: None (frames, times >= 0?) */
    int has_syn, has_synack, has_ack, has_rtt_from;
    int mss, wscale, sack_ok, timestamps;  /* mss/wscale -1: None */
    uint32_t wait;
    int waiting, first_fin_by, reset, has_close;  /* first_fin_by 0 none, 1 client, 2 server */
    int64_t last_ts, close_ts;
    char hist[HIST_MAX];
    int hist_n;
    uint32_t seen;
    int64_t fin_frame, request_ack_frame;
    int has_fin_frame, has_request_ack;
    int64_t syn_rexmits, synack_rexmits, synack_ts;
    int fin_n, fin_up[2];  /* each side's first FIN: (by client, frame, time), in frame order */
    int64_t fin_no[2], fin_ts[2];
    /* echo.EchoCheck */
    int64_t cap, end0, end1, echoed, mismatch, first_req_ts, first_echo_ts;
    int lead, has_mismatch, stopped, has_first_req, has_first_echo, has_mismatch_frame;
    int64_t mismatch_frame;
    Bytes buf;
    Exchange *ex;
    Py_ssize_t nex, excap, open_lo;
} Analysis;

/* A connection as tcp.py opens it: kept for every connection, small. */
typedef struct Conn {
    int64_t id, client_no, first_frame;
    uint8_t cip[4], sip[4];
    uint16_t cport, sport;
    uint8_t has_base[2];  /* per half: 0 client, 1 server */
    uint32_t base[2];
    uint8_t tainted, in_live;
    Analysis *a;  /* NULL once tainted (or never analysed, in Replay) */
} Conn;

/* ---- hash tables --------------------------------------------------------------------------- */

typedef struct { uint8_t k[12]; Conn *conn; uint8_t half; } Slot;
typedef struct { Slot *s; size_t cap, used; } Table;

static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}

static inline uint64_t key_hash(const uint8_t *k) {
    uint64_t a, b = 0;
    memcpy(&a, k, 8);
    memcpy(&b, k + 8, 4);
    return mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ULL));
}

static int table_grow(Table *t) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    Slot *s = PyMem_Calloc(cap, sizeof(Slot));
    if (!s) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->s[i].conn) continue;
        size_t j = key_hash(t->s[i].k) & (cap - 1);
        while (s[j].conn) j = (j + 1) & (cap - 1);
        s[j] = t->s[i];
    }
    PyMem_Free(t->s);
    t->s = s; t->cap = cap;
    return 0;
}

static Slot *table_find(Table *t, const uint8_t *k) {
    if (!t->cap) return NULL;
    size_t j = key_hash(k) & (t->cap - 1);
    while (t->s[j].conn) {
        if (memcmp(t->s[j].k, k, 12) == 0) return &t->s[j];
        j = (j + 1) & (t->cap - 1);
    }
    return NULL;
}

static int table_put(Table *t, const uint8_t *k, Conn *conn, uint8_t half) {
    if ((t->used + 1) * 2 > t->cap && table_grow(t) < 0) return -1;
    size_t j = key_hash(k) & (t->cap - 1);
    while (t->s[j].conn) {
        if (memcmp(t->s[j].k, k, 12) == 0) { t->s[j].conn = conn; t->s[j].half = half; return 0; }
        j = (j + 1) & (t->cap - 1);
    }
    memcpy(t->s[j].k, k, 12);
    t->s[j].conn = conn; t->s[j].half = half;
    t->used++;
    return 0;
}

static void make_key(uint8_t *k, const uint8_t *src, int sport, const uint8_t *dst, int dport) {
    memcpy(k, src, 4); memcpy(k + 4, dst, 4);
    k[8] = (uint8_t)(sport >> 8); k[9] = (uint8_t)sport; k[10] = (uint8_t)(dport >> 8); k[11] = (uint8_t)dport;
}

/* ---- the pcap reader (capture._iter_pcap, the same checks) ---------------------------------- */

typedef struct {
    FILE *f;
    uint8_t *buf;
    Py_ssize_t cap, pos, n;
    int eof, big_endian, nano, hsize, linktype;
    int64_t remaining, no, first_ts, last_ts, chunk, max_caplen;
    int has_first, damaged;
    /* the fast layout: offset of the link's ethertype, of the IP header, shortest frame */
    int etoff, ipoff, fmin;
} Reader;

typedef struct {
    int64_t no, ts;
    const uint8_t *frame;
    Py_ssize_t caplen, origlen;
} Rec;

static inline uint32_t rd32(const uint8_t *p, int big) {
    return big ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3])
               : ((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]);
}
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline int be16(const uint8_t *p) { return p[0] << 8 | p[1]; }

static int reader_fill(Reader *r, Py_ssize_t want) {
    /* keep buf[pos:n], read at least `want` more bytes' worth (one read of max(chunk, want)) */
    Py_ssize_t keep = r->n - r->pos;
    Py_ssize_t ask = want > r->chunk ? want : r->chunk;
    if (keep + ask > r->cap) {
        Py_ssize_t cap = keep + ask;
        uint8_t *b = PyMem_Malloc((size_t)cap);
        if (!b) { PyErr_NoMemory(); return -1; }
        memcpy(b, r->buf + r->pos, (size_t)keep);
        PyMem_Free(r->buf);
        r->buf = b; r->cap = cap;
    } else if (r->pos) {
        memmove(r->buf, r->buf + r->pos, (size_t)keep);
    }
    r->pos = 0; r->n = keep;
    size_t got = fread(r->buf + keep, 1, (size_t)ask, r->f);
    if (got == 0 && ferror(r->f)) { PyErr_SetFromErrno(PyExc_OSError); return -1; }
    r->n += (Py_ssize_t)got;
    r->remaining -= (int64_t)got;
    return (int)(got > 0);
}

/* 1: a record; 0: the end; -1: a Python error. Damage sets r->damaged and ends. */
static int reader_next(Reader *r, Rec *rec) {
    for (;;) {
        if (r->pos + r->hsize > r->n) {
            if (r->eof || r->remaining <= 0) {
                if (r->pos < r->n) r->damaged = 1;
                return 0;
            }
            int got = reader_fill(r, r->chunk);
            if (got < 0) return -1;
            if (!got) r->eof = 1;
            continue;
        }
        const uint8_t *h = r->buf + r->pos;
        int64_t sec = rd32(h, r->big_endian), frac = rd32(h + 4, r->big_endian);
        int64_t caplen = rd32(h + 8, r->big_endian), origlen = rd32(h + 12, r->big_endian);
        Py_ssize_t fs = r->pos + r->hsize, fe = fs + (Py_ssize_t)caplen;
        if (fe > r->n) {
            if (caplen > r->max_caplen || fe - r->n > r->remaining) { r->damaged = 1; return 0; }
            int got = reader_fill(r, fe - r->n);
            if (got < 0) return -1;
            if (!got) { r->eof = 1; r->damaged = 1; return 0; }
            continue;
        }
        if (frac >= (r->nano ? 1000000000LL : 1000000LL)) { r->damaged = 1; return 0; }  /* "timestamp-overflow": the reference's */
        r->pos = fe;
        r->no++;
        int64_t ts = sec * 1000000000LL + frac * (r->nano ? 1 : 1000);
        if (!r->has_first || ts > r->last_ts) {
            r->last_ts = ts;
            if (!r->has_first) { r->has_first = 1; r->first_ts = ts; }
        }
        rec->no = r->no; rec->ts = ts; rec->frame = r->buf + fs; rec->caplen = (Py_ssize_t)caplen;
        rec->origlen = (Py_ssize_t)origlen;
        return 1;
    }
}

/* A decoded fast-layout frame (decode.fast_layout, and the plain IPv4 UDP frame). */
typedef struct {
    const uint8_t *src, *dst, *opt, *pay;
    int ipid, sport, dport, flags, win, optlen;
    uint32_t seq, ack;
    Py_ssize_t plen;
} Pkt;

/* What the reader would make of the frame: K_TCP_FAST (p filled), K_DNS / K_UDP_SKIP (plain IPv4
 * UDP: p filled, to or from port 53 or not), K_OTHER (the Python decoder's, and never TCP), or
 * K_ABORT (might be TCP outside the fast layout: this module cannot vouch for the capture). */
static int classify(const Reader *r, const Rec *rec, Pkt *p) {
    const uint8_t *fr = rec->frame;
    Py_ssize_t caplen = rec->caplen;
    if (caplen >= r->fmin) {
        const uint8_t *e = fr + r->etoff, *ip = fr + r->ipoff;
        int etype = be16(e);
        int vhl = ip[0], totlen = be16(ip + 2), frag = be16(ip + 6), proto = ip[9];
        if (etype == 0x0800 && vhl == 0x45 && !(frag & 0x3FFF)) {
            Py_ssize_t ips = r->ipoff, ipe = ips + totlen;
            if (proto == 6) {
                int offb = ip[32];
                Py_ssize_t ps = ips + 20 + (offb >> 4) * 4;
                if (ipe <= caplen && ps <= ipe && offb >= 0x50) {
                    p->src = ip + 12; p->dst = ip + 16; p->ipid = be16(ip + 4);
                    p->sport = be16(ip + 20); p->dport = be16(ip + 22);
                    p->seq = be32(ip + 24); p->ack = be32(ip + 28);
                    p->flags = ip[33]; p->win = be16(ip + 34);
                    p->opt = ip + 40; p->optlen = offb >= 0x60 ? (int)(ps - ips - 40) : 0;
                    p->pay = fr + ps; p->plen = ipe - ps;
                    return K_TCP_FAST;
                }
                return K_ABORT;
            }
            if (proto == 17 && totlen >= 28 && ipe <= caplen) {  /* decode_frame: whole, no problem */
                p->src = ip + 12; p->dst = ip + 16; p->ipid = be16(ip + 4);
                p->sport = be16(ip + 20); p->dport = be16(ip + 22);
                Py_ssize_t l4 = ips + 20, end = ipe;
                int ulen = be16(ip + 24);
                if (8 <= ulen && ulen < end - l4) end = l4 + ulen;
                p->pay = fr + l4 + 8; p->plen = end - l4 - 8;
                return (p->sport == 53 || p->dport == 53) ? K_DNS : K_UDP_SKIP;
            }
        }
    }
    /* not the fast layout: the Python decoder's, unless it might be TCP */
    Py_ssize_t eo = r->etoff;
    if (caplen < eo + 2) return K_OTHER;  /* too short for a link header: malformed, not TCP */
    int etype = be16(fr + eo);
    if (r->linktype == 1 && etype <= 1500) {  /* 802.3 length: LLC; SNAP may carry IP */
        if (caplen < eo + 4) return K_OTHER;
        return (fr[eo + 2] == 0xAA && fr[eo + 3] == 0xAA) ? K_ABORT : K_OTHER;
    }
    if (etype == 0x0800) {
        const uint8_t *ip = fr + r->ipoff;
        if (caplen < r->ipoff + 20) return K_OTHER;  /* decode_frame: malformed or snaplen, never a packet */
        int proto = ip[9];
        if ((ip[0] >> 4) != 4) return K_OTHER;  /* "malformed" */
        if (proto == 1 || proto == 2 || proto == 17) return K_OTHER;
        return K_ABORT;
    }
    if (etype == 0x86DD) {
        if (caplen < r->ipoff + 40) return K_OTHER;
        int nh = fr[r->ipoff + 6];
        if ((fr[r->ipoff] >> 4) == 6 && (nh == 17 || nh == 58)) return K_OTHER;
        return K_ABORT;
    }
    if (etype == 0x0806 || etype == 0x88CC || etype == 0x8035 || etype == 0x888E || etype == 0x88E1
        || etype == 0x8899 || etype == 0x88F7 || etype == 0x9000)
        return K_OTHER;  /* ARP, LLDP, RARP, EAPOL, HomePlug, Realtek, PTP, loopback test: never IP */
    return K_ABORT;  /* VLAN, MPLS, PPPoE, anything unknown: maybe IP inside */
}

/* ---- the tracker: connections as tcp.py opens them -------------------------------------------- */

typedef struct {
    Consts k;
    Table flows;  /* (src, sport, dst, dport) -> (conn, half) */
    Table servers;  /* (server ip, port) -> count, in the Conn* slot's id field... kept as a Conn* */
    Conn **conns;
    Py_ssize_t nconns, conncap;
    Conn **live;
    Py_ssize_t nlive, livecap;
    PyObject *services[65536];  /* borrowed from the services dict: port -> name */
    int analyse;  /* pass 1: analyse plain connections; Replay: track only */
    PyObject *sha256, *empty_hex;
    /* results of pass 1 */
    PyObject *sweeps;  /* list of (frame, ts) */
    int64_t opened_at_no, opened_at_ts;  /* the frame that opened the latest connection */
    int sweep_due;
} Tracker;

typedef struct { int64_t count; } ServerCount;

static void analysis_free(Analysis *a) {
    if (!a) return;
    for (int i = 0; i < 2; i++) {
        HalfA *h = i ? &a->s : &a->c;
        bytes_free(&h->preview); bytes_free(&h->pend);
        Py_CLEAR(h->hasher);
    }
    bytes_free(&a->buf);
    for (Py_ssize_t i = 0; i < a->nex; i++) { PyMem_Free(a->ex[i].req.v); PyMem_Free(a->ex[i].echo.v); }
    PyMem_Free(a->ex);
    PyMem_Free(a);
}

static void taint(Conn *conn) {
    conn->tainted = 1;
    analysis_free(conn->a);
    conn->a = NULL;
}

static int hist_add(Conn *conn, char letter) {
    Analysis *a = conn->a;
    if (a->hist_n >= HIST_MAX - 1) { taint(conn); return 0; }
    a->hist[a->hist_n++] = letter;
    return 1;
}

/* conn.mark: record a history letter once; 1 when it had been recorded before */
static int mark(Conn *conn, uint32_t bit, char letter) {
    Analysis *a = conn->a;
    if (a->seen & bit) return 1;
    a->seen |= bit;
    hist_add(conn, letter);
    return 0;
}

static int log_scale(int64_t count) {
    while (count % 10 == 0) count /= 10;
    return count == 1;
}

static Conn *open_conn(Tracker *t, const Rec *rec, const Pkt *p, int *half_out) {
    int flags = p->flags, src_is_client;
    if (flags & F_SYN) src_is_client = !(flags & F_ACK);
    else if (t->services[p->dport] && !t->services[p->sport]) src_is_client = 1;
    else if (t->services[p->sport] && !t->services[p->dport]) src_is_client = 0;
    else src_is_client = p->sport >= p->dport;
    Conn *conn = PyMem_Calloc(1, sizeof(Conn));
    if (!conn) { PyErr_NoMemory(); return NULL; }
    conn->id = t->nconns;
    conn->first_frame = rec->no;
    if (src_is_client) {
        memcpy(conn->cip, p->src, 4); conn->cport = (uint16_t)p->sport;
        memcpy(conn->sip, p->dst, 4); conn->sport = (uint16_t)p->dport;
    } else {
        memcpy(conn->cip, p->dst, 4); conn->cport = (uint16_t)p->dport;
        memcpy(conn->sip, p->src, 4); conn->sport = (uint16_t)p->sport;
    }
    /* per_server: client numbers in the order connections to a server endpoint open */
    uint8_t sk[12];
    make_key(sk, conn->sip, conn->sport, conn->sip, conn->sport);
    Slot *s = table_find(&t->servers, sk);
    if (s) { s->conn = (Conn *)((intptr_t)s->conn + 1); conn->client_no = (int64_t)(intptr_t)s->conn; }
    else { if (table_put(&t->servers, sk, (Conn *)(intptr_t)1, 0) < 0) { PyMem_Free(conn); return NULL; } conn->client_no = 1; }
    uint8_t kc[12], ks[12];
    make_key(kc, conn->cip, conn->cport, conn->sip, conn->sport);
    make_key(ks, conn->sip, conn->sport, conn->cip, conn->cport);
    if (table_put(&t->flows, kc, conn, 0) < 0 || table_put(&t->flows, ks, conn, 1) < 0) { PyMem_Free(conn); return NULL; }
    if (t->nconns == t->conncap) {
        Py_ssize_t cap = t->conncap ? t->conncap * 2 : 1024;
        Conn **v = PyMem_Realloc(t->conns, (size_t)cap * sizeof(Conn *));
        if (!v) { PyErr_NoMemory(); return NULL; }
        t->conns = v; t->conncap = cap;
    }
    t->conns[t->nconns++] = conn;
    if (t->analyse) {
        Analysis *a = PyMem_Calloc(1, sizeof(Analysis));
        if (!a) { PyErr_NoMemory(); return NULL; }
        conn->a = a;
        a->mss = a->wscale = -1;
        a->cap = t->services[conn->sport] ? t->k.lead_cap : t->k.other_cap;
        a->last_ts = rec->ts;
        if (t->nlive == t->livecap) {
            Py_ssize_t cap = t->livecap ? t->livecap * 2 : 256;
            Conn **v = PyMem_Realloc(t->live, (size_t)cap * sizeof(Conn *));
            if (!v) { PyErr_NoMemory(); return NULL; }
            t->live = v; t->livecap = cap;
        }
        t->live[t->nlive++] = conn;
        conn->in_live = 1;
    }
    t->opened_at_no = rec->no; t->opened_at_ts = rec->ts;
    t->sweep_due = (t->nconns % t->k.sweep_every) == 0;
    *half_out = src_is_client ? 0 : 1;
    return conn;
}

/* tcp._sweep: idle connections give back the frames kept to recognise capture duplicates */
static void sweep(Tracker *t, int64_t now) {
    Py_ssize_t keep = 0;
    for (Py_ssize_t i = 0; i < t->nlive; i++) {
        Conn *conn = t->live[i];
        Analysis *a = conn->a;
        if (!a) { conn->in_live = 0; continue; }  /* tainted: the reference sweeps it itself */
        if (now - a->last_ts < t->k.idle_ns) { t->live[keep++] = conn; continue; }
        int closed = a->reset || (a->c.state == CLOSED && a->s.state == CLOSED);
        a->c.has_last = a->s.has_last = 0;
        if (!closed) t->live[keep++] = conn;
        else conn->in_live = 0;
    }
    t->nlive = keep;
}

/* ---- echo.EchoCheck, the branches plain connections take ------------------------------------- */

static Exchange *new_exchange(Analysis *a, int64_t off, int64_t ts) {
    if (a->nex == a->excap) {
        Py_ssize_t cap = a->excap ? a->excap * 2 : 4;
        Exchange *v = PyMem_Realloc(a->ex, (size_t)cap * sizeof(Exchange));
        if (!v) { PyErr_NoMemory(); return NULL; }
        a->ex = v; a->excap = cap;
    }
    Exchange *x = &a->ex[a->nex++];
    memset(x, 0, sizeof(*x));
    x->start = x->end = off;
    x->req_ts = x->last_ts = ts;
    return x;
}

/* 0 ok, -1 Python error; taints on any branch a plain connection does not take */
static int echo_request(Tracker *t, Conn *conn, int64_t off, const uint8_t *data, Py_ssize_t n, int64_t no, int64_t ts) {
    Analysis *a = conn->a;
    if (!a->has_first_req) { a->has_first_req = 1; a->first_req_ts = ts; }
    Exchange *x;
    if (a->open_lo < a->nex && ts - a->ex[a->nex - 1].last_ts < t->k.exchange_gap_ns) {
        x = &a->ex[a->nex - 1];
    } else if (a->nex < t->k.max_exchanges) {
        x = new_exchange(a, off, ts);
        if (!x) return -1;
    } else {
        taint(conn);  /* exchanges-truncated */
        return 0;
    }
    x->end = off + n;
    x->last_ts = ts;
    if ((x->req.n == 0 || x->req.v[x->req.n - 1] != no) && x->req.n < t->k.max_frames)
        if (i64_push(&x->req, no) < 0) return -1;
    if (a->stopped) {  /* _add: the end moves, nothing is compared any more */
        a->end0 = off + n;
        return 0;
    }
    if (off == a->end0 && off >= a->end1) {
        a->end0 = off + n;
        if (off == a->end1) a->lead = 0;
        if ((a->buf.n - a->buf.lo) + n > a->cap) { taint(conn); return 0; }  /* echo-unchecked */
        return bytes_add(&a->buf, data, n);
    }
    taint(conn);
    return 0;
}

static int echo_frames(Tracker *t, Analysis *a, int64_t off, int64_t end, int64_t no, int64_t ts) {
    Py_ssize_t done = 0;
    for (Py_ssize_t i = a->open_lo; i < a->nex; i++) {
        Exchange *x = &a->ex[i];
        if (x->start >= end) break;
        if (x->end > off) {
            if (x->echo.n == 0) { x->echo_ts = ts; x->has_echo_ts = 1; }
            if ((x->echo.n == 0 || x->echo.v[x->echo.n - 1] != no) && x->echo.n < t->k.max_frames)
                if (i64_push(&x->echo, no) < 0) return -1;
        }
        if (end >= x->end) done++;
        else break;
    }
    a->open_lo += done;
    return 0;
}

static int echo_answer(Tracker *t, Conn *conn, int64_t off, const uint8_t *data, Py_ssize_t n, int64_t no, int64_t ts) {
    Analysis *a = conn->a;
    if (!a->has_first_echo) { a->has_first_echo = 1; a->first_echo_ts = ts; }
    int64_t end = off + n;
    if (a->open_lo < a->nex) {
        Exchange *x = &a->ex[a->open_lo];
        if (a->nex - a->open_lo == 1 && x->start < end && x->end > off) {
            if (x->echo.n == 0) {
                x->echo_ts = ts; x->has_echo_ts = 1;
                if (i64_push(&x->echo, no) < 0) return -1;
            } else if (x->echo.v[x->echo.n - 1] != no && x->echo.n < t->k.max_frames) {
                if (i64_push(&x->echo, no) < 0) return -1;
            }
            if (end >= x->end) a->open_lo = a->nex;
        } else if (echo_frames(t, a, off, end, no, ts) < 0) {
            return -1;
        }
    }
    if (a->stopped) {
        a->end1 = end;
        return 0;
    }
    if (off == a->end1 && end <= a->end0) {  /* `unknown` is always empty here: no gaps */
        a->end1 = end;
        const uint8_t *head = a->buf.v + a->buf.lo;
        if (memcmp(head, data, (size_t)n) == 0) {
            a->buf.lo += n;
            a->echoed += n;
            return 0;
        }
        Py_ssize_t i = 0;
        while (head[i] == data[i]) i++;
        a->echoed += i;
        a->mismatch = off + i; a->has_mismatch = 1;
        a->mismatch_frame = no; a->has_mismatch_frame = 1;
        a->stopped = 1;
        bytes_free(&a->buf);
        return 0;
    }
    taint(conn);  /* the server ahead of its client */
    return 0;
}

/* ---- tcp.TcpAnalysis.feed, the branches plain connections take ------------------------------- */

static int stream_add(Tracker *t, HalfA *h, const uint8_t *p, Py_ssize_t n) {
    if (h->bytes < t->k.preview) {
        Py_ssize_t k = t->k.preview - h->bytes;
        if (bytes_add(&h->preview, p, k < n ? k : n) < 0) return -1;
    }
    if (bytes_add(&h->pend, p, n) < 0) return -1;
    if (h->pend.n >= 16384) {  /* a long stream: hash as it goes, keep little */
        if (!h->hasher) {
            h->hasher = PyObject_CallNoArgs(t->sha256);
            if (!h->hasher) return -1;
        }
        PyObject *mv = PyMemoryView_FromMemory((char *)h->pend.v, h->pend.n, PyBUF_READ);
        if (!mv) return -1;
        PyObject *r = PyObject_CallMethod(h->hasher, "update", "O", mv);
        Py_DECREF(mv);
        if (!r) return -1;
        Py_DECREF(r);
        h->pend.n = 0;
    }
    return 0;
}

static int64_t half_offset(const Conn *conn, int side, const HalfA *h, uint32_t seq) {
    int64_t nxt = h->next;
    uint32_t d = (uint32_t)(seq - conn->base[side] - (uint32_t)nxt);
    return d < HALF ? nxt + d : nxt + (int64_t)d - WRAP;
}

static void control(Tracker *t, Conn *conn, int side, const Rec *rec, const Pkt *p) {
    Analysis *a = conn->a;
    HalfA *h = side ? &a->s : &a->c;
    int up = side == 0, flags = p->flags, shift = up ? 0 : 16;
    int bits = (flags & F_SYN ? 1 : 0) + (flags & F_FIN ? 1 : 0) + (flags & F_RST ? 1 : 0);
    if (flags & F_SYN) {
        if (!h->has_syn_seq) { h->has_syn_seq = 1; h->syn_seq = p->seq; }
        char letter = (flags & F_ACK) ? 'H' : 'S';
        char l = up ? letter : (char)(letter + 32);
        if (mark(conn, H_SYN << shift, l) && !(h->has_hist_syn && h->hist_syn == p->seq) && bits == 1) {
            if (!hist_add(conn, l)) return;
        }
        if (!conn->a) return;
        h->has_hist_syn = 1; h->hist_syn = p->seq;
        if (!(flags & F_ACK)) {
            if (!a->has_syn) {
                a->has_syn = 1; a->syn_frame = rec->no; a->syn_ts = rec->ts;
                /* parse_options */
                a->mss = a->wscale = -1; a->sack_ok = a->timestamps = 0;
                const uint8_t *o = p->opt; int i = 0, n = p->optlen;
                while (i < n) {
                    int kind = o[i];
                    if (kind == 0) break;
                    if (kind == 1) { i++; continue; }
                    if (i + 1 >= n || o[i + 1] < 2) break;
                    int ln = o[i + 1];
                    int blen = (i + ln <= n ? ln : n - i) - 2;  /* raw[i+2:i+ln], cut by the end */
                    const uint8_t *body = o + i + 2;
                    if (kind == 2 && blen == 2) a->mss = body[0] << 8 | body[1];
                    else if (kind == 3 && blen == 1) a->wscale = body[0];
                    else if (kind == 4) a->sack_ok = 1;
                    else if (kind == 8) a->timestamps = 1;
                    i += ln;
                }
                if (up) { a->wait |= WAIT_REQUEST; a->waiting = 1; }
            } else if (p->seq == h->syn_seq) {
                a->syn_rexmits++;  /* the client asked again */
            }
            if (!a->has_ack) {  /* the iRTT counts from the latest SYN before the handshake's ACK */
                a->has_rtt_from = 1; a->rtt_from = rec->ts;
                if (a->has_synack) { a->wait |= WAIT_HANDSHAKE; a->waiting = 1; }
            }
            if (h->state == INACTIVE || h->state == PARTIAL) h->state = SYN_SENT;
        } else {
            if (!a->has_synack) {
                a->has_synack = 1; a->synack_frame = rec->no; a->synack_ts = rec->ts;
                if (a->has_syn) { a->wait |= WAIT_HANDSHAKE; a->waiting = 1; }
            } else if (p->seq == h->syn_seq) {
                a->synack_rexmits++;
            }
            if (h->state == INACTIVE || h->state == PARTIAL) h->state = SYN_ACK_SENT;
        }
    }
    if ((flags & (F_FIN | F_RST)) && !a->has_close) { a->has_close = 1; a->close_ts = rec->ts; }
    if (flags & F_FIN) {
        int64_t end = half_offset(conn, side, h, p->seq) + p->plen;
        char l = up ? 'F' : 'f';
        if (mark(conn, H_FIN << shift, l) && !(h->has_hist_fin && h->hist_fin == end)) {
            if (!hist_add(conn, l)) return;
        }
        if (!conn->a) return;
        h->has_hist_fin = 1; h->hist_fin = end;
        if (a->fin_n == 0 || (a->fin_n == 1 && a->fin_up[0] != up)) {
            a->fin_up[a->fin_n] = up; a->fin_no[a->fin_n] = rec->no; a->fin_ts[a->fin_n] = rec->ts;
            a->fin_n++;
        }
        if (!a->first_fin_by) {
            a->first_fin_by = up ? 1 : 2;
            a->has_fin_frame = 1; a->fin_frame = rec->no;
        }
        if (up && (a->wait & WAIT_REQUEST) && p->plen == 0 && p->seq == ((h->syn_seq + 1) & M32)) {
            a->wait &= ~(uint32_t)WAIT_REQUEST;
            a->waiting = a->wait != 0;
        }
        if (h->state != RESET) h->state = CLOSED;
    }
    if (flags & F_RST) {
        char l = up ? 'R' : 'r';
        if (mark(conn, H_RST << shift, l) && !(h->has_hist_rst && h->hist_rst == p->seq)) {
            if (!hist_add(conn, l)) return;
        }
        if (!conn->a) return;
        h->has_hist_rst = 1; h->hist_rst = p->seq;
        a->reset = 1;
        h->state = RESET;
    }
}

static void awaited(Conn *conn, int side, const Rec *rec, const Pkt *p) {
    Analysis *a = conn->a;
    if (side == 1) {
        uint32_t d = (p->ack - a->c.syn_seq - 1) & M32;
        if (0 < d && d < HALF) {
            a->has_request_ack = 1; a->request_ack_frame = rec->no;
            a->wait &= ~(uint32_t)WAIT_REQUEST;
            a->waiting = a->wait != 0;
        }
        return;
    }
    a->wait &= ~(uint32_t)WAIT_HANDSHAKE;
    a->waiting = a->wait != 0;
    /* not an ACK of the SYN-ACK (and the data it may carry): damage, not an answer */
    if (a->s.has_syn_seq && (int64_t)((p->ack - a->s.syn_seq - 1) & M32) > a->s.top) return;
    a->has_ack = 1; a->ack_frame = rec->no; a->ack_ts = rec->ts;
    HalfA *hs[2] = {&a->c, &a->s};
    for (int i = 0; i < 2; i++) {
        int st = hs[i]->state;
        if (st == SYN_SENT || st == SYN_ACK_SENT || st == INACTIVE || st == PARTIAL) hs[i]->state = ESTABLISHED;
    }
}

/* One fast-layout TCP packet. 0 ok, -1 Python error. In Replay (analyse off), *conn_out and the
 * opened flag tell the caller which connection it was. */
static int feed(Tracker *t, const Rec *rec, const Pkt *p, Conn **conn_out, int *opened) {
    uint8_t k[12];
    make_key(k, p->src, p->sport, p->dst, p->dport);
    Slot *slot = table_find(&t->flows, k);
    int flags = p->flags, side;
    Conn *conn;
    *opened = 0;
    if (!slot || ((flags & 0x12) == F_SYN && slot->conn->has_base[slot->half]
                  && ((slot->conn->base[slot->half] - 1) & M32) != p->seq)) {
        conn = open_conn(t, rec, p, &side);
        if (!conn) return -1;
        *opened = 1;
    } else {
        conn = slot->conn;
        side = slot->half;
    }
    *conn_out = conn;
    Analysis *a = conn->a;
    if (!a) {  /* tracking only: the sequence base, which port reuse is judged by */
        if (!conn->has_base[side]) {
            conn->has_base[side] = 1;
            conn->base[side] = (flags & F_SYN) ? (p->seq + 1) & M32 : p->seq;
        }
        return 0;
    }
    HalfA *h = side ? &a->s : &a->c;
    if (p->plen == 0 && h->has_last && h->last_ack == p->ack && h->last_seq == p->seq) {
        int64_t dt = rec->ts - h->last_ts;  /* reassembly.same_frame; IPv4 always has an IP id */
        if (dt <= t->k.dup_ns && dt >= 0 && h->last_flags == flags && h->last_ipid == p->ipid
            && h->last_win == p->win && h->last_optlen == p->optlen
            && memcmp(h->last_opt, p->opt, (size_t)p->optlen) == 0) {
            taint(conn);  /* a capture duplicate */
            return 0;
        }
    }
    a->last_ts = rec->ts;
    if (!conn->has_base[side]) {
        conn->has_base[side] = 1;
        conn->base[side] = (flags & F_SYN) ? (p->seq + 1) & M32 : p->seq;
        h->nseq = conn->base[side];
        if (!(flags & F_SYN) && h->state == INACTIVE) h->state = PARTIAL;
    }
    if (flags & 0x07) {
        control(t, conn, side, rec, p);
        if (!conn->a) return 0;
    }
    uint32_t bA = side ? (H_ACK << 16) : H_ACK, bD = side ? (H_DATA << 16) : H_DATA;
    if ((flags & F_ACK) && a->waiting && (a->wait & bA) && !(flags & F_SYN)) awaited(conn, side, rec, p);
    if (!p->win && !(flags & (F_RST | F_SYN))) {
        h->w_count++;
        if (log_scale(h->w_count) && !hist_add(conn, side ? 'w' : 'W')) return 0;
    }
    if (p->plen == 0) {
        if (!(a->seen & bA) && !(flags & 0x07) && (flags & F_ACK)) {
            mark(conn, bA, side ? 'a' : 'A');
            if (!conn->a) return 0;
        }
        h->has_last = 1; h->last_ts = rec->ts; h->last_seq = p->seq; h->last_ack = p->ack;
        h->last_flags = flags; h->last_ipid = p->ipid; h->last_win = p->win; h->last_optlen = p->optlen;
        memcpy(h->last_opt, p->opt, (size_t)p->optlen);
        return 0;
    }
    if ((flags & 0x07) || p->seq != h->nseq || h->next != h->top) {
        taint(conn);  /* not the next bytes in order: the reference's slow paths */
        return 0;
    }
    int64_t nxt = h->next, end = nxt + p->plen;
    h->top = h->next = end;
    h->nseq = (p->seq + (uint32_t)p->plen) & M32;
    h->segments++;
    if (stream_add(t, h, p->pay, p->plen) < 0) return -1;
    h->bytes += p->plen;
    int r = side ? echo_answer(t, conn, nxt, p->pay, p->plen, rec->no, rec->ts)
                 : echo_request(t, conn, nxt, p->pay, p->plen, rec->no, rec->ts);
    if (r < 0) return -1;
    if (!conn->a) return 0;
    if (!(a->seen & bD)) mark(conn, bD, side ? 'd' : 'D');
    return 0;
}

/* ---- results ----------------------------------------------------------------------------------- */

static PyObject *opt_i64(int has, int64_t v) {
    if (!has) Py_RETURN_NONE;
    return PyLong_FromLongLong(v);
}

static PyObject *i64_list(const I64Vec *a) {
    PyObject *l = PyList_New(a->n);
    if (!l) return NULL;
    for (Py_ssize_t i = 0; i < a->n; i++) {
        PyObject *x = PyLong_FromLongLong(a->v[i]);
        if (!x) { Py_DECREF(l); return NULL; }
        PyList_SET_ITEM(l, i, x);
    }
    return l;
}

static PyObject *digest(Tracker *t, HalfA *h) {
    if (!h->hasher && h->pend.n == 0) { Py_INCREF(t->empty_hex); return t->empty_hex; }
    PyObject *mv = PyMemoryView_FromMemory((char *)h->pend.v, h->pend.n, PyBUF_READ);
    if (!mv) return NULL;
    if (!h->hasher) {
        h->hasher = PyObject_CallOneArg(t->sha256, mv);
        Py_DECREF(mv);
        if (!h->hasher) return NULL;
    } else {
        PyObject *r = PyObject_CallMethod(h->hasher, "update", "O", mv);
        Py_DECREF(mv);
        if (!r) return NULL;
        Py_DECREF(r);
    }
    h->pend.n = 0;
    return PyObject_CallMethod(h->hasher, "hexdigest", NULL);
}

static PyObject *none_or(int has, PyObject *x) {  /* steals x */
    if (has) return x;
    Py_XDECREF(x);
    Py_RETURN_NONE;
}

static PyObject *boolean(int v) { return PyBool_FromLong(v); }

static PyObject *i64(int64_t v) { return PyLong_FromLongLong(v); }

static PyObject *fin_list(const Analysis *a) {
    PyObject *l = PyList_New(a->fin_n);
    if (!l) return NULL;
    for (int i = 0; i < a->fin_n; i++) {
        PyObject *x = Py_BuildValue("(OLL)", a->fin_up[i] ? Py_True : Py_False, (long long)a->fin_no[i],
                                    (long long)a->fin_ts[i]);
        if (!x) { Py_DECREF(l); return NULL; }
        PyList_SET_ITEM(l, i, x);
    }
    return l;
}

/* The tuple fastpath.py turns into a connections[] record (fields in fastpath.FIELDS order). */
static PyObject *conn_tuple(Tracker *t, Conn *conn) {
    Analysis *a = conn->a;
    PyObject *ex = PyList_New(a->nex);
    if (!ex) return NULL;
    for (Py_ssize_t i = 0; i < a->nex; i++) {
        Exchange *x = &a->ex[i];
        PyObject *item = PyTuple_New(5);
        if (!item) { Py_DECREF(ex); return NULL; }
        PyList_SET_ITEM(ex, i, item);
        PyObject *vals[5] = {i64_list(&x->req), i64_list(&x->echo), i64(x->req_ts),
                             opt_i64(x->has_echo_ts, x->echo_ts), i64(x->end - x->start)};
        for (int j = 0; j < 5; j++) {
            if (!vals[j]) { for (int q = j + 1; q < 5; q++) Py_XDECREF(vals[q]); Py_DECREF(ex); return NULL; }
            PyTuple_SET_ITEM(item, j, vals[j]);
        }
    }
    PyObject *svc = t->services[conn->sport] ? t->services[conn->sport] : Py_None;
    Py_INCREF(svc);
    PyObject *vals[] = {
        i64(conn->id),
        PyBytes_FromStringAndSize((const char *)conn->cip, 4), PyLong_FromLong(conn->cport),
        PyBytes_FromStringAndSize((const char *)conn->sip, 4), PyLong_FromLong(conn->sport),
        svc, i64(conn->client_no),
        opt_i64(a->has_syn, a->syn_frame), opt_i64(a->has_syn, a->syn_ts), opt_i64(a->has_synack, a->synack_frame),
        opt_i64(a->has_ack, a->ack_frame), opt_i64(a->has_ack, a->ack_ts), opt_i64(a->has_rtt_from, a->rtt_from),
        opt_i64(a->mss >= 0, a->mss), opt_i64(a->wscale >= 0, a->wscale), boolean(a->sack_ok), boolean(a->timestamps),
        none_or(a->first_fin_by != 0, PyUnicode_FromString(a->first_fin_by == 1 ? "client" : "server")),
        boolean(a->reset), i64(a->last_ts), opt_i64(a->has_close, a->close_ts),
        PyLong_FromLong(a->c.state), PyLong_FromLong(a->s.state), PyUnicode_FromStringAndSize(a->hist, a->hist_n),
        i64(a->c.bytes), i64(a->s.bytes), i64(a->c.segments), i64(a->s.segments),
        i64(a->echoed), opt_i64(a->has_mismatch, a->mismatch), opt_i64(a->has_first_req, a->first_req_ts),
        opt_i64(a->has_first_echo, a->first_echo_ts),
        ex,
        digest(t, &a->c), digest(t, &a->s),
        PyBytes_FromStringAndSize((const char *)a->c.preview.v, a->c.preview.n),
        PyBytes_FromStringAndSize((const char *)a->s.preview.v, a->s.preview.n),
        opt_i64(a->has_fin_frame, a->fin_frame), opt_i64(a->has_request_ack, a->request_ack_frame),
        i64(a->syn_rexmits), i64(a->synack_rexmits), opt_i64(a->has_synack, a->synack_ts), fin_list(a),
        opt_i64(a->has_mismatch_frame, a->mismatch_frame),
    };
    Py_ssize_t n = (Py_ssize_t)(sizeof(vals) / sizeof(vals[0]));
    PyObject *tup = PyTuple_New(n);
    int bad = tup == NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!vals[i]) bad = 1;
        else if (tup) PyTuple_SET_ITEM(tup, i, vals[i]);
    }
    if (bad) {
        if (tup) {  /* unset items are NULL: the tuple's dealloc skips them */
            Py_DECREF(tup);
        } else {
            for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(vals[i]);
        }
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    return tup;
}

/* ---- setting up ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    int64_t data_start, size;
    int big_endian, nano, hsize, linktype;
    PyObject *services;
    Consts k;
} Params;

static int get_i64(PyObject *d, const char *name, int64_t *out) {
    PyObject *v = PyDict_GetItemString(d, name);
    if (!v) { PyErr_Format(PyExc_KeyError, "fast path constant %s missing", name); return -1; }
    *out = PyLong_AsLongLong(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int parse_params(PyObject *args, Params *pr) {
    PyObject *consts;
    long long data_start, size;
    if (!PyArg_ParseTuple(args, "sLLppO!O!", &pr->path, &data_start, &size, &pr->big_endian, &pr->nano,
                          &PyDict_Type, &pr->services, &PyDict_Type, &consts))
        return -1;
    pr->data_start = data_start; pr->size = size;
    const char *names[] = {"chunk", "max_caplen", "preview", "exchange_gap_ns", "max_exchanges", "max_frames",
                           "lead_cap", "other_cap", "idle_ns", "sweep_every", "dup_ns", "linktype", "hsize"};
    int64_t vals[13];
    for (int i = 0; i < 13; i++) if (get_i64(consts, names[i], &vals[i]) < 0) return -1;
    pr->k = (Consts){vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9], vals[10]};
    pr->linktype = (int)vals[11];
    pr->hsize = (int)vals[12];
    return 0;
}

static int reader_open(Reader *r, const Params *pr) {
    memset(r, 0, sizeof(*r));
    if (pr->linktype == 1) { r->etoff = 12; r->ipoff = 14; }
    else if (pr->linktype == 113) { r->etoff = 14; r->ipoff = 16; }
    else if (pr->linktype == 276) { r->etoff = 0; r->ipoff = 20; }
    else { PyErr_SetString(PyExc_ValueError, "link type without a fast layout"); return -1; }
    r->fmin = r->ipoff + 36;  /* the IPv4 header and the fixed TCP header up to the window */
    r->linktype = pr->linktype;
    r->big_endian = pr->big_endian; r->nano = pr->nano; r->hsize = pr->hsize;
    r->chunk = pr->k.chunk; r->max_caplen = pr->k.max_caplen;
    r->f = fopen(pr->path, "rb");
    if (!r->f) { PyErr_SetFromErrnoWithFilename(PyExc_OSError, pr->path); return -1; }
    setvbuf(r->f, NULL, _IONBF, 0);
    if (fseeko(r->f, (off_t)pr->data_start, SEEK_SET) != 0) {
        PyErr_SetFromErrnoWithFilename(PyExc_OSError, pr->path);
        fclose(r->f); r->f = NULL;
        return -1;
    }
    r->remaining = pr->size - pr->data_start;
    return 0;
}

static void reader_close(Reader *r) {
    if (r->f) fclose(r->f);
    r->f = NULL;
    PyMem_Free(r->buf);
    r->buf = NULL;
}

static int tracker_init(Tracker *t, const Params *pr, int analyse) {
    memset(t, 0, sizeof(*t));
    t->k = pr->k;
    t->analyse = analyse;
    PyObject *key, *val;
    Py_ssize_t i = 0;
    while (PyDict_Next(pr->services, &i, &key, &val)) {
        long port = PyLong_AsLong(key);
        if (port == -1 && PyErr_Occurred()) return -1;
        if (port < 0 || port > 65535) { PyErr_SetString(PyExc_ValueError, "port out of range"); return -1; }
        t->services[port] = val;
    }
    PyObject *hashlib = PyImport_ImportModule("hashlib");
    if (!hashlib) return -1;
    t->sha256 = PyObject_GetAttrString(hashlib, "sha256");
    Py_DECREF(hashlib);
    if (!t->sha256) return -1;
    PyObject *h = PyObject_CallNoArgs(t->sha256);
    if (!h) return -1;
    t->empty_hex = PyObject_CallMethod(h, "hexdigest", NULL);
    Py_DECREF(h);
    if (!t->empty_hex) return -1;
    t->sweeps = PyList_New(0);
    return t->sweeps ? 0 : -1;
}

static void tracker_free(Tracker *t) {
    for (Py_ssize_t i = 0; i < t->nconns; i++) {
        analysis_free(t->conns[i]->a);
        PyMem_Free(t->conns[i]);
    }
    PyMem_Free(t->conns); t->conns = NULL; t->nconns = 0;
    PyMem_Free(t->live); t->live = NULL;
    PyMem_Free(t->flows.s); t->flows.s = NULL;
    PyMem_Free(t->servers.s); t->servers.s = NULL;
    Py_CLEAR(t->sha256); Py_CLEAR(t->empty_hex); Py_CLEAR(t->sweeps);
}

/* after a packet that opened a connection: the reference sweeps every sweep_every-th opening */
static int after_open(Tracker *t) {
    if (!t->sweep_due) return 0;
    t->sweep_due = 0;
    if (t->analyse) sweep(t, t->opened_at_ts);
    PyObject *item = Py_BuildValue("(LL)", (long long)t->opened_at_no, (long long)t->opened_at_ts);
    if (!item) return -1;
    int r = PyList_Append(t->sweeps, item);
    Py_DECREF(item);
    return r;
}

/* ---- pass 1: analyse(...) -------------------------------------------------------------------- */

static PyObject *fast_analyse(PyObject *self, PyObject *args) {
    Params pr;
    if (parse_params(args, &pr) < 0) return NULL;
    Reader r;
    Tracker t;
    if (reader_open(&r, &pr) < 0) return NULL;
    if (tracker_init(&t, &pr, 1) < 0) { reader_close(&r); tracker_free(&t); return NULL; }
    const char *verdict = "ok";
    int64_t abort_frame = 0, need = 0;
    Rec rec;
    Pkt p;
    int got;
    while ((got = reader_next(&r, &rec)) == 1) {
        int kind = classify(&r, &rec, &p);
        if (kind == K_TCP_FAST) {
            Conn *conn; int opened;
            /* DNS over TCP: the DNS analysis needs its bytes, the reference gets the connection */
            if (feed(&t, &rec, &p, &conn, &opened) < 0) { got = -1; break; }
            if (opened) {
                if (conn->a && (conn->sport == 53 || conn->cport == 53)) taint(conn);
                /* the sweep of the reference happens inside _open, before its packet is analysed;
                 * here after it: the packet just analysed belongs to a connection that is never
                 * idle at its own opening, so the order does not matter */
                if (after_open(&t) < 0) { got = -1; break; }
            }
        } else if (kind == K_ABORT) {
            verdict = "decline"; abort_frame = rec.no;
            break;
        } else if (kind == K_DNS || kind == K_OTHER) {
            need++;
        }
    }
    if (got == -1) { reader_close(&r); tracker_free(&t); return NULL; }
    if (r.damaged) verdict = "decline";
    PyObject *conns = NULL, *tainted = NULL, *res = NULL;
    if (strcmp(verdict, "ok") == 0) {
        conns = PyList_New(0);
        tainted = PyList_New(0);
        if (!conns || !tainted) goto done;
        for (Py_ssize_t i = 0; i < t.nconns; i++) {
            Conn *c = t.conns[i];
            if (c->tainted) {
                PyObject *item = Py_BuildValue("(LLL)", (long long)c->first_frame, (long long)c->id, (long long)c->client_no);
                if (!item || PyList_Append(tainted, item) < 0) { Py_XDECREF(item); goto done; }
                Py_DECREF(item);
                continue;
            }
            PyObject *tup = conn_tuple(&t, c);
            if (!tup || PyList_Append(conns, tup) < 0) { Py_XDECREF(tup); goto done; }
            Py_DECREF(tup);
            analysis_free(c->a); c->a = NULL;
        }
    }
    res = Py_BuildValue("{s:s,s:L,s:L,s:L,s:O,s:O,s:O,s:O,s:L,s:L}",
                        "verdict", verdict, "packets", (long long)r.no,
                        "first_ts", (long long)(r.has_first ? r.first_ts : 0),
                        "last_ts", (long long)(r.has_first ? r.last_ts : 0),
                        "has_frames", r.has_first ? Py_True : Py_False,
                        "connections", conns ? conns : Py_None, "tainted", tainted ? tainted : Py_None,
                        "sweeps", t.sweeps, "python_frames", (long long)need, "abort_frame", (long long)abort_frame);
done:
    Py_XDECREF(conns); Py_XDECREF(tainted);
    reader_close(&r);
    tracker_free(&t);
    return res;
}

/* ---- pass 2: Replay(...), the frames the Python side needs, in frame order -------------------- */

typedef struct {
    PyObject_HEAD
    Reader r;
    Tracker t;
    Params pr;
    uint8_t *want;  /* by connection id: 1 when the reference analyses it */
    Py_ssize_t nwant;
    PyObject *keep_services;
    int done;
} Replay;

static void replay_dealloc(Replay *self) {
    reader_close(&self->r);
    tracker_free(&self->t);
    PyMem_Free(self->want);
    Py_XDECREF(self->keep_services);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject ReplayType;

static PyObject *fast_replay(PyObject *self, PyObject *args) {
    PyObject *pargs, *ids;
    if (!PyArg_ParseTuple(args, "O!O", &PyTuple_Type, &pargs, &ids)) return NULL;
    Replay *rp = PyObject_New(Replay, &ReplayType);
    if (!rp) return NULL;
    memset(&rp->r, 0, sizeof(rp->r));
    memset(&rp->t, 0, sizeof(rp->t));
    rp->want = NULL; rp->nwant = 0; rp->done = 0; rp->keep_services = NULL;
    if (parse_params(pargs, &rp->pr) < 0) { Py_DECREF(rp); return NULL; }
    rp->keep_services = rp->pr.services; Py_INCREF(rp->keep_services);
    if (reader_open(&rp->r, &rp->pr) < 0 || tracker_init(&rp->t, &rp->pr, 0) < 0) { Py_DECREF(rp); return NULL; }
    PyObject *it = PyObject_GetIter(ids);
    if (!it) { Py_DECREF(rp); return NULL; }
    PyObject *x;
    while ((x = PyIter_Next(it))) {
        Py_ssize_t id = PyLong_AsSsize_t(x);
        Py_DECREF(x);
        if (id < 0) { Py_DECREF(it); if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad id"); Py_DECREF(rp); return NULL; }
        if (id >= rp->nwant) {
            Py_ssize_t n = id + 1 > rp->nwant * 2 ? id + 1 : rp->nwant * 2;
            uint8_t *w = PyMem_Realloc(rp->want, (size_t)n);
            if (!w) { Py_DECREF(it); Py_DECREF(rp); return PyErr_NoMemory(); }
            memset(w + rp->nwant, 0, (size_t)(n - rp->nwant));
            rp->want = w; rp->nwant = n;
        }
        rp->want[id] = 1;
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) { Py_DECREF(rp); return NULL; }
    return (PyObject *)rp;
}

static PyObject *replay_next(Replay *self) {
    if (self->done) return NULL;
    Rec rec;
    Pkt p;
    int got;
    while ((got = reader_next(&self->r, &rec)) == 1) {
        int kind = classify(&self->r, &rec, &p);
        if (kind == K_TCP_FAST) {
            Conn *conn; int opened;
            Py_ssize_t before = PyList_GET_SIZE(self->t.sweeps);
            if (feed(&self->t, &rec, &p, &conn, &opened) < 0) return NULL;
            if (opened && after_open(&self->t) < 0) return NULL;
            int wanted = conn->id < self->nwant && self->want[conn->id];
            if (wanted)
                return Py_BuildValue("(iLLy#y#iiiIIiiy#y#)", K_TCP, (long long)rec.no, (long long)rec.ts,
                                     (const char *)p.src, (Py_ssize_t)4, (const char *)p.dst, (Py_ssize_t)4, p.ipid,
                                     p.sport, p.dport, p.seq, p.ack, p.flags, p.win, (const char *)p.opt,
                                     (Py_ssize_t)p.optlen, (const char *)p.pay, p.plen);
            if (PyList_GET_SIZE(self->t.sweeps) > before)  /* a sweep opened by a connection Python never sees */
                return Py_BuildValue("(iLL)", K_SWEEP, (long long)rec.no, (long long)rec.ts);
        } else if (kind == K_DNS) {
            return Py_BuildValue("(iLLy#y#iiiy#)", K_DNS, (long long)rec.no, (long long)rec.ts, (const char *)p.src,
                                 (Py_ssize_t)4, (const char *)p.dst, (Py_ssize_t)4, p.ipid, p.sport, p.dport,
                                 (const char *)p.pay, p.plen);
        } else if (kind == K_OTHER) {
            return Py_BuildValue("(iLLy#n)", K_OTHER, (long long)rec.no, (long long)rec.ts,
                                 (const char *)rec.frame, rec.caplen,
                                 rec.origlen > rec.caplen ? rec.origlen - rec.caplen : (Py_ssize_t)0);
        } else if (kind == K_ABORT) {
            PyErr_SetString(PyExc_RuntimeError, "the capture changed between the two passes");
            return NULL;
        }
    }
    self->done = 1;
    if (got < 0) return NULL;
    return NULL;  /* StopIteration */
}

static PyTypeObject ReplayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "reporter.analyses._fasttcp.Replay",
    .tp_basicsize = sizeof(Replay),
    .tp_dealloc = (destructor)replay_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The frames the Python analyses need, in frame order (see the module doc).",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)replay_next,
};

static PyMethodDef methods[] = {
    {"analyse", fast_analyse, METH_VARARGS, "Pass 1: analyse a pcap's plain connections (see fastpath.py)."},
    {"replay", fast_replay, METH_VARARGS, "Pass 2: iterate the frames the Python analyses need."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_fasttcp", "The TCP analysis's compiled fast path (see fastpath.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fasttcp(void) {
    if (PyType_Ready(&ReplayType) < 0) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "API_VERSION", API_VERSION) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
