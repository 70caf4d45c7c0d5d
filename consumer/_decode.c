/* consumer._decode: the common case of consumer.decode._from_v11 in C.
 *
 * decode_tweets spends most of a v1.1 tweet's time walking the orjson dict in
 * Python and building the Tweet and Profile dataclasses. tweet_v11(obj) does that
 * walk here, for the tweets that the generator, the bench and real streams send;
 * scan_v11(raw), further down, does the same from the message's bytes without
 * orjson's dict, and message_v11 tries it first.
 *
 * The Python path is the definition. tweet_v11 either returns a Tweet equal to
 * what _from_v11(obj) returns (every field, of the same type), or None: it
 * declines, and the unchanged Python path decides the tweet or names its error.
 * It never raises. So it declines whatever would take one of the Python path's
 * rarer branches (an integer id, a malformed time, a time out of range, numbers a
 * float cannot hold, ...) instead of copying them; every decline is listed in
 * decode.py's docstring, and tests/test_decode_compiled.py holds the two paths equal.
 *
 * The Python helpers whose results should stay shared or whose rules are best
 * kept in one place (_client, the cached client name; _unescape) are called back,
 * and the clock bound is decode._clock_bound's, read here and refreshed only there.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX: the kind of member a __slots__ field is */
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <string.h>

/* A v1.1 created_at, "Wed Oct 10 20:19:24 +0000 2018", is this long (decode._V11_LEN). */
#define V11_LEN 30
/* decode._source caches client names up to this length; a longer source is declined. */
#define MAX_CACHED_SOURCE 512

#define N_TWEET 12
#define N_PROFILE 12 /* no more than N_TWEET: a Layout holds either */

/* The dataclasses' fields in the order tweet_v11 fills them; bind() checks that the
 * classes still have exactly these, in this order. */
static const char *const TWEET_FIELDS[N_TWEET] = {
    "tweet_id", "account_id", "ts", "text", "urls", "mentions", "hashtags",
    "is_retweet", "is_reply", "is_quote", "source", "profile"};
static const char *const PROFILE_FIELDS[N_PROFILE] = {
    "statuses", "followers", "friends", "favourites", "listed", "default_profile",
    "background_image", "verified", "created_at", "screen_name", "name", "description"};

/* What bind() was given. Until it is called, tweet_v11 declines everything. */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t offset[N_TWEET]; /* of each field's slot in an instance */
} Layout;

static Layout tweet_layout, profile_layout;
static PyObject *loads_fn;    /* orjson.loads */
static PyObject *client_fn;   /* decode._client */
static PyObject *unescape_fn; /* decode._unescape */
static PyObject *clock_bound; /* decode._clock_bound: a list whose [0] is the latest time accepted */
static double earliest_ts;    /* decode.EARLIEST_TS */
static Py_ssize_t max_id_chars; /* decode.MAX_ID_CHARS */
static int bound;

static PyObject *empty_str, *empty_dict, *one, *zero;

/* The dict keys looked up, as an enum and a table of key strings (see adopt_keys). */
#define KEYS(X)                                                                                   \
    X(account_id) X(ts) X(data) X(user) X(id_str) X(created_at) X(retweeted_status) X(entities)    \
    X(extended_tweet) X(full_text) X(text) X(display_text_range) X(urls) X(unwound_url)           \
    X(expanded_url) X(url) X(user_mentions) X(hashtags) X(source) X(in_reply_to_status_id_str)     \
    X(in_reply_to_status_id) X(quoted_status) X(is_quote_status) X(statuses_count)                \
    X(followers_count) X(friends_count) X(favourites_count) X(listed_count) X(default_profile)     \
    X(profile_use_background_image) X(verified) X(screen_name) X(name) X(description)
#define KEY_ENUM(k) K_##k,
enum { KEYS(KEY_ENUM) N_KEYS };
static PyObject *keys[N_KEYS];
static PyObject *key_index; /* {key text: its index in keys} */
#define KEY(k) keys[K_##k]

/* ---------------------------------------------------------------- lookups */

/* Set when a lookup raised, which only a contrived key can make it do (one of another type whose hash
 * is a key's and whose __eq__ raises): the lookup reads as absent, its error is cleared at once, so
 * no Python code runs with it set, and tweet_v11 declines. Reset by each tweet_v11; one per thread,
 * since a callback into Python may let another thread decode meanwhile. */
static _Thread_local int lookup_failed;

static inline PyObject *
get(PyObject *dict, PyObject *key) /* borrowed, NULL when absent */
{
    PyObject *v = PyDict_GetItemWithError(dict, key);
    if (v == NULL && PyErr_Occurred()) {
        PyErr_Clear();
        lookup_failed = 1;
    }
    return v;
}

/* orjson hands out its key strings from a cache: the same object for the same key in every dict it
 * makes. A lookup with that very object ends on identity; with another string of the same text, on a
 * comparison of the two, which was a quarter of the walk's time. So keys[] holds the objects found in
 * the tweets: every ADOPT_EVERY tweets, the keys of the one at hand replace their equals in keys[]
 * (orjson's cache may have let one go since). Any other string still finds the same values. */
#define ADOPT_EVERY 1024

static void
adopt_keys_of(PyObject *dict)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    if (dict == NULL || !PyDict_CheckExact(dict))
        return;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        PyObject *index = PyUnicode_CheckExact(key) ? PyDict_GetItemWithError(key_index, key) : NULL;
        if (index != NULL && keys[PyLong_AsLong(index)] != key) {
            Py_INCREF(key);
            Py_SETREF(keys[PyLong_AsLong(index)], key);
        }
    }
}

static void
adopt_keys(PyObject *obj) /* from the tweet, the dicts in it (user, entities, ...) and its first link */
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    adopt_keys_of(obj);
    while (PyDict_Next(obj, &pos, &key, &value))
        adopt_keys_of(value);
    PyObject *entities = PyDict_GetItemWithError(obj, KEY(entities)), *urls;
    if (entities != NULL && PyDict_CheckExact(entities)
        && (urls = PyDict_GetItemWithError(entities, KEY(urls))) != NULL && PyList_CheckExact(urls)
        && PyList_GET_SIZE(urls) > 0)
        adopt_keys_of(PyList_GET_ITEM(urls, 0));
    PyErr_Clear(); /* only a contrived key can make a lookup raise: then some keys are not adopted */
}

static inline PyObject *
get_dict(PyObject *dict, PyObject *key) /* the value where it is exactly a dict, else NULL */
{
    PyObject *v = get(dict, key);
    return v != NULL && PyDict_CheckExact(v) ? v : NULL;
}

static inline PyObject *
new_ref(PyObject *v)
{
    Py_INCREF(v);
    return v;
}

/* ------------------------------------------------------------------ times */

static int
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int
index_of(const char *three, const char *table, int n) /* 0-based index of a 3-letter name, or -1 */
{
    for (int i = 0; i < n; i++)
        if (memcmp(three, table + 3 * i, 3) == 0)
            return i;
    return -1;
}

static long long
floor_div(long long a, long long b) /* Python's //, for the proleptic calendar's years before 1 */
{
    long long q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static long long
days_from_civil(long long y, int m, int d) /* decode._days_from_civil */
{
    y -= m <= 2;
    long long era = floor_div(y, 400);
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static int
month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* Epoch seconds of a v1.1 created_at, as decode._v11_seconds computes them, into *out; 0 where
 * that raises. The text is 30 characters at fixed places (V11_TIME's regex with \Z), so each
 * field is checked where it stands; only ASCII can match, so other text is refused unread. */
static int v11_seconds_of(const char *s, double *out);

static int
v11_seconds(PyObject *text, double *out)
{
    if (!PyUnicode_CheckExact(text) || PyUnicode_GET_LENGTH(text) != V11_LEN || !PyUnicode_IS_ASCII(text))
        return 0;
    return v11_seconds_of((const char *)PyUnicode_1BYTE_DATA(text), out);
}

/* v11_seconds of V11_LEN bytes of text (the scanner's, which are ASCII only if a time can be read from them) */
static int
v11_seconds_of(const char *s, double *out)
{
    int month, day, hour, minute, second, oh, om, year;
    if (index_of(s, "MonTueWedThuFriSatSun", 7) < 0 || s[3] != ' ' || (month = index_of(s + 4,
            "JanFebMarAprMayJunJulAugSepOctNovDec", 12) + 1) == 0 || s[7] != ' ' || !digits(s + 8, 2, &day)
        || s[10] != ' ' || !digits(s + 11, 2, &hour) || s[13] != ':' || !digits(s + 14, 2, &minute)
        || s[16] != ':' || !digits(s + 17, 2, &second) || s[19] != ' ' || (s[20] != '+' && s[20] != '-')
        || !digits(s + 21, 2, &oh) || !digits(s + 23, 2, &om) || s[25] != ' ' || !digits(s + 26, 4, &year))
        return 0;
    if (hour > 23 || minute > 59 || second > 59 || oh > 23 || om > 59 || day < 1
        || day > month_days(year, month))
        return 0;
    long long offset = (oh * 3600LL + om * 60LL) * (s[20] == '-' ? -1 : 1);
    /* midnight as a float, plus the clock as an int: the same two roundings as the Python path's */
    double midnight = (double)(days_from_civil(year, month, day) * 86400LL - offset);
    *out = midnight + (double)(hour * 3600 + minute * 60 + second);
    return 1;
}

/* The tweet's time, if the Python path would accept it without a fresh look at the clock: within
 * EARLIEST_TS .. decode._clock_bound[0]. A later time is declined, and the Python path refreshes the
 * bound (so the first tweet after start-up, with the bound still 0, takes the Python path). */
static int in_clock_bounds(double ts);

static int
tweet_time(PyObject *created, double *ts)
{
    return created != NULL && v11_seconds(created, ts) && in_clock_bounds(*ts);
}

static int
in_clock_bounds(double ts)
{
    PyObject *latest = PyList_CheckExact(clock_bound) && PyList_GET_SIZE(clock_bound) > 0
                           ? PyList_GET_ITEM(clock_bound, 0) : NULL;
    return latest != NULL && PyFloat_CheckExact(latest) && earliest_ts <= ts && ts <= PyFloat_AS_DOUBLE(latest);
}

/* ------------------------------------------------------- lenient fields
 * Each returns a new reference, or NULL to decline the tweet. */

static PyObject *
ident(PyObject *obj) /* the id_str of a tweet or user where it is 1..MAX_ID_CHARS characters of text */
{
    PyObject *v = get(obj, KEY(id_str));
    if (v == NULL || !PyUnicode_CheckExact(v))
        return NULL; /* an integer id, a missing one, ...: _ident_of's cases */
    Py_ssize_t n = PyUnicode_GET_LENGTH(v);
    return n > 0 && n <= max_id_chars ? new_ref(v) : NULL;
}

static PyObject *
count(PyObject *v) /* decode._count: a non-negative int or float as a float, else None */
{
    if (v != NULL && PyLong_CheckExact(v)) { /* exactly int: a bool is not a count */
        double d = PyLong_AsDouble(v); /* float(v)'s rounding */
        if (d == -1.0 && PyErr_Occurred())
            return NULL; /* past a double's range: float(v) raises there */
        return d >= 0.0 ? PyFloat_FromDouble(d) : new_ref(Py_None);
    }
    if (v != NULL && PyFloat_CheckExact(v))
        return new_ref(PyFloat_AS_DOUBLE(v) >= 0.0 ? v : Py_None); /* NaN compares false: None */
    return new_ref(Py_None);
}

static PyObject *
flag(PyObject *v) /* decode._flag */
{
    return new_ref(v == Py_True ? one : v == Py_False ? zero : Py_None);
}

static PyObject *
string(PyObject *v) /* decode._string */
{
    return new_ref(v != NULL && PyUnicode_CheckExact(v) ? v : Py_None);
}

static PyObject *
account_created(PyObject *v) /* decode._account_created where the text is a valid time, else None */
{
    double ts;
    if (v == NULL || !PyUnicode_CheckExact(v) || PyUnicode_GET_LENGTH(v) != V11_LEN)
        return new_ref(Py_None);
    /* A malformed time of the right length is left to the Python path, which makes it None. */
    return v11_seconds(v, &ts) ? PyFloat_FromDouble(ts) : NULL;
}

/* ---------------------------------------------------------------- objects */

/* An instance of a bound dataclass with its slots set to values, built as its generated __init__ would
 * (which only assigns each field). The references are stolen; where one is NULL (a field declined),
 * those made are dropped and the result is NULL. */
static PyObject *
instance(const Layout *layout, PyObject **values, int n)
{
    PyObject *obj = NULL;
    int made = 1;
    for (int i = 0; i < n; i++)
        made &= values[i] != NULL;
    if (made)
        obj = layout->type->tp_alloc(layout->type, 0);
    for (int i = 0; i < n; i++) {
        if (obj != NULL)
            *(PyObject **)((char *)obj + layout->offset[i]) = values[i];
        else
            Py_XDECREF(values[i]);
    }
    return obj;
}

static PyObject *
profile_v11(PyObject *user) /* decode._profile_v11 */
{
    PyObject *f[N_PROFILE] = {NULL};
    /* field by field, in order, up to the first that declines (&& sequences them) */
    (void)((f[0] = count(get(user, KEY(statuses_count))))
           && (f[1] = count(get(user, KEY(followers_count))))
           && (f[2] = count(get(user, KEY(friends_count))))
           && (f[3] = count(get(user, KEY(favourites_count))))
           && (f[4] = count(get(user, KEY(listed_count))))
           && (f[5] = flag(get(user, KEY(default_profile))))
           && (f[6] = flag(get(user, KEY(profile_use_background_image))))
           && (f[7] = flag(get(user, KEY(verified))))
           && (f[8] = account_created(get(user, KEY(created_at))))
           && (f[9] = string(get(user, KEY(screen_name))))
           && (f[10] = string(get(user, KEY(name))))
           && (f[11] = string(get(user, KEY(description)))));
    return instance(&profile_layout, f, N_PROFILE);
}

/* text (a str), or _unescape(text) where it has an '&' to unescape: a new reference, NULL to decline */
static PyObject *
unescaped(PyObject *text)
{
    if (PyUnicode_FindChar(text, '&', 0, PyUnicode_GET_LENGTH(text), 1) < 0)
        return new_ref(text);
    PyObject *out = PyObject_CallOneArg(unescape_fn, text); /* rare: _unescape itself does the replacing */
    if (out != NULL && !PyUnicode_CheckExact(out))
        Py_CLEAR(out);
    return out;
}

/* text (stolen) cut to [start, end) where 0 <= start <= end: code points, an end past the text clipped */
static PyObject *
cut(PyObject *text, Py_ssize_t start, Py_ssize_t end)
{
    if (!(0 <= start && start <= end))
        return text;
    PyObject *out = PyUnicode_Substring(text, start, end);
    Py_DECREF(text);
    return out;
}

/* decode._display: the text, unescaped, cut to display_text_range where that is two ints in order. */
static PyObject *
display(PyObject *text, PyObject *range)
{
    if (text == NULL || !PyUnicode_CheckExact(text))
        return new_ref(empty_str);
    if ((text = unescaped(text)) == NULL)
        return NULL;
    if (range == NULL || !PyList_CheckExact(range) || PyList_GET_SIZE(range) != 2
        || !PyLong_CheckExact(PyList_GET_ITEM(range, 0)) || !PyLong_CheckExact(PyList_GET_ITEM(range, 1)))
        return text;
    Py_ssize_t start, end;
    if (((start = PyLong_AsSsize_t(PyList_GET_ITEM(range, 0))) == -1 && PyErr_Occurred())
        || ((end = PyLong_AsSsize_t(PyList_GET_ITEM(range, 1))) == -1 && PyErr_Occurred())) {
        /* an index outside a Py_ssize_t: declined rather than reasoned about */
        Py_DECREF(text);
        return NULL;
    }
    return cut(text, start, end);
}

/* decode._content_v11: the display text (new reference, NULL to decline) and, through *entities,
 * the entities dict (borrowed), from extended_tweet when the top level is truncated. */
static PyObject *
content_v11(PyObject *status, PyObject *fallback, PyObject **entities)
{
    PyObject *body = get_dict(status, KEY(extended_tweet)), *text;
    if (body != NULL)
        text = get(body, KEY(full_text));
    else {
        body = status;
        text = get(status, KEY(full_text));
        if (text == NULL || !PyUnicode_CheckExact(text))
            text = get(status, KEY(text));
    }
    *entities = get_dict(body, KEY(entities));
    if (*entities == NULL)
        *entities = get_dict(status, KEY(entities));
    if (*entities == NULL)
        *entities = fallback != NULL && PyDict_CheckExact(fallback) ? fallback : empty_dict;
    return display(text, get(body, KEY(display_text_range)));
}

static PyObject *
url_of(PyObject *entity) /* decode._url_of, borrowed: the first non-empty of the three, or NULL */
{
    static const int order[] = {K_unwound_url, K_expanded_url, K_url};
    if (!PyDict_CheckExact(entity))
        return NULL;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        PyObject *url = get(entity, keys[order[i]]);
        if (url != NULL && PyUnicode_CheckExact(url) && PyUnicode_GET_LENGTH(url) > 0)
            return url;
    }
    return NULL;
}

static PyObject *
urls(PyObject *entities) /* the link targets, a tuple of the entities' urls that have one */
{
    PyObject *items = get(entities, KEY(urls));
    if (items == NULL || !PyList_CheckExact(items))
        return PyTuple_New(0);
    Py_ssize_t n = 0, size = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < size; i++) /* counted first, so the tuple is made at its size */
        n += url_of(PyList_GET_ITEM(items, i)) != NULL;
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t i = 0, k = 0; out != NULL && k < n; i++) {
        PyObject *url = url_of(PyList_GET_ITEM(items, i));
        if (url != NULL)
            PyTuple_SET_ITEM(out, k++, new_ref(url));
    }
    return out;
}

static PyObject *
list_len(PyObject *entities, PyObject *key) /* len() of a list, else 0, as an int */
{
    PyObject *items = get(entities, key);
    return PyLong_FromSsize_t(items != NULL && PyList_CheckExact(items) ? PyList_GET_SIZE(items) : 0);
}

static PyObject *
source(PyObject *obj) /* decode._source through the cached _client; a source past the cache's bound declines */
{
    PyObject *v = get(obj, KEY(source));
    if (v == NULL || !PyUnicode_CheckExact(v))
        return new_ref(empty_str);
    if (PyUnicode_GET_LENGTH(v) > MAX_CACHED_SOURCE)
        return NULL;
    PyObject *name = PyObject_CallOneArg(client_fn, v);
    if (name != NULL && !PyUnicode_CheckExact(name))
        Py_CLEAR(name);
    return name;
}

static PyObject *
is_reply(PyObject *obj) /* bool(in_reply_to_status_id_str or in_reply_to_status_id) */
{
    PyObject *v = get(obj, KEY(in_reply_to_status_id_str));
    int truth = v != NULL ? PyObject_IsTrue(v) : 0;
    if (truth == 0 && (v = get(obj, KEY(in_reply_to_status_id))) != NULL)
        truth = PyObject_IsTrue(v);
    return truth < 0 ? NULL : PyBool_FromLong(truth);
}

/* --------------------------------------------------------------- the tweet */

static int
is_v11_shaped(PyObject *obj) /* a dict that _decode_tweets would take for a v1.1 tweet, with a user */
{
    /* the compact event and v2 are told by these keys first: they are never v1.1 */
    return PyDict_CheckExact(obj) && get(obj, KEY(account_id)) == NULL && get(obj, KEY(ts)) == NULL
           && get(obj, KEY(data)) == NULL && get_dict(obj, KEY(user)) != NULL;
}

static int
is_quote(PyObject *obj, PyObject *retweeted)
{
    return retweeted == NULL
           && (get_dict(obj, KEY(quoted_status)) != NULL || get(obj, KEY(is_quote_status)) == Py_True);
}

static PyObject *
build_tweet(PyObject *obj) /* decode._from_v11's common case; NULL declines */
{
    double ts;
    if (!bound || !is_v11_shaped(obj) || !tweet_time(get(obj, KEY(created_at)), &ts))
        return NULL;
    PyObject *user = get_dict(obj, KEY(user)), *retweeted = get_dict(obj, KEY(retweeted_status));
    PyObject *entities = NULL, *f[N_TWEET] = {NULL};
    /* field by field, in order, up to the first that declines (&& sequences them), so that no Python
     * callback runs with an error set */
    (void)((f[0] = ident(obj))
           && (f[1] = ident(user))
           && (f[2] = PyFloat_FromDouble(ts))
           /* a retweet's own text is "RT @author: " and a cut; what it spreads is the original's */
           && (f[3] = retweeted != NULL ? content_v11(retweeted, get(obj, KEY(entities)), &entities)
                                        : content_v11(obj, NULL, &entities))
           && (f[4] = urls(entities))
           && (f[5] = list_len(entities, KEY(user_mentions)))
           && (f[6] = list_len(entities, KEY(hashtags)))
           && (f[7] = PyBool_FromLong(retweeted != NULL))
           && (f[8] = is_reply(obj))
           && (f[9] = PyBool_FromLong(is_quote(obj, retweeted)))
           && (f[10] = source(obj))
           && (f[11] = profile_v11(user)));
    return instance(&tweet_layout, f, N_TWEET);
}

static PyObject *
tweet_v11(PyObject *Py_UNUSED(module), PyObject *obj)
{
    static unsigned calls;
    if (calls++ % ADOPT_EVERY == 0 && PyDict_CheckExact(obj))
        adopt_keys(obj);
    lookup_failed = 0;
    PyObject *tweet = build_tweet(obj);
    if (tweet == NULL || lookup_failed) {
        Py_XDECREF(tweet);
        PyErr_Clear(); /* declined: the Python path decides, and names any error */
        Py_RETURN_NONE;
    }
    return tweet;
}

/* ---------------------------------------------------------------- the scanner
 *
 * scan_v11(raw) makes the Tweet of a message holding one v1.1 tweet straight from its bytes, as
 * tweet_v11(orjson.loads(raw)) makes it, without the dicts, lists and strs that orjson builds for
 * every value (two thirds of a tweet's decoding, where the walk is the other third). It reads the
 * document once. It checks all of it on the terms of orjson.loads, or stricter: JSON's grammar,
 * valid UTF-8, escapes with no lone surrogate, no number whose double could be infinite (it declines
 * any exponent, and any number longer than MAX_NUMBER), nesting well under orjson's limit, nothing after
 * the document but whitespace. In the objects the walk reads (the tweet, and under it what the walk's
 * keys hold) it notes where the value of each of those keys is; everything else is only checked. The
 * fields are then made from those values by the walk's own rules, in the walk's order.
 *
 * It declines, and message_v11 falls back on orjson and tweet_v11, wherever it would have to reason
 * about a rarer case: a key of the walk repeated in one object (a dict keeps the last), an escaped key
 * in such an object, an escaped created_at or id_str, a count or index that is a float or has more
 * than 18 digits, and more than MAX_OBJECTS objects or MAX_ITEMS link entities noted. tests/
 * test_decode_scan.py holds it to the Python path on the same bytes, and to orjson's refusals. */

#define MAX_DEPTH 64     /* orjson refuses at 1024 */
#define MAX_NUMBER 40    /* characters: without an exponent, a double of that many digits is finite */
#define MAX_OBJECTS 24   /* objects noted in one tweet */
#define MAX_ITEMS 32     /* entries of the urls lists noted in one tweet */
#define MAX_PAIRS 32     /* first two items of the other lists noted (a display_text_range is read) */

enum { J_ABSENT, J_STRING, J_NUMBER, J_TRUE, J_FALSE, J_NULL, J_OBJECT, J_ARRAY };

typedef struct {
    unsigned char kind;
    unsigned char escaped; /* a string with a backslash in its bytes */
    unsigned char ascii;   /* a string whose bytes are all ASCII */
    unsigned char integer; /* a number with no fraction */
    const char *p;         /* a string's bytes between its quotes; a number's text */
    Py_ssize_t n;          /* their length */
    Py_ssize_t items;      /* an array's items, an object's members */
    int index;             /* an object: its Noted; a urls list: its first in items[]; another list: pairs[] */
} Value;

typedef struct {
    uint64_t seen; /* bit k: values[k] holds key k's value */
    Value values[N_KEYS];
} Noted;

typedef struct {
    const unsigned char *p, *end;
    Noted objects[MAX_OBJECTS];
    int n_objects;
    int items[MAX_ITEMS]; /* the noted urls lists' entries, list by list: an object's Noted, else -1 */
    int n_items;
    Value pairs[MAX_PAIRS][2];
    int n_pairs;
} Scan;

_Static_assert(N_KEYS <= 64, "Noted.seen has a bit per key");

#define KEY_TEXT(k) #k,
static const char *const key_names[N_KEYS] = {KEYS(KEY_TEXT)};
/* the bytes a string's scan stops at: the quote, a backslash, a control character, a byte past ASCII */
static unsigned char stops_string[256];
/* the keys of each length (keys are at most 31 bytes), each list ended by -1 */
static int keys_of_length[32][N_KEYS + 1];

static void
init_scanner(void)
{
    for (int c = 0; c < 256; c++)
        stops_string[c] = c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
    for (int n = 0; n < 32; n++)
        keys_of_length[n][0] = -1;
    for (int k = 0; k < N_KEYS; k++) {
        size_t n = strlen(key_names[k]);
        int *slot = keys_of_length[n];
        while (*slot >= 0)
            slot++;
        slot[0] = k;
        slot[1] = -1;
    }
}

static int
key_index_of(const unsigned char *p, Py_ssize_t n)
{
    if (n >= 32)
        return -1;
    for (const int *k = keys_of_length[n]; *k >= 0; k++) /* (the first byte tells most apart: memcmp is a call) */
        if (key_names[*k][0] == (char)p[0] && memcmp(p, key_names[*k], (size_t)n) == 0)
            return *k;
    return -1;
}

static inline void
skip_space(Scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

static inline int
hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            v |= (c | 0x20) - 'a' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* The length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0: no overlong form, no surrogate,
 * nothing past U+10FFFF, as orjson requires. */
static inline int
utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (end - p < n || p[1] < lo || p[1] > hi)
        return 0;
    for (int i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* A string from its opening quote; v gets its bytes and what they are. 0 where orjson would refuse it. */
static int
scan_string(Scan *s, Value *v)
{
    const unsigned char *p = ++s->p, *end = s->end;
    int escaped = 0, ascii = 1;
    for (;;) {
#ifdef __SSE2__
        /* 16 bytes at a time: a quote, a backslash, or a byte below 0x20 as a signed char (a control
         * character, or one past ASCII) stops the run */
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        while (end - p >= 16) {
            __m128i block = _mm_loadu_si128((const __m128i *)p);
            int stops = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, quote),
                                                                    _mm_cmpeq_epi8(block, backslash)),
                                                       _mm_cmplt_epi8(block, space)));
            if (stops) {
                p += __builtin_ctz((unsigned)stops);
                break;
            }
            p += 16;
        }
#endif
        while (p < end && !stops_string[*p])
            p++;
        if (p >= end || *p < 0x20)
            return 0;
        if (*p == '"')
            break;
        if (*p == '\\') {
            escaped = 1;
            if (end - p < 2)
                return 0;
            unsigned char e = p[1];
            if (e == 'u') {
                unsigned code, low;
                if (end - p < 6 || !hex4(p + 2, &code))
                    return 0;
                p += 6;
                if (code >= 0xDC00 && code <= 0xDFFF)
                    return 0; /* a low surrogate first */
                if (code >= 0xD800 && code <= 0xDBFF) {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &low) || low < 0xDC00 || low > 0xDFFF)
                        return 0; /* a high surrogate without its low one */
                    p += 6;
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't')
                p += 2;
            else
                return 0;
            continue;
        }
        int n = utf8_sequence(p, end); /* a byte past ASCII */
        if (n == 0)
            return 0;
        ascii = 0;
        p += n;
    }
    v->kind = J_STRING;
    v->p = (const char *)s->p;
    v->n = p - s->p;
    v->escaped = (unsigned char)escaped;
    v->ascii = (unsigned char)ascii;
    s->p = p + 1;
    return 1;
}

/* A number: JSON's grammar without an exponent, at most MAX_NUMBER characters. */
static int
scan_number(Scan *s, Value *v)
{
    const unsigned char *start = s->p, *p = s->p, *end = s->end;
    int integer = 1;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return 0;
    if (*p == '0')
        p++;
    else
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    if (p < end && *p == '.') {
        integer = 0;
        if (++p >= end || *p < '0' || *p > '9')
            return 0;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if ((p < end && (*p == 'e' || *p == 'E')) || p - start > MAX_NUMBER)
        return 0;
    v->kind = J_NUMBER;
    v->p = (const char *)start;
    v->n = p - start;
    v->integer = (unsigned char)integer;
    s->p = p;
    return 1;
}

static int scan_value(Scan *s, Value *v, int note, int key, int depth);

/* Past an object's or a list's opening and the space after it: 1 if `close` follows at once (consumed) */
static inline int
opens_empty(Scan *s, unsigned char close)
{
    s->p++;
    skip_space(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 1;
    }
    return 0;
}

/* After a member or an item: 1 past a comma and the space after it, 0 past `close`, -1 on anything else */
static inline int
next_or_close(Scan *s, unsigned char close)
{
    skip_space(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        skip_space(s);
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    return -1;
}

/* An object from its brace. note: its members are noted (a new Noted, v->index), else only checked. */
static int
scan_object(Scan *s, Value *v, int note, int depth)
{
    Noted *noted = NULL;
    if (note) {
        if (s->n_objects >= MAX_OBJECTS)
            return 0;
        v->index = s->n_objects;
        noted = &s->objects[s->n_objects++];
        noted->seen = 0;
    }
    Py_ssize_t members = 0;
    for (int more = !opens_empty(s, '}'); more;) {
        Value key, value;
        if (s->p >= s->end || *s->p != '"' || !scan_string(s, &key))
            return 0;
        skip_space(s);
        if (s->p >= s->end || *s->p != ':')
            return 0;
        s->p++;
        skip_space(s);
        int k = -1;
        if (noted != NULL) {
            if (key.escaped)
                return 0; /* it might unescape to one of the walk's keys */
            k = key_index_of((const unsigned char *)key.p, key.n);
            if (k >= 0 && (noted->seen >> k & 1))
                return 0; /* repeated: a dict keeps the last */
            if (noted == s->objects && (k == K_account_id || k == K_ts || k == K_data))
                return 0; /* a compact event or a v2 response: the walk declines it, told at once */
        }
        Value *slot = k >= 0 ? &noted->values[k] : &value;
        if (!scan_value(s, slot, k >= 0, k, depth + 1))
            return 0;
        if (k >= 0)
            noted->seen |= (uint64_t)1 << k;
        members++;
        if ((more = next_or_close(s, '}')) < 0)
            return 0;
    }
    v->kind = J_OBJECT;
    v->items = members;
    return 1;
}

/* An array from its bracket. note: the value of one of the walk's keys: a urls list's objects are noted
 * (its entries in s->items), and another list's first two values kept (s->pairs: a display_text_range). */
static int
scan_array(Scan *s, Value *v, int note, int key, int depth)
{
    int urls = note && key == K_urls, pair = -1;
    if (note && !urls) {
        if (s->n_pairs >= MAX_PAIRS)
            return 0;
        pair = s->n_pairs++;
    }
    int entries[MAX_ITEMS]; /* a urls list's: put in s->items together at the end, after any noted inside */
    Py_ssize_t items = 0;
    for (int more = !opens_empty(s, ']'); more;) {
        Value item;
        Value *slot = pair >= 0 && items < 2 ? &s->pairs[pair][items] : &item;
        if (urls && items >= MAX_ITEMS)
            return 0;
        if (urls && s->p < s->end && *s->p == '{') {
            if (!scan_object(s, slot, 1, depth + 1))
                return 0;
            entries[items] = slot->index;
        } else if (!scan_value(s, slot, 0, -1, depth + 1))
            return 0;
        else if (urls)
            entries[items] = -1; /* not an object: no link */
        items++;
        if ((more = next_or_close(s, ']')) < 0)
            return 0;
    }
    v->kind = J_ARRAY;
    v->items = items;
    v->index = pair;
    if (urls) {
        if (s->n_items + items > MAX_ITEMS)
            return 0;
        v->index = s->n_items;
        memcpy(s->items + s->n_items, entries, sizeof(int) * (size_t)items);
        s->n_items += (int)items;
    }
    return 1;
}

static int
scan_literal(Scan *s, Value *v, const char *word, unsigned char kind) /* true, false or null */
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return 0;
    s->p += n;
    v->kind = kind;
    return 1;
}

/* Any value. note: it is the value of key (one of the walk's) in a noted object. */
static int
scan_value(Scan *s, Value *v, int note, int key, int depth)
{
    if (depth > MAX_DEPTH || s->p >= s->end)
        return 0;
    switch (*s->p) {
    case '"':
        return scan_string(s, v);
    case '{':
        return scan_object(s, v, note, depth);
    case '[':
        return scan_array(s, v, note, key, depth);
    case 't':
        return scan_literal(s, v, "true", J_TRUE);
    case 'f':
        return scan_literal(s, v, "false", J_FALSE);
    case 'n':
        return scan_literal(s, v, "null", J_NULL);
    default:
        return scan_number(s, v);
    }
}

/* --- the fields, from the noted values: the walk's rules (see its functions above), value by value */

/* bool() of the value orjson makes of v. A number has no exponent (declined), so its text is a sign, digits and a
 * point: non-zero where a digit is; a string is non-empty where it has bytes (an escape makes a character). */
static int
truthy(const Value *v)
{
    switch (v->kind) {
    case J_STRING:
        return v->n > 0;
    case J_NUMBER:
        for (Py_ssize_t i = 0; i < v->n; i++)
            if (v->p[i] >= '1' && v->p[i] <= '9')
                return 1;
        return 0;
    case J_OBJECT:
    case J_ARRAY:
        return v->items > 0;
    default:
        return v->kind == J_TRUE;
    }
}

static inline const Value *
noted_value(const Scan *Py_UNUSED(s), const Noted *o, int k) /* the value of key k in o, or NULL where absent */
{
    return o != NULL && (o->seen >> k & 1) ? &o->values[k] : NULL;
}

static inline const Noted *
noted_object(const Scan *s, const Noted *o, int k) /* the object at key k in o, or NULL (get_dict) */
{
    const Value *v = noted_value(s, o, k);
    return v != NULL && v->kind == J_OBJECT ? &s->objects[v->index] : NULL;
}

/* The code points of a string's bytes (escapes are not counted right: callers decline those first). */
static Py_ssize_t
code_points(const Value *v)
{
    if (v->ascii)
        return v->n;
    Py_ssize_t chars = 0;
    for (Py_ssize_t i = 0; i < v->n; i++)
        chars += ((unsigned char)v->p[i] & 0xC0) != 0x80;
    return chars;
}

static void
put_utf8(char **out, unsigned code)
{
    unsigned char *o = (unsigned char *)*out;
    if (code < 0x80)
        *o++ = (unsigned char)code;
    else if (code < 0x800) {
        *o++ = (unsigned char)(0xC0 | code >> 6);
        *o++ = (unsigned char)(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
        *o++ = (unsigned char)(0xE0 | code >> 12);
        *o++ = (unsigned char)(0x80 | (code >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (code & 0x3F));
    } else {
        *o++ = (unsigned char)(0xF0 | code >> 18);
        *o++ = (unsigned char)(0x80 | (code >> 12 & 0x3F));
        *o++ = (unsigned char)(0x80 | (code >> 6 & 0x3F));
        *o++ = (unsigned char)(0x80 | (code & 0x3F));
    }
    *out = (char *)o;
}

/* The str orjson makes of a string value (checked by scan_string): a new reference, NULL (error set) */
static PyObject *
str_of(const Value *v)
{
    if (!v->escaped) {
        if (!v->ascii)
            return PyUnicode_DecodeUTF8(v->p, v->n, "strict");
        PyObject *out = PyUnicode_New(v->n, 127);
        if (out != NULL)
            memcpy(PyUnicode_1BYTE_DATA(out), v->p, (size_t)v->n);
        return out;
    }
    /* unescaped into UTF-8 (no longer than the escaped text), then decoded */
    char stack[1024];
    stack[0] = '\0'; /* (gcc's -Wmaybe-uninitialized cannot see the loop below write what is decoded) */
    int on_stack = v->n <= (Py_ssize_t)sizeof stack;
    char *buffer = on_stack ? stack : PyMem_Malloc((size_t)v->n);
    if (buffer == NULL)
        return PyErr_NoMemory();
    char *o = buffer;
    const unsigned char *p = (const unsigned char *)v->p, *end = p + v->n;
    while (p < end) {
        if (*p != '\\') {
            *o++ = (char)*p++;
            continue;
        }
        unsigned char e = p[1];
        if (e == 'u') {
            unsigned code = 0, low = 0; /* (checked by scan_string: read again here) */
            hex4(p + 2, &code);
            p += 6;
            if (code >= 0xD800 && code <= 0xDBFF) {
                hex4(p + 2, &low);
                p += 6;
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            }
            put_utf8(&o, code);
            continue;
        }
        *o++ = e == 'b' ? '\b' : e == 'f' ? '\f' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : (char)e;
        p += 2;
    }
    PyObject *out = PyUnicode_DecodeUTF8(buffer, o - buffer, "strict");
    if (!on_stack)
        PyMem_Free(buffer);
    return out;
}

/* An integer value of at most 18 digits, into *out; 0 where it is not one (or longer: declined by callers). */
static int
small_integer(const Value *v, long long *out)
{
    const char *p = v->p, *end = p + v->n;
    int negative = *p == '-';
    p += negative;
    if (!v->integer || end - p > 18)
        return 0;
    long long value = 0;
    while (p < end)
        value = value * 10 + (*p++ - '0');
    *out = negative ? -value : value;
    return 1;
}

static PyObject *
scan_ident(const Value *v) /* ident(): id_str of 1..MAX_ID_CHARS characters (an escaped one declines) */
{
    if (v == NULL || v->kind != J_STRING || v->escaped)
        return NULL;
    Py_ssize_t chars = code_points(v);
    return chars > 0 && chars <= max_id_chars ? str_of(v) : NULL;
}

static PyObject *
scan_count(const Value *v) /* count(): a JSON integer as a float, negative as None; a float declines */
{
    long long value;
    if (v == NULL || v->kind != J_NUMBER)
        return new_ref(Py_None); /* a bool is not a count either */
    if (!small_integer(v, &value))
        return NULL;
    return value >= 0 ? PyFloat_FromDouble((double)value) : new_ref(Py_None); /* -0 is the int 0 */
}

static PyObject *
scan_flag(const Value *v)
{
    return new_ref(v == NULL ? Py_None : v->kind == J_TRUE ? one : v->kind == J_FALSE ? zero : Py_None);
}

static PyObject *
scan_string_or_none(const Value *v)
{
    return v != NULL && v->kind == J_STRING ? str_of(v) : new_ref(Py_None);
}

static PyObject *
scan_account_created(const Value *v) /* account_created() */
{
    double ts;
    if (v == NULL || v->kind != J_STRING)
        return new_ref(Py_None);
    if (v->escaped)
        return NULL;
    if (code_points(v) != V11_LEN)
        return new_ref(Py_None);
    return v->n == V11_LEN && v11_seconds_of(v->p, &ts) ? PyFloat_FromDouble(ts) : NULL;
}

static PyObject *
scan_profile(const Scan *s, const Noted *user) /* profile_v11() */
{
    PyObject *f[N_PROFILE] = {NULL};
    (void)((f[0] = scan_count(noted_value(s, user, K_statuses_count)))
           && (f[1] = scan_count(noted_value(s, user, K_followers_count)))
           && (f[2] = scan_count(noted_value(s, user, K_friends_count)))
           && (f[3] = scan_count(noted_value(s, user, K_favourites_count)))
           && (f[4] = scan_count(noted_value(s, user, K_listed_count)))
           && (f[5] = scan_flag(noted_value(s, user, K_default_profile)))
           && (f[6] = scan_flag(noted_value(s, user, K_profile_use_background_image)))
           && (f[7] = scan_flag(noted_value(s, user, K_verified)))
           && (f[8] = scan_account_created(noted_value(s, user, K_created_at)))
           && (f[9] = scan_string_or_none(noted_value(s, user, K_screen_name)))
           && (f[10] = scan_string_or_none(noted_value(s, user, K_name)))
           && (f[11] = scan_string_or_none(noted_value(s, user, K_description))));
    return instance(&profile_layout, f, N_PROFILE);
}

static PyObject *
scan_display(const Scan *s, const Value *text, const Value *range) /* display() */
{
    if (text == NULL || text->kind != J_STRING)
        return new_ref(empty_str);
    PyObject *raw = str_of(text), *out;
    if (raw == NULL)
        return NULL;
    out = unescaped(raw);
    Py_DECREF(raw);
    if (out == NULL || range == NULL || range->kind != J_ARRAY || range->items != 2) /* not a pair */
        return out; /* (a noted list other than urls keeps its first two values: s->pairs[index]) */
    const Value *a = &s->pairs[range->index][0], *b = &s->pairs[range->index][1];
    if (a->kind != J_NUMBER || !a->integer || b->kind != J_NUMBER || !b->integer)
        return out; /* not two ints */
    long long start, end;
    if (!small_integer(a, &start) || !small_integer(b, &end)) {
        Py_DECREF(out); /* an index past 18 digits: declined */
        return NULL;
    }
    return cut(out, (Py_ssize_t)start, (Py_ssize_t)end);
}

/* content_v11(): the display text (NULL declines) and, through *entities, the entities object (NULL: none) */
static PyObject *
scan_content(const Scan *s, const Noted *status, const Value *fallback, const Noted **entities)
{
    const Noted *body = noted_object(s, status, K_extended_tweet);
    const Value *text;
    if (body != NULL)
        text = noted_value(s, body, K_full_text);
    else {
        body = status;
        text = noted_value(s, status, K_full_text);
        if (text == NULL || text->kind != J_STRING)
            text = noted_value(s, status, K_text);
    }
    *entities = noted_object(s, body, K_entities);
    if (*entities == NULL)
        *entities = noted_object(s, status, K_entities);
    if (*entities == NULL && fallback != NULL && fallback->kind == J_OBJECT)
        *entities = &s->objects[fallback->index];
    return scan_display(s, text, noted_value(s, body, K_display_text_range));
}

static const Value *
scan_url_of(const Scan *s, int item) /* url_of() on a urls list's entry: a noted object, or -1 */
{
    static const int order[] = {K_unwound_url, K_expanded_url, K_url};
    if (item < 0)
        return NULL;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        const Value *url = noted_value(s, &s->objects[item], order[i]);
        if (url != NULL && url->kind == J_STRING && url->n > 0)
            return url;
    }
    return NULL;
}

static PyObject *
scan_urls(const Scan *s, const Noted *entities) /* urls() */
{
    const Value *list = noted_value(s, entities, K_urls);
    if (list == NULL || list->kind != J_ARRAY)
        return PyTuple_New(0);
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < list->items; i++)
        n += scan_url_of(s, s->items[list->index + i]) != NULL;
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t i = 0, k = 0; out != NULL && k < n; i++) {
        const Value *url = scan_url_of(s, s->items[list->index + i]);
        if (url == NULL)
            continue;
        PyObject *text = str_of(url);
        if (text == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, k++, text);
    }
    return out;
}

static PyObject *
scan_list_len(const Scan *s, const Noted *entities, int k)
{
    const Value *list = noted_value(s, entities, k);
    return PyLong_FromSsize_t(list != NULL && list->kind == J_ARRAY ? list->items : 0);
}

/* The client names of the sources seen last, by the bytes of the source: a source is one of a few hundred
 * clients' anchors, and making its str (escaped: the anchor's quotes are \") and calling _client for it was
 * an eighth of the scanner's time. Direct-mapped: a slot holds the last source whose bytes hash to it.
 * Emptied by bind(), which may bring another _client. */
#define SOURCE_SLOTS 256
#define MAX_SLOT_SOURCE 192 /* bytes: a longer source is not kept */

typedef struct {
    Py_ssize_t n;
    char bytes[MAX_SLOT_SOURCE];
    PyObject *name;
} SourceSlot;

static SourceSlot source_slots[SOURCE_SLOTS];

static void
forget_sources(void)
{
    for (int i = 0; i < SOURCE_SLOTS; i++)
        Py_CLEAR(source_slots[i].name);
}

static PyObject *
scan_source(const Value *v) /* source() */
{
    if (v == NULL || v->kind != J_STRING)
        return new_ref(empty_str);
    SourceSlot *slot = NULL;
    if (v->n <= MAX_SLOT_SOURCE) {
        uint32_t hash = 2166136261u; /* FNV-1a */
        for (Py_ssize_t i = 0; i < v->n; i++)
            hash = (hash ^ (unsigned char)v->p[i]) * 16777619u;
        slot = &source_slots[hash % SOURCE_SLOTS];
        if (slot->name != NULL && slot->n == v->n && memcmp(slot->bytes, v->p, (size_t)v->n) == 0)
            return new_ref(slot->name);
    }
    PyObject *text = str_of(v), *name;
    if (text == NULL || PyUnicode_GET_LENGTH(text) > MAX_CACHED_SOURCE) {
        Py_XDECREF(text);
        return NULL;
    }
    name = PyObject_CallOneArg(client_fn, text);
    Py_DECREF(text);
    if (name != NULL && !PyUnicode_CheckExact(name))
        Py_CLEAR(name);
    if (name != NULL && slot != NULL) { /* (the call may have let another thread fill the slot: replaced) */
        Py_XSETREF(slot->name, new_ref(name));
        slot->n = v->n;
        memcpy(slot->bytes, v->p, (size_t)v->n);
    }
    return name;
}

static PyObject *
scan_tweet(Scan *s) /* build_tweet() on the noted values; NULL declines (maybe with an error set) */
{
    const Noted *top = &s->objects[0];
    const Noted *user = noted_object(s, top, K_user), *retweeted = noted_object(s, top, K_retweeted_status);
    const Value *created = noted_value(s, top, K_created_at);
    double ts;
    if (noted_value(s, top, K_account_id) || noted_value(s, top, K_ts) || noted_value(s, top, K_data)
        || user == NULL || created == NULL || created->kind != J_STRING || created->escaped || created->n != V11_LEN
        || !v11_seconds_of(created->p, &ts) || !in_clock_bounds(ts))
        return NULL;
    const Noted *entities = NULL;
    const Value *reply = noted_value(s, top, K_in_reply_to_status_id_str);
    int replied = reply != NULL && truthy(reply);
    if (!replied && (reply = noted_value(s, top, K_in_reply_to_status_id)) != NULL)
        replied = truthy(reply);
    const Value *quoted = noted_value(s, top, K_quoted_status), *quote_flag = noted_value(s, top, K_is_quote_status);
    int quote = retweeted == NULL && ((quoted != NULL && quoted->kind == J_OBJECT)
                                      || (quote_flag != NULL && quote_flag->kind == J_TRUE));
    PyObject *f[N_TWEET] = {NULL};
    (void)((f[0] = scan_ident(noted_value(s, top, K_id_str)))
           && (f[1] = scan_ident(noted_value(s, user, K_id_str)))
           && (f[2] = PyFloat_FromDouble(ts))
           && (f[3] = retweeted != NULL ? scan_content(s, retweeted, noted_value(s, top, K_entities), &entities)
                                        : scan_content(s, top, NULL, &entities))
           && (f[4] = scan_urls(s, entities))
           && (f[5] = scan_list_len(s, entities, K_user_mentions))
           && (f[6] = scan_list_len(s, entities, K_hashtags))
           && (f[7] = PyBool_FromLong(retweeted != NULL))
           && (f[8] = PyBool_FromLong(replied))
           && (f[9] = PyBool_FromLong(quote))
           && (f[10] = scan_source(noted_value(s, top, K_source)))
           && (f[11] = scan_profile(s, user)));
    return instance(&tweet_layout, f, N_TWEET);
}

/* The Tweet of raw's bytes, or NULL (no error set): declined. */
static PyObject *
scan_bytes(const char *raw, Py_ssize_t size)
{
    Scan *s = PyMem_Malloc(sizeof(Scan));
    if (s == NULL)
        return NULL;
    s->p = (const unsigned char *)raw;
    s->end = s->p + size;
    s->n_objects = s->n_items = s->n_pairs = 0;
    Value top;
    PyObject *tweet = NULL;
    skip_space(s);
    if (s->p < s->end && *s->p == '{' && scan_object(s, &top, 1, 1)) {
        skip_space(s);
        if (s->p == s->end)
            tweet = scan_tweet(s);
    }
    PyMem_Free(s);
    if (tweet == NULL)
        PyErr_Clear();
    return tweet;
}

PyDoc_STRVAR(scan_v11_doc,
"scan_v11(raw)\n--\n\n"
"The Tweet of a message holding one common v1.1 tweet, made from its bytes without orjson's objects: what\n"
"tweet_v11(orjson.loads(raw)) returns, or None where it declines (see consumer/_decode.c). Never raises.");

static PyObject *
scan_v11(PyObject *Py_UNUSED(module), PyObject *raw)
{
    PyObject *tweet = bound && PyBytes_CheckExact(raw) ? scan_bytes(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw)) : NULL;
    return tweet != NULL ? tweet : Py_NewRef(Py_None);
}

/* ------------------------------------------------------------------ bind */

/* Fill layout for cls, a @dataclass(slots=True) whose fields must be names[0..n) in order: each a
 * plain slot, so that setting the slots is all its __init__ does. Raises TypeError where not. */
static int
bind_layout(Layout *layout, PyObject *cls, const char *const *names, int n)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind: expected a class");
        return 0;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *fields = PyObject_GetAttrString(cls, "__dataclass_fields__");
    int ok = fields != NULL && PyDict_Check(fields) && PyDict_GET_SIZE(fields) == n
             && !PyObject_HasAttrString(cls, "__post_init__") && type->tp_new == PyBaseObject_Type.tp_new;
    Py_ssize_t pos = 0;
    PyObject *name, *ignored;
    for (int i = 0; ok && PyDict_Next(fields, &pos, &name, &ignored); i++) {
        PyObject *descr = PyUnicode_Check(name) ? PyObject_GetAttr(cls, name) : NULL;
        ok = descr != NULL && PyUnicode_CompareWithASCIIString(name, names[i]) == 0
             && Py_IS_TYPE(descr, &PyMemberDescr_Type)
             && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (ok)
            layout->offset[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_XDECREF(descr);
    }
    Py_XDECREF(fields);
    if (!ok) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "bind: %R is not the slotted dataclass consumer/_decode.c was written for "
                     "(its fields changed?): rebuild after updating TWEET_FIELDS/PROFILE_FIELDS", cls);
        return 0;
    }
    Py_INCREF(cls);
    Py_XSETREF(layout->type, type);
    return 1;
}

static void
keep(PyObject **slot, PyObject *value)
{
    Py_INCREF(value);
    Py_XSETREF(*slot, value);
}

PyDoc_STRVAR(bind_doc,
"bind(tweet_cls, profile_cls, client, unescape, clock_bound, earliest_ts, max_id_chars, loads)\n--\n\n"
"Give tweet_v11 and message_v11 what they share with consumer.decode; until then they decline every tweet.");

static PyObject *
bind(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *tweet_cls, *profile_cls, *client, *unescape, *clock, *loads;
    double earliest;
    Py_ssize_t max_id;
    if (!PyArg_ParseTuple(args, "OOOOO!dnO:bind", &tweet_cls, &profile_cls, &client, &unescape, &PyList_Type,
                          &clock, &earliest, &max_id, &loads))
        return NULL;
    bound = 0;
    forget_sources();
    if (!bind_layout(&tweet_layout, tweet_cls, TWEET_FIELDS, N_TWEET)
        || !bind_layout(&profile_layout, profile_cls, PROFILE_FIELDS, N_PROFILE))
        return NULL;
    keep(&loads_fn, loads);
    keep(&client_fn, client);
    keep(&unescape_fn, unescape);
    keep(&clock_bound, clock);
    earliest_ts = earliest;
    max_id_chars = max_id;
    bound = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(tweet_v11_doc,
"tweet_v11(obj)\n--\n\n"
"The Tweet that consumer.decode._from_v11(obj) returns, for the common v1.1 tweet; None for any other\n"
"object (the Python path then decides it). Never raises.");

PyDoc_STRVAR(message_v11_doc,
"message_v11(raw, max_bytes)\n--\n\n"
"What consumer.decode.decode_tweets(raw, max_bytes) returns, [tweet], for a message holding one common v1.1\n"
"tweet; None for anything else, errors included (the Python path then decides it). Never raises.");

/* decode_tweets' whole way for the common message, without its three Python frames: the size check, then the
 * scanner, and where it declines orjson.loads, the top-level type check and tweet_v11. Any failure declines,
 * because the Python path must be the one to name the error (or to decode what tweet_v11 does not take). */
static PyObject *message_tweets(PyObject *raw, Py_ssize_t max_bytes);
static PyObject *message_walk(PyObject *raw);

static PyObject *
message_v11(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "message_v11(raw, max_bytes) takes 2 arguments");
        return NULL;
    }
    Py_ssize_t max_bytes = PyLong_AsSsize_t(args[1]);
    if (max_bytes == -1 && PyErr_Occurred())
        return NULL;
    return message_tweets(args[0], max_bytes);
}

static PyObject *
message_tweets(PyObject *raw, Py_ssize_t max_bytes) /* message_v11's work */
{
    if (!bound || !PyBytes_CheckExact(raw) || PyBytes_GET_SIZE(raw) > max_bytes)
        Py_RETURN_NONE;
    PyObject *tweet = scan_bytes(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    if (tweet == NULL) /* declined: orjson's objects and the walk */
        tweet = message_walk(raw);
    if (tweet == NULL || tweet == Py_None)
        return tweet;
    PyObject *tweets = PyList_New(1);
    if (tweets == NULL) {
        Py_DECREF(tweet);
        return NULL;
    }
    PyList_SET_ITEM(tweets, 0, tweet);
    return tweets;
}

static PyObject *
message_walk(PyObject *raw) /* the Tweet of tweet_v11(orjson.loads(raw)), or None */
{
    PyObject *obj = PyObject_CallOneArg(loads_fn, raw);
    if (obj == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *tweet = PyDict_CheckExact(obj) ? tweet_v11(NULL, obj) : Py_NewRef(Py_None);
    Py_DECREF(obj);
    return tweet;
}

/* ---------------------------------------------------------------- ingest */

static PyObject *m_error, *m_topic, *m_partition, *m_offset, *m_value; /* Message's method names */

/* The message's method `name`, called: a new reference, or NULL with the error cleared. */
static PyObject *
call(PyObject *msg, PyObject *name)
{
    PyObject *v = PyObject_CallMethodNoArgs(msg, name);
    if (v == NULL)
        PyErr_Clear();
    return v;
}

/* The (key, offset, ([tweet], fetched)) entry and the event time of msg, where it is a message of `topic` whose
 * partition is `partition` (or sets *partition where that is NULL) holding one common v1.1 tweet at or after
 * `after`; NULL otherwise (nothing set, *partition included). */
static PyObject *
tweet_entry(PyObject *msg, PyObject *topic, PyObject **partition, PyObject **key, Py_ssize_t max_bytes,
            PyObject *fetched, double after, double *ts)
{
    PyObject *v, *entry = NULL, *offset = NULL, *tweets = NULL;
    int ok = (v = call(msg, m_error)) != NULL && v == Py_None;
    Py_XDECREF(v);
    if (!ok || (v = call(msg, m_topic)) == NULL)
        return NULL;
    ok = PyObject_RichCompareBool(v, topic, Py_EQ) == 1;
    Py_DECREF(v);
    if (!ok || (v = call(msg, m_partition)) == NULL)
        goto done;
    if (*partition == NULL) {
        *partition = v;
    } else {
        ok = PyObject_RichCompareBool(v, *partition, Py_EQ) == 1;
        Py_DECREF(v);
        if (!ok)
            goto done;
    }
    if ((offset = call(msg, m_offset)) == NULL || (v = call(msg, m_value)) == NULL)
        goto done;
    tweets = message_tweets(v, max_bytes);
    Py_DECREF(v);
    if (tweets == NULL || tweets == Py_None)
        goto done;
    PyObject *when = *(PyObject **)((char *)PyList_GET_ITEM(tweets, 0) + tweet_layout.offset[2]); /* its ts */
    if (!PyFloat_CheckExact(when) || !(PyFloat_AS_DOUBLE(when) >= after))
        goto done;
    if (*key == NULL && (*key = PyTuple_Pack(2, topic, *partition)) == NULL)
        goto done;
    PyObject *item = PyTuple_Pack(2, tweets, fetched);
    if (item != NULL) {
        entry = PyTuple_Pack(3, *key, offset, item);
        Py_DECREF(item);
    }
    if (entry != NULL)
        *ts = PyFloat_AS_DOUBLE(when);
done:
    PyErr_Clear();
    Py_XDECREF(offset);
    Py_XDECREF(tweets);
    if (entry == NULL && *key == NULL)
        Py_CLEAR(*partition); /* the run's first message: it has no partition then */
    return entry;
}

PyDoc_STRVAR(tweet_run_doc,
"tweet_run(msgs, start, topic, max_bytes, fetched)\n--\n\n"
"The service's ingest of msgs[start:] (a list of Messages) as far as it is a run of one partition of `topic`,\n"
"each message holding one common v1.1 tweet (message_v11), in event-time order: (end, key, entries, times),\n"
"msgs[start:end] having made entries, the aligner's (key, offset, ([tweet], fetched)), with their event times;\n"
"None where msgs[start] begins no run (an error, another topic, a tweet message_v11 declines): the Python loop\n"
"takes it. Never raises but for a wrong argument.");

static PyObject *
tweet_run(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t start, max_bytes, end;
    if (nargs != 5 || !PyList_CheckExact(args[0]) || !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "tweet_run(msgs: list, start, topic: str, max_bytes, fetched)");
        return NULL;
    }
    if (((start = PyLong_AsSsize_t(args[1])) == -1 || (max_bytes = PyLong_AsSsize_t(args[3])) == -1)
        && PyErr_Occurred())
        return NULL;
    PyObject *msgs = args[0], *topic = args[2], *fetched = args[4], *partition = NULL, *key = NULL, *entry;
    PyObject *entries = PyList_New(0), *times = PyList_New(0), *result = NULL;
    double ts = -Py_HUGE_VAL;
    if (entries == NULL || times == NULL)
        goto done;
    for (end = start < 0 ? 0 : start; end < PyList_GET_SIZE(msgs); end++) {
        PyObject *msg = PyList_GET_ITEM(msgs, end);
        Py_INCREF(msg); /* a method it calls could, in principle, change the list */
        entry = tweet_entry(msg, topic, &partition, &key, max_bytes, fetched, ts, &ts);
        Py_DECREF(msg);
        if (entry == NULL)
            break;
        PyObject *when = PyFloat_FromDouble(ts);
        int failed = when == NULL || PyList_Append(entries, entry) < 0 || PyList_Append(times, when) < 0;
        Py_DECREF(entry);
        Py_XDECREF(when);
        if (failed)
            goto done;
    }
    if (PyList_GET_SIZE(entries) == 0)
        result = Py_NewRef(Py_None);
    else
        result = Py_BuildValue("(nOOO)", end, key, entries, times);
done:
    Py_XDECREF(partition);
    Py_XDECREF(key);
    Py_XDECREF(entries);
    Py_XDECREF(times);
    return result;
}

PyDoc_STRVAR(note_tweets_doc,
"note_tweets(released, partition_of, fetched_at)\n--\n\n"
"What the service notes of the entries the aligner released, ((topic, partition), offset, item): for each whose\n"
"item is (tweets, fetched), tweets a list, partition_of[tweet.account_id] = partition of each tweet and, where\n"
"tweets is not empty, fetched_at[tweets[-1].account_id] = fetched. Returns (how many non-empty such entries,\n"
"a list of the other entries, in order). decode.note_tweets_python is the definition.");

/* tweet.account_id: its slot where tweet is a Tweet of the bound layout; a new reference, or NULL (error set) */
static PyObject *
account_of(PyObject *tweet)
{
    if (bound && Py_TYPE(tweet) == tweet_layout.type) {
        PyObject *account = *(PyObject **)((char *)tweet + tweet_layout.offset[1]);
        if (account != NULL)
            return Py_NewRef(account);
    }
    return PyObject_GetAttrString(tweet, "account_id");
}

static PyObject *
note_tweets(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_CheckExact(args[0]) || !PyDict_Check(args[1]) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "note_tweets(released: list, partition_of: dict, fetched_at: dict)");
        return NULL;
    }
    PyObject *released = args[0], *partition_of = args[1], *fetched_at = args[2];
    PyObject *others = PyList_New(0);
    Py_ssize_t noted = 0;
    if (others == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(released); i++) {
        PyObject *entry = PyList_GET_ITEM(released, i), *key, *item;
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 3
                || !PyTuple_CheckExact(key = PyTuple_GET_ITEM(entry, 0)) || PyTuple_GET_SIZE(key) != 2) {
            PyErr_SetString(PyExc_TypeError, "note_tweets: an entry is not ((topic, partition), offset, item)");
            goto fail;
        }
        item = PyTuple_GET_ITEM(entry, 2);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) == 0 || !PyList_CheckExact(PyTuple_GET_ITEM(item, 0))) {
            if (PyList_Append(others, entry) < 0) /* a label or a dead letter: the service's loop takes it */
                goto fail;
            continue;
        }
        if (PyTuple_GET_SIZE(item) != 2) {
            PyErr_SetString(PyExc_TypeError, "note_tweets: an item of tweets is not (tweets, fetched)");
            goto fail;
        }
        PyObject *tweets = PyTuple_GET_ITEM(item, 0), *partition = PyTuple_GET_ITEM(key, 1), *account = NULL;
        Py_INCREF(entry); /* a tweet's __eq__ or __hash__ could, in principle, run Python that changes the list */
        for (Py_ssize_t j = 0; j < PyList_GET_SIZE(tweets); j++) {
            Py_XSETREF(account, account_of(PyList_GET_ITEM(tweets, j)));
            if (account == NULL || PyDict_SetItem(partition_of, account, partition) < 0) {
                Py_XDECREF(account);
                Py_DECREF(entry);
                goto fail;
            }
        }
        int failed = account != NULL && PyDict_SetItem(fetched_at, account, PyTuple_GET_ITEM(item, 1)) < 0;
        noted += account != NULL;
        Py_XDECREF(account);
        Py_DECREF(entry);
        if (failed)
            goto fail;
    }
    return Py_BuildValue("(nN)", noted, others);
fail:
    Py_DECREF(others);
    return NULL;
}

static PyMethodDef methods[] = {
    {"note_tweets", (PyCFunction)(void (*)(void))note_tweets, METH_FASTCALL, note_tweets_doc},
    {"tweet_run", (PyCFunction)(void (*)(void))tweet_run, METH_FASTCALL, tweet_run_doc},
    {"tweet_v11", tweet_v11, METH_O, tweet_v11_doc},
    {"scan_v11", scan_v11, METH_O, scan_v11_doc},
    {"message_v11", (PyCFunction)(void (*)(void))message_v11, METH_FASTCALL, message_v11_doc},
    {"bind", bind, METH_VARARGS, bind_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "consumer._decode",
    .m_doc = "The common case of consumer.decode's v1.1 tweet decoding, in C (see consumer/_decode.c).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__decode(void)
{
    static const char *const names[N_KEYS] = {
#define KEY_NAME(k) #k,
        KEYS(KEY_NAME)};
    init_scanner();
    if ((key_index = PyDict_New()) == NULL)
        return NULL;
    for (int i = 0; i < N_KEYS; i++) {
        PyObject *index = PyLong_FromLong(i);
        int failed = index == NULL || (keys[i] = PyUnicode_InternFromString(names[i])) == NULL
                     || PyDict_SetItem(key_index, keys[i], index) < 0;
        Py_XDECREF(index);
        if (failed)
            return NULL;
    }
    if ((m_error = PyUnicode_InternFromString("error")) == NULL
        || (m_topic = PyUnicode_InternFromString("topic")) == NULL
        || (m_partition = PyUnicode_InternFromString("partition")) == NULL
        || (m_offset = PyUnicode_InternFromString("offset")) == NULL
        || (m_value = PyUnicode_InternFromString("value")) == NULL)
        return NULL;
    if ((empty_str = PyUnicode_FromString("")) == NULL || (empty_dict = PyDict_New()) == NULL
        || (one = PyFloat_FromDouble(1.0)) == NULL || (zero = PyFloat_FromDouble(0.0)) == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
