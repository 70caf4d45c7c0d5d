/* consumer._features: consumer.features.update, compiled.
 *
 * consumer/features.py is the definition of every feature and of the state's layout; its update_python() is
 * the update as readable code. This file computes the very same update, byte for byte in the state and with
 * the same True/False, without the interpreter's cost per slot read or written and per string handled.
 *
 * The update runs in two steps, so that a tweet this code cannot compute exactly changes nothing here:
 *   plan   reads the tweet and the few state slots its decisions depend on, and computes every value the
 *          tweet adds (id, text keys, bits, profile stats). It writes nothing.
 *   apply  writes the plan into the state, in the order update_python() does, with the same arithmetic.
 * A tweet the plan does not cover (odd types, a non-finite time, a huge screen name, a state that is not a
 * plain array('d') of a valid account) is handed whole to update_python(), which then does what it always
 * does, exceptions included. Rare Unicode work (lower(), split(), encoding with "surrogatepass") goes through
 * the same CPython functions Python calls; only ASCII strings are taken apart here.
 *
 * Floating point: the build passes -ffp-contract=off, so that a*b+c stays two roundings, as in Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "_layout.h"
#include "_common.h" /* member_offsets(), slot_of(), float_floor_div() */

#define PRIME_53 ((UINT64_C(1) << 53) - 111)
#define EXACT_INT_LIMIT 9007199254740992.0  /* 2**53: a bitmap slot above it is not a bitmap of ours */
#define MAX_CACHED_SCREEN_NAME 64  /* longer ones take _screen_name_stats.__wrapped__ in Python */

/* ------------------------------------------------------------------ what bind() hands over */

/* The attributes read, as offsets into the dataclasses' __slots__: a slot read is a load, where
 * PyObject_GetAttr costs a type lookup and a descriptor call each (measured: ~0.5 us a tweet for 23 of them). */
enum { T_ID, T_TS, T_TEXT, T_URLS, T_MENTIONS, T_HASHTAGS, T_RETWEET, T_REPLY, T_QUOTE, T_SOURCE, T_PROFILE,
       TWEET_FIELDS };
static const char *const TWEET_NAMES[TWEET_FIELDS] = {
    "tweet_id", "ts", "text", "urls", "mentions", "hashtags", "is_retweet", "is_reply", "is_quote", "source",
    "profile"};

enum { PR_STATUSES, PR_FOLLOWERS, PR_FRIENDS, PR_FAVOURITES, PR_LISTED, PR_DEFAULT, PR_BACKGROUND,
       PR_VERIFIED, PR_CREATED, PR_SCREEN_NAME, PR_NAME, PR_DESCRIPTION, PROFILE_FIELDS };
static const char *const PROFILE_NAMES[PROFILE_FIELDS] = {
    "statuses", "followers", "friends", "favourites", "listed", "default_profile", "background_image",
    "verified", "created_at", "screen_name", "name", "description"};
#define PROFILE_NUMBERS (PR_CREATED + 1) /* the numeric fields, in the order of their slots from P_STATUSES */

static struct {
    PyObject *python_update;     /* features.update_python: every tweet the plan declines */
    PyObject *screen_name_stats; /* features._screen_name_stats: lru_cached, so shared with Python */
    PyObject *url_bit;           /* features._url_bit: hosts that are not ASCII (Unicode lower()) */
    PyTypeObject *tweet_type, *profile_type, *array_type;
    Py_ssize_t tweet_offset[TWEET_FIELDS], profile_offset[PROFILE_FIELDS];
} bound;

static PyObject *str_lower, *str_space; /* interned: str.lower's name, and the key's word separator */

/* Memory the update is about to read. A tweet's objects and its account's state are rarely in cache (the
 * states of many accounts are spread over far more memory than the cache), and each load that misses stalls
 * for as long as the rest of the work takes; asked for together, their misses overlap. */
static inline void prefetch(const void *p, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 64)
        __builtin_prefetch((const char *)p + i);
}

/* ------------------------------------------------------------------ strings */

static inline int ascii_space(unsigned char c)
{
    /* str.split()'s whitespace below 128: \t \n \v \f \r, the separators \x1c-\x1f, and space */
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static inline int ascii_alpha(unsigned char c)
{
    return (unsigned char)((c | 0x20) - 'a') < 26;
}

/* zlib's crc32 of a str's UTF-8 bytes, lone surrogates encoded as "surrogatepass" does. -1 on error. */
static int str_crc32(PyObject *s, uint32_t *crc)
{
    if (PyUnicode_IS_ASCII(s)) {
        *crc = (uint32_t)crc32_z(0, PyUnicode_DATA(s), (size_t)PyUnicode_GET_LENGTH(s));
        return 0;
    }
    PyObject *data = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (data == NULL)
        return -1;
    *crc = (uint32_t)crc32_z(0, (const Bytef *)PyBytes_AS_STRING(data), (size_t)PyBytes_GET_SIZE(data));
    Py_DECREF(data);
    return 0;
}

/* features._bit: crc32 is linear, so a multiplicative mix spreads similar names before the bit is taken */
static inline uint64_t bit_of_crc(uint32_t crc)
{
    uint64_t mixed = ((uint64_t)crc * UINT64_C(2654435761)) & 0xFFFFFFFFu;
    return UINT64_C(1) << ((mixed * BITMAP_BITS) >> 32);
}

/* str.isalpha(), as unicodeobject.c computes it (the empty string is not alphabetic; in ASCII only letters are) */
static int str_isalpha(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (n == 0)
        return 0;
    if (PyUnicode_IS_ASCII(s)) {
        const unsigned char *p = PyUnicode_1BYTE_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++)
            if (!ascii_alpha(p[i]))
                return 0;
        return 1;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!Py_UNICODE_ISALPHA(PyUnicode_READ(kind, data, i)))
            return 0;
    return 1;
}

/* features._count_digits: the characters for which str.isdigit() holds (only 0-9 in ASCII) */
static Py_ssize_t str_count_digits(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), digits = 0;
    if (PyUnicode_IS_ASCII(s)) {
        const unsigned char *p = PyUnicode_1BYTE_DATA(s);
        for (Py_ssize_t i = 0; i < n; i++)
            digits += (unsigned char)(p[i] - '0') < 10;
        return digits;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    for (Py_ssize_t i = 0; i < n; i++)
        digits += Py_UNICODE_ISDIGIT(PyUnicode_READ(kind, data, i)) != 0;
    return digits;
}

/* ------------------------------------------------------------------ the tweet id */

/* int(tweet_id) % _PRIME_53 for a snowflake id (up to 20 ASCII digits, no leading zero unless "0"); -1 if
 * the id is not one. Reduced digit by digit: (10 v + d) stays below 2**57, and the residue is the same. */
static int64_t snowflake_id(PyObject *id)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(id);
    if (n == 0 || n > 20 || !PyUnicode_IS_ASCII(id))
        return -1;
    const unsigned char *p = PyUnicode_1BYTE_DATA(id);
    if (p[0] == '0' && n > 1)
        return -1;
    uint64_t v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (d > 9)
            return -1;
        v = (v * 10 + d) % PRIME_53;
    }
    return (int64_t)v;
}

/* features._id_hash of any other id: 52 bits of crc32 and adler32 of its UTF-8 bytes. -1 on error. */
static int checksum_id(PyObject *id, double *tid)
{
    PyObject *data = NULL;
    const Bytef *p;
    size_t n;
    if (PyUnicode_IS_ASCII(id)) {
        p = PyUnicode_1BYTE_DATA(id);
        n = (size_t)PyUnicode_GET_LENGTH(id);
    }
    else {
        if ((data = PyUnicode_AsEncodedString(id, "utf-8", "surrogatepass")) == NULL)
            return -1;
        p = (const Bytef *)PyBytes_AS_STRING(data);
        n = (size_t)PyBytes_GET_SIZE(data);
    }
    uint64_t crc = crc32_z(0, p, n), adler = adler32_z(1, p, n);
    Py_XDECREF(data);
    *tid = (double)(((crc << 20) ^ adler) & ((UINT64_C(1) << 52) - 1));
    return 0;
}

static int tweet_id_key(PyObject *id, double *tid)
{
    int64_t v = snowflake_id(id);
    if (v >= 0) {
        *tid = (double)v; /* below 2**53: exact */
        return 0;
    }
    return checksum_id(id, tid);
}

/* ------------------------------------------------------------------ text keys */

/* crc32 of "lower" ASCII letters; an alphabetic word's lowercase is its bytes with bit 0x20 set */
static uint32_t crc32_lowered(uint32_t crc, const unsigned char *p, Py_ssize_t n)
{
    unsigned char buf[256];
    while (n > 0) {
        Py_ssize_t k = n < (Py_ssize_t)sizeof buf ? n : (Py_ssize_t)sizeof buf;
        for (Py_ssize_t i = 0; i < k; i++)
            buf[i] = p[i] | 0x20;
        crc = (uint32_t)crc32_z(crc, buf, (size_t)k);
        p += k;
        n -= k;
    }
    return crc;
}

/* The near-duplicate key of an ASCII text: crc32 of " ".join(filter(str.isalpha, text.lower().split())),
 * fed word by word instead of built. 0 when no word is purely alphabetic (the caller then uses the exact). */
static int ascii_near_key(const unsigned char *p, Py_ssize_t n, uint32_t *crc)
{
    int words = 0;
    uint32_t c = 0;
    Py_ssize_t i = 0;
    while (i < n) {
        while (i < n && ascii_space(p[i]))
            i++;
        Py_ssize_t start = i;
        int alpha = 1;
        for (; i < n && !ascii_space(p[i]); i++)
            alpha &= ascii_alpha(p[i]);
        if (i > start && alpha) {
            if (words++)
                c = (uint32_t)crc32_z(c, (const Bytef *)" ", 1);
            c = crc32_lowered(c, p + start, i - start);
        }
    }
    *crc = c;
    return words > 0;
}

/* The same key of any other text, by the very str methods Python uses (Unicode lower() may change a
 * string's length, and split() knows Unicode's spaces). -1 on error, else whether a word was kept. */
static int unicode_near_key(PyObject *text, uint32_t *crc)
{
    int result = -1;
    PyObject *lowered = NULL, *words = NULL, *kept = NULL, *joined = NULL;
    if ((lowered = PyObject_CallMethodNoArgs(text, str_lower)) == NULL ||
        (words = PyUnicode_Split(lowered, NULL, -1)) == NULL || (kept = PyList_New(0)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(words); i++) {
        PyObject *word = PyList_GET_ITEM(words, i);
        if (str_isalpha(word) && PyList_Append(kept, word) < 0)
            goto done;
    }
    if (PyList_GET_SIZE(kept) == 0) {
        result = 0;
        goto done;
    }
    if ((joined = PyUnicode_Join(str_space, kept)) == NULL || str_crc32(joined, crc) < 0)
        goto done;
    result = 1;
done:
    Py_XDECREF(lowered);
    Py_XDECREF(words);
    Py_XDECREF(kept);
    Py_XDECREF(joined);
    return result;
}

/* ------------------------------------------------------------------ URL hosts */

static inline int scheme_char(unsigned char c)
{
    return ascii_alpha(c) || (unsigned char)(c - '0') < 10 || c == '+' || c == '.' || c == '-';
}

/* features._url_bit of an ASCII URL: the part _url_bit caches by (an http(s) URL up to its path), then
 * features._HOST's match in it, step by step. Every part of that pattern is optional and the host may be
 * empty, so the match never backtracks out of a part: each part takes what it can, greedily. */
static uint64_t ascii_url_bit(const unsigned char *u, Py_ssize_t n)
{
    Py_ssize_t i = 0, j;
    if ((n >= 8 && memcmp(u, "https://", 8) == 0) || (n >= 7 && memcmp(u, "http://", 7) == 0)) {
        for (j = 8; j < n && u[j] != '/'; j++)
            ;
        if (j < n)
            n = j; /* url[:url.find("/", 8)] */
    }
    if (n > 0 && ascii_alpha(u[0])) { /* (?:[A-Za-z][A-Za-z0-9+.-]*:)? */
        for (j = 1; j < n && scheme_char(u[j]); j++)
            ;
        if (j < n && u[j] == ':')
            i = j + 1;
    }
    if (n - i >= 2 && u[i] == '/' && u[i + 1] == '/') /* (?://)? */
        i += 2;
    for (j = i; j < n && u[j] != '/' && u[j] != '?' && u[j] != '#' && u[j] != '@'; j++)
        ; /* (?:[^/?#@]*@)? */
    if (j < n && u[j] == '@')
        i = j + 1;
    if (n - i >= 4 && memcmp(u + i, "www.", 4) == 0) /* (?:www\.)? */
        i += 4;
    for (j = i; j < n && u[j] != '/' && u[j] != '?' && u[j] != '#' && u[j] != ':'; j++)
        ; /* ([^/?#:]*) */
    uint32_t crc = 0;
    for (Py_ssize_t k = i; k < j; k += 256) { /* .lower(), in chunks */
        unsigned char buf[256];
        Py_ssize_t m = j - k < 256 ? j - k : 256;
        for (Py_ssize_t q = 0; q < m; q++)
            buf[q] = (unsigned char)(u[k + q] - 'A') < 26 ? u[k + q] | 0x20 : u[k + q];
        crc = (uint32_t)crc32_z(crc, buf, (size_t)m);
    }
    return bit_of_crc(crc);
}

/* A URL's bit: ASCII here, anything else by features._url_bit itself. -1 on error. */
static int url_bit(PyObject *url, uint64_t *bit)
{
    if (PyUnicode_IS_ASCII(url)) {
        *bit = ascii_url_bit(PyUnicode_1BYTE_DATA(url), PyUnicode_GET_LENGTH(url));
        return 0;
    }
    PyObject *value = PyObject_CallOneArg(bound.url_bit, url);
    if (value == NULL)
        return -1;
    double v = PyFloat_AsDouble(value);
    Py_DECREF(value);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    *bit = (uint64_t)v;
    return 0;
}

/* ------------------------------------------------------------------ the plan */

enum { DECLINE = 0, READY = 1, DUPLICATE = 2, FAILED = -1 };

typedef struct {
    int apply;
    int has[PROFILE_NUMBERS];
    double number[PROFILE_NUMBERS];
    int has_screen_name, has_name, has_description;
    double sn_len, sn_digits, sn_likelihood, name_len, name_digits, description_len;
} ProfilePlan;

typedef struct {
    double ts, tid;
    int has_text;
    double text_len, exact, near;
    Py_ssize_t n_urls;
    uint64_t domain_bits; /* the bits of all the tweet's URLs */
    double mentions, hashtags;
    int retweet, reply, quote;
    int has_source;
    uint64_t source_bit;
    ProfilePlan profile;
} Plan;

/* A bitmap slot as the integer Python's int() makes of it, if it is one of ours (a whole number below
 * 2**53); else the tweet goes to Python, which raises or rounds as it does. */
static int bitmap_of(double v, uint64_t *bits)
{
    if (!(v >= 0.0 && v < EXACT_INT_LIMIT && v == floor(v)))
        return 0;
    *bits = (uint64_t)v;
    return 1;
}

/* A count that Python adds to a float slot: an int (converted as float + int converts it) or a float. */
static int count_of(PyObject *v, double *out)
{
    if (PyFloat_CheckExact(v)) {
        *out = PyFloat_AS_DOUBLE(v);
        return READY;
    }
    if (!PyLong_CheckExact(v))
        return DECLINE;
    *out = PyLong_AsDouble(v);
    if (*out == -1.0 && PyErr_Occurred()) { /* too large for a double: Python raises; let it */
        PyErr_Clear();
        return DECLINE;
    }
    return READY;
}

static int flag_of(PyObject *v, int *out)
{
    if (v != Py_True && v != Py_False)
        return DECLINE;
    *out = v == Py_True;
    return READY;
}

static int plan_text(PyObject *text, const double *s, Plan *plan)
{
    if (!PyUnicode_CheckExact(text))
        return DECLINE;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if ((plan->has_text = n > 0) == 0)
        return READY;
    double ring = s[RING_POS];
    if (!(ring >= 0.0 && ring < TEXT_RING_SIZE && ring == floor(ring)))
        return DECLINE; /* not a ring position of ours: int() and the index are Python's to judge */
    uint32_t exact, near;
    int words;
    if (str_crc32(text, &exact) < 0)
        return FAILED;
    if (PyUnicode_IS_ASCII(text))
        words = ascii_near_key(PyUnicode_1BYTE_DATA(text), n, &near);
    else if ((words = unicode_near_key(text, &near)) < 0)
        return FAILED;
    plan->text_len = (double)n;
    plan->exact = (double)exact;
    plan->near = words ? (double)near : plan->exact;
    return READY;
}

static int plan_urls(PyObject *urls, const double *s, Plan *plan)
{
    if (!PyTuple_CheckExact(urls))
        return DECLINE;
    plan->n_urls = PyTuple_GET_SIZE(urls);
    plan->domain_bits = 0;
    if (plan->n_urls == 0)
        return READY;
    uint64_t old;
    if (!bitmap_of(s[DOMAIN_BITS], &old))
        return DECLINE;
    for (Py_ssize_t i = 0; i < plan->n_urls; i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(urls, i)))
            return DECLINE;
    for (Py_ssize_t i = 0; i < plan->n_urls; i++) {
        uint64_t bit;
        if (url_bit(PyTuple_GET_ITEM(urls, i), &bit) < 0)
            return FAILED;
        plan->domain_bits |= bit;
    }
    return READY;
}

static int plan_source(PyObject *source, const double *s, Plan *plan)
{
    if (!PyUnicode_CheckExact(source))
        return DECLINE;
    if ((plan->has_source = PyUnicode_GET_LENGTH(source) > 0) == 0)
        return READY;
    uint64_t old;
    uint32_t crc;
    if (!bitmap_of(s[SOURCE_BITS], &old))
        return DECLINE;
    if (str_crc32(source, &crc) < 0)
        return FAILED;
    plan->source_bit = bit_of_crc(crc);
    return READY;
}

/* consumer.namelikelihood's bigram model over ASCII: the log-probability of character b after a, the model's
 * floor for every pair it does not list. bind() fills it from namelikelihood._ROWS. */
static double bigram_logp[128][128];
static unsigned char name_start, name_end; /* namelikelihood._START and _END */

/* namelikelihood.screen_name_likelihood of an ASCII screen name: the mean over the bigrams of
 * START + name.lower() + END, summed in their order, as Python sums them. */
static double ascii_likelihood(const unsigned char *p, Py_ssize_t n)
{
    double total = 0.0;
    unsigned char prev = name_start;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(p[i] - 'A') < 26 ? p[i] | 0x20 : p[i];
        total += bigram_logp[prev][c];
        prev = c;
    }
    total += bigram_logp[prev][name_end];
    return total / (double)(n + 1);
}

/* features._screen_name_stats: (len, digits, likelihood). An ASCII name is scored here, without the lru_cache
 * (with more active accounts than it holds, each of their names misses it, and a miss is ~2 us of Python);
 * another goes through _screen_name_stats itself, or, past the length it caches, to Python. */
static int plan_screen_name(PyObject *sn, ProfilePlan *pp)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(sn);
    if (PyUnicode_IS_ASCII(sn)) {
        pp->sn_len = (double)n;
        pp->sn_digits = (double)str_count_digits(sn);
        pp->sn_likelihood = ascii_likelihood(PyUnicode_1BYTE_DATA(sn), n);
        return READY;
    }
    if (n > MAX_CACHED_SCREEN_NAME)
        return DECLINE;
    PyObject *stats = PyObject_CallOneArg(bound.screen_name_stats, sn);
    if (stats == NULL)
        return FAILED;
    int ok = PyTuple_CheckExact(stats) && PyTuple_GET_SIZE(stats) == 3;
    for (int i = 0; ok && i < 3; i++)
        ok = PyFloat_CheckExact(PyTuple_GET_ITEM(stats, i));
    if (ok) {
        pp->sn_len = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(stats, 0));
        pp->sn_digits = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(stats, 1));
        pp->sn_likelihood = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(stats, 2));
    }
    Py_DECREF(stats);
    return ok ? READY : DECLINE;
}

/* The user object, if it is the account's newest. Whether Python writes it whole (one pack_into) or field by
 * field, a field it lacks keeps its slot, so one plan serves both: each present field and P_TS. */
static int plan_profile(PyObject *p, const double *s, double ts, ProfilePlan *pp)
{
    pp->apply = p != Py_None && !(ts < s[P_TS]); /* NaN compares False: a NaN P_TS takes any profile */
    if (!pp->apply)
        return READY;
    if (Py_TYPE(p) != bound.profile_type)
        return DECLINE;
    PyObject *f[PROFILE_FIELDS];
    for (int i = 0; i < PROFILE_FIELDS; i++)
        if ((f[i] = slot_of(p, bound.profile_offset[i])) == NULL)
            return DECLINE;
    for (int i = 0; i < PROFILE_FIELDS; i++)
        prefetch(f[i], 1);
    for (int i = 0; i < PROFILE_NUMBERS; i++) {
        pp->has[i] = f[i] != Py_None;
        if (pp->has[i] && !PyFloat_CheckExact(f[i]))
            return DECLINE; /* an int or another number: Python's conversion is Python's */
        pp->number[i] = pp->has[i] ? PyFloat_AS_DOUBLE(f[i]) : 0.0;
    }
    PyObject *sn = f[PR_SCREEN_NAME], *name = f[PR_NAME], *description = f[PR_DESCRIPTION];
    for (int i = PR_SCREEN_NAME; i < PROFILE_FIELDS; i++)
        if (f[i] != Py_None && !PyUnicode_CheckExact(f[i]))
            return DECLINE;
    if ((pp->has_name = name != Py_None)) {
        pp->name_len = (double)PyUnicode_GET_LENGTH(name);
        pp->name_digits = str_isalpha(name) ? 0.0 : (double)str_count_digits(name);
    }
    if ((pp->has_description = description != Py_None))
        pp->description_len = (double)PyUnicode_GET_LENGTH(description);
    if ((pp->has_screen_name = sn != Py_None))
        return plan_screen_name(sn, pp);
    return READY;
}

/* Whether the window takes the tweet: not a duplicate, nor older than what left the window. */
static int is_new(const double *s, double ts, double tid)
{
    if (ts <= s[ID_HORIZON])
        return 0;
    for (int i = 0; i < ID_RING_SIZE; i++)
        if (s[ID_RING + i] == tid)
            return 0;
    return 1;
}

/* Everything the tweet will write, or why not. The tweet's fields are read from their slots. */
static int plan_tweet(PyObject *tweet, const double *s, Plan *plan)
{
    PyObject *f[TWEET_FIELDS];
    int r;
    for (int i = 0; i < TWEET_FIELDS; i++)
        if ((f[i] = slot_of(tweet, bound.tweet_offset[i])) == NULL)
            return DECLINE;
    for (int i = 0; i < TWEET_FIELDS; i++)
        prefetch(f[i], 1);
    prefetch(f[T_TEXT], 256); /* the text's characters follow its header: a tweet's first 200 or so */
    if (!PyFloat_CheckExact(f[T_TS]) || !PyUnicode_CheckExact(f[T_ID]))
        return DECLINE;
    plan->ts = PyFloat_AS_DOUBLE(f[T_TS]);
    if (tweet_id_key(f[T_ID], &plan->tid) < 0)
        return FAILED;
    if (!is_new(s, plan->ts, plan->tid))
        return DUPLICATE;
    if (!isfinite(plan->ts))
        return DECLINE; /* Python takes the tweet into the window, then int() of its hour raises */
    if ((r = plan_text(f[T_TEXT], s, plan)) != READY || (r = plan_urls(f[T_URLS], s, plan)) != READY ||
        (r = count_of(f[T_MENTIONS], &plan->mentions)) != READY ||
        (r = count_of(f[T_HASHTAGS], &plan->hashtags)) != READY ||
        (r = flag_of(f[T_RETWEET], &plan->retweet)) != READY || (r = flag_of(f[T_REPLY], &plan->reply)) != READY ||
        (r = flag_of(f[T_QUOTE], &plan->quote)) != READY || (r = plan_source(f[T_SOURCE], s, plan)) != READY)
        return r;
    return plan_profile(f[T_PROFILE], s, plan->ts, &plan->profile);
}

/* ------------------------------------------------------------------ apply: update_python's writes */

static void apply_window(double *s, double ts, double tid)
{
    int oldest = 0; /* min(times), then times.index(oldest): the first of the least (a NaN first stays) */
    for (int i = 1; i < ID_RING_SIZE; i++)
        if (s[ID_TS + i] < s[ID_TS + oldest])
            oldest = i;
    double t = s[ID_TS + oldest];
    if (ts < t) { /* older than the whole window: it leaves it at once */
        s[ID_HORIZON] = ts;
        return;
    }
    s[ID_RING + oldest] = tid;
    s[ID_TS + oldest] = ts;
    if (t > s[ID_HORIZON])
        s[ID_HORIZON] = t;
}

/* int(ts // 3600.0) % 24 for a finite ts: Python's float floor division (its rounding near a multiple of an
 * hour included), then the modulo of an integer, exact in fmod. */
static int hour_of(double ts)
{
    double h = fmod(float_floor_div(ts, 3600.0), 24.0);
    return (int)(h < 0 ? h + 24.0 : h);
}

static void apply_times(double *s, double ts)
{
    double n = s[N] + 1.0;
    s[N] = n;
    if (n == 1.0)
        s[FIRST_TS] = s[LAST_TS] = ts;
    else if (ts >= s[LAST_TS]) {
        double dt = ts - s[LAST_TS];
        s[LAST_TS] = ts;
        double k = s[N_DT] + 1.0; /* Welford over the gaps between in-order tweets */
        s[N_DT] = k;
        double mean = s[DT_MEAN], delta = dt - mean;
        mean = s[DT_MEAN] = mean + delta / k;
        s[DT_M2] += delta * (dt - mean);
    }
    else if (ts < s[FIRST_TS])
        s[FIRST_TS] = ts;
    if (n <= HOUR_CAP) {
        int hour = hour_of(ts);
        s[HOURS + (hour >> 1)] += (hour & 1) ? HOUR_SHIFT : 1.0;
    }
}

static int in_ring(const double *ring, double v)
{
    for (int i = 0; i < TEXT_RING_SIZE; i++)
        if (ring[i] == v)
            return 1;
    return 0;
}

static void apply_text(double *s, const Plan *plan)
{
    double k = s[N_TEXT] + 1.0;
    s[N_TEXT] = k;
    double mean = s[LEN_MEAN], delta = plan->text_len - mean;
    mean = s[LEN_MEAN] = mean + delta / k;
    s[LEN_M2] += delta * (plan->text_len - mean);
    if (in_ring(s + TEXT_RING, plan->exact)) {
        s[N_DUP] += 1.0;
        s[N_NEAR_DUP] += 1.0;
    }
    else if (in_ring(s + NEAR_RING, plan->near))
        s[N_NEAR_DUP] += 1.0;
    int ring = (int)s[RING_POS];
    s[TEXT_RING + ring] = plan->exact;
    s[NEAR_RING + ring] = plan->near;
    s[RING_POS] = (double)((ring + 1) % TEXT_RING_SIZE);
}

static void apply_urls(double *s, const Plan *plan)
{
    s[N_URL] += 1.0;
    double old = s[DOMAIN_BITS];
    double bits = (double)((uint64_t)old | plan->domain_bits);
    /* one URL whose bit is the account's whole bitmap writes nothing in Python: a -0.0 stays -0.0 */
    if (plan->n_urls > 1 || (double)plan->domain_bits != old)
        s[DOMAIN_BITS] = bits;
}

static void apply_counts(double *s, const Plan *plan)
{
    if (plan->mentions != 0.0) /* a NaN count is truthy too */
        s[N_MENTION] += plan->mentions;
    if (plan->hashtags != 0.0)
        s[N_HASHTAG] += plan->hashtags;
    if (plan->retweet)
        s[N_RETWEET] += 1.0;
    if (plan->reply)
        s[N_REPLY] += 1.0;
    if (plan->quote)
        s[N_QUOTE] += 1.0;
    if (plan->has_source && (double)plan->source_bit != s[SOURCE_BITS])
        s[SOURCE_BITS] = (double)((uint64_t)s[SOURCE_BITS] | plan->source_bit);
}

static void apply_profile(double *s, double ts, const ProfilePlan *pp)
{
    s[P_TS] = ts;
    for (int i = 0; i < PROFILE_NUMBERS; i++)
        if (pp->has[i])
            s[P_STATUSES + i] = pp->number[i];
    if (pp->has_screen_name) {
        s[P_SN_LEN] = pp->sn_len;
        s[P_SN_DIGITS] = pp->sn_digits;
        s[P_SN_LIKELIHOOD] = pp->sn_likelihood;
    }
    if (pp->has_name) {
        s[P_NAME_LEN] = pp->name_len;
        s[P_NAME_DIGITS] = pp->name_digits;
    }
    if (pp->has_description)
        s[P_DESC_LEN] = pp->description_len;
}

static void apply_plan(double *s, const Plan *plan)
{
    apply_window(s, plan->ts, plan->tid);
    apply_times(s, plan->ts);
    if (plan->has_text)
        apply_text(s, plan);
    if (plan->n_urls)
        apply_urls(s, plan);
    apply_counts(s, plan);
    if (plan->profile.apply)
        apply_profile(s, plan->ts, &plan->profile);
}

/* ------------------------------------------------------------------ the module's functions */

/* The state's doubles, if it is a plain array('d') with every slot; the caller releases the view. */
static double *state_slots(PyObject *state, Py_buffer *view)
{
    if (Py_TYPE(state) != bound.array_type)
        return NULL;
    if (PyObject_GetBuffer(state, view, PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
        PyErr_Clear(); /* a read-only or odd buffer: Python's update says what is wrong */
        return NULL;
    }
    if (view->itemsize != 8 || strcmp(view->format, "d") != 0 || view->len < (Py_ssize_t)(SLOTS * 8)) {
        PyBuffer_Release(view);
        return NULL;
    }
    return (double *)view->buf;
}

PyDoc_STRVAR(update_doc,
"update(state, tweet) -> bool\n--\n\n"
"consumer.features.update_python, compiled: the same state, byte for byte, and the same result.\n"
"A tweet it cannot compute exactly is handed to update_python unchanged.");

static PyObject *update(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2 || bound.python_update == NULL || Py_TYPE(args[1]) != bound.tweet_type)
        goto python;
    Py_buffer view;
    double *s = state_slots(args[0], &view);
    if (s == NULL)
        goto python;
    prefetch(s, SLOTS * sizeof(double));
    Plan plan = {0}; /* every field set before use; zeroed so that the compiler can see it */
    int r = plan_tweet(args[1], s, &plan);
    if (r == READY)
        apply_plan(s, &plan);
    PyBuffer_Release(&view);
    switch (r) {
    case READY:
        Py_RETURN_TRUE;
    case DUPLICATE:
        Py_RETURN_FALSE;
    case FAILED:
        return NULL;
    case DECLINE:
        break;
    }
python:
    if (bound.python_update == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "consumer._features.bind() was not called");
        return NULL;
    }
    return PyObject_Vectorcall(bound.python_update, args, (size_t)nargs, NULL);
}

static void replace(PyObject **slot, PyObject *value)
{
    Py_XINCREF(value);
    Py_XSETREF(*slot, value);
}

/* The one ASCII character of a str, or -1 with an error. */
static int ascii_char(PyObject *s)
{
    if (!PyUnicode_Check(s) || PyUnicode_GET_LENGTH(s) != 1 || !PyUnicode_IS_ASCII(s)) {
        PyErr_SetString(PyExc_ValueError, "the name model's symbols must be single ASCII characters");
        return -1;
    }
    return PyUnicode_1BYTE_DATA(s)[0];
}

/* bigram_logp from (namelikelihood._ROWS, _FLOOR, _START, _END). */
static int load_name_model(PyObject *model)
{
    PyObject *rows, *start, *end, *a_key, *row, *b_key, *logp;
    double floor_logp;
    if (!PyArg_ParseTuple(model, "O!dUU;name model: (rows, floor, start, end)", &PyDict_Type, &rows, &floor_logp,
                          &start, &end))
        return -1;
    int first = ascii_char(start), last = ascii_char(end);
    if (first < 0 || last < 0)
        return -1;
    name_start = (unsigned char)first;
    name_end = (unsigned char)last;
    for (int a = 0; a < 128; a++)
        for (int b = 0; b < 128; b++)
            bigram_logp[a][b] = floor_logp;
    for (Py_ssize_t i = 0; PyDict_Next(rows, &i, &a_key, &row);) {
        int a = ascii_char(a_key);
        if (a < 0)
            return -1;
        if (!PyDict_Check(row)) {
            PyErr_SetString(PyExc_TypeError, "a row of the name model must be a dict");
            return -1;
        }
        for (Py_ssize_t j = 0; PyDict_Next(row, &j, &b_key, &logp);) {
            int b = ascii_char(b_key);
            if (b < 0)
                return -1;
            bigram_logp[a][b] = PyFloat_AsDouble(logp);
            if (bigram_logp[a][b] == -1.0 && PyErr_Occurred())
                return -1;
        }
    }
    return 0;
}

PyDoc_STRVAR(bind_doc,
"bind(python_update, screen_name_stats, name_model, url_bit, tweet_type, profile_type, array_type)\n--\n\n"
"Hand over what update() calls into or reads: the Python update for the tweets it declines, the lru-cached\n"
"screen-name stats and the name model (namelikelihood's _ROWS, _FLOOR, _START, _END) it scores ASCII names\n"
"with, the URL bit for non-ASCII URLs, and the classes whose __slots__ it reads.");

static PyObject *bind(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *python_update, *stats, *model, *url, *tweet_type, *profile_type, *array_type;
    if (!PyArg_ParseTuple(args, "OOO!OO!O!O!", &python_update, &stats, &PyTuple_Type, &model, &url, &PyType_Type,
                          &tweet_type, &PyType_Type, &profile_type, &PyType_Type, &array_type))
        return NULL;
    Py_ssize_t tweet_offset[TWEET_FIELDS], profile_offset[PROFILE_FIELDS];
    if (member_offsets((PyTypeObject *)tweet_type, TWEET_NAMES, TWEET_FIELDS, tweet_offset) < 0 ||
        member_offsets((PyTypeObject *)profile_type, PROFILE_NAMES, PROFILE_FIELDS, profile_offset) < 0 ||
        load_name_model(model) < 0)
        return NULL;
    memcpy(bound.tweet_offset, tweet_offset, sizeof tweet_offset);
    memcpy(bound.profile_offset, profile_offset, sizeof profile_offset);
    replace(&bound.python_update, python_update);
    replace(&bound.screen_name_stats, stats);
    replace(&bound.url_bit, url);
    replace((PyObject **)&bound.tweet_type, tweet_type);
    replace((PyObject **)&bound.profile_type, profile_type);
    replace((PyObject **)&bound.array_type, array_type);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"update", (PyCFunction)(void (*)(void))update, METH_FASTCALL, update_doc},
    {"bind", bind, METH_VARARGS, bind_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumer._features",
    "consumer.features.update compiled; consumer/features.py defines it and binds this module at import.",
    -1, methods, NULL, NULL, NULL, NULL,
};

static int add_layout(PyObject *module)
{
    PyObject *layout = PyDict_New();
    if (layout == NULL)
        return -1;
    for (size_t i = 0; i < sizeof LAYOUT / sizeof LAYOUT[0]; i++) {
        PyObject *slot = PyLong_FromLong(LAYOUT[i].slot);
        if (slot == NULL || PyDict_SetItemString(layout, LAYOUT[i].name, slot) < 0) {
            Py_XDECREF(slot);
            Py_DECREF(layout);
            return -1;
        }
        Py_DECREF(slot);
    }
    return PyModule_AddObject(module, "LAYOUT", layout) < 0 ? (Py_DECREF(layout), -1) : 0;
}

PyMODINIT_FUNC PyInit__features(void)
{
    if ((str_lower = PyUnicode_InternFromString("lower")) == NULL ||
        (str_space = PyUnicode_InternFromString(" ")) == NULL)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    if (add_layout(module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
