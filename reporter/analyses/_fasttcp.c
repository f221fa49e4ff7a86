/* The TCP analysis's fast path for plain connections, compiled (reporter/analyses/fastpath.py).
 *
 * Why: the Python analysis (tcp.py, echo.py, reassembly.py, the message layer) is the reference and
 * handles every connection, whatever happens in it, at ~4 us a packet. Most connections of a big
 * capture are plain: a handshake, bytes in order both ways, an echo or messages, a close. This
 * module reads a pcap or pcapng file (as capture.py / pcapng.py read it), decodes the common frame
 * (the reader's own fast layout), tracks every
 * connection exactly as tcp.py opens them (the same ids, client numbers, port reuse, sweeps), and
 * follows the plain ones along the very branches tcp.py and echo.py take for such packets (a
 * message service's bytes go to the Python message layer, msg_deliver). The first packet that would
 * take any other branch (a retransmission, a gap, a capture duplicate, data on a SYN/FIN/RST, a
 * server ahead of its client, a limit reached, a packet after the connection was written out)
 * *taints* its connection: everything computed for it is dropped and the Python reference analyses
 * it from its first packet in a second pass (Replay), which also hands out every frame the Python
 * side needs (DNS, frames the fast layout does not cover). Whatever this module cannot vouch for
 * (another link type, a damaged file, a pcapng header the reference would warn about or a second
 * section, a frame that might be TCP but is not in the fast layout) makes it decline the whole
 * capture, and the reference does all of it.
 *
 * A plain connection closed and quiet is written out (emit): its connections[] line from templates
 * made from the model's fields (plain.py) into the spool, its record as the model's own objects.
 *
 * Sections: the pcap reader, the pcapng reader and frame classes; the tracker (tcp._open, _sweep); echo.EchoCheck's
 * plain branches; the message layer's runs; tcp.feed's plain branches; writing a connection (JSON,
 * objects, SHA-256); pass 1 (Pass1); DNS parsing and base64 (fast cases of Python functions, each
 * tested against them); pass 2 (Replay).
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
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define API_VERSION 15

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
#define HINT_FRAMES_FP 20000  /* fingerprint.HINT_FRAMES (tests/test_fastpath.py checks they agree) */

/* frame classes: the first four are what Replay hands to Python (fastpath.K_*) */
enum { K_OTHER = 0, K_DNS = 1, K_TCP = 2, K_SWEEP = 3, K_UDP_SKIP = 10, K_TCP_FAST = 11, K_ABORT = 12 };

typedef struct {
    int64_t chunk, max_caplen, preview, exchange_gap_ns, max_exchanges, max_frames, lead_cap, other_cap;
    int64_t idle_ns, sweep_every, dup_ns, quiet_ns;
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

static int bytes_grow(Bytes *b, const uint8_t *p, Py_ssize_t k);

static inline int bytes_add(Bytes *b, const uint8_t *p, Py_ssize_t k) {
    if (b->n + k <= b->cap) {
        memcpy(b->v + b->n, p, (size_t)k);
        b->n += k;
        return 0;
    }
    return bytes_grow(b, p, k);
}

static int bytes_grow(Bytes *b, const uint8_t *p, Py_ssize_t k) {
    {
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
    /* a message service's connection: its delivered bytes go to the Python message layer in runs
     * (msg_deliver), and its messages come back when it is written (finish_cb) */
    int msg, last_side, fresh[2], run_side;
    Bytes run;
    int64_t run_no, run_ts;
    PyObject *msgs_json, *msgs_list;
} Analysis;

/* A connection as tcp.py opens it: kept for every connection, small. */
typedef struct Conn {
    int64_t id, client_no, first_frame;
    uint8_t cip[4], sip[4];
    uint16_t cport, sport;
    uint8_t has_base[2];  /* per half: 0 client, 1 server */
    uint32_t base[2];
    uint8_t tainted, in_live, emitted;  /* emitted: its record is written; a later packet taints it */
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

#ifdef __SIZEOF_INT128__
typedef __int128 i128;  /* pcapng times: the reference's integers are unbounded, its products need 94 bits */
#define HAS_I128 1
#else
typedef int64_t i128;  /* no 128-bit integers: the pcapng reader declines every file (reader_open) */
#define HAS_I128 0
#endif

/* A pcapng interface (pcapng._iface_info / _iface_entry): its link's fast layout and its clock. */
typedef struct {
    int linktype, etoff, ipoff, fmin, shift;
    uint32_t snaplen;
    i128 mult, div, offset;
} Iface;

typedef struct {
    FILE *f;
    uint8_t *buf;
    Py_ssize_t cap, pos, n;
    int eof, big_endian, nano, hsize, linktype;
    int64_t remaining, no, first_ts, last_ts, chunk, max_caplen;
    int has_first, damaged;
    /* the fast layout: offset of the link's ethertype, of the IP header, shortest frame (pcapng:
     * the current record's interface's, set by ng_next) */
    int etoff, ipoff, fmin;
    /* pcapng: the section's interfaces, the record's interface, a Simple Packet Block's time */
    int ng, sections, nifaces, cap_ifaces, iface;
    Iface *ifaces;
    int64_t last_seen, max_block;
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

static int ng_next(Reader *r, Rec *rec);

/* 1: a record; 0: the end; -1: a Python error. Damage sets r->damaged and ends. */
static int reader_next(Reader *r, Rec *rec) {
    if (r->ng) return ng_next(r, rec);
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

/* ---- the pcapng reader (pcapng.iter_pcapng: one section, every block it reads the same way) ---- */

/* What this reader takes: one Section Header Block (either byte order, version 1.0, options that
 * end inside it), Interface Description Blocks of the fast link types (if_tsresol as a power of 10
 * or of 2, if_tsoffset), Enhanced, obsolete and Simple Packet Blocks (their options are never
 * read, as in the reference), and any other block, skipped. Everything the reference would
 * report as damage or as a header problem ("unsupported-version", "option-overrun"), a second
 * section, an interface of another link type, a block the reference would skip unread (over
 * MAX_BLOCK) or a time outside 0 .. 2^62 ns sets r->damaged: the fast path declines the capture.
 * Interface ids are the section's own, which one section makes the global ones. */

#define NG_SHB 0x0A0D0D0Au
#define NG_BOM 0x1A2B3C4Du
#define NG_IDB 1
#define NG_PB 2
#define NG_SPB 3
#define NG_EPB 6
#define NG_OPT_TSRESOL 9
#define NG_OPT_TSOFFSET 14
#define NG_TS_MAX ((int64_t)1 << 62)

static inline int rd16(const uint8_t *p, int big) { return big ? (p[0] << 8 | p[1]) : (p[1] << 8 | p[0]); }

/* the fast layout of a link type (decode.fast_layout): 0, or -1 when it has none */
static int fast_layout(int linktype, int *etoff, int *ipoff) {
    if (linktype == 1) { *etoff = 12; *ipoff = 14; }
    else if (linktype == 113) { *etoff = 14; *ipoff = 16; }
    else if (linktype == 276) { *etoff = 0; *ipoff = 20; }
    else return -1;
    return 0;
}

/* pcapng.iter_options over buf[o:end], the interface's clock options into ifc (when given): 0 when
 * the options end inside the block, -1 when one runs past it (the reference's "option-overrun") */
static int ng_options(const uint8_t *buf, Py_ssize_t o, Py_ssize_t end, int big, Iface *ifc) {
    while (o + 4 <= end) {
        int code = rd16(buf + o, big), len = rd16(buf + o + 2, big);
        o += 4;
        if (code == 0) return 0;
        if (o + len > end) return -1;
        if (ifc && code == NG_OPT_TSRESOL && len >= 1) {
            int res = buf[o];
            if (res & 0x80) { ifc->mult = 1000000000; ifc->div = 1; ifc->shift = res & 0x7F; }  /* 2^-k s */
            else if (res <= 9) {
                ifc->mult = 1; ifc->div = 1; ifc->shift = 0;
                for (int i = res; i < 9; i++) ifc->mult *= 10;
            } else {
                ifc->mult = 1; ifc->div = 1; ifc->shift = 0;
                for (int i = 0; i < (res - 9 < 30 ? res - 9 : 30); i++) ifc->div *= 10;
            }
        } else if (ifc && code == NG_OPT_TSOFFSET && len >= 8) {
            uint64_t u = big ? ((uint64_t)rd32(buf + o, 1) << 32 | rd32(buf + o + 4, 1))
                             : ((uint64_t)rd32(buf + o + 4, 0) << 32 | rd32(buf + o, 0));
            ifc->offset = (i128)(int64_t)u * 1000000000;
        }
        o += len + ((-len) & 3);
    }
    return o == end ? 0 : -1;
}

/* An Interface Description Block body (bs: the block's start): its interface appended, or -1 (decline). */
static int ng_interface(Reader *r, Py_ssize_t bs, uint32_t blen) {
    const uint8_t *b = r->buf + bs;
    int big = r->big_endian;
    if (blen < 20) return -1;
    Iface ifc = {0};
    ifc.linktype = rd16(b + 8, big);
    ifc.snaplen = rd32(b + 12, big);
    ifc.mult = 1000; ifc.div = 1; ifc.shift = 0; ifc.offset = 0;  /* default: microseconds */
    if (fast_layout(ifc.linktype, &ifc.etoff, &ifc.ipoff) < 0) return -1;
    ifc.fmin = ifc.ipoff + 36;
    if (ng_options(r->buf, bs + 16, bs + (Py_ssize_t)blen - 4, big, &ifc) < 0) return -1;
    if (r->nifaces == r->cap_ifaces) {
        int cap = r->cap_ifaces ? 2 * r->cap_ifaces : 4;
        Iface *v = PyMem_Realloc(r->ifaces, (size_t)cap * sizeof(Iface));
        if (!v) { PyErr_NoMemory(); return -2; }
        r->ifaces = v; r->cap_ifaces = cap;
    }
    r->ifaces[r->nifaces++] = ifc;
    return 0;
}

static int ng_next(Reader *r, Rec *rec) {
    for (;;) {
        if (r->pos + 12 > r->n) {
            if (!r->eof && r->remaining > 0) {
                int got = reader_fill(r, r->chunk);
                if (got < 0) return -1;
                if (!got) r->eof = 1;
                continue;
            }
            if (r->pos < r->n) r->damaged = 1;  /* "a block header is cut short" */
            return 0;
        }
        const uint8_t *h = r->buf + r->pos;
        int big = r->big_endian;
        uint32_t btype = rd32(h, big);
        if (rd32(h, 0) == NG_SHB) {  /* the same in both byte orders; it sets the section's */
            uint32_t bom = rd32(h + 8, 0);
            if (bom != NG_BOM && bom != 0x4D3C2B1Au) { r->damaged = 1; return 0; }
            big = bom != NG_BOM;
            btype = NG_SHB;
        }
        uint32_t blen = rd32(h + 4, big);
        if (blen < 12 || blen % 4 || (int64_t)blen > r->max_block) { r->damaged = 1; return 0; }
        if (r->pos + (Py_ssize_t)blen > r->n) {
            Py_ssize_t need = (Py_ssize_t)blen - (r->n - r->pos);
            if (need > r->remaining) { r->damaged = 1; return 0; }  /* "the last block is cut short" */
            int got = reader_fill(r, need);
            if (got < 0) return -1;
            if (!got) { r->eof = 1; r->damaged = 1; return 0; }
            continue;
        }
        Py_ssize_t bs = r->pos;
        const uint8_t *b = r->buf + bs;
        r->pos += blen;
        if (btype == NG_SHB) {
            /* a second section resets the interfaces (the reference's); a short one, another
             * version or an option past the block is a header problem the reference reports */
            if (r->sections++ || blen < 28) { r->damaged = 1; return 0; }
            r->big_endian = big;
            int major = rd16(b + 12, big), minor = rd16(b + 14, big);
            if (major != 1 || (minor != 0 && minor != 2)) { r->damaged = 1; return 0; }
            if (ng_options(r->buf, bs + 24, bs + (Py_ssize_t)blen - 4, big, NULL) < 0) { r->damaged = 1; return 0; }
            continue;
        }
        if (!r->sections) { r->damaged = 1; return 0; }  /* a file that does not start with a section */
        const Iface *ifc;
        int64_t caplen, origlen, ts;
        Py_ssize_t fs;
        if (btype == NG_EPB || btype == NG_PB) {
            if (blen < 32) { r->damaged = 1; return 0; }
            uint32_t iid = btype == NG_PB ? (uint32_t)rd16(b + 8, big) : rd32(b + 8, big);
            uint64_t units = (uint64_t)rd32(b + 12, big) << 32 | rd32(b + 16, big);
            caplen = rd32(b + 20, big); origlen = rd32(b + 24, big);
            if (iid >= (uint32_t)r->nifaces || 28 + caplen > (int64_t)blen - 4) { r->damaged = 1; return 0; }
            ifc = &r->ifaces[iid];
            r->iface = (int)iid;
            i128 v = (i128)units * ifc->mult;
            if (ifc->div != 1) v /= ifc->div;
            if (ifc->shift) v >>= ifc->shift;
            v += ifc->offset;
            if (v < 0 || v >= NG_TS_MAX) { r->damaged = 1; return 0; }
            ts = (int64_t)v;
            fs = bs + 28;
        } else if (btype == NG_SPB) {  /* no interface id (the first), no time (the last frame's) */
            if (!r->nifaces || blen < 16) { r->damaged = 1; return 0; }
            ifc = &r->ifaces[0];
            r->iface = 0;
            origlen = rd32(b + 8, big);
            int64_t lim = ifc->snaplen ? (int64_t)ifc->snaplen : r->max_caplen;
            caplen = origlen;
            if ((int64_t)blen - 16 < caplen) caplen = (int64_t)blen - 16;
            if (lim < caplen) caplen = lim;
            ts = r->last_seen;
            fs = bs + 12;
        } else {
            if (btype == NG_IDB) {
                int rc = ng_interface(r, bs, blen);
                if (rc == -2) return -1;
                if (rc < 0) { r->damaged = 1; return 0; }
            }
            continue;  /* name resolution, statistics, custom, unknown blocks: skipped */
        }
        r->no++;
        r->last_seen = ts;
        if (!r->has_first || ts > r->last_ts) {
            r->last_ts = ts;
            if (!r->has_first) { r->has_first = 1; r->first_ts = ts; }
        }
        r->linktype = ifc->linktype; r->etoff = ifc->etoff; r->ipoff = ifc->ipoff; r->fmin = ifc->fmin;
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

/* ---- SHA-256 (FIPS 180-4) for short streams: hashlib's call would cost more than the hash ------ */

static const uint32_t SHA_K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(uint32_t *h, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++) w[i] = be32(p + 4 * i);
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + SHA_K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

/* a 32-byte digest as 64 lower-case hex digits (no terminator) */
static void hex32(const uint8_t *d, char *out) {
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) { out[2 * i] = hx[d[i] >> 4]; out[2 * i + 1] = hx[d[i] & 15]; }
}

/* the hex digest of p[0:n] into out[64] */
static void sha256_hex(const uint8_t *p, Py_ssize_t n, char *out) {
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    Py_ssize_t i = 0;
    for (; i + 64 <= n; i += 64) sha_block(h, p + i);
    uint8_t last[128];
    Py_ssize_t r = n - i;
    memcpy(last, p + i, (size_t)r);
    last[r] = 0x80;
    Py_ssize_t total = r + 9 <= 64 ? 64 : 128;
    memset(last + r + 1, 0, (size_t)(total - r - 1));
    uint64_t bits = (uint64_t)n * 8;
    for (int j = 0; j < 8; j++) last[total - 1 - j] = (uint8_t)(bits >> (8 * j));
    sha_block(h, last);
    if (total == 128) sha_block(h, last + 64);
    uint8_t digest[32];
    for (int j = 0; j < 32; j++) digest[j] = (uint8_t)(h[j / 4] >> (24 - 8 * (j % 4)));
    hex32(digest, out);
}

/* ---- SHA-256 on a second thread (Sha256: hashlib.sha256's update/hexdigest) ------------------- *
 * Why: a 100 MB file transfer is hashed twice on the main thread (its stream, its decoded file):
 * ~0.35 s of a 0.8 s report, while the second core idles. hashlib's objects need the GIL for every
 * call, so a Python thread would wait for the GIL between chunks; this worker needs none: it calls
 * the very OpenSSL that hashlib uses (its EVP functions, found through _hashlib's own library with
 * dlsym, checked on a known digest), so nothing is linked or installed for it. Without them (no
 * OpenSSL behind hashlib, a platform without dlopen) Sha256 is not offered and hashlib hashes as
 * before. Data is copied into chunks of HT_CHUNK bytes handed to one worker thread in order; a
 * hash of less than one chunk never leaves the caller's thread. At most HT_QUEUED bytes wait
 * (the producer then waits, the GIL released), so memory stays bounded whatever the transfer. */
#include <pthread.h>
#include <dlfcn.h>

#define HT_CHUNK (1 << 18)
#define HT_QUEUED ((size_t)16 << 20)

static struct {
    int state;  /* 0 not tried, 1 ready, -1 unavailable */
    void *(*ctx_new)(void);
    void (*ctx_free)(void *);
    const void *(*md)(void);
    int (*init)(void *, const void *, void *);
    int (*update)(void *, const void *, size_t);
    int (*final)(void *, unsigned char *, unsigned int *);
} OSSL;

typedef struct HtJob { struct HtJob *next; struct Sha256Obj *h; uint8_t *buf; size_t n; } HtJob;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    HtJob *head, *tail;
    size_t queued;
    pid_t pid;  /* the process whose worker this is (a forked child starts its own) */
} HT;

typedef struct Sha256Obj {
    PyObject_HEAD
    void *ctx;  /* EVP_MD_CTX, touched by the worker only while `pending` > 0 */
    uint8_t *buf;  /* the chunk being filled */
    size_t n;
    size_t pending;  /* chunks handed to the worker, not yet hashed (under HT.mu) */
    pid_t pid;
    int failed;  /* an OpenSSL call failed on the worker */
    int done;
    char hex[65];
} Sha256Obj;

static PyTypeObject Sha256Type;

static void *ht_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&HT.mu);
    for (;;) {
        while (!HT.head) pthread_cond_wait(&HT.work, &HT.mu);
        HtJob *j = HT.head;
        HT.head = j->next;
        if (!HT.head) HT.tail = NULL;
        pthread_mutex_unlock(&HT.mu);
        int ok = OSSL.update(j->h->ctx, j->buf, j->n) == 1;
        free(j->buf);
        pthread_mutex_lock(&HT.mu);
        if (!ok) j->h->failed = 1;
        j->h->pending--;
        HT.queued -= j->n;
        free(j);
        pthread_cond_broadcast(&HT.done);
    }
    return NULL;
}

/* the worker of this process, started on first use (and again in a forked child) */
static int ht_start(void) {
    if (HT.pid == getpid()) return 0;
    pthread_mutex_init(&HT.mu, NULL);
    pthread_cond_init(&HT.work, NULL);
    pthread_cond_init(&HT.done, NULL);
    HT.head = HT.tail = NULL;  /* a parent's jobs are the parent's */
    HT.queued = 0;
    pthread_attr_t attr;
    pthread_t th;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&th, &attr, ht_worker, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) { errno = rc; PyErr_SetFromErrno(PyExc_OSError); return -1; }
    HT.pid = getpid();
    return 0;
}

/* OpenSSL's EVP digest functions, from the library hashlib's _hashlib module is linked with */
static int ht_available(void) {
    if (OSSL.state) return OSSL.state > 0;
    OSSL.state = -1;
    PyObject *mod = PyImport_ImportModule("_hashlib");
    if (!mod) { PyErr_Clear(); return 0; }
    PyObject *file = PyObject_GetAttrString(mod, "__file__");
    Py_DECREF(mod);
    void *lib = NULL;
    if (file && PyUnicode_Check(file)) {
        const char *path = PyUnicode_AsUTF8(file);
        if (path) lib = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
    }
    Py_XDECREF(file);
    PyErr_Clear();
    if (!lib) return 0;  /* _hashlib built into the interpreter, or no dlopen: hashlib as before */
    *(void **)&OSSL.ctx_new = dlsym(lib, "EVP_MD_CTX_new");
    *(void **)&OSSL.ctx_free = dlsym(lib, "EVP_MD_CTX_free");
    *(void **)&OSSL.md = dlsym(lib, "EVP_sha256");
    *(void **)&OSSL.init = dlsym(lib, "EVP_DigestInit_ex");
    *(void **)&OSSL.update = dlsym(lib, "EVP_DigestUpdate");
    *(void **)&OSSL.final = dlsym(lib, "EVP_DigestFinal_ex");
    if (!OSSL.ctx_new || !OSSL.ctx_free || !OSSL.md || !OSSL.init || !OSSL.update || !OSSL.final) return 0;
    /* proof on a known digest (FIPS 180-2's "abc") before anything is trusted to it */
    static const uint8_t abc_sha[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde,
                                        0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    uint8_t out[64];
    unsigned int len = 0;
    void *ctx = OSSL.ctx_new();
    int ok = ctx && OSSL.init(ctx, OSSL.md(), NULL) == 1 && OSSL.update(ctx, "abc", 3) == 1 &&
             OSSL.final(ctx, out, &len) == 1 && len == 32 && memcmp(out, abc_sha, 32) == 0;
    if (ctx) OSSL.ctx_free(ctx);
    if (ok) OSSL.state = 1;
    return ok;
}

/* hand the filled chunk to the worker (waiting, GIL released, while HT_QUEUED bytes wait) */
static int sha_submit(Sha256Obj *h) {
    if (h->n == 0) return 0;
    if (ht_start() < 0) return -1;
    HtJob *j = malloc(sizeof *j);
    if (!j) { PyErr_NoMemory(); return -1; }
    j->next = NULL; j->h = h; j->buf = h->buf; j->n = h->n;
    h->buf = NULL; h->n = 0;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&HT.mu);
    while (HT.queued >= HT_QUEUED) pthread_cond_wait(&HT.done, &HT.mu);
    if (HT.tail) HT.tail->next = j; else HT.head = j;
    HT.tail = j;
    HT.queued += j->n;
    h->pending++;
    pthread_cond_signal(&HT.work);
    pthread_mutex_unlock(&HT.mu);
    Py_END_ALLOW_THREADS
    return 0;
}

static void sha_wait(Sha256Obj *h) {
    if (HT.pid != getpid()) return;  /* no worker here: nothing was handed over in this process */
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&HT.mu);
    while (h->pending) pthread_cond_wait(&HT.done, &HT.mu);
    pthread_mutex_unlock(&HT.mu);
    Py_END_ALLOW_THREADS
}

static int sha_add(Sha256Obj *h, const uint8_t *p, Py_ssize_t n) {
    if (h->done) { PyErr_SetString(PyExc_ValueError, "update() after hexdigest()"); return -1; }
    if (h->pid != getpid()) { PyErr_SetString(PyExc_RuntimeError, "Sha256 used across fork()"); return -1; }
    while (n > 0) {
        if (!h->buf && !(h->buf = malloc(HT_CHUNK))) { PyErr_NoMemory(); return -1; }
        size_t k = HT_CHUNK - h->n;
        if ((size_t)n < k) k = (size_t)n;
        memcpy(h->buf + h->n, p, k);
        h->n += k; p += k; n -= (Py_ssize_t)k;
        if (h->n == HT_CHUNK && sha_submit(h) < 0) return -1;
    }
    return 0;
}

static PyObject *sha_hexdigest_str(Sha256Obj *h) {
    if (!h->done) {
        if (h->pid != getpid()) { PyErr_SetString(PyExc_RuntimeError, "Sha256 used across fork()"); return NULL; }
        sha_wait(h);  /* the chunks before, in order; then the last one here */
        uint8_t out[64];
        unsigned int len = 0;
        if (h->failed || (h->n && OSSL.update(h->ctx, h->buf, h->n) != 1) || OSSL.final(h->ctx, out, &len) != 1 ||
            len != 32) {
            PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
            return NULL;
        }
        hex32(out, h->hex);
        h->hex[64] = 0;
        h->done = 1;
        free(h->buf); h->buf = NULL; h->n = 0;
    }
    return PyUnicode_FromStringAndSize(h->hex, 64);
}

static PyObject *sha_update(Sha256Obj *h, PyObject *arg) {
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    int rc = sha_add(h, b.buf, b.len);
    PyBuffer_Release(&b);
    if (rc < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject *sha_hexdigest(Sha256Obj *h, PyObject *unused) {
    (void)unused;
    return sha_hexdigest_str(h);
}

static PyObject *sha_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    PyObject *data = NULL;
    if ((kw && PyDict_GET_SIZE(kw)) || !PyArg_UnpackTuple(args, "Sha256", 0, 1, &data)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "Sha256([data])");
        return NULL;
    }
    if (!ht_available()) { PyErr_SetString(PyExc_RuntimeError, "no OpenSSL SHA-256 to run on a thread"); return NULL; }
    Sha256Obj *h = (Sha256Obj *)type->tp_alloc(type, 0);
    if (!h) return NULL;
    h->pid = getpid();
    h->ctx = OSSL.ctx_new();
    if (!h->ctx || OSSL.init(h->ctx, OSSL.md(), NULL) != 1) {
        Py_DECREF(h);
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed");
        return NULL;
    }
    if (data) {
        PyObject *r = sha_update(h, data);
        if (!r) { Py_DECREF(h); return NULL; }
        Py_DECREF(r);
    }
    return (PyObject *)h;
}

static void sha_dealloc(Sha256Obj *h) {
    if (h->pid == getpid()) sha_wait(h);  /* the worker may still be hashing into ctx */
    if (h->ctx && (h->pid == getpid() || !h->pending)) OSSL.ctx_free(h->ctx);  /* a fork's copy: leaked */
    free(h->buf);
    Py_TYPE(h)->tp_free((PyObject *)h);
}

static PyMethodDef sha_methods[] = {
    {"update", (PyCFunction)sha_update, METH_O, "Add bytes (copied: hashed on the worker thread)."},
    {"hexdigest", (PyCFunction)sha_hexdigest, METH_NOARGS, "The SHA-256 of everything added, in hex."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Sha256Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "reporter.analyses._fasttcp.Sha256",
    .tp_basicsize = sizeof(Sha256Obj),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "hashlib.sha256's update/hexdigest, the hashing done on a worker thread (see the source).",
    .tp_new = sha_new,
    .tp_dealloc = (destructor)sha_dealloc,
    .tp_methods = sha_methods,
};

/* file_sha256(path): a file's SHA-256 in hex, read and hashed with the GIL released throughout.
 * Why: capture.BackgroundSha256 hashes the capture on a thread beside the analysis; in Python its
 * loop needs the GIL back after every read and update, which the analysis holds, so the thread
 * crawled (a 325 MB capture: the report waited 0.2 s for it at the end). */
static PyObject *fast_file_sha256(PyObject *self, PyObject *arg) {
    (void)self;
    PyObject *path = NULL;
    if (!ht_available()) { PyErr_SetString(PyExc_RuntimeError, "no OpenSSL SHA-256 here"); return NULL; }
    if (!PyUnicode_FSConverter(arg, &path)) return NULL;
    void *ctx = OSSL.ctx_new();
    uint8_t *buf = malloc(HT_CHUNK * 4);
    int fd = -1, err = 0, ok = ctx && buf && OSSL.init(ctx, OSSL.md(), NULL) == 1;
    uint8_t out[64];
    unsigned int len = 0;
    if (ok) {
        const char *name = PyBytes_AS_STRING(path);
        Py_BEGIN_ALLOW_THREADS
        fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) err = errno;
        while (fd >= 0 && !err && ok) {
            ssize_t n = read(fd, buf, HT_CHUNK * 4);
            if (n < 0) { if (errno != EINTR) err = errno; continue; }
            if (n == 0) break;
            ok = OSSL.update(ctx, buf, (size_t)n) == 1;
        }
        if (fd >= 0) close(fd);
        if (!err && ok) ok = OSSL.final(ctx, out, &len) == 1 && len == 32;
        Py_END_ALLOW_THREADS
    }
    if (ctx) OSSL.ctx_free(ctx);
    free(buf);
    if (err) {
        errno = err;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    if (!ok) { PyErr_SetString(PyExc_RuntimeError, "OpenSSL's SHA-256 failed"); return NULL; }
    char hex[64];
    hex32(out, hex);
    return PyUnicode_FromStringAndSize(hex, 64);
}

static PyObject *fast_threaded_sha256(PyObject *self, PyObject *unused) {
    (void)self; (void)unused;
    return PyBool_FromLong(ht_available());
}

/* ---- the tracker: connections as tcp.py opens them -------------------------------------------- */

/* a JSON template: literal pieces, each followed by the value of a code, then a tail */
typedef struct { Bytes *lit; int *code; int n; Bytes tail; } Template;

/* a model class and the descriptors of its slots, in the order emit() fills them (plain.KINDS) */
enum { KIND_PLAIN, KIND_ENDPOINT, KIND_HANDSHAKE, KIND_OPTIONS, KIND_CLOSE, KIND_FIN, KIND_PERDIR, KIND_ANOMALIES,
       KIND_ECHO, K_NKINDS };
#define KIND_MAX_FIELDS 32
typedef struct { PyTypeObject *cls; PyObject *d[KIND_MAX_FIELDS]; int n; } Kind;

typedef struct {
    Consts k;
    Table flows;  /* (src, sport, dst, dport) -> (conn, half) */
    Table servers;  /* (server ip, port) -> count, in the Conn* slot's id field... kept as a Conn* */
    Conn **conns;
    Py_ssize_t nconns, conncap;
    Conn **live;
    Py_ssize_t nlive, livecap;
    PyObject *services[65536];  /* borrowed from the services dict: port -> name */
    uint8_t message_port[65536];  /* the port's service has messages (line, json): the reference's */
    int recognise;  /* connections on unclaimed ports may be recognised by content: the reference's */
    int analyse;  /* pass 1: analyse plain connections; Replay: track only */
    PyObject *sha256, *empty_hex;
    /* results of pass 1 */
    PyObject *sweeps;  /* list of (frame, ts) */
    int64_t opened_at_no, opened_at_ts;  /* the frame that opened the latest connection */
    int sweep_due;
    /* emitting plain connections (pass 1) */
    int has_t0;
    int64_t t0;  /* the first frame's time: report times are relative to it */
    Template tpl_conn, tpl_ex, tpl_fin;
    PyObject *service_json[65536];  /* owned: port -> the service's name as JSON text */
    Bytes blob;  /* JSON lines of the batch, written to the spool at its end */
    PyObject *rows;  /* the batch's PlainConnection objects */
    int spool_fd;
    int64_t spool_off;  /* bytes written to the spool before this batch */
    PyObject *spool;  /* the Spool object each PlainConnection refers to */
    Kind kinds[K_NKINDS];
    PyObject *ips;  /* address -> its text, shared by every connection that has it */
    PyObject *shared;  /* server endpoints and TCP options, one object per value (read-only model) */
    PyObject *zero_anomalies, *empty_tuple;
    PyObject *str_client, *str_server, *str_port, *states[12];
    PyObject *deliver_cb, *finish_cb;  /* the message layer's (fastpath._Streams) */
    /* batch's copy signals (grading.fingerprint.Collector), gathered in this same read when asked */
    PyObject *fp_update, *fp_times, *fp_ip_ids, *fp_flows, *fp_isns, *fp_tokens, *fp_signals, *fp_dns;
    Bytes fpbuf;  /* frames for the content digest, handed to its update() a megabyte at a time */
    int64_t fp_ttl[256], fp_sums, fp_zero, fp_hint;
} Tracker;

static int emit(Tracker *t, Conn *conn, int64_t t0);

static void analysis_free(Analysis *a) {
    if (!a) return;
    for (int i = 0; i < 2; i++) {
        HalfA *h = i ? &a->s : &a->c;
        bytes_free(&h->preview); bytes_free(&h->pend);
        Py_CLEAR(h->hasher);
    }
    bytes_free(&a->buf);
    bytes_free(&a->run);
    Py_CLEAR(a->msgs_json); Py_CLEAR(a->msgs_list);
    for (Py_ssize_t i = 0; i < a->nex; i++) { PyMem_Free(a->ex[i].req.v); PyMem_Free(a->ex[i].echo.v); }
    PyMem_Free(a->ex);
    PyMem_Free(a);
}

static void template_free(Template *tp) {
    for (int i = 0; tp->lit && i < tp->n; i++) bytes_free(&tp->lit[i]);
    PyMem_Free(tp->lit); PyMem_Free(tp->code);
    bytes_free(&tp->tail);
    memset(tp, 0, sizeof(*tp));
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
    if (conn->a && t->message_port[conn->sport]) {
        conn->a->msg = 1;
        conn->a->last_side = conn->a->run_side = -1;
    }
    if (conn->a && !t->services[conn->sport] && t->recognise)
        taint(conn);  /* content recognition is the Python analysis's */
    t->opened_at_no = rec->no; t->opened_at_ts = rec->ts;
    t->sweep_due = (t->nconns % t->k.sweep_every) == 0;
    *half_out = src_is_client ? 0 : 1;
    return conn;
}

/* tcp._sweep: idle connections give back the frames kept to recognise capture duplicates; here
 * also, a plain connection closed and quiet for quiet_ns is written out and its state freed (a
 * packet that still comes for it taints it: the reference then analyses it, its record dropped) */
static int sweep(Tracker *t, int64_t now) {
    Py_ssize_t keep = 0;
    int rc = 0;
    for (Py_ssize_t i = 0; i < t->nlive; i++) {
        Conn *conn = t->live[i];
        Analysis *a = conn->a;
        if (!a || rc < 0) {  /* tainted: the reference sweeps it itself */
            if (a) t->live[keep++] = conn;
            else conn->in_live = 0;
            continue;
        }
        if (now - a->last_ts < t->k.idle_ns) { t->live[keep++] = conn; continue; }
        int closed = a->reset || (a->c.state == CLOSED && a->s.state == CLOSED);
        a->c.has_last = a->s.has_last = 0;
        if (closed && now - a->last_ts >= t->k.quiet_ns && t->has_t0) {
            rc = emit(t, conn, t->t0);
            conn->in_live = 0;
            continue;
        }
        t->live[keep++] = conn;
    }
    t->nlive = keep;
    return rc;
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

/* ---- a message service's bytes, handed to the Python message layer in runs ------------------- */

#define RUN_MAX 65536

/* the run so far, as one delivery: its bytes and the last packet that carried them */
static int msg_flush(Tracker *t, Conn *conn) {
    Analysis *a = conn->a;
    if (a->run.n == 0) return 0;
    PyObject *r = PyObject_CallFunction(t->deliver_cb, "Liiy#LL", (long long)conn->id, (int)conn->sport, a->run_side,
                                        (const char *)a->run.v, a->run.n, (long long)a->run_no, (long long)a->run_ts);
    a->run.n = 0;
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

/* only base64's alphabet (A-Z a-z 0-9 + /): no line end, blank, quote, escape, padding or control */
static int base64_only(const uint8_t *p, Py_ssize_t n) {
    unsigned bad = 0;
    Py_ssize_t i = 0;
#if defined(__SSE2__)
    /* 16 bytes at a time: c in [lo, lo + k] is (c - lo) <= k unsigned, i.e. saturating (c - lo) - k == 0 */
    const __m128i zero = _mm_setzero_si128(), k25 = _mm_set1_epi8(25), k9 = _mm_set1_epi8(9);
    const __m128i A = _mm_set1_epi8('A'), a = _mm_set1_epi8('a'), d0 = _mm_set1_epi8('0');
    const __m128i plus = _mm_set1_epi8('+'), slash = _mm_set1_epi8('/');
    for (; i + 16 <= n; i += 16) {
        __m128i c = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i up = _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(c, A), k25), zero);
        __m128i lo = _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(c, a), k25), zero);
        __m128i dg = _mm_cmpeq_epi8(_mm_subs_epu8(_mm_sub_epi8(c, d0), k9), zero);
        __m128i ps = _mm_or_si128(_mm_cmpeq_epi8(c, plus), _mm_cmpeq_epi8(c, slash));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(up, lo), _mm_or_si128(dg, ps))) != 0xFFFF) return 0;
    }
#endif
    for (; i < n; i++) {
        uint8_t c = p[i];
        unsigned ok = (uint8_t)((c | 0x20) - 'a') < 26 || (uint8_t)(c - '0') < 10 || c == '+' || c == '/';
        bad |= !ok;
    }
    return !bad;
}

/* Delivered bytes of a message connection: Half.sink's calls, merged where nothing can tell them
 * apart. Merged are only packets of nothing but base64's alphabet in the middle of a message: a
 * message ends on a line feed (line framing: its own; JSON framing: the last of CRLF CRLF) or where
 * the other side starts speaking, and begins with the first packet of a side's turn or after a
 * line feed, so every other packet (the first of a turn, any with another byte, the one after a
 * line feed) is a delivery of its own and every message's first and last frame, and the frame
 * completing it, are the per-packet calls'. Inside a message the parsers treat such bytes alike
 * however they are cut (a JSON string's base64 decoded as it comes, a word, a token: nothing
 * fails on them, and anything that can fail is a byte outside the alphabet, delivered on its own).
 * Up to RUN_MAX bytes go in one call. */
static int msg_deliver(Tracker *t, Conn *conn, int side, const uint8_t *data, Py_ssize_t n, int64_t no, int64_t ts) {
    Analysis *a = conn->a;
    int plain = base64_only(data, n);
    int nl = !plain && memchr(data, '\n', (size_t)n) != NULL;
    if (a->last_side != side) {
        if (msg_flush(t, conn) < 0) return -1;
        a->fresh[side] = 1;
        a->last_side = side;
    }
    if (a->fresh[side] || !plain) {
        if (msg_flush(t, conn) < 0) return -1;
        a->run_side = side;
        if (bytes_add(&a->run, data, n) < 0) return -1;
        a->run_no = no; a->run_ts = ts;
        a->fresh[side] = nl;
        return msg_flush(t, conn);
    }
    a->run_side = side;
    if (bytes_add(&a->run, data, n) < 0) return -1;
    a->run_no = no; a->run_ts = ts;
    return a->run.n >= RUN_MAX ? msg_flush(t, conn) : 0;
}

/* ---- tcp.TcpAnalysis.feed, the branches plain connections take ------------------------------- */

/* hasher.update(p[0:n]): a Sha256 directly, hashlib's through its method */
static int hasher_add(PyObject *hasher, const uint8_t *p, Py_ssize_t n) {
    if (Py_IS_TYPE(hasher, &Sha256Type)) return sha_add((Sha256Obj *)hasher, p, n);
    PyObject *mv = PyMemoryView_FromMemory((char *)p, n, PyBUF_READ);
    if (!mv) return -1;
    PyObject *r = PyObject_CallMethod(hasher, "update", "O", mv);
    Py_DECREF(mv);
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

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
        if (hasher_add(h->hasher, h->pend.v, h->pend.n) < 0) return -1;
        h->pend.n = 0;
    }
    return 0;
}

static int64_t half_offset(const Conn *conn, int side, const HalfA *h, uint32_t seq) {
    int64_t nxt = h->next;
    uint32_t d = (uint32_t)(seq - conn->base[side] - (uint32_t)nxt);
    return d < HALF ? nxt + d : nxt + (int64_t)d - WRAP;
}

static void control(Conn *conn, int side, const Rec *rec, const Pkt *p) {
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
        if (conn->emitted) conn->tainted = 1;  /* a packet after its record was written */
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
        control(conn, side, rec, p);
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
    int r = a->msg ? msg_deliver(t, conn, side, p->pay, p->plen, rec->no, rec->ts)
            : side ? echo_answer(t, conn, nxt, p->pay, p->plen, rec->no, rec->ts)
                   : echo_request(t, conn, nxt, p->pay, p->plen, rec->no, rec->ts);
    if (r < 0) return -1;
    if (!conn->a) return 0;
    if (!(a->seen & bD)) mark(conn, bD, side ? 'd' : 'D');
    return 0;
}

/* ---- writing a plain connection: its JSON line (from the model's template) and its row ------- */

/* value codes of the templates fastpath.py builds from the model's fields (fastpath.CONN_CODES...) */
enum {
    V_ID = 1, V_CIP, V_CPORT, V_SIP, V_SPORT, V_SERVICE, V_CLIENT_NO,
    V_SYN_FRAME, V_SYNACK_FRAME, V_ACK_FRAME, V_SYN_TIME, V_RTT_MS, V_COMPLETE, V_MSS, V_WSCALE, V_SACK_OK,
    V_TIMESTAMPS, V_SYN_REXMITS, V_SYNACK_REXMITS, V_SYNACK_TIME,
    V_FIRST_FIN_BY, V_RESET, V_END_TIME, V_FINS, V_STATE, V_HISTORY,
    V_CBYTES, V_SBYTES, V_CSEGS, V_SSEGS, V_ZERO, V_VERIFIED, V_ECHOED, V_MISMATCH, V_FIRST_REQ, V_FIRST_ECHO,
    V_WAIT, V_QUEUED_BEHIND, V_MISMATCH_FRAME, V_EXCHANGES, V_CSHA, V_SSHA, V_CPREVIEW, V_SPREVIEW, V_MESSAGES,
    V_SERVICE_BY
};
enum { X_REQ = 1, X_ECHO, X_REQ_TIME, X_ECHO_TIME, X_BYTES };  /* an exchange's */
enum { F_BY = 1, F_FRAME, F_TIME };  /* a FIN's */

static int out_str(Bytes *o, const char *s) { return bytes_add(o, (const uint8_t *)s, (Py_ssize_t)strlen(s)); }

static int out_i64(Bytes *o, int64_t v) {
    char b[24];
    int n = 24;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do { b[--n] = (char)('0' + u % 10); u /= 10; } while (u);
    if (v < 0) b[--n] = '-';
    return bytes_add(o, (const uint8_t *)b + n, 24 - n);
}

static int out_opt(Bytes *o, int has, int64_t v) { return has ? out_i64(o, v) : out_str(o, "null"); }

/* round(x, nd) as Python computes it (correctly rounded, ties to even), then repr(): glibc's
 * printf and strtod are exact, PyOS_double_to_string is float.__repr__ (tests/test_fastpath.py) */
static int out_round(Bytes *o, double x, int nd) {
    char b[64];
    snprintf(b, sizeof b, "%.*f", nd, x);
    double r = strtod(b, NULL);
    char *s = PyOS_double_to_string(r, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!s) return -1;
    int rc = out_str(o, s);
    PyMem_Free(s);
    return rc;
}

/* repr(round(d / 10**(3 + nd), nd)) for d in ns (nd 6: seconds, nd 3: milliseconds). When d is a
 * whole number of microseconds, that is the decimal d/1000 * 10**-nd itself: the double nearest
 * to it rounds to it, and a decimal of at most 15 digits is the shortest text of its double, so
 * repr writes it, trailing zeros dropped (out_round does the general case; fixed notation only
 * from 1e-4 up, as repr). */
static int out_scaled(Bytes *o, int64_t d, int nd) {
    int64_t unit = nd == 6 ? 1000000 : 1000;
    if (d >= 0 && d % 1000 == 0 && (d == 0 || d / 1000 >= unit / 10000) && d / 1000 < 100000000000000LL) {
        int64_t k = d / 1000, ip = k / unit, fp = k % unit;
        char b[48];
        int n = snprintf(b, sizeof b, "%lld.", (long long)ip);
        if (fp == 0) {
            b[n++] = '0';
        } else {
            char f[8];
            snprintf(f, sizeof f, "%0*lld", nd, (long long)fp);
            int len = nd;
            while (f[len - 1] == '0') len--;
            memcpy(b + n, f, (size_t)len);
            n += len;
        }
        return bytes_add(o, (const uint8_t *)b, n);
    }
    return out_round(o, (double)d / (nd == 6 ? 1e9 : 1e6), nd);
}

static int out_rel(Bytes *o, int has, int64_t ts, int64_t t0) {
    if (!has) return out_str(o, "null");
    return out_scaled(o, ts - t0, 6);
}

static int out_frames(Bytes *o, const I64Vec *v) {
    if (bytes_add(o, (const uint8_t *)"[", 1) < 0) return -1;
    for (Py_ssize_t i = 0; i < v->n; i++) {
        if (i && bytes_add(o, (const uint8_t *)",", 1) < 0) return -1;
        if (out_i64(o, v->v[i]) < 0) return -1;
    }
    return bytes_add(o, (const uint8_t *)"]", 1);
}

/* conn._printable, then json's escaping of what it leaves (printable ASCII, tab, LF, CR) */
static int out_preview(Bytes *o, const Bytes *p) {
    uint8_t stack[2 * 512 + 2];  /* each byte becomes at most two */
    uint8_t *b = p->n <= 512 ? stack : PyMem_Malloc((size_t)(2 * p->n + 2));
    if (!b) { PyErr_NoMemory(); return -1; }
    uint8_t *w = b;
    *w++ = '"';
    for (Py_ssize_t i = 0; i < p->n; i++) {
        uint8_t c = p->v[i];
        if (c >= 32 && c < 127) {
            if (c == '"' || c == '\\') *w++ = '\\';
            *w++ = c;
        } else if (c == '\n') { *w++ = '\\'; *w++ = 'n'; }
        else if (c == '\r') { *w++ = '\\'; *w++ = 'r'; }
        else if (c == '\t') { *w++ = '\\'; *w++ = 't'; }
        else *w++ = '.';
    }
    *w++ = '"';
    int rc = bytes_add(o, b, w - b);
    if (b != stack) PyMem_Free(b);
    return rc;
}

static int out_pystr_ascii(Bytes *o, PyObject *s) {  /* a hexdigest: ASCII, nothing to escape */
    Py_ssize_t n;
    const char *c = PyUnicode_AsUTF8AndSize(s, &n);
    if (!c) return -1;
    if (bytes_add(o, (const uint8_t *)"\"", 1) < 0 || bytes_add(o, (const uint8_t *)c, n) < 0) return -1;
    return bytes_add(o, (const uint8_t *)"\"", 1);
}

static int out_ip(Bytes *o, const uint8_t *ip) {
    char b[24];
    int n = snprintf(b, sizeof b, "\"%u.%u.%u.%u\"", ip[0], ip[1], ip[2], ip[3]);
    return bytes_add(o, (const uint8_t *)b, n);
}

/* conn.zeek_state */
static const char *zeek_state(int os_, int rs, int64_t cb, int64_t sb, const char *hist, int hn) {
    int o_inactive = os_ == INACTIVE || os_ == PARTIAL, r_inactive = rs == INACTIVE || rs == PARTIAL;
    if (rs == RESET) {
        if (os_ == SYN_SENT || os_ == SYN_ACK_SENT || (os_ == RESET && cb == 0 && sb == 0)) return "REJ";
        return o_inactive ? "RSTRH" : "RSTR";
    }
    if (os_ == RESET) {
        if (!r_inactive) return "RSTO";
        if (hn > 0 && hist[0] == 'S') {
            int clean = 1;
            for (int i = 0; i < hn && hist[i] != 'R'; i++)
                if (strchr("HAFGIQ", hist[i])) { clean = 0; break; }
            if (clean) return "RSTOS0";
        }
    }
    if (rs == CLOSED && os_ == CLOSED) return "SF";
    if (os_ == CLOSED) return r_inactive ? "SH" : "S2";
    if (rs == CLOSED) return o_inactive ? "SHR" : "S3";
    if (os_ == SYN_SENT && rs == INACTIVE) return "S0";
    if (os_ == ESTABLISHED && rs == ESTABLISHED) return "S1";
    return "OTH";
}

static PyObject *digest(HalfA *h) {
    if (!h->hasher) {  /* the whole stream is still in pend */
        char hex[64];
        sha256_hex(h->pend.v, h->pend.n, hex);
        h->pend.n = 0;
        return PyUnicode_FromStringAndSize(hex, 64);
    }
    if (hasher_add(h->hasher, h->pend.v, h->pend.n) < 0) return NULL;
    h->pend.n = 0;
    if (Py_IS_TYPE(h->hasher, &Sha256Type)) return sha_hexdigest_str((Sha256Obj *)h->hasher);
    return PyObject_CallMethod(h->hasher, "hexdigest", NULL);
}

static int out_exchanges(Tracker *t, Bytes *o, Analysis *a, int64_t t0) {
    Template *tp = &t->tpl_ex;
    if (bytes_add(o, (const uint8_t *)"[", 1) < 0) return -1;
    for (Py_ssize_t i = 0; i < a->nex; i++) {
        Exchange *x = &a->ex[i];
        if (i && bytes_add(o, (const uint8_t *)",", 1) < 0) return -1;
        for (int j = 0; j < tp->n; j++) {
            if (bytes_add(o, tp->lit[j].v, tp->lit[j].n) < 0) return -1;
            int rc;
            switch (tp->code[j]) {
            case X_REQ: rc = out_frames(o, &x->req); break;
            case X_ECHO: rc = out_frames(o, &x->echo); break;
            case X_REQ_TIME: rc = out_rel(o, 1, x->req_ts, t0); break;
            case X_ECHO_TIME: rc = out_rel(o, x->has_echo_ts, x->echo_ts, t0); break;
            case X_BYTES: rc = out_i64(o, x->end - x->start); break;
            default: PyErr_SetString(PyExc_ValueError, "bad exchange template"); return -1;
            }
            if (rc < 0) return -1;
        }
        if (bytes_add(o, tp->tail.v, tp->tail.n) < 0) return -1;
    }
    return bytes_add(o, (const uint8_t *)"]", 1);
}

static int out_fins(Tracker *t, Bytes *o, Analysis *a, int64_t t0) {
    Template *tp = &t->tpl_fin;
    if (bytes_add(o, (const uint8_t *)"[", 1) < 0) return -1;
    for (int i = 0; i < a->fin_n; i++) {
        if (i && bytes_add(o, (const uint8_t *)",", 1) < 0) return -1;
        for (int j = 0; j < tp->n; j++) {
            if (bytes_add(o, tp->lit[j].v, tp->lit[j].n) < 0) return -1;
            int rc;
            switch (tp->code[j]) {
            case F_BY: rc = out_str(o, a->fin_up[i] ? "\"client\"" : "\"server\""); break;
            case F_FRAME: rc = out_i64(o, a->fin_no[i]); break;
            case F_TIME: rc = out_rel(o, 1, a->fin_ts[i], t0); break;
            default: PyErr_SetString(PyExc_ValueError, "bad fin template"); return -1;
            }
            if (rc < 0) return -1;
        }
        if (bytes_add(o, tp->tail.v, tp->tail.n) < 0) return -1;
    }
    return bytes_add(o, (const uint8_t *)"]", 1);
}

/* ---- the same connection as report objects, for the rubrics and renderers ------------------- */

/* an instance of k's class with its slots set from vals: every reference is stolen, and a NULL
 * among them (a failed allocation, its error set) makes the whole object fail */
static PyObject *make(Kind *k, PyObject **vals) {
    int bad = 0;
    for (int i = 0; i < k->n; i++) if (!vals[i]) bad = 1;
    PyObject *o = bad ? NULL : k->cls->tp_alloc(k->cls, 0);
    if (!o) bad = 1;
    for (int i = 0; i < k->n; i++) {
        if (!vals[i]) continue;
        if (!bad && Py_TYPE(k->d[i])->tp_descr_set(k->d[i], o, vals[i]) < 0) bad = 1;
        Py_DECREF(vals[i]);
    }
    if (bad) {
        Py_XDECREF(o);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return NULL;
    }
    return o;
}

static PyObject *new_ref(PyObject *o) { Py_INCREF(o); return o; }
static PyObject *none(void) { Py_RETURN_NONE; }
static PyObject *pybool(int v) { return PyBool_FromLong(v); }
static PyObject *pyint(int64_t v) { return PyLong_FromLongLong(v); }
static PyObject *opt_int(int has, int64_t v) { return has ? PyLong_FromLongLong(v) : none(); }

/* round(d / 10**(3 + nd), nd) for d in ns: the double nearest to d/1000 * 10**-nd when d is whole
 * microseconds (an exact decimal: rounding the nearest double to nd places gives it back) */
static PyObject *scaled_float(int has, int64_t d, int nd) {
    if (!has) return none();
    if (d % 1000 == 0) return PyFloat_FromDouble((double)(d / 1000) / (nd == 6 ? 1e6 : 1e3));
    char b[64];
    snprintf(b, sizeof b, "%.*f", nd, (double)d / (nd == 6 ? 1e9 : 1e6));
    return PyFloat_FromDouble(strtod(b, NULL));
}

static PyObject *ip_text(Tracker *t, const uint8_t *ip) {
    PyObject *key = PyLong_FromUnsignedLong(be32(ip));
    if (!key) return NULL;
    PyObject *v = PyDict_GetItemWithError(t->ips, key);
    if (v) { Py_DECREF(key); return new_ref(v); }
    if (PyErr_Occurred()) { Py_DECREF(key); return NULL; }
    v = PyUnicode_FromFormat("%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
    if (v && PyDict_SetItem(t->ips, key, v) < 0) Py_CLEAR(v);
    Py_DECREF(key);
    return v;
}

static PyObject *endpoint(Tracker *t, const uint8_t *ip, int port) {
    PyObject *v[] = {ip_text(t, ip), PyLong_FromLong(port)};
    return make(&t->kinds[KIND_ENDPOINT], v);
}

/* one object for every equal value: key -> the object made by make_it (a new reference) */
static PyObject *shared(Tracker *t, long long key, PyObject *(*make_it)(Tracker *, const void *), const void *arg) {
    PyObject *k = PyLong_FromLongLong(key);
    if (!k) return NULL;
    PyObject *v = PyDict_GetItemWithError(t->shared, k);
    if (v) { Py_DECREF(k); return new_ref(v); }
    if (PyErr_Occurred()) { Py_DECREF(k); return NULL; }
    v = make_it(t, arg);
    if (v && PyDict_SetItem(t->shared, k, v) < 0) Py_CLEAR(v);
    Py_DECREF(k);
    return v;
}

static PyObject *make_server(Tracker *t, const void *arg) {
    const Conn *conn = arg;
    return endpoint(t, conn->sip, conn->sport);
}

static PyObject *make_options(Tracker *t, const void *arg) {
    const Analysis *a = arg;
    PyObject *v[] = {opt_int(a->mss >= 0, a->mss), opt_int(a->wscale >= 0, a->wscale), pybool(a->sack_ok),
                     pybool(a->timestamps)};
    return make(&t->kinds[KIND_OPTIONS], v);
}

static PyObject *state_str(Tracker *t, const char *state) {
    static const char *names[12] = {"REJ", "RSTRH", "RSTR", "RSTO", "RSTOS0", "SF", "SH", "S2", "SHR", "S3", "S0", "S1"};
    for (int i = 0; i < 12; i++)
        if (strcmp(names[i], state) == 0) {
            if (!t->states[i]) t->states[i] = PyUnicode_InternFromString(names[i]);
            return t->states[i] ? new_ref(t->states[i]) : NULL;
        }
    return PyUnicode_InternFromString(state);  /* "OTH" */
}

static PyObject *plain_object(Tracker *t, Conn *conn, Analysis *a, PyObject *cd, PyObject *sd, const char *state,
                              int verified, int64_t t0, int64_t off, int64_t len, int64_t qb) {
    (void)cd; (void)sd;
    /* keys: the server endpoint (1 << 48 marks them), the options (up to 17 + 9 + 2 bits) */
    long long okey = ((long long)(a->mss + 1) << 11) | ((long long)(a->wscale + 1) << 2) | (a->sack_ok << 1) | a->timestamps;
    PyObject *options = shared(t, okey, make_options, a);
    PyObject *hs_v[] = {opt_int(a->has_syn, a->syn_frame), opt_int(a->has_synack, a->synack_frame),
                        opt_int(a->has_ack, a->ack_frame), scaled_float(a->has_syn, a->syn_ts - t0, 6),
                        scaled_float(a->has_ack, a->ack_ts - a->rtt_from, 3), pybool(a->has_ack), options,
                        pyint(a->syn_rexmits), pyint(a->synack_rexmits),
                        scaled_float(a->has_synack, a->synack_ts - t0, 6)};
    PyObject *hs = make(&t->kinds[KIND_HANDSHAKE], hs_v);
    long long skey = (1LL << 48) | ((long long)be32(conn->sip) << 16) | conn->sport;
    int64_t extra[8] = {off, len, qb, a->has_close ? a->close_ts : -1, a->has_first_req ? a->first_req_ts : -1,
                        a->has_first_echo ? a->first_echo_ts : -1, a->has_fin_frame ? a->fin_frame : -1,
                        a->has_request_ack ? a->request_ack_frame : -1};
    PyObject *raw = PyBytes_FromStringAndSize((const char *)extra, sizeof extra);
    if (!raw) return NULL;
    /* the FINs (for a ladder diagram) are read from the JSON line when asked for: PlainClose */
    PyObject *close_v[] = {a->first_fin_by == 0 ? none() : new_ref(a->first_fin_by == 1 ? t->str_client : t->str_server),
                           pybool(a->reset), scaled_float(1, a->last_ts - t0, 6), new_ref(t->spool), new_ref(raw)};
    PyObject *close = make(&t->kinds[KIND_CLOSE], close_v);
    PyObject *bv[] = {pyint(a->c.bytes), pyint(a->s.bytes)};
    PyObject *bytes = make(&t->kinds[KIND_PERDIR], bv);
    PyObject *sv[] = {pyint(a->c.segments), pyint(a->s.segments)};
    PyObject *segs = make(&t->kinds[KIND_PERDIR], sv);
    if (!t->zero_anomalies) {
        PyObject *av[] = {pyint(0), pyint(0), pyint(0), pyint(0), pyint(0)};
        t->zero_anomalies = make(&t->kinds[KIND_ANOMALIES], av);
        if (!t->zero_anomalies) return NULL;
    }
    PyObject *anomalies = new_ref(t->zero_anomalies);
    PyObject *ev[] = {pybool(verified), pyint(a->echoed), opt_int(a->has_mismatch, a->mismatch),
                      scaled_float(a->has_first_req, a->first_req_ts - t0, 6),
                      scaled_float(a->has_first_echo, a->first_echo_ts - t0, 6),
                      scaled_float(a->has_first_echo && a->has_syn, a->first_echo_ts - a->syn_ts, 6), none(),
                      opt_int(a->has_mismatch_frame, a->mismatch_frame), pyint(0)};
    PyObject *echo = make(&t->kinds[KIND_ECHO], ev);
    PyObject *svc = t->services[conn->sport];
    PyObject *hist = PyUnicode_FromStringAndSize(a->hist, a->hist_n);
    if (hist) PyUnicode_InternInPlace(&hist);  /* a few histories, thousands of connections */
    PyObject *pv[] = {pyint(conn->id), endpoint(t, conn->cip, conn->cport), shared(t, skey, make_server, conn),
                      svc ? new_ref(svc) : none(), pyint(conn->client_no), hs, close, state_str(t, state),
                      hist, bytes, segs, anomalies, echo, new_ref(a->msgs_list ? a->msgs_list : t->empty_tuple),
                      svc ? new_ref(t->str_port) : none(), new_ref(t->spool), raw};
    if ((int)(sizeof(pv) / sizeof(pv[0])) != t->kinds[KIND_PLAIN].n) {
        for (size_t i = 0; i < sizeof(pv) / sizeof(pv[0]); i++) Py_XDECREF(pv[i]);
        PyErr_SetString(PyExc_ValueError, "the plain connection's slots changed");
        return NULL;
    }
    return make(&t->kinds[KIND_PLAIN], pv);
}

/* One plain connection's JSON line (no newline) into t->blob, and its object into t->rows. */
static int emit(Tracker *t, Conn *conn, int64_t t0) {
    Analysis *a = conn->a;
    if (a->msg) {  /* the message layer ends the stream: its messages and first request/reply times */
        if (msg_flush(t, conn) < 0) return -1;
        PyObject *r = PyObject_CallFunction(t->finish_cb, "LiL", (long long)conn->id, (int)conn->sport, (long long)t0);
        if (!r) return -1;
        long long req, rep;
        PyObject *js, *lst;
        if (!PyArg_ParseTuple(r, "O!LLO!", &PyBytes_Type, &js, &req, &rep, &PyList_Type, &lst)) { Py_DECREF(r); return -1; }
        a->msgs_json = js; Py_INCREF(js);
        a->msgs_list = lst; Py_INCREF(lst);
        Py_DECREF(r);
        a->has_first_req = req >= 0; a->first_req_ts = req;
        a->has_first_echo = rep >= 0; a->first_echo_ts = rep;
    }
    Bytes *o = &t->blob;
    Py_ssize_t start = o->n, qb = -1;
    PyObject *cd = digest(&a->c);
    if (!cd) return -1;
    PyObject *sd = digest(&a->s);
    if (!sd) { Py_DECREF(cd); return -1; }
    int rc = 0;
    const char *state = zeek_state(a->c.state, a->s.state, a->c.bytes, a->s.bytes, a->hist, a->hist_n);
    int verified = a->echoed > 0 && !a->has_mismatch && a->echoed == a->c.bytes;
    Template *tp = &t->tpl_conn;
    for (int j = 0; j < tp->n && rc == 0; j++) {
        rc = bytes_add(o, tp->lit[j].v, tp->lit[j].n);
        if (rc < 0) break;
        switch (tp->code[j]) {
        case V_ID: rc = out_i64(o, conn->id); break;
        case V_CIP: rc = out_ip(o, conn->cip); break;
        case V_CPORT: rc = out_i64(o, conn->cport); break;
        case V_SIP: rc = out_ip(o, conn->sip); break;
        case V_SPORT: rc = out_i64(o, conn->sport); break;
        case V_SERVICE: {
            PyObject *js = t->service_json[conn->sport];
            if (!js) rc = out_str(o, "null");
            else rc = bytes_add(o, (const uint8_t *)PyBytes_AS_STRING(js), PyBytes_GET_SIZE(js));
            break;
        }
        case V_CLIENT_NO: rc = out_i64(o, conn->client_no); break;
        case V_SYN_FRAME: rc = out_opt(o, a->has_syn, a->syn_frame); break;
        case V_SYNACK_FRAME: rc = out_opt(o, a->has_synack, a->synack_frame); break;
        case V_ACK_FRAME: rc = out_opt(o, a->has_ack, a->ack_frame); break;
        case V_SYN_TIME: rc = out_rel(o, a->has_syn, a->syn_ts, t0); break;
        case V_RTT_MS:
            rc = a->has_ack ? out_scaled(o, a->ack_ts - a->rtt_from, 3) : out_str(o, "null");
            break;
        case V_COMPLETE: rc = out_str(o, a->has_ack ? "true" : "false"); break;
        case V_MSS: rc = out_opt(o, a->mss >= 0, a->mss); break;
        case V_WSCALE: rc = out_opt(o, a->wscale >= 0, a->wscale); break;
        case V_SACK_OK: rc = out_str(o, a->sack_ok ? "true" : "false"); break;
        case V_TIMESTAMPS: rc = out_str(o, a->timestamps ? "true" : "false"); break;
        case V_SYN_REXMITS: rc = out_i64(o, a->syn_rexmits); break;
        case V_SYNACK_REXMITS: rc = out_i64(o, a->synack_rexmits); break;
        case V_SYNACK_TIME: rc = out_rel(o, a->has_synack, a->synack_ts, t0); break;
        case V_FIRST_FIN_BY:
            rc = out_str(o, a->first_fin_by == 0 ? "null" : a->first_fin_by == 1 ? "\"client\"" : "\"server\"");
            break;
        case V_RESET: rc = out_str(o, a->reset ? "true" : "false"); break;
        case V_END_TIME: rc = out_rel(o, 1, a->last_ts, t0); break;
        case V_FINS: rc = out_fins(t, o, a, t0); break;
        case V_STATE: rc = out_str(o, "\""); if (!rc) rc = out_str(o, state); if (!rc) rc = out_str(o, "\""); break;
        case V_HISTORY:
            rc = bytes_add(o, (const uint8_t *)"\"", 1);
            if (!rc) rc = bytes_add(o, (const uint8_t *)a->hist, a->hist_n);
            if (!rc) rc = bytes_add(o, (const uint8_t *)"\"", 1);
            break;
        case V_CBYTES: rc = out_i64(o, a->c.bytes); break;
        case V_SBYTES: rc = out_i64(o, a->s.bytes); break;
        case V_CSEGS: rc = out_i64(o, a->c.segments); break;
        case V_SSEGS: rc = out_i64(o, a->s.segments); break;
        case V_ZERO: rc = out_str(o, "0"); break;
        case V_VERIFIED: rc = out_str(o, verified ? "true" : "false"); break;
        case V_ECHOED: rc = out_i64(o, a->echoed); break;
        case V_MISMATCH: rc = out_opt(o, a->has_mismatch, a->mismatch); break;
        case V_FIRST_REQ: rc = out_rel(o, a->has_first_req, a->first_req_ts, t0); break;
        case V_FIRST_ECHO: rc = out_rel(o, a->has_first_echo, a->first_echo_ts, t0); break;
        case V_WAIT:
            rc = (a->has_first_echo && a->has_syn) ? out_scaled(o, a->first_echo_ts - a->syn_ts, 6)
                                                   : out_str(o, "null");
            break;
        case V_QUEUED_BEHIND: qb = o->n - start; rc = out_str(o, "null"); break;
        case V_MISMATCH_FRAME: rc = out_opt(o, a->has_mismatch_frame, a->mismatch_frame); break;
        case V_EXCHANGES: rc = out_exchanges(t, o, a, t0); break;
        case V_CSHA: rc = out_pystr_ascii(o, cd); break;
        case V_SSHA: rc = out_pystr_ascii(o, sd); break;
        case V_CPREVIEW: rc = out_preview(o, &a->c.preview); break;
        case V_SPREVIEW: rc = out_preview(o, &a->s.preview); break;
        case V_MESSAGES:  /* the message layer's records (fastpath.Streams), or none for an echo service */
            rc = a->msgs_json ? bytes_add(o, (const uint8_t *)PyBytes_AS_STRING(a->msgs_json), PyBytes_GET_SIZE(a->msgs_json))
                              : out_str(o, "[]");
            break;
        case V_SERVICE_BY: rc = out_str(o, t->services[conn->sport] ? "\"port\"" : "null"); break;
        default: PyErr_SetString(PyExc_ValueError, "bad connection template"); rc = -1;
        }
    }
    if (rc < 0 || bytes_add(o, t->tpl_conn.tail.v, t->tpl_conn.tail.n) < 0) { Py_DECREF(cd); Py_DECREF(sd); return -1; }
    PyObject *obj = plain_object(t, conn, a, cd, sd, state, verified, t0, t->spool_off + start, o->n - start, qb);
    Py_DECREF(cd); Py_DECREF(sd);
    if (!obj) return -1;
    rc = PyList_Append(t->rows, obj);
    Py_DECREF(obj);
    if (rc < 0) return -1;
    conn->emitted = 1;
    analysis_free(conn->a);
    conn->a = NULL;
    return 0;
}

/* ---- setting up ------------------------------------------------------------------------------ */

typedef struct {
    const char *path;
    int64_t data_start, size, max_block;
    int big_endian, nano, hsize, linktype, ng;
    PyObject *services, *message_ports;
    int recognise;
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
    if (!PyArg_ParseTuple(args, "sLLppO!O!O!p", &pr->path, &data_start, &size, &pr->big_endian, &pr->nano,
                          &PyDict_Type, &pr->services, &PyDict_Type, &consts, &PyTuple_Type, &pr->message_ports,
                          &pr->recognise))
        return -1;
    pr->data_start = data_start; pr->size = size;
    const char *names[] = {"chunk", "max_caplen", "preview", "exchange_gap_ns", "max_exchanges", "max_frames",
                           "lead_cap", "other_cap", "idle_ns", "sweep_every", "dup_ns", "quiet_ns", "linktype", "hsize",
                           "pcapng", "max_block"};
    int64_t vals[16];
    for (int i = 0; i < 16; i++) if (get_i64(consts, names[i], &vals[i]) < 0) return -1;
    pr->k = (Consts){vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9], vals[10],
                     vals[11]};
    pr->linktype = (int)vals[12];
    pr->hsize = (int)vals[13];
    pr->ng = vals[14] != 0;
    pr->max_block = vals[15];
    return 0;
}

static int reader_open(Reader *r, const Params *pr) {
    memset(r, 0, sizeof(*r));
    r->ng = pr->ng;
    r->max_block = pr->max_block;
    if (r->ng) {
        r->damaged = !HAS_I128;  /* its interfaces' layouts come with their blocks (ng_next) */
    } else {
        if (fast_layout(pr->linktype, &r->etoff, &r->ipoff) < 0) {
            PyErr_SetString(PyExc_ValueError, "link type without a fast layout");
            return -1;
        }
        r->fmin = r->ipoff + 36;  /* the IPv4 header and the fixed TCP header up to the window */
        r->linktype = pr->linktype;
    }
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
    PyMem_Free(r->ifaces);
    r->ifaces = NULL; r->nifaces = r->cap_ifaces = 0;
}

/* the link type of every interface the capture described, in order (pcap: its one) */
static PyObject *reader_linktypes(const Reader *r) {
    if (!r->ng) return Py_BuildValue("[i]", r->linktype);
    PyObject *l = PyList_New(r->nifaces);
    for (int i = 0; l && i < r->nifaces; i++) {
        PyObject *v = PyLong_FromLong(r->ifaces[i].linktype);
        if (!v) { Py_CLEAR(l); break; }
        PyList_SET_ITEM(l, i, v);
    }
    return l;
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
    for (i = 0; i < PyTuple_GET_SIZE(pr->message_ports); i++) {
        long port = PyLong_AsLong(PyTuple_GET_ITEM(pr->message_ports, i));
        if (port < 0 || port > 65535) { if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "port"); return -1; }
        t->message_port[port] = 1;
    }
    t->recognise = pr->recognise;
    if (ht_available()) {  /* long streams hashed on the worker thread */
        Py_INCREF(&Sha256Type);
        t->sha256 = (PyObject *)&Sha256Type;
    } else {
        PyObject *hashlib = PyImport_ImportModule("hashlib");
        if (!hashlib) return -1;
        t->sha256 = PyObject_GetAttrString(hashlib, "sha256");
        Py_DECREF(hashlib);
    }
    if (!t->sha256) return -1;
    PyObject *h = PyObject_CallNoArgs(t->sha256);
    if (!h) return -1;
    t->empty_hex = PyObject_CallMethod(h, "hexdigest", NULL);
    Py_DECREF(h);
    if (!t->empty_hex) return -1;
    t->sweeps = PyList_New(0);
    t->rows = PyList_New(0);
    return t->sweeps && t->rows ? 0 : -1;
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
    Py_CLEAR(t->sha256); Py_CLEAR(t->empty_hex); Py_CLEAR(t->sweeps); Py_CLEAR(t->rows);
    template_free(&t->tpl_conn); template_free(&t->tpl_ex); template_free(&t->tpl_fin);
    for (int i = 0; i < K_NKINDS; i++) {
        Py_CLEAR(t->kinds[i].cls);
        for (int j = 0; j < t->kinds[i].n; j++) Py_CLEAR(t->kinds[i].d[j]);
        t->kinds[i].n = 0;
    }
    Py_CLEAR(t->ips); Py_CLEAR(t->shared); Py_CLEAR(t->zero_anomalies); Py_CLEAR(t->empty_tuple); Py_CLEAR(t->str_client); Py_CLEAR(t->str_server); Py_CLEAR(t->str_port);
    Py_CLEAR(t->deliver_cb); Py_CLEAR(t->finish_cb);
    Py_CLEAR(t->fp_update); Py_CLEAR(t->fp_times); Py_CLEAR(t->fp_ip_ids); Py_CLEAR(t->fp_flows);
    Py_CLEAR(t->fp_isns); Py_CLEAR(t->fp_tokens); Py_CLEAR(t->fp_signals); Py_CLEAR(t->fp_dns);
    bytes_free(&t->fpbuf); Py_CLEAR(t->spool);
    for (int i = 0; i < 12; i++) Py_CLEAR(t->states[i]);
    for (int i = 0; i < 65536; i++) Py_CLEAR(t->service_json[i]);
    bytes_free(&t->blob);
}

/* after a packet that opened a connection: the reference sweeps every sweep_every-th opening */
static int after_open(Tracker *t) {
    if (!t->sweep_due) return 0;
    t->sweep_due = 0;
    if (t->analyse && sweep(t, t->opened_at_ts) < 0) return -1;
    PyObject *item = Py_BuildValue("(LL)", (long long)t->opened_at_no, (long long)t->opened_at_ts);
    if (!item) return -1;
    int r = PyList_Append(t->sweeps, item);
    Py_DECREF(item);
    return r;
}

/* ---- the copy signals of grading/fingerprint.py, in the report's own read ----------------------- */

static int fp_flush(Tracker *t) {
    if (!t->fpbuf.n) return 0;
    PyObject *mv = PyMemoryView_FromMemory((char *)t->fpbuf.v, t->fpbuf.n, PyBUF_READ);
    if (!mv) return -1;
    PyObject *r = PyObject_CallOneArg(t->fp_update, mv);
    Py_DECREF(mv);
    t->fpbuf.n = 0;
    if (!r) return -1;
    Py_DECREF(r);
    return 0;
}

/* dict[key] as a new empty container made by make() when missing (defaultdict's __missing__) */
static PyObject *fp_slot(PyObject *dict, PyObject *key, PyObject *(*make)(Py_ssize_t)) {
    PyObject *v = PyDict_GetItemWithError(dict, key);
    if (v) return v;
    if (PyErr_Occurred()) return NULL;
    v = make(0);
    if (!v || PyDict_SetItem(dict, key, v) < 0) { Py_XDECREF(v); return NULL; }
    Py_DECREF(v);
    return v;
}

static PyObject *new_set(Py_ssize_t n) { (void)n; return PySet_New(NULL); }

static int fp_token(Tracker *t, const char *kind, PyObject *text) {
    if (!text) return -1;
    PyObject *k = PyUnicode_FromString(kind);
    PyObject *set = k ? fp_slot(t->fp_tokens, k, new_set) : NULL;
    int rc = set ? PySet_Add(set, text) : -1;
    Py_XDECREF(k);
    Py_DECREF(text);
    return rc;
}

/* fingerprint.Collector.frame for one record: content and times here; the IP signals here for the
 * frames classify() decoded (plain IPv4 TCP/UDP, _ip_signals' own steps), by Collector.signals
 * for every other frame */
static int fp_frame(Tracker *t, const Reader *r, const Rec *rec, int kind) {
    if (t->fp_hint < HINT_FRAMES_FP) {
        PyObject *ts = PyLong_FromLongLong(rec->ts);
        if (!ts || PyList_Append(t->fp_times, ts) < 0) { Py_XDECREF(ts); return -1; }
        Py_DECREF(ts);
        t->fp_hint++;
    }
    uint8_t head[8] = {(uint8_t)(r->linktype >> 24), (uint8_t)(r->linktype >> 16), (uint8_t)(r->linktype >> 8),
                       (uint8_t)r->linktype, (uint8_t)(rec->caplen >> 24), (uint8_t)(rec->caplen >> 16),
                       (uint8_t)(rec->caplen >> 8), (uint8_t)rec->caplen};
    if (bytes_add(&t->fpbuf, head, 8) < 0 || bytes_add(&t->fpbuf, rec->frame, rec->caplen) < 0) return -1;
    if (t->fpbuf.n >= (1 << 20) && fp_flush(t) < 0) return -1;
    if (kind != K_TCP_FAST && kind != K_DNS && kind != K_UDP_SKIP) {
        PyObject *res = PyObject_CallFunction(t->fp_signals, "iy#", r->linktype, (const char *)rec->frame, rec->caplen);
        if (!res) return -1;
        Py_DECREF(res);
        return 0;
    }
    const uint8_t *ip = rec->frame + r->ipoff;
    Py_ssize_t iplen = rec->caplen - r->ipoff;  /* to the frame's end, padding included, as ip[...] there */
    const uint8_t *l4 = ip + 20;
    Py_ssize_t l4len = iplen - 20;
    int proto = ip[9], ttl = ip[8];
    PyObject *src = PyBytes_FromStringAndSize((const char *)ip + 12, 4);
    if (!src) return -1;
    int rc = -1;
    PyObject *ids = fp_slot(t->fp_ip_ids, src, PyList_New);
    if (!ids) goto done;
    if (PyList_GET_SIZE(ids) < HINT_FRAMES_FP) {
        PyObject *v = PyLong_FromLong(be16(ip + 4));
        if (!v || PyList_Append(ids, v) < 0) { Py_XDECREF(v); goto done; }
        Py_DECREF(v);
    }
    t->fp_ttl[ttl]++;
    int sport = be16(l4), dport = be16(l4 + 2);
    PyObject *flows = fp_slot(t->fp_flows, src, new_set);
    PyObject *flow = flows ? Py_BuildValue("(iy#ii)", proto, (const char *)ip + 16, (Py_ssize_t)4, sport, dport) : NULL;
    if (!flow || PySet_Add(flows, flow) < 0) { Py_XDECREF(flow); goto done; }
    Py_DECREF(flow);
    if (proto == 6) {
        t->fp_sums++;
        t->fp_zero += be16(l4 + 16) == 0;
        uint32_t seq = be32(l4 + 4);
        int flags = l4[13], hlen = (l4[12] >> 4) * 4;
        if (flags & F_SYN) {
            char side = (flags & F_ACK) ? 's' : 'c';
            PyObject *isn = Py_BuildValue("(OiI)", src, sport, seq);
            if (!isn || PyList_Append(t->fp_isns, isn) < 0) { Py_XDECREF(isn); goto done; }
            Py_DECREF(isn);
            if (!(seq < 100000 || seq % 100000 == 0) && fp_token(t, "isn", PyUnicode_FromFormat("%c:%u", side, seq)) < 0)
                goto done;
            /* _tcp_tsval: the options walked as iter_tcp_options walks them */
            const uint8_t *o = l4 + 20;
            int n = hlen - 20 < l4len - 20 ? hlen - 20 : (int)(l4len - 20), i = 0;
            uint32_t tsval = 0;
            while (i < n) {
                int k = o[i];
                if (k == 0) break;
                if (k == 1) { i++; continue; }
                if (i + 1 >= n || o[i + 1] < 2) break;
                int ln = o[i + 1];
                int blen = (i + ln <= n ? ln : n - i) - 2;
                if (k == 8 && blen == 8) { tsval = be32(o + i + 2); break; }
                i += ln;
            }
            if (tsval && fp_token(t, "tsval", PyUnicode_FromFormat("%c:%u", side, tsval)) < 0) goto done;
            if (side == 'c' && fp_token(t, "ports", PyUnicode_FromFormat("tcp:%d", sport)) < 0) goto done;
        }
    } else if (dport == 53) {
        PyObject *res = PyObject_CallFunction(t->fp_dns, "y#i", (const char *)l4 + 8, l4len - 8, sport);
        if (!res) goto done;
        Py_DECREF(res);
    }
    rc = 0;
done:
    Py_DECREF(src);
    return rc;
}

static int fp_setup(Tracker *t, PyObject *c) {
    if (c == Py_None) return 0;
    PyObject *content = PyObject_GetAttrString(c, "content");
    if (!content) return -1;
    t->fp_update = PyObject_GetAttrString(content, "update");
    Py_DECREF(content);
    t->fp_times = PyObject_GetAttrString(c, "times");
    t->fp_ip_ids = PyObject_GetAttrString(c, "ip_ids");
    t->fp_flows = PyObject_GetAttrString(c, "flows_by_src");
    t->fp_isns = PyObject_GetAttrString(c, "isns");
    t->fp_tokens = PyObject_GetAttrString(c, "tokens");
    t->fp_signals = PyObject_GetAttrString(c, "signals");
    t->fp_dns = PyObject_GetAttrString(c, "dns");
    if (!t->fp_update || !t->fp_times || !t->fp_ip_ids || !t->fp_flows || !t->fp_isns || !t->fp_tokens
        || !t->fp_signals || !t->fp_dns) return -1;
    if (!PyList_Check(t->fp_times) || !PyDict_Check(t->fp_ip_ids) || !PyDict_Check(t->fp_flows)
        || !PyList_Check(t->fp_isns) || !PyDict_Check(t->fp_tokens)) {
        PyErr_SetString(PyExc_TypeError, "a fingerprint collector's containers");
        return -1;
    }
    t->fp_hint = PyList_GET_SIZE(t->fp_times);
    return 0;
}

/* ---- pass 1: Analyse(...), plain connections in batches as they finish ----------------------- */

typedef struct {
    PyObject_HEAD
    Reader r;
    Tracker t;
    Params pr;
    PyObject *keep_services;
    int64_t need, abort_frame;
    int state;  /* 0 reading, 1 every connection emitted, 2 done */
    const char *verdict;
} Pass1;

static void pass1_dealloc(Pass1 *self) {
    reader_close(&self->r);
    tracker_free(&self->t);
    Py_XDECREF(self->keep_services);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject Pass1Type;

static int parse_templates(Tracker *t, PyObject *tpls);

static PyObject *fast_analyse(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *pargs, *tpls, *collector = Py_None;
    if (!PyArg_ParseTuple(args, "O!O!|O", &PyTuple_Type, &pargs, &PyTuple_Type, &tpls, &collector)) return NULL;
    Pass1 *p1 = PyObject_New(Pass1, &Pass1Type);
    if (!p1) return NULL;
    memset(&p1->r, 0, sizeof(p1->r));
    memset(&p1->t, 0, sizeof(p1->t));
    p1->keep_services = NULL; p1->need = p1->abort_frame = 0; p1->state = 0; p1->verdict = "ok";
    if (parse_params(pargs, &p1->pr) < 0) { Py_DECREF(p1); return NULL; }
    p1->keep_services = p1->pr.services; Py_INCREF(p1->keep_services);
    if (reader_open(&p1->r, &p1->pr) < 0 || tracker_init(&p1->t, &p1->pr, 1) < 0
        || parse_templates(&p1->t, tpls) < 0 || fp_setup(&p1->t, collector) < 0) { Py_DECREF(p1); return NULL; }
    return (PyObject *)p1;
}

/* the batch so far: its JSON lines go to the spool, its PlainConnection objects are returned */
static PyObject *take_batch(Tracker *t) {
    Py_ssize_t done = 0;
    while (done < t->blob.n) {
        ssize_t w = write(t->spool_fd, t->blob.v + done, (size_t)(t->blob.n - done));
        if (w < 0) {
            if (errno == EINTR) continue;
            PyErr_SetFromErrno(PyExc_OSError);
            return NULL;
        }
        done += w;
    }
    t->spool_off += t->blob.n;
    t->blob.n = 0;
    PyObject *res = t->rows;
    t->rows = PyList_New(0);
    if (!t->rows) { t->rows = res; return NULL; }
    return res;
}

static PyObject *pass1_next(Pass1 *self) {
    Tracker *t = &self->t;
    Reader *r = &self->r;
    if (self->state == 2) return NULL;
    if (self->state == 0) {
        Rec rec;
        Pkt p;
        int got;
        while ((got = reader_next(r, &rec)) == 1) {
            if (!t->has_t0) { t->has_t0 = 1; t->t0 = r->first_ts; }
            int kind = classify(r, &rec, &p);
            if (t->fp_update && kind != K_ABORT && fp_frame(t, r, &rec, kind) < 0) return NULL;
            if (kind == K_TCP_FAST) {
                Conn *conn; int opened;
                if (feed(t, &rec, &p, &conn, &opened) < 0) return NULL;
                if (opened) {
                    /* DNS over TCP: the DNS analysis needs its bytes, the reference gets the connection */
                    if (conn->a && (conn->sport == 53 || conn->cport == 53)) taint(conn);
                    /* the reference sweeps inside _open, before the packet; here after it: the
                     * packet belongs to a connection that is never idle at its own opening */
                    if (after_open(t) < 0) return NULL;
                }
            } else if (kind == K_ABORT) {
                self->verdict = "decline"; self->abort_frame = rec.no;
                break;
            } else if (kind == K_DNS || kind == K_OTHER) {
                self->need++;
            }
            if (PyList_GET_SIZE(t->rows) >= 2048) return take_batch(t);
        }
        if (got < 0) return NULL;
        if (r->damaged) self->verdict = "decline";
        if (t->fp_update && fp_flush(t) < 0) return NULL;
        self->state = 1;
        if (strcmp(self->verdict, "ok") == 0) {
            for (Py_ssize_t i = 0; i < t->nconns; i++) {
                Conn *c = t->conns[i];
                if (c->a && emit(t, c, t->t0) < 0) return NULL;
            }
        }
    }
    self->state = 2;
    if (PyList_GET_SIZE(t->rows) == 0 && t->blob.n == 0) return NULL;
    return take_batch(t);
}

/* After the iteration: the capture's counters, what the reference must do, and the sweeps. */
static PyObject *pass1_result(Pass1 *self, PyObject *unused) {
    (void)unused;
    Tracker *t = &self->t;
    PyObject *tainted = PyList_New(0);
    if (!tainted) return NULL;
    for (Py_ssize_t i = 0; i < t->nconns && strcmp(self->verdict, "ok") == 0; i++) {
        Conn *c = t->conns[i];
        if (!c->tainted) continue;
        PyObject *item = Py_BuildValue("(LLLO)", (long long)c->first_frame, (long long)c->id, (long long)c->client_no,
                                       c->emitted ? Py_True : Py_False);
        if (!item || PyList_Append(tainted, item) < 0) { Py_XDECREF(item); Py_DECREF(tainted); return NULL; }
        Py_DECREF(item);
    }
    Reader *r = &self->r;
    PyObject *ttl = PyList_New(256);
    if (!ttl) { Py_DECREF(tainted); return NULL; }
    for (int i = 0; i < 256; i++) {
        PyObject *v = PyLong_FromLongLong(t->fp_ttl[i]);
        if (!v) { Py_DECREF(ttl); Py_DECREF(tainted); return NULL; }
        PyList_SET_ITEM(ttl, i, v);
    }
    PyObject *linktypes = reader_linktypes(r);
    if (!linktypes) { Py_DECREF(ttl); Py_DECREF(tainted); return NULL; }
    return Py_BuildValue("{s:s,s:L,s:L,s:L,s:O,s:N,s:O,s:L,s:L,s:N,s:L,s:L,s:N}",
                         "verdict", self->verdict, "packets", (long long)r->no,
                         "first_ts", (long long)(r->has_first ? r->first_ts : 0),
                         "last_ts", (long long)(r->has_first ? r->last_ts : 0),
                         "has_frames", r->has_first ? Py_True : Py_False,
                         "tainted", tainted, "sweeps", t->sweeps, "python_frames", (long long)self->need,
                         "abort_frame", (long long)self->abort_frame, "fp_ttls", ttl, "fp_tcp_sums",
                         (long long)t->fp_sums, "fp_tcp_zero", (long long)t->fp_zero, "linktypes", linktypes);
}

static PyMethodDef pass1_methods[] = {
    {"result", (PyCFunction)pass1_result, METH_NOARGS, "The counters and the reference's share, after iterating."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Pass1Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "reporter.analyses._fasttcp.Pass1",
    .tp_basicsize = sizeof(Pass1),
    .tp_dealloc = (destructor)pass1_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Pass 1: batches of finished plain connections (JSON lines, rows); then result().",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)pass1_next,
    .tp_methods = pass1_methods,
};

static int parse_template(Template *tp, PyObject *spec) {
    /* spec: (((literal bytes, code), ...), tail bytes) */
    PyObject *parts, *tail;
    if (!PyArg_ParseTuple(spec, "O!O!", &PyTuple_Type, &parts, &PyBytes_Type, &tail)) return -1;
    Py_ssize_t n = PyTuple_GET_SIZE(parts);
    tp->lit = PyMem_Calloc((size_t)n + 1, sizeof(Bytes));
    tp->code = PyMem_Calloc((size_t)n + 1, sizeof(int));
    if (!tp->lit || !tp->code) { PyErr_NoMemory(); return -1; }
    tp->n = (int)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *lit; int code;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(parts, i), "O!i", &PyBytes_Type, &lit, &code)) return -1;
        if (bytes_add(&tp->lit[i], (const uint8_t *)PyBytes_AS_STRING(lit), PyBytes_GET_SIZE(lit)) < 0) return -1;
        tp->code[i] = code;
    }
    return bytes_add(&tp->tail, (const uint8_t *)PyBytes_AS_STRING(tail), PyBytes_GET_SIZE(tail));
}

static int parse_templates(Tracker *t, PyObject *tpls) {
    /* (connection template, exchange template, FIN template, {port: service name as JSON bytes},
     *  ((class, (descriptor, ...)), ...) in KIND order, the Spool, its file descriptor) */
    PyObject *c, *x, *f, *svc, *kinds;
    if (!PyArg_ParseTuple(tpls, "OOOO!O!OiOO", &c, &x, &f, &PyDict_Type, &svc, &PyTuple_Type, &kinds, &t->spool,
                          &t->spool_fd, &t->deliver_cb, &t->finish_cb)) return -1;
    Py_INCREF(t->spool); Py_INCREF(t->deliver_cb); Py_INCREF(t->finish_cb);
    if (PyTuple_GET_SIZE(kinds) != K_NKINDS) { PyErr_SetString(PyExc_ValueError, "kinds"); return -1; }
    for (int i = 0; i < K_NKINDS; i++) {
        PyObject *cls, *descrs;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(kinds, i), "O!O!", &PyType_Type, &cls, &PyTuple_Type, &descrs)) return -1;
        static const int expected[K_NKINDS] = {17, 2, 10, 4, 5, 3, 2, 5, 9};  /* what plain_object fills */
        Py_ssize_t n = PyTuple_GET_SIZE(descrs);
        if (n != expected[i]) { PyErr_SetString(PyExc_ValueError, "a model class's slots changed"); return -1; }
        t->kinds[i].cls = (PyTypeObject *)cls; Py_INCREF(cls);
        t->kinds[i].n = (int)n;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *d = PyTuple_GET_ITEM(descrs, j);
            if (!Py_TYPE(d)->tp_descr_set) { PyErr_SetString(PyExc_TypeError, "not a slot descriptor"); return -1; }
            Py_INCREF(d);
            t->kinds[i].d[j] = d;
        }
    }
    t->ips = PyDict_New();
    t->shared = PyDict_New();
    t->empty_tuple = PyTuple_New(0);
    if (!t->shared || !t->empty_tuple) return -1;
    t->str_client = PyUnicode_InternFromString("client");
    t->str_server = PyUnicode_InternFromString("server");
    t->str_port = PyUnicode_InternFromString("port");
    if (!t->ips || !t->str_client || !t->str_server || !t->str_port) return -1;
    if (parse_template(&t->tpl_conn, c) < 0 || parse_template(&t->tpl_ex, x) < 0 || parse_template(&t->tpl_fin, f) < 0)
        return -1;
    PyObject *key, *val;
    Py_ssize_t i = 0;
    while (PyDict_Next(svc, &i, &key, &val)) {
        long port = PyLong_AsLong(key);
        if ((port == -1 && PyErr_Occurred()) || !PyBytes_Check(val)) return -1;
        if (port < 0 || port > 65535) { PyErr_SetString(PyExc_ValueError, "port out of range"); return -1; }
        Py_INCREF(val);
        Py_XSETREF(t->service_json[port], val);
    }
    return 0;
}

/* ---- DNS: dns.parse_plain in C (the common message; anything else is parsed in Python) -------- */

/* dns._plain_name: the name at off as text (a new reference) and the offset after it; Py_None when
 * dpkt would refuse it (the caller then declines the message); NULL on a Python error */
static PyObject *dns_name(const uint8_t *buf, Py_ssize_t n, Py_ssize_t off, Py_ssize_t *after, int want_text) {
    char text[1024];
    Py_ssize_t tn = 0, start = off, end = 0, total = 0;
    int labels = 0;
    while (off < n) {
        int k = buf[off];
        if (k == 0) {
            if (!end) end = off + 1;
            *after = end;
            PyObject *v = PyUnicode_DecodeUTF8(text, tn, "strict");
            if (!v) {
                if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return NULL;
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            if (!want_text) { Py_DECREF(v); return PyUnicode_FromStringAndSize("", 0); }
            return v;
        }
        if (k >= 0xC0) {
            if (off + 2 > n) Py_RETURN_NONE;
            Py_ssize_t ptr = ((k & 0x3F) << 8) | buf[off + 1];
            if (ptr >= start) Py_RETURN_NONE;
            if (!end) end = off + 2;
            start = off = ptr;
            continue;
        }
        if (k & 0xC0) Py_RETURN_NONE;
        total += k + 1;
        if (total > 255) Py_RETURN_NONE;
        if (off + 1 + k > n) Py_RETURN_NONE;  /* the label runs past the end: the walk ends there */
        if (labels++) text[tn++] = '.';
        memcpy(text + tn, buf + off + 1, (size_t)k);
        tn += k;
        off += 1 + k;
    }
    Py_RETURN_NONE;
}

static PyObject *dns_address(const uint8_t *p, int len) {
    char b[64];
    if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, p, b, sizeof b)) Py_RETURN_NONE;
    return PyUnicode_FromString(b);
}

/* (id, response, rcode, name, qtype, answers, complete) as dns._Message holds them, or None */
static PyObject *dns_parse(const uint8_t *buf, Py_ssize_t n) {
    if (n < 12) Py_RETURN_NONE;
    int mid = be16(buf), op = be16(buf + 2), qd = be16(buf + 4);
    int nrr = be16(buf + 6) + be16(buf + 8) + be16(buf + 10), an = be16(buf + 6);
    Py_ssize_t off = 12, after, qname_at = -1;
    PyObject *name = NULL, *qtype = NULL, *answers = NULL, *res = NULL;
    for (int i = 0; i < qd; i++) {
        PyObject *qn = dns_name(buf, n, off, &after, i == 0);
        if (!qn) goto fail;
        if (qn == Py_None || after + 4 > n) { Py_DECREF(qn); goto plain_no; }
        if (i == 0) { name = qn; qtype = PyLong_FromLong(be16(buf + after)); if (!qtype) goto fail; qname_at = off; }
        else Py_DECREF(qn);
        off = after + 4;
    }
    answers = PyList_New(0);
    if (!answers) goto fail;
    int complete = 1;
    for (int i = 0; i < nrr; i++) {
        if (off + 1 < n && buf[off] == 0xC0 && buf[off + 1] == 12 && qname_at == 12) {
            off += 2;  /* a pointer to the first question's name, already read */
        } else {
            PyObject *rn = dns_name(buf, n, off, &after, 0);
            if (!rn) goto fail;
            int ok = rn != Py_None;
            Py_DECREF(rn);
            if (!ok) goto plain_no;
            off = after;
        }
        if (off + 10 > n) goto plain_no;
        int rtype = be16(buf + off);
        Py_ssize_t rdlen = be16(buf + off + 8);
        off += 10;
        if (rtype != 1 && rtype != 5 && rtype != 28 && rtype != 41) goto plain_no;
        if (off + rdlen > n) complete = 0;
        if (rtype == 5) {
            PyObject *cn = dns_name(buf, n, off, &after, i < an);
            if (!cn) goto fail;
            if (cn == Py_None) { Py_DECREF(cn); goto plain_no; }
            if (i < an && PyList_Append(answers, cn) < 0) { Py_DECREF(cn); goto fail; }
            Py_DECREF(cn);
        } else if (i < an && rtype != 41) {
            Py_ssize_t have = off + rdlen <= n ? rdlen : (off < n ? n - off : 0);
            if (have == (rtype == 1 ? 4 : 16)) {
                PyObject *a = dns_address(buf + off, (int)have);
                if (!a || PyList_Append(answers, a) < 0) { Py_XDECREF(a); goto fail; }
                Py_DECREF(a);
            }
        }
        off += rdlen;
    }
    res = Py_BuildValue("(iOiOOOO)", mid, (op & 0x8000) ? Py_True : Py_False, op & 0xF, name ? name : Py_None,
                        qtype ? qtype : Py_None, answers, complete ? Py_True : Py_False);
    Py_XDECREF(name); Py_XDECREF(qtype); Py_DECREF(answers);
    return res;
plain_no:
    Py_XDECREF(name); Py_XDECREF(qtype); Py_XDECREF(answers);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(name); Py_XDECREF(qtype); Py_XDECREF(answers);
    return NULL;
}

/* ---- base64 for fileserver.Base64Stream: its common case in one pass ------------------------ */

static int8_t B64DEC[256];  /* value of a base64 character, -1 blank (skipped), -2 anything else */
static uint32_t B64Q[4][256];  /* a character's value at each place of its group, shifted into a 24-bit word */

static void b64_init(void) {
    memset(B64DEC, -2, sizeof B64DEC);
    const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; i++) {
        uint8_t c = (uint8_t)abc[i];
        B64DEC[c] = (int8_t)i;
        B64Q[0][c] = (uint32_t)i << 18; B64Q[1][c] = (uint32_t)i << 12; B64Q[2][c] = (uint32_t)i << 6; B64Q[3][c] = (uint32_t)i;
    }
    B64DEC[' '] = B64DEC['\t'] = B64DEC['\r'] = B64DEC['\n'] = -1;
}

/* b64_feed(pending, data): Base64Stream.feed's work when pending + data hold nothing but the
 * alphabet and blanks: (the decoded whole groups, the characters left over); None for anything
 * else ('=' padding, another byte), which the Python code then handles as before */
static PyObject *fast_b64_feed(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer pend, data;
    if (!PyArg_ParseTuple(args, "y*y*", &pend, &data)) return NULL;
    Py_ssize_t total = pend.len + data.len;
    if (pend.len == 0 && data.len >= 4 && base64_only(data.buf, data.len)) {
        /* the usual piece: the alphabet only, nothing pending: decode straight from it */
        const uint8_t *p = data.buf;
        Py_ssize_t cut = data.len & ~(Py_ssize_t)3;
        PyObject *raw = PyBytes_FromStringAndSize(NULL, cut / 4 * 3);
        if (!raw) { PyBuffer_Release(&pend); PyBuffer_Release(&data); return NULL; }
        uint8_t *o = (uint8_t *)PyBytes_AS_STRING(raw);
        Py_ssize_t i = 0;
        for (; i + 8 <= cut; i += 8) {  /* two groups, six bytes */
            uint32_t v = B64Q[0][p[i]] | B64Q[1][p[i + 1]] | B64Q[2][p[i + 2]] | B64Q[3][p[i + 3]];
            uint32_t w = B64Q[0][p[i + 4]] | B64Q[1][p[i + 5]] | B64Q[2][p[i + 6]] | B64Q[3][p[i + 7]];
            o[0] = (uint8_t)(v >> 16); o[1] = (uint8_t)(v >> 8); o[2] = (uint8_t)v;
            o[3] = (uint8_t)(w >> 16); o[4] = (uint8_t)(w >> 8); o[5] = (uint8_t)w;
            o += 6;
        }
        for (; i < cut; i += 4) {
            uint32_t v = B64Q[0][p[i]] | B64Q[1][p[i + 1]] | B64Q[2][p[i + 2]] | B64Q[3][p[i + 3]];
            o[0] = (uint8_t)(v >> 16); o[1] = (uint8_t)(v >> 8); o[2] = (uint8_t)v;
            o += 3;
        }
        PyObject *res = Py_BuildValue("(Ny#)", raw, (const char *)p + cut, data.len - cut);
        PyBuffer_Release(&pend); PyBuffer_Release(&data);
        return res;
    }
    uint8_t *chars = PyMem_Malloc((size_t)total + 1);
    if (!chars) { PyBuffer_Release(&pend); PyBuffer_Release(&data); return PyErr_NoMemory(); }
    Py_ssize_t n = 0;
    int bad = 0;
    const uint8_t *srcs[2] = {pend.buf, data.buf};
    Py_ssize_t lens[2] = {pend.len, data.len};
    for (int k = 0; k < 2 && !bad; k++) {
        const uint8_t *p = srcs[k];
        for (Py_ssize_t i = 0; i < lens[k]; i++) {
            int8_t v = B64DEC[p[i]];
            if (v >= 0) chars[n++] = (uint8_t)v;
            else if (v == -2) { bad = 1; break; }
        }
    }
    PyBuffer_Release(&pend);
    PyBuffer_Release(&data);
    if (bad) { PyMem_Free(chars); Py_RETURN_NONE; }
    Py_ssize_t cut = n & ~(Py_ssize_t)3;
    PyObject *raw = PyBytes_FromStringAndSize(NULL, cut / 4 * 3);
    if (!raw) { PyMem_Free(chars); return NULL; }
    uint8_t *o = (uint8_t *)PyBytes_AS_STRING(raw);
    for (Py_ssize_t i = 0; i < cut; i += 4) {
        uint32_t v = (uint32_t)chars[i] << 18 | (uint32_t)chars[i + 1] << 12 | (uint32_t)chars[i + 2] << 6 | chars[i + 3];
        *o++ = (uint8_t)(v >> 16); *o++ = (uint8_t)(v >> 8); *o++ = (uint8_t)v;
    }
    /* the characters left over, as the alphabet's bytes again */
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char rest[4];
    for (Py_ssize_t i = cut; i < n; i++) rest[i - cut] = abc[chars[i]];
    PyMem_Free(chars);
    return Py_BuildValue("(Ny#)", raw, rest, n - cut);
}

/* has_control(data): a byte below 0x20 in it (jsonstream: a raw control character in a string) */
static PyObject *fast_has_control(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *p = b.buf;
    Py_ssize_t n = b.len, i = 0;
    int found = 0;
#if defined(__SSE2__)
    const __m128i zero = _mm_setzero_si128(), k31 = _mm_set1_epi8(0x1F);
    for (; i + 16 <= n && !found; i += 16) {
        __m128i c = _mm_loadu_si128((const __m128i *)(p + i));
        found = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_subs_epu8(c, k31), zero)) != 0;
    }
#endif
    for (; i < n && !found; i++) found = p[i] < 0x20;
    PyBuffer_Release(&b);
    return PyBool_FromLong(found);
}

static PyObject *fast_dns_parse(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    PyObject *r = dns_parse(b.buf, b.len);
    PyBuffer_Release(&b);
    return r;
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
    (void)self;
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
                return Py_BuildValue("(iLLy#y#iiiIIiiy#y#i)", K_TCP, (long long)rec.no, (long long)rec.ts,
                                     (const char *)p.src, (Py_ssize_t)4, (const char *)p.dst, (Py_ssize_t)4, p.ipid,
                                     p.sport, p.dport, p.seq, p.ack, p.flags, p.win, (const char *)p.opt,
                                     (Py_ssize_t)p.optlen, (const char *)p.pay, p.plen, self->r.iface);
            if (PyList_GET_SIZE(self->t.sweeps) > before)  /* a sweep opened by a connection Python never sees */
                return Py_BuildValue("(iLL)", K_SWEEP, (long long)rec.no, (long long)rec.ts);
        } else if (kind == K_DNS) {
            PyObject *msg = dns_parse(p.pay, p.plen);
            if (!msg) return NULL;
            if (msg == Py_None)
                return Py_BuildValue("(iLLy#y#iiiy#Ni)", K_DNS, (long long)rec.no, (long long)rec.ts, (const char *)p.src,
                                     (Py_ssize_t)4, (const char *)p.dst, (Py_ssize_t)4, p.ipid, p.sport, p.dport,
                                     (const char *)p.pay, p.plen, msg, self->r.iface);
            return Py_BuildValue("(iLLy#y#iiiONi)", K_DNS, (long long)rec.no, (long long)rec.ts, (const char *)p.src,
                                 (Py_ssize_t)4, (const char *)p.dst, (Py_ssize_t)4, p.ipid, p.sport, p.dport, Py_None, msg,
                                 self->r.iface);
        } else if (kind == K_OTHER) {
            return Py_BuildValue("(iLLy#nii)", K_OTHER, (long long)rec.no, (long long)rec.ts,
                                 (const char *)rec.frame, rec.caplen,
                                 rec.origlen > rec.caplen ? rec.origlen - rec.caplen : (Py_ssize_t)0,
                                 self->r.linktype, self->r.iface);
        } else if (kind == K_ABORT) {
            PyErr_SetString(PyExc_RuntimeError, "the capture changed between the two passes");
            return NULL;
        }
    }
    self->done = 1;
    if (got < 0) return NULL;
    return NULL;  /* StopIteration */
}

static PyObject *replay_frames(Replay *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromLongLong(self->r.no);
}

static PyMethodDef replay_methods[] = {
    {"frames", (PyCFunction)replay_frames, METH_NOARGS, "Frames read so far."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReplayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "reporter.analyses._fasttcp.Replay",
    .tp_basicsize = sizeof(Replay),
    .tp_dealloc = (destructor)replay_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The frames the Python analyses need, in frame order (see the module doc).",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)replay_next,
    .tp_methods = replay_methods,
};

static PyMethodDef methods[] = {
    {"analyse", fast_analyse, METH_VARARGS, "Pass 1: analyse a pcap's plain connections (see fastpath.py)."},
    {"replay", fast_replay, METH_VARARGS, "Pass 2: iterate the frames the Python analyses need."},
    {"dns_parse", fast_dns_parse, METH_O, "dns.parse_plain's answer, as a tuple of _Message's fields, or None."},
    {"b64_feed", fast_b64_feed, METH_VARARGS, "Base64Stream.feed's common case: (decoded, left over) or None."},
    {"has_control", fast_has_control, METH_O, "A byte below 0x20 in the data."},
    {"file_sha256", fast_file_sha256, METH_O, "A file's SHA-256 (hex), the GIL released while reading and hashing."},
    {"threaded_sha256", fast_threaded_sha256, METH_NOARGS, "Sha256 can be made here (OpenSSL found behind hashlib)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_fasttcp", "The TCP analysis's compiled fast path (see fastpath.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__fasttcp(void) {
    if (PyType_Ready(&ReplayType) < 0 || PyType_Ready(&Pass1Type) < 0 || PyType_Ready(&Sha256Type) < 0) return NULL;
    b64_init();
    PyObject *m = PyModule_Create(&moduledef);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "API_VERSION", API_VERSION) < 0) { Py_DECREF(m); return NULL; }
    Py_INCREF(&Sha256Type);
    if (PyModule_AddObject(m, "Sha256", (PyObject *)&Sha256Type) < 0) { Py_DECREF(&Sha256Type); Py_DECREF(m); return NULL; }
    return m;
}
