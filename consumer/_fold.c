/* consumer._fold: the common tweet of consumer.detector.Detector.process, folded in C.
 *
 * Detector.process's Python loop body is the definition of what an event does; this file is its fast path for
 * the event nearly every event is: a Tweet, with no tick end, expiry or pending label to handle before it, of
 * an account that is known (or new, with no label waiting for it). fold_tweets() takes a run of such tweets
 * and does to the detector, tweet by tweet and in the same order, exactly what that body does:
 *
 *     stream_time = max(stream_time, ts)
 *     state = accounts.get(account_id), or a new features.new_state() stored in accounts
 *     if features.update(state, tweet):
 *         if account_id not in _dirty:               # Detector._mark_dirty -> _wait_for
 *             end = (ts // tick + 1.0) * tick
 *             _dirty[account_id] = end
 *             _ticks.setdefault(end, {})[account_id] = state
 *             _open_until = min(_open_until, end)
 *         changed.add(account_id); result.tweets += 1
 *     else:
 *         result.duplicates += 1
 *
 * It stops, before it touches anything for it, at the first event that is not such a tweet, and returns its
 * index; Python then runs the body for that one event and calls it again. It also stops at anything it would
 * have to guess at: an event, a time or a detector attribute that is not of the exact type the detector
 * makes (a Tweet subclass, an int time, a float subclass, ...). The update called is whatever
 * consumer.features.update is at the call (the compiled one, or update_python), and its exceptions are
 * raised as they come, after what was done before them has been written back.
 *
 * A call covers a run, so the detector's attributes are read once a call and the few it changes are
 * written back once, at the end of the run (or of an error): nothing but the update and new_state runs in
 * between, and neither looks at the detector.
 *
 * What the body does for such a tweet is written twice, there and here: a change to it (or to _mark_dirty,
 * _wait_for, or to what stops a run) must be made in both. tests/test_fold.py holds the two alike, call by
 * call, on generated streams with labels, duplicates, expiry and horizon stops, and at each stop.
 *
 * Floating point: the build passes -ffp-contract=off, as for consumer._features; the tick end is computed
 * as CPython's float floor division computes it (float_floor_div in Objects/floatobject.c).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "_common.h" /* member_offsets(), slot_of(), float_floor_div() */

/* ------------------------------------------------------------------ what bind() hands over */

enum { TW_TS, TW_ACCOUNT, TWEET_FIELDS };
static const char *const TWEET_NAMES[TWEET_FIELDS] = {"ts", "account_id"};

static struct {
    PyTypeObject *tweet_type;            /* events.Tweet: exactly this class is folded */
    Py_ssize_t tweet_offset[TWEET_FIELDS];
    PyObject *features;                  /* consumer.features: its update and new_state, read at each call */
} bound;

/* The detector's attributes, BatchResult's counters and the features module's functions, interned. */
enum {
    A_ACCOUNTS, A_DIRTY, A_TICKS, A_CHANGED, A_UNSEEN, A_PENDING, A_TICK, A_STREAM_TIME, A_OPEN_UNTIL,
    A_NEXT_EXPIRY, A_TWEETS, A_DUPLICATES, A_UPDATE, A_NEW_STATE, NAMES
};
static const char *const NAME_TEXT[NAMES] = {
    "accounts", "_dirty", "_ticks", "changed", "unseen_labels", "_pending", "tick", "stream_time", "_open_until",
    "_next_expiry", "tweets", "duplicates", "update", "new_state"};
static PyObject *name[NAMES];

/* ------------------------------------------------------------------ the tick end */

/* Detector._mark_dirty's end of the tick of ts: (ts // tick + 1.0) * tick */
static inline double end_of_tick(double ts, double tick)
{
    return (float_floor_div(ts, tick) + 1.0) * tick;
}

/* ------------------------------------------------------------------ a run */

typedef struct {
    /* new references, read at the start */
    PyObject *accounts, *dirty, *ticks, *changed, *unseen, *update, *new_state;
    PyObject *stream_time, *open_until; /* the objects the attributes hold (replaced as Python would) */
    PyObject *stream_time0, *open_until0; /* what they held at the start: written back only if replaced */
    double tick, stream_time_v, open_until_v, next_expiry;
    int has_pending;
    double pending_at; /* _pending[0][0]: the earliest label waiting */
    Py_ssize_t tweets, duplicates, tweets0, duplicates0;
} Run;

static void run_clear(Run *r)
{
    Py_CLEAR(r->accounts);
    Py_CLEAR(r->dirty);
    Py_CLEAR(r->ticks);
    Py_CLEAR(r->changed);
    Py_CLEAR(r->unseen);
    Py_CLEAR(r->update);
    Py_CLEAR(r->new_state);
    Py_CLEAR(r->stream_time);
    Py_CLEAR(r->open_until);
    Py_CLEAR(r->stream_time0);
    Py_CLEAR(r->open_until0);
}

/* An attribute that must be of exactly one type: 1 and a new reference, 0 if it is of another type (the run
 * declines), -1 with an error if it is missing. */
static int exact_attr(PyObject *obj, int which, PyTypeObject *type, PyObject **out)
{
    PyObject *value = PyObject_GetAttr(obj, name[which]);
    if (value == NULL)
        return -1;
    if (Py_TYPE(value) != type) {
        Py_DECREF(value);
        return 0;
    }
    *out = value;
    return 1;
}

static int float_attr(PyObject *obj, int which, PyObject **out, double *v)
{
    int ok = exact_attr(obj, which, &PyFloat_Type, out);
    if (ok > 0)
        *v = PyFloat_AS_DOUBLE(*out);
    return ok;
}

static int count_attr(PyObject *result, int which, Py_ssize_t *v)
{
    PyObject *value;
    int ok = exact_attr(result, which, &PyLong_Type, &value);
    if (ok <= 0)
        return ok;
    *v = PyLong_AsSsize_t(value);
    Py_DECREF(value);
    if (*v == -1 && PyErr_Occurred()) { /* past a Py_ssize_t: Python counts on; so does Python's body */
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* Read what a run needs: 1 if it may go, 0 if it declines, -1 on error. */
static int run_load(Run *r, PyObject *detector, PyObject *result)
{
    int ok;
    PyObject *tick, *next_expiry, *pending;
#define TAKE(call)              \
    if ((ok = (call)) <= 0)     \
        return ok;
    TAKE(exact_attr(detector, A_ACCOUNTS, &PyDict_Type, &r->accounts));
    TAKE(exact_attr(detector, A_DIRTY, &PyDict_Type, &r->dirty));
    TAKE(exact_attr(detector, A_TICKS, &PyDict_Type, &r->ticks));
    TAKE(exact_attr(detector, A_CHANGED, &PySet_Type, &r->changed));
    TAKE(exact_attr(detector, A_UNSEEN, &PyDict_Type, &r->unseen));
    TAKE(float_attr(detector, A_STREAM_TIME, &r->stream_time, &r->stream_time_v));
    TAKE(float_attr(detector, A_OPEN_UNTIL, &r->open_until, &r->open_until_v));
    TAKE(float_attr(detector, A_NEXT_EXPIRY, &next_expiry, &r->next_expiry));
    Py_DECREF(next_expiry);
    TAKE(count_attr(result, A_TWEETS, &r->tweets));
    TAKE(count_attr(result, A_DUPLICATES, &r->duplicates));
    r->tweets0 = r->tweets;
    r->duplicates0 = r->duplicates;
    r->stream_time0 = Py_NewRef(r->stream_time);
    r->open_until0 = Py_NewRef(r->open_until);

    /* the tick: a float, or an int as float floor division converts it (PyLong_AsDouble); not 0, where
     * Python raises ZeroDivisionError when it marks an account */
    if ((tick = PyObject_GetAttr(detector, name[A_TICK])) == NULL)
        return -1;
    ok = 0;
    if (PyFloat_CheckExact(tick)) {
        r->tick = PyFloat_AS_DOUBLE(tick);
        ok = 1;
    }
    else if (PyLong_CheckExact(tick)) {
        r->tick = PyLong_AsDouble(tick);
        ok = !(r->tick == -1.0 && PyErr_Occurred());
        PyErr_Clear();
    }
    Py_DECREF(tick);
    if (!ok || r->tick == 0.0)
        return 0;

    /* the labels waiting: a heap of (time, seq, label); only its head is compared, and nothing a run does
     * pushes or pops it */
    TAKE(exact_attr(detector, A_PENDING, &PyList_Type, &pending));
    r->has_pending = PyList_GET_SIZE(pending) > 0;
    ok = 1;
    if (r->has_pending) {
        PyObject *head = PyList_GET_ITEM(pending, 0);
        if (PyTuple_CheckExact(head) && PyTuple_GET_SIZE(head) >= 1 && PyFloat_CheckExact(PyTuple_GET_ITEM(head, 0)))
            r->pending_at = PyFloat_AS_DOUBLE(PyTuple_GET_ITEM(head, 0));
        else
            ok = 0;
    }
    Py_DECREF(pending);
    if (!ok)
        return 0;

    if ((r->update = PyObject_GetAttr(bound.features, name[A_UPDATE])) == NULL ||
        (r->new_state = PyObject_GetAttr(bound.features, name[A_NEW_STATE])) == NULL)
        return -1;
    return 1;
#undef TAKE
}

/* Write back what the run changed (after an error too: what was done stays done, as in Python). */
static int run_store(Run *r, PyObject *detector, PyObject *result)
{
    int failed = 0;
    if (r->stream_time != r->stream_time0)
        failed |= PyObject_SetAttr(detector, name[A_STREAM_TIME], r->stream_time) < 0;
    if (r->open_until != r->open_until0)
        failed |= PyObject_SetAttr(detector, name[A_OPEN_UNTIL], r->open_until) < 0;
    if (r->tweets != r->tweets0) {
        PyObject *v = PyLong_FromSsize_t(r->tweets);
        failed |= v == NULL || PyObject_SetAttr(result, name[A_TWEETS], v) < 0;
        Py_XDECREF(v);
    }
    if (r->duplicates != r->duplicates0) {
        PyObject *v = PyLong_FromSsize_t(r->duplicates);
        failed |= v == NULL || PyObject_SetAttr(result, name[A_DUPLICATES], v) < 0;
        Py_XDECREF(v);
    }
    return failed ? -1 : 0;
}

/* Detector._mark_dirty(account_id, state, ts) -> _wait_for(account_id, state, end). -1 on error. */
static int mark_dirty(Run *r, PyObject *account_id, PyObject *state, double ts)
{
    double end = end_of_tick(ts, r->tick);
    PyObject *end_obj = PyFloat_FromDouble(end);
    if (end_obj == NULL)
        return -1;
    int failed = PyDict_SetItem(r->dirty, account_id, end_obj) < 0; /* _dirty[account_id] = end */
    if (!failed) { /* _ticks.setdefault(end, {})[account_id] = state */
        PyObject *members = PyDict_GetItemWithError(r->ticks, end_obj); /* borrowed */
        if (members == NULL && !PyErr_Occurred()) {
            PyObject *fresh = PyDict_New();
            failed = fresh == NULL || PyDict_SetItem(r->ticks, end_obj, fresh) < 0;
            members = fresh;
            Py_XDECREF(fresh); /* the dict holds it */
        }
        failed = failed || members == NULL || PyDict_SetItem(members, account_id, state) < 0;
    }
    if (!failed && end < r->open_until_v) {
        r->open_until_v = end;
        Py_SETREF(r->open_until, Py_NewRef(end_obj));
    }
    Py_DECREF(end_obj);
    return failed ? -1 : 0;
}

/* Fold events[i] if it is a common tweet: 1 if folded, 0 if not (nothing touched), -1 on error. */
static int fold_one(Run *r, PyObject *event)
{
    if (Py_TYPE(event) != bound.tweet_type)
        return 0;
    PyObject *ts_obj = slot_of(event, bound.tweet_offset[TW_TS]);
    PyObject *account_id = slot_of(event, bound.tweet_offset[TW_ACCOUNT]);
    if (ts_obj == NULL || !PyFloat_CheckExact(ts_obj) || account_id == NULL || !PyUnicode_CheckExact(account_id))
        return 0;
    double ts = PyFloat_AS_DOUBLE(ts_obj);
    if (ts >= r->open_until_v || ts >= r->next_expiry || (r->has_pending && r->pending_at < ts))
        return 0; /* a tick end, the expiry scan or a label comes first */
    PyObject *state = PyDict_GetItemWithError(r->accounts, account_id); /* borrowed */
    if (state == NULL && PyErr_Occurred())
        return -1;
    int fresh = state == NULL || state == Py_None; /* accounts.get(account_id) is None */
    if (fresh) {
        int waiting = PyDict_Contains(r->unseen, account_id);
        if (waiting != 0)
            return waiting < 0 ? -1 : 0; /* its label waited for it: Python applies it */
    }

    /* taken: from here on, what the body does */
    int status = -1;
    Py_INCREF(event);
    Py_INCREF(account_id);
    if (ts > r->stream_time_v) {
        r->stream_time_v = ts;
        Py_SETREF(r->stream_time, Py_NewRef(ts_obj));
    }
    if (fresh) {
        if ((state = PyObject_CallNoArgs(r->new_state)) == NULL)
            goto done;
        if (PyDict_SetItem(r->accounts, account_id, state) < 0) {
            Py_DECREF(state);
            goto done;
        }
    }
    else
        Py_INCREF(state);
    PyObject *args[2] = {state, event};
    PyObject *changed = PyObject_Vectorcall(r->update, args, 2, NULL);
    int is_new = changed == NULL ? -1 : PyObject_IsTrue(changed);
    Py_XDECREF(changed);
    if (is_new < 0)
        goto release;
    if (is_new) {
        int waits = PyDict_Contains(r->dirty, account_id);
        if (waits < 0 || (!waits && mark_dirty(r, account_id, state, ts) < 0) ||
            PySet_Add(r->changed, account_id) < 0)
            goto release;
        r->tweets++;
    }
    else
        r->duplicates++;
    status = 1;
release:
    Py_DECREF(state);
done:
    Py_DECREF(account_id);
    Py_DECREF(event);
    return status;
}

PyDoc_STRVAR(fold_tweets_doc,
"fold_tweets(detector, events, start, result) -> int\n--\n\n"
"Fold the run of common tweets that starts at events[start] into detector, as Detector.process's Python body\n"
"does, counting them in result (a BatchResult); return the index of the first event not taken (len(events)\n"
"if every one was). An event not taken is left untouched, for the Python body.");

static PyObject *fold_tweets(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "fold_tweets(detector, events, start, result) takes 4 arguments");
        return NULL;
    }
    if (bound.tweet_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "consumer._fold.bind() was not called");
        return NULL;
    }
    PyObject *detector = args[0], *events = args[1], *result = args[3];
    Py_ssize_t i = PyLong_AsSsize_t(args[2]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_CheckExact(events) && !PyTuple_CheckExact(events))
        return PyLong_FromSsize_t(i); /* any other sequence: the Python body takes it */
    if (i < 0 || i > PySequence_Fast_GET_SIZE(events)) {
        PyErr_SetString(PyExc_IndexError, "fold_tweets: start out of range");
        return NULL;
    }
    /* the cheap refusal first: a label, or the end, costs no attribute reads */
    if (i == PySequence_Fast_GET_SIZE(events) || Py_TYPE(PySequence_Fast_GET_ITEM(events, i)) != bound.tweet_type)
        return PyLong_FromSsize_t(i);

    Run r = {0};
    int ok = run_load(&r, detector, result);
    if (ok <= 0) {
        run_clear(&r);
        return ok < 0 ? NULL : PyLong_FromSsize_t(i);
    }
    /* the length is read again at each event: the update may be Python, and Python may do anything */
    for (; i < PySequence_Fast_GET_SIZE(events); i++) {
        ok = fold_one(&r, PySequence_Fast_GET_ITEM(events, i));
        if (ok <= 0)
            break;
    }
    if (ok < 0) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        if (run_store(&r, detector, result) < 0)
            PyErr_Clear(); /* the update's error is the one to tell */
        PyErr_Restore(type, value, traceback);
        run_clear(&r);
        return NULL;
    }
    ok = run_store(&r, detector, result);
    run_clear(&r);
    return ok < 0 ? NULL : PyLong_FromSsize_t(i);
}

PyDoc_STRVAR(end_of_tick_doc,
"end_of_tick(ts, tick) -> float\n--\n\n"
"(ts // tick + 1.0) * tick for two floats, as fold_tweets computes a tick end (for the tests).");

static PyObject *end_of_tick_py(PyObject *Py_UNUSED(module), PyObject *args)
{
    double ts, tick;
    if (!PyArg_ParseTuple(args, "dd:end_of_tick", &ts, &tick))
        return NULL;
    if (tick == 0.0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "float floor division by zero");
        return NULL;
    }
    return PyFloat_FromDouble(end_of_tick(ts, tick));
}

/* ------------------------------------------------------------------ binding */

PyDoc_STRVAR(bind_doc,
"bind(tweet_type, features)\n--\n\n"
"Hand over the Tweet class whose __slots__ ts and account_id are read, and the consumer.features module\n"
"whose update and new_state are called (looked up at each call, so that a rebound update is the one used).\n"
"TypeError if the class's fields are not __slots__ members or the module lacks either function.");

static PyObject *bind(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *tweet_type, *features;
    if (!PyArg_ParseTuple(args, "O!O!:bind", &PyType_Type, &tweet_type, &PyModule_Type, &features))
        return NULL;
    Py_ssize_t offsets[TWEET_FIELDS];
    if (member_offsets((PyTypeObject *)tweet_type, TWEET_NAMES, TWEET_FIELDS, offsets) < 0)
        return NULL;
    for (int which = A_UPDATE; which <= A_NEW_STATE; which++) {
        PyObject *f = PyObject_GetAttr(features, name[which]);
        int ok = f != NULL && PyCallable_Check(f);
        Py_XDECREF(f);
        if (!ok) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "the features module has no function %U", name[which]);
            return NULL;
        }
    }
    memcpy(bound.tweet_offset, offsets, sizeof offsets);
    Py_INCREF(tweet_type);
    Py_XSETREF(bound.tweet_type, (PyTypeObject *)tweet_type);
    Py_INCREF(features);
    Py_XSETREF(bound.features, features);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"fold_tweets", (PyCFunction)(void (*)(void))fold_tweets, METH_FASTCALL, fold_tweets_doc},
    {"end_of_tick", end_of_tick_py, METH_VARARGS, end_of_tick_doc},
    {"bind", bind, METH_VARARGS, bind_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumer._fold",
    "Detector.process's common tweet, folded in C; consumer/detector.py defines it and binds this module at import.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fold(void)
{
    for (int i = 0; i < NAMES; i++)
        if ((name[i] = PyUnicode_InternFromString(NAME_TEXT[i])) == NULL)
            return NULL;
    return PyModule_Create(&module_def);
}
