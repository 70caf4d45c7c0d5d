/* consumer._score: the scoring of many accounts in one call, compiled.
 *
 * consumer/features.py defines an account's features (feature_row) and consumer/scoring.py the linear model's
 * score (linear_scores_python); this file computes both, bit for bit as Python does, over many accounts at
 * once. numpy does the same in ~40 whole-array expressions, each with a fixed cost of a few microseconds: on a
 * sparse stream, where a tick scores a handful of accounts, that fixed cost is most of the work. Here a call
 * costs well under a microsecond before its first account.
 *
 * Exactness: every operation is the one Python performs, in the same order, on the same doubles.
 *   - -ffp-contract=off keeps a*b+c two roundings, as in Python.
 *   - log, log2, log1p and exp are libm's, the functions Python's math module calls. The two constants that
 *     Python computes with them (52 * log(52) and log2(24)) are computed the same way at import, because the
 *     compiler would fold them itself, correctly rounded, where libm need not be.
 *   - Python's float // is not floor(a / b): float_floor_div (_common.h) is floatobject.c's algorithm.
 * Where feature_row raises (a state no update makes: a bitmap that is not finite or has more than 52 bits
 * set, a negative DT_M2, one tweet spanning a day), this code does not: such a feature gets what IEEE
 * arithmetic gives, NaN for the bitmap counts.
 *
 * No numpy C API: inputs and outputs are buffers of float64 (numpy arrays, array('d')), checked for size,
 * format, contiguity, writability and overlap. The GIL is held throughout: a call is short.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "_buffer.h"
#include "_common.h" /* float_floor_div() */
#include "_layout.h"

#define HOUR_ENTROPY_MIN_SPAN 86400.0
#define DOMAINS_MIN_URLS 8.0

static const char *const FEATURE_NAMES[] = {
    "statuses_count", "followers_count", "friends_count", "favourites_count", "listed_count",
    "default_profile", "profile_use_background_image", "verified", "tweet_freq", "followers_growth_rate",
    "friends_growth_rate", "favourites_growth_rate", "listed_growth_rate", "followers_friends_ratio",
    "screen_name_length", "num_digits_in_screen_name", "name_length", "num_digits_in_name",
    "description_length", "screen_name_likelihood",
    "tweet_rate", "interarrival_mean", "interarrival_cv", "burstiness", "hour_entropy",
    "url_ratio", "mention_ratio", "hashtag_ratio", "retweet_ratio", "reply_ratio", "quote_ratio",
    "distinct_url_domains", "duplicate_text_ratio", "near_duplicate_text_ratio", "source_diversity",
    "text_length_mean", "text_length_var",
};
#define NF ((int)(sizeof FEATURE_NAMES / sizeof FEATURE_NAMES[0]))

/* LAYOUT holds these too, beside the slots, NF, BITMAP_BITS and FEATURE_NAMES */
static const struct { const char *name; double value; } CONSTANTS[] = {
    {"_HOUR_SHIFT", HOUR_SHIFT}, {"_HOUR_CAP", HOUR_CAP},
    {"HOUR_ENTROPY_MIN_SPAN", HOUR_ENTROPY_MIN_SPAN}, {"DOMAINS_MIN_URLS", DOMAINS_MIN_URLS},
};

static double saturated_count;  /* features._linear_count of a full bitmap: 52 * math.log(52) */
static double max_hour_entropy; /* features._MAX_HOUR_ENTROPY: math.log2(24) */

/* ------------------------------------------------------------------ the features */

/* int(bits).bit_count(): int() truncates towards zero and bit_count() counts the ones of |int|. -1 where
 * int() raises (NaN, infinity). */
static int bit_count(double bits)
{
    if (!isfinite(bits))
        return -1;
    double a = fabs(bits);
    if (a < 18446744073709551616.0) /* 2**64 */
        return __builtin_popcountll((unsigned long long)a);
    uint64_t u; /* an integer already, its 53-bit significand shifted left: those are its ones */
    memcpy(&u, &a, sizeof u);
    return __builtin_popcountll((u & ((UINT64_C(1) << 52) - 1)) | (UINT64_C(1) << 52));
}

/* features._linear_count */
static double linear_count(double bits)
{
    int ones = bit_count(bits);
    if (ones < 0)
        return NAN;
    int zeros = BITMAP_BITS - ones;
    if (zeros == 0)
        return saturated_count;
    return -(double)BITMAP_BITS * log((double)zeros / BITMAP_BITS); /* log of a negative: NaN */
}

/* features._hour_entropy */
static double hour_entropy(const double *s, double n)
{
    if (!(s[LAST_TS] - s[FIRST_TS] >= HOUR_ENTROPY_MIN_SPAN))
        return NAN;
    double total = n <= HOUR_CAP ? n : HOUR_CAP;
    double pairs = 0.0;
    for (int i = HOURS; i < HOURS + 12; i++) {
        double v = s[i];
        if (v != 0.0) { /* Python's `if v:`, NaN included */
            double hi = float_floor_div(v, HOUR_SHIFT);
            double lo = v - hi * HOUR_SHIFT;
            pairs += lo * (lo - 1.0) + hi * (hi - 1.0);
        }
    }
    double collision = pairs / (total * (total - 1.0));
    return collision <= 1.0 / 24.0 ? max_hour_entropy : -log2(collision);
}

/* features.feature_row, line by line */
static void feature_row(const double *s, double *out)
{
    double n = s[N];
    if (n == 0.0) {
        for (int j = 0; j < NF; j++)
            out[j] = NAN;
        return;
    }
    double age_days = (s[P_TS] - s[P_CREATED]) / 86400.0;
    age_days = age_days >= 1.0 ? age_days : (age_days == age_days ? 1.0 : NAN);
    double friends = s[P_FRIENDS];
    double k = s[N_DT];
    double dt_mean = k >= 1.0 ? s[DT_MEAN] : NAN;
    double cv = NAN, burst = NAN;
    if (k >= 2.0) {
        double dt_sd = sqrt(s[DT_M2] / k);
        cv = dt_mean > 0 ? dt_sd / dt_mean : 0.0;
        burst = dt_sd + dt_mean > 0 ? (dt_sd - dt_mean) / (dt_sd + dt_mean) : 0.0;
    }
    double span_h = (s[LAST_TS] - s[FIRST_TS]) / 3600.0;
    double rate = span_h > 0 ? (n - 1.0) / span_h : NAN;
    double n_text = s[N_TEXT];
    double dup = NAN, near_dup = NAN, len_mean = NAN, len_var = NAN;
    if (n_text != 0.0) { /* Python's `if n_text:`, NaN included */
        dup = s[N_DUP] / n_text;
        near_dup = s[N_NEAR_DUP] / n_text;
        len_mean = s[LEN_MEAN];
        len_var = s[LEN_M2] / n_text;
    }
    const double row[] = {
        s[P_STATUSES], s[P_FOLLOWERS], friends, s[P_FAVOURITES], s[P_LISTED],
        s[P_DEFAULT], s[P_BACKGROUND], s[P_VERIFIED],
        s[P_STATUSES] / age_days, s[P_FOLLOWERS] / age_days, friends / age_days,
        s[P_FAVOURITES] / age_days, s[P_LISTED] / age_days,
        friends == friends ? s[P_FOLLOWERS] / (1.0 > friends ? 1.0 : friends) : NAN, /* max(friends, 1.0) */
        s[P_SN_LEN], s[P_SN_DIGITS], s[P_NAME_LEN], s[P_NAME_DIGITS], s[P_DESC_LEN],
        s[P_SN_LIKELIHOOD],
        rate, dt_mean, cv, burst, hour_entropy(s, n),
        s[N_URL] / n, s[N_MENTION] / n, s[N_HASHTAG] / n,
        s[N_RETWEET] / n, s[N_REPLY] / n, s[N_QUOTE] / n,
        s[N_URL] >= DOMAINS_MIN_URLS ? linear_count(s[DOMAIN_BITS]) : NAN,
        dup, near_dup,
        s[SOURCE_BITS] != 0.0 ? linear_count(s[SOURCE_BITS]) : NAN,
        len_mean, len_var,
    };
    _Static_assert(sizeof row / sizeof row[0] == NF, "one value per feature");
    memcpy(out, row, sizeof row);
}

/* ------------------------------------------------------------------ the linear score */

/* log1p of the whole numbers below SMALL_WHOLE, as libm computes them (at import): about half of an account's
 * features are such counts (lengths, digits, flags, listed), and the logarithm is most of a score's cost */
#define SMALL_WHOLE 4096
static double log1p_whole[SMALL_WHOLE];

static double log1p_of_magnitude(double a)
{
    return a < SMALL_WHOLE && a == (double)(int)a ? log1p_whole[(int)a] : log1p(a);
}

/* scoring.linear_scores_python's row: each feature's contribution, and the score */
static double linear_row(const double *x, const double *means, const double *stds, const double *weights,
                         double clip, double intercept, double *contrib)
{
    double total = 0.0;
    for (int j = 0; j < NF; j++) {
        double c = 0.0; /* an unknown feature's z, and so its contribution, is NaN: it contributes 0.0 */
        if (x[j] == x[j]) {
            double z = (copysign(log1p_of_magnitude(fabs(x[j])), x[j]) - means[j]) / stds[j];
            z = z > clip ? clip : (z < -clip ? -clip : z);
            c = z * weights[j];
            c = c != c ? 0.0 : c;
        }
        contrib[j] = c;
        total += c;
    }
    double logit = total + intercept;
    logit = logit > 30.0 ? 30.0 : (logit < -30.0 ? -30.0 : logit);
    return 1.0 / (1.0 + exp(-logit));
}

/* ------------------------------------------------------------------ buffers */

/* `view` of `obj` as `count` contiguous float64s, writable if asked. 0, or -1 with an exception set (and
 * nothing held). */
static int get_doubles(PyObject *obj, Py_buffer *view, Py_ssize_t count, int writable, const char *what)
{
    if (get_float64_buffer(obj, view, writable, what) < 0)
        return -1;
    if (view->len != count * (Py_ssize_t)sizeof(double)) {
        PyErr_Format(PyExc_ValueError, "%s holds %zd doubles, not %zd", what,
                     view->len / (Py_ssize_t)sizeof(double), count);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static int overlap(const Py_buffer *a, const Py_buffer *b)
{
    uintptr_t a0 = (uintptr_t)a->buf, b0 = (uintptr_t)b->buf;
    return a->len > 0 && b->len > 0 && a0 < b0 + (uintptr_t)b->len && b0 < a0 + (uintptr_t)a->len;
}

static void release_all(Py_buffer *views, int count)
{
    for (int k = 0; k < count; k++)
        PyBuffer_Release(&views[k]);
}

/* What one argument must be: args[arg], `per_row` doubles for each of the n rows (or `per_row` doubles in all
 * where `rows` is 0), writable for an output. An output may overlap nothing else. */
struct spec { int arg; Py_ssize_t per_row; int rows; int writable; const char *what; };

/* views[k] of every spec's argument: 0 with all held, or -1 with an exception set and none held */
static int get_all(PyObject *const *args, Py_ssize_t n, const struct spec *specs, int count, Py_buffer *views)
{
    int k;
    for (k = 0; k < count; k++) {
        const struct spec *sp = &specs[k];
        if (get_doubles(args[sp->arg], &views[k], sp->rows ? n * sp->per_row : sp->per_row, sp->writable,
                        sp->what) < 0)
            break;
        int other = 0;
        while (other < k && !((sp->writable || specs[other].writable) && overlap(&views[k], &views[other])))
            other++;
        if (other < k) {
            PyErr_Format(PyExc_ValueError, "%s overlaps %s", sp->what, specs[other].what);
            PyBuffer_Release(&views[k]);
            break;
        }
    }
    if (k == count)
        return 0;
    release_all(views, k);
    return -1;
}

/* The row count n; -1 with an exception set if it is not an integer from 0 to what `per_row` doubles a row
 * allow in memory. */
static Py_ssize_t row_count(PyObject *obj, Py_ssize_t per_row)
{
    Py_ssize_t n = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        return -1;
    if (n < 0 || n > PY_SSIZE_T_MAX / (per_row * (Py_ssize_t)sizeof(double))) {
        PyErr_Format(PyExc_ValueError, "n must be a row count from 0 on, not %zd", n);
        return -1;
    }
    return n;
}

/* ------------------------------------------------------------------ the module */

PyDoc_STRVAR(feature_rows_doc,
"feature_rows(S, n, out) -> None\n--\n\n"
"Write features.feature_row of each of the n states stacked in S (n * SLOTS float64, row-major) into out\n"
"(n * NF float64), bit for bit.");

static PyObject *feature_rows(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "feature_rows(S, n, out) takes 3 arguments, not %zd", nargs);
        return NULL;
    }
    Py_ssize_t n = row_count(args[1], SLOTS);
    if (n < 0)
        return NULL;
    static const struct spec specs[] = {{0, SLOTS, 1, 0, "S"}, {2, NF, 1, 1, "out"}};
    Py_buffer views[2];
    if (get_all(args, n, specs, 2, views) < 0)
        return NULL;
    const double *S = views[0].buf;
    double *out = views[1].buf;
    for (Py_ssize_t i = 0; i < n; i++)
        feature_row(S + i * SLOTS, out + i * NF);
    release_all(views, 2);
    Py_RETURN_NONE;
}

/* -1 with ValueError set if a std is 0 (Python's division would raise; Model._linear_params makes them 1) */
static int refuse_zero_std(const double *stds)
{
    for (int j = 0; j < NF; j++)
        if (stds[j] == 0.0) {
            PyErr_Format(PyExc_ValueError, "stds[%d] (%s) is 0", j, FEATURE_NAMES[j]);
            return -1;
        }
    return 0;
}

PyDoc_STRVAR(linear_scores_doc,
"linear_scores(rows, n, means, stds, weights, clip, intercept, contrib_out, scores_out) -> None\n--\n\n"
"scoring.linear_scores_python, bit for bit: each feature's contribution to the logit into contrib_out\n"
"(n * NF float64) and P(bot) into scores_out (n float64), from n rows of NF features (rows, n * NF\n"
"float64), and NF float64 each of means, stds (none 0) and weights.");

static PyObject *linear_scores(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_Format(PyExc_TypeError, "linear_scores(rows, n, means, stds, weights, clip, intercept, "
                     "contrib_out, scores_out) takes 9 arguments, not %zd", nargs);
        return NULL;
    }
    Py_ssize_t n = row_count(args[1], NF);
    if (n < 0)
        return NULL;
    double clip = PyFloat_AsDouble(args[5]);
    if (clip == -1.0 && PyErr_Occurred())
        return NULL;
    double intercept = PyFloat_AsDouble(args[6]);
    if (intercept == -1.0 && PyErr_Occurred())
        return NULL;
    static const struct spec specs[] = {
        {0, NF, 1, 0, "rows"}, {2, NF, 0, 0, "means"}, {3, NF, 0, 0, "stds"}, {4, NF, 0, 0, "weights"},
        {7, NF, 1, 1, "contrib_out"}, {8, 1, 1, 1, "scores_out"},
    };
    Py_buffer views[6];
    if (get_all(args, n, specs, 6, views) < 0)
        return NULL;
    const double *rows = views[0].buf, *means = views[1].buf, *stds = views[2].buf, *weights = views[3].buf;
    double *contrib = views[4].buf, *scores = views[5].buf;
    if (refuse_zero_std(stds) < 0) {
        release_all(views, 6);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        scores[i] = linear_row(rows + i * NF, means, stds, weights, clip, intercept, contrib + i * NF);
    release_all(views, 6);
    Py_RETURN_NONE;
}

/* `view` of states[i], SLOTS float64, writable if asked, overlapping nothing of `other` (the call's other
 * buffer, named `other_name`). 0, or -1 with an exception set (and nothing held). */
static int get_state(PyObject *states, Py_ssize_t i, Py_buffer *view, int writable, const Py_buffer *other,
                     const char *other_name)
{
    if (get_doubles(PyList_GET_ITEM(states, i), view, SLOTS, writable, "a state") < 0)
        return -1;
    if (overlap(view, other)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_ValueError, "%s overlaps states[%zd]", other_name, i);
        return -1;
    }
    return 0;
}

/* The length of the list states, args[0], of a call of `signature` with 2 arguments; -1 with an exception set
 * if the call has another count or states is no list */
static Py_ssize_t states_length(PyObject *const *args, Py_ssize_t nargs, const char *signature)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "%s takes 2 arguments, not %zd", signature, nargs);
        return -1;
    }
    if (!PyList_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "states must be a list, not %.100s", Py_TYPE(args[0])->tp_name);
        return -1;
    }
    return PyList_GET_SIZE(args[0]);
}

PyDoc_STRVAR(stack_states_doc,
"stack_states(states, out)\n--\n\n"
"Copy each state of the list states (SLOTS float64: an array('d')) into the next SLOTS doubles of out "
"(len(states) * SLOTS float64, writable). feature_matrix.stack is the definition.");

static PyObject *stack_states(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n = states_length(args, nargs, "stack_states(states, out)");
    if (n < 0)
        return NULL;
    Py_buffer out, state;
    if (get_doubles(args[1], &out, n * SLOTS, 1, "out") < 0)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) { /* no Python code runs here: the list cannot change under us */
        if (get_state(args[0], i, &state, 0, &out, "out") < 0) {
            PyBuffer_Release(&out);
            return NULL;
        }
        memcpy((double *)out.buf + i * SLOTS, state.buf, SLOTS * sizeof(double));
        PyBuffer_Release(&state);
    }
    PyBuffer_Release(&out);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(store_scores_doc,
"store_scores(states, scores)\n--\n\n"
"For each state of the list states and its score (scores: len(states) float64), state[SCORE] = score and "
"state[SCORE_N] = state[N]. scoring.store_scores_python is the definition.");

static PyObject *store_scores(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t n = states_length(args, nargs, "store_scores(states, scores)");
    if (n < 0)
        return NULL;
    Py_buffer scores, state;
    if (get_doubles(args[1], &scores, n, 0, "scores") < 0)
        return NULL;
    /* every state is checked before any is written: a bad item leaves them all as they were */
    for (int pass = 0; pass < 2; pass++)
        for (Py_ssize_t i = 0; i < n; i++) {
            if (get_state(args[0], i, &state, 1, &scores, "scores") < 0) { /* only in the first pass */
                PyBuffer_Release(&scores);
                return NULL;
            }
            if (pass) {
                double *s = state.buf;
                s[SCORE] = ((const double *)scores.buf)[i];
                s[SCORE_N] = s[N];
            }
            PyBuffer_Release(&state);
        }
    PyBuffer_Release(&scores);
    Py_RETURN_NONE;
}

/* FEATURE_NAMES as str objects, made once at import: a label's dict takes them as its keys */
static PyObject *feature_name_objects[NF];

PyDoc_STRVAR(known_features_doc,
"known_features(state)\n--\n\n"
"The features of state (SLOTS float64) as a dict, name -> float in FEATURE_NAMES order, the unknown (NaN) left "
"out: features.feature_dict(features.feature_row(state)), bit for bit.");

static PyObject *known_features(PyObject *Py_UNUSED(module), PyObject *state_obj)
{
    Py_buffer state;
    double row[NF];
    if (get_doubles(state_obj, &state, SLOTS, 0, "a state") < 0)
        return NULL;
    feature_row(state.buf, row);
    PyBuffer_Release(&state);
    PyObject *known = PyDict_New();
    for (int j = 0; known != NULL && j < NF; j++) {
        if (row[j] != row[j])
            continue;
        PyObject *value = PyFloat_FromDouble(row[j]);
        if (value == NULL || PyDict_SetItem(known, feature_name_objects[j], value) < 0)
            Py_CLEAR(known);
        Py_XDECREF(value);
    }
    return known;
}

PyDoc_STRVAR(idle_accounts_doc,
"idle_accounts(accounts, horizon)\n--\n\n"
"The keys of the dict accounts (account id -> state) whose state's LAST_TS is before horizon, in the dict's "
"order. scoring.idle_accounts_python is the definition.");

static PyObject *idle_accounts(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "idle_accounts(accounts, horizon) takes 2 arguments, not %zd", nargs);
        return NULL;
    }
    if (!PyDict_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "accounts must be a dict, not %.100s", Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    double horizon = PyFloat_AsDouble(args[1]);
    if (horizon == -1.0 && PyErr_Occurred())
        return NULL;
    PyObject *idle = PyList_New(0), *key, *value;
    if (idle == NULL)
        return NULL;
    Py_buffer state;
    Py_ssize_t pos = 0;
    while (PyDict_Next(args[0], &pos, &key, &value)) { /* no Python code runs here: the dict cannot change */
        if (get_doubles(value, &state, SLOTS, 0, "a state") < 0) {
            Py_DECREF(idle);
            return NULL;
        }
        int is_idle = ((const double *)state.buf)[LAST_TS] < horizon;
        PyBuffer_Release(&state);
        if (is_idle && PyList_Append(idle, key) < 0) {
            Py_DECREF(idle);
            return NULL;
        }
    }
    return idle;
}

PyDoc_STRVAR(ready_scores_doc,
"ready_scores(states, min_tweets, excluded_action, means, stds, weights, clip, intercept, out) -> int\n--\n\n"
"The linear score of each state of the list states that is ready (N >= min_tweets, ACTION != excluded_action),\n"
"straight from the states: scoring.ready_scores_python, bit for bit. For the k-th ready state, the k-th five\n"
"doubles of out (len(states) * 5 float64) get its index in states, its score, N, ACTION and its previous\n"
"score (SCORE if N > SCORE_N, else NaN). Returns how many states were ready.");

/* A rescan scores every account to find the few whose action changes: stacking every state (608 bytes) and its
 * feature row and contributions into matrices first cost as much as the scoring. Here one state at a time is
 * read in place, its row and contributions kept on the stack. */
static PyObject *ready_scores(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9) {
        PyErr_Format(PyExc_TypeError, "ready_scores(states, min_tweets, excluded_action, means, stds, weights, "
                     "clip, intercept, out) takes 9 arguments, not %zd", nargs);
        return NULL;
    }
    if (!PyList_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "states must be a list, not %.100s", Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(args[0]);
    double number[4]; /* min_tweets, excluded_action, clip, intercept */
    const int number_arg[4] = {1, 2, 6, 7};
    for (int k = 0; k < 4; k++) {
        number[k] = PyFloat_AsDouble(args[number_arg[k]]);
        if (number[k] == -1.0 && PyErr_Occurred())
            return NULL;
    }
    static const struct spec specs[] = {
        {3, NF, 0, 0, "means"}, {4, NF, 0, 0, "stds"}, {5, NF, 0, 0, "weights"}, {8, 5, 1, 1, "out"},
    };
    Py_buffer views[4], state;
    if (get_all(args, n, specs, 4, views) < 0)
        return NULL;
    const double *means = views[0].buf, *stds = views[1].buf, *weights = views[2].buf;
    double *out = views[3].buf;
    if (refuse_zero_std(stds) < 0) {
        release_all(views, 4);
        return NULL;
    }
    Py_ssize_t ready = 0;
    double row[NF], contrib[NF];
    for (Py_ssize_t i = 0; i < n; i++) { /* no Python code runs here: the list cannot change under us */
        if (get_state(args[0], i, &state, 0, &views[3], "out") < 0) {
            release_all(views, 4);
            return NULL;
        }
        const double *s = state.buf;
        if (s[N] >= number[0] && s[ACTION] != number[1]) {
            feature_row(s, row);
            double *o = out + ready * 5;
            o[0] = (double)i;
            o[1] = linear_row(row, means, stds, weights, number[2], number[3], contrib);
            o[2] = s[N];
            o[3] = s[ACTION];
            o[4] = s[N] > s[SCORE_N] ? s[SCORE] : NAN;
            ready++;
        }
        PyBuffer_Release(&state);
    }
    release_all(views, 4);
    return PyLong_FromSsize_t(ready);
}

/* The reasons' keys and round(), fetched once at import */
static PyObject *reason_keys[3]; /* "feature", "value", "contribution" */
static PyObject *round_function, *six_digits;

/* round(x, 6) as Python computes it, a new reference or NULL.
 *
 * Python rounds the exact decimal value of x * 10**6 to an integer R (half to even) and returns the double
 * nearest R / 10**6, through a decimal string (0.6 us). y = x * 1e6 is within half an ulp of that exact
 * product, so r = nearbyint(y) is R unless a half-integer lies within an ulp of y: those (ties, and y too
 * large to have a fraction) take the builtin, as do infinities and NaN (the comparison is false). r / 1e6,
 * of two exact doubles, is correctly rounded as the string's conversion is, and nearbyint keeps a zero's
 * sign as Python does. tests/test_scoring.py holds this to round(). */
static PyObject *rounded(double x)
{
    double y = x * 1e6, r = nearbyint(y);
    if (0.5 - fabs(y - r) > nextafter(fabs(y), INFINITY) - fabs(y))
        return PyFloat_FromDouble(r / 1e6);
    PyObject *value = PyFloat_FromDouble(x);
    if (value == NULL)
        return NULL;
    PyObject *args[2] = {value, six_digits};
    PyObject *result = PyObject_Vectorcall(round_function, args, 2, NULL);
    Py_DECREF(value);
    return result;
}

/* {"feature": name, "value": round(value, 6), "contribution": round(contribution, 6)}, or NULL */
static PyObject *reason(int j, double value, double contribution)
{
    PyObject *out = PyDict_New();
    if (out == NULL)
        return NULL;
    PyObject *figures[3] = {Py_NewRef(feature_name_objects[j]), rounded(value), rounded(contribution)};
    int failed = 0;
    for (int k = 0; k < 3; k++) {
        failed = failed || figures[k] == NULL || PyDict_SetItem(out, reason_keys[k], figures[k]) < 0;
        Py_XDECREF(figures[k]);
    }
    if (failed)
        Py_CLEAR(out);
    return out;
}

#define MAX_TOP NF

PyDoc_STRVAR(top_reasons_doc,
"top_reasons(rows, contributions, n, top) -> list\n--\n\n"
"scoring.top_reasons_python over FEATURE_NAMES: for each of the n rows (rows and contributions, n * NF float64\n"
"each), the reasons of its top (0 to NF) features by positive contribution, highest first, ties in feature\n"
"order: a list of {'feature', 'value', 'contribution'} dicts, each figure round()-ed to 6 digits.");

static PyObject *top_reasons(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "top_reasons(rows, contributions, n, top) takes 4 arguments, not %zd", nargs);
        return NULL;
    }
    Py_ssize_t n = row_count(args[2], NF);
    if (n < 0)
        return NULL;
    Py_ssize_t top = PyNumber_AsSsize_t(args[3], PyExc_OverflowError);
    if (top == -1 && PyErr_Occurred())
        return NULL;
    if (top < 0 || top > MAX_TOP) {
        PyErr_Format(PyExc_ValueError, "top must be from 0 to %d, not %zd", MAX_TOP, top);
        return NULL;
    }
    static const struct spec specs[] = {{0, NF, 1, 0, "rows"}, {1, NF, 1, 0, "contributions"}};
    Py_buffer views[2];
    if (get_all(args, n, specs, 2, views) < 0)
        return NULL;
    const double *rows = views[0].buf, *contributions = views[1].buf;
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        const double *c = contributions + i * NF;
        int best[MAX_TOP], kept = 0;
        for (int j = 0; j < NF; j++) {
            if (!(c[j] > 0.0)) /* NaN is no reason either */
                continue;
            int at = kept < top ? kept++ : (int)top; /* where c[j] goes in from: past the end if it is not in */
            while (at > 0 && c[best[at - 1]] < c[j]) { /* strictly: an earlier feature keeps a tie */
                if (at < top)
                    best[at] = best[at - 1];
                at--;
            }
            if (at < top)
                best[at] = j;
        }
        PyObject *reasons = PyList_New(kept);
        for (int k = 0; reasons != NULL && k < kept; k++) {
            PyObject *one = reason(best[k], rows[i * NF + best[k]], c[best[k]]);
            if (one == NULL)
                Py_CLEAR(reasons);
            else
                PyList_SET_ITEM(reasons, k, one);
        }
        if (reasons == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, reasons);
    }
    release_all(views, 2);
    return out;
}

static PyMethodDef methods[] = {
    {"feature_rows", (PyCFunction)(void (*)(void))feature_rows, METH_FASTCALL, feature_rows_doc},
    {"linear_scores", (PyCFunction)(void (*)(void))linear_scores, METH_FASTCALL, linear_scores_doc},
    {"stack_states", (PyCFunction)(void (*)(void))stack_states, METH_FASTCALL, stack_states_doc},
    {"store_scores", (PyCFunction)(void (*)(void))store_scores, METH_FASTCALL, store_scores_doc},
    {"idle_accounts", (PyCFunction)(void (*)(void))idle_accounts, METH_FASTCALL, idle_accounts_doc},
    {"known_features", known_features, METH_O, known_features_doc},
    {"ready_scores", (PyCFunction)(void (*)(void))ready_scores, METH_FASTCALL, ready_scores_doc},
    {"top_reasons", (PyCFunction)(void (*)(void))top_reasons, METH_FASTCALL, top_reasons_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumer._score",
    "consumer.scoring's kernel: the states, feature rows and linear scores of many accounts; consumer/scoring.py "
    "defines them.",
    -1, methods, NULL, NULL, NULL, NULL,
};

/* dict[name] = value, the reference to value taken over; -1 on error, value NULL included */
static int put(PyObject *dict, const char *name, PyObject *value)
{
    int result = value == NULL ? -1 : PyDict_SetItemString(dict, name, value);
    Py_XDECREF(value);
    return result;
}

static PyObject *feature_names(void) /* feature_name_objects as a tuple (made before the module) */
{
    PyObject *names = PyTuple_New(NF);
    for (int j = 0; names != NULL && j < NF; j++)
        PyTuple_SET_ITEM(names, j, Py_NewRef(feature_name_objects[j]));
    return names;
}

static int add_layout(PyObject *module)
{
    PyObject *layout = PyDict_New();
    if (layout == NULL || put(layout, "FEATURE_NAMES", feature_names()) < 0 ||
        put(layout, "NF", PyLong_FromLong(NF)) < 0 || put(layout, "BITMAP_BITS", PyLong_FromLong(BITMAP_BITS)) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof LAYOUT / sizeof LAYOUT[0]; i++)
        if (put(layout, LAYOUT[i].name, PyLong_FromLong(LAYOUT[i].slot)) < 0)
            goto fail;
    for (size_t i = 0; i < sizeof CONSTANTS / sizeof CONSTANTS[0]; i++)
        if (put(layout, CONSTANTS[i].name, PyFloat_FromDouble(CONSTANTS[i].value)) < 0)
            goto fail;
    if (PyModule_AddObject(module, "LAYOUT", layout) == 0)
        return 0;
fail:
    Py_XDECREF(layout);
    return -1;
}

PyMODINIT_FUNC PyInit__score(void)
{
    /* volatile: computed by libm at run time, as Python computes them, not folded by the compiler */
    volatile double bitmap_bits = BITMAP_BITS, hours = 24.0;
    saturated_count = BITMAP_BITS * log(bitmap_bits);
    max_hour_entropy = log2(hours);
    for (volatile int i = 0; i < SMALL_WHOLE; i++)
        log1p_whole[i] = log1p((double)i);
    for (int j = 0; j < NF; j++) {
        if (feature_name_objects[j] == NULL)
            feature_name_objects[j] = PyUnicode_InternFromString(FEATURE_NAMES[j]);
        if (feature_name_objects[j] == NULL)
            return NULL;
    }
    static const char *const reason_key_names[3] = {"feature", "value", "contribution"};
    for (int k = 0; k < 3; k++) {
        if (reason_keys[k] == NULL)
            reason_keys[k] = PyUnicode_InternFromString(reason_key_names[k]);
        if (reason_keys[k] == NULL)
            return NULL;
    }
    if (six_digits == NULL && (six_digits = PyLong_FromLong(6)) == NULL)
        return NULL;
    if (round_function == NULL) {
        PyObject *builtins = PyImport_ImportModule("builtins");
        round_function = builtins == NULL ? NULL : PyObject_GetAttrString(builtins, "round");
        Py_XDECREF(builtins);
        if (round_function == NULL)
            return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && add_layout(module) < 0)
        Py_CLEAR(module);
    return module;
}
