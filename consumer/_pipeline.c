/* consumer._pipeline: the default linear pipeline on a feature dict, compiled.
 *
 * consumer/model.py's default pipeline is symlog | StandardScaler | clip_z | LogisticRegression. Every label
 * the detector learns goes through it twice (the prequential score, then the learning step): in Python, the
 * head (symlog, the scaler's learn_one and transform_one, clip_z) cost about 50 of the 70 microseconds an
 * example took, and River's LogisticRegression.learn_one about 20 of what was left. Here each is one C loop over
 * the dict, bit for bit what Python computes:
 *   - symlog and clip_z as consumer/model.py defines them; log1p and copysign are libm's, as math's are;
 *   - the scaler's learn_one and transform_one as river.preprocessing.StandardScaler writes them (with_std,
 *     no window), on its own counts (a Counter), means and vars (defaultdicts of float), in the same order,
 *     inserting the same keys; v ** 0.5 is libm's pow(v, 0.5), as float's ** is;
 *   - the classifier's predict_proba_one and learn_one as river.linear_model.LogisticRegression writes them
 *     for plain SGD at constant rates and the log loss, on its own weights (a VectorDict, read and written
 *     through the mapping protocol): the dot product summed in the input's order from 0.0, a missing weight
 *     read as 0.0, the gradient's L2 term from the weight before the step; exp is libm's, as math's is;
 *   - score_then_learn: all of these for one label, scored then learned, in one call, the intermediate dicts
 *     kept as C arrays (what the detector calls for every label it learns).
 * -ffp-contract=off keeps a*b-c two roundings, as in Python.
 *
 * A function declines (returns None, and has changed nothing) where its input is not what the pipeline makes:
 * a value that is not a float, a count that is not a small int, a negative variance. The caller then runs the
 * Python definition, which says what happens. tests/test_pipeline_compiled.py holds both to the bit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

/* a dict sized for n entries up front: the pipeline's dicts have ~40, grown from empty in four resizes */
#if PY_VERSION_HEX < 0x030D0000
#define dict_for(n) _PyDict_NewPresized(n)
#else
#define dict_for(n) PyDict_New()
#endif

/* ------------------------------------------------------------------ symlog and clip */

/* {k: f(v, param)} of the dict x, where f makes a new reference from a float; None if a value is not a float */
static PyObject *map_floats(PyObject *x, PyObject *(*f)(PyObject *, double), double param)
{
    if (!PyDict_CheckExact(x))
        Py_RETURN_NONE;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(x, &pos, &key, &value))
        if (!PyFloat_CheckExact(value))
            Py_RETURN_NONE;
    PyObject *out = dict_for(PyDict_GET_SIZE(x));
    if (out == NULL)
        return NULL;
    pos = 0;
    while (PyDict_Next(x, &pos, &key, &value)) {
        PyObject *result = f(value, param);
        if (result == NULL || PyDict_SetItem(out, key, result) < 0) {
            Py_XDECREF(result);
            Py_DECREF(out);
            return NULL;
        }
        Py_DECREF(result);
    }
    return out;
}

static PyObject *symlog_one(PyObject *value, double Py_UNUSED(param))
{
    double v = PyFloat_AS_DOUBLE(value);
    return PyFloat_FromDouble(copysign(log1p(fabs(v)), v));
}

static PyObject *clip_one(PyObject *value, double bound)
{
    double v = PyFloat_AS_DOUBLE(value);
    return v > bound ? PyFloat_FromDouble(bound) : v < -bound ? PyFloat_FromDouble(-bound) : Py_NewRef(value);
}

PyDoc_STRVAR(symlog_doc,
"symlog(x)\n--\n\n"
"{k: copysign(log1p(abs(v)), v)} of the dict x (consumer.model.symlog), or None if a value is not a float.");

static PyObject *symlog(PyObject *Py_UNUSED(module), PyObject *x)
{
    return map_floats(x, symlog_one, 0.0);
}

PyDoc_STRVAR(clip_doc,
"clip(x, bound)\n--\n\n"
"{k: bound if v > bound else (-bound if v < -bound else v)} of the dict x (consumer.model.clip_z), or None "
"if a value is not a float.");

static PyObject *clip(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "clip(x, bound) takes 2 arguments, not %zd", nargs);
        return NULL;
    }
    double bound = PyFloat_AsDouble(args[1]);
    if (bound == -1.0 && PyErr_Occurred())
        return NULL;
    return map_floats(args[0], clip_one, bound);
}

/* ------------------------------------------------------------------ the scaler */

/* The getters below return 0 (found or not), DECLINE (there, and not what the scaler keeps) or -1 (an error
 * from the dict itself, with an exception set). */
#define DECLINE 1

/* stats[key] as a double, *found 0 and 0.0 where the key is missing (a defaultdict(float) would make it 0.0) */
static int get_float(PyObject *stats, PyObject *key, double *value, int *found)
{
    PyObject *v = PyDict_GetItemWithError(stats, key);
    *found = v != NULL;
    *value = 0.0;
    if (v == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyFloat_CheckExact(v))
        return DECLINE;
    *value = PyFloat_AS_DOUBLE(v);
    return 0;
}

/* counts[key], 0 where missing (a Counter's default): an int below 2 ** 53 - 1, where it and its float agree */
static int get_count(PyObject *counts, PyObject *key, long long *count)
{
    PyObject *v = PyDict_GetItemWithError(counts, key);
    *count = 0;
    if (v == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!PyLong_CheckExact(v))
        return DECLINE;
    int overflow;
    *count = PyLong_AsLongLongAndOverflow(v, &overflow);
    return overflow || *count < 0 || *count >= (1LL << 53) - 1 ? DECLINE : 0;
}

static int set_float(PyObject *stats, PyObject *key, double value)
{
    PyObject *v = PyFloat_FromDouble(value);
    int result = v == NULL ? -1 : PyDict_SetItem(stats, key, v);
    Py_XDECREF(v);
    return result;
}

static int stats_dicts(PyObject *const *args, int count)
{
    for (int k = 0; k < count; k++)
        if (!PyDict_Check(args[k]))
            return 0;
    return 1;
}

PyDoc_STRVAR(scaler_learn_doc,
"scaler_learn(counts, means, vars, x)\n--\n\n"
"StandardScaler.learn_one(x) on the scaler's counts, means and vars (with_std, no window); True, or None "
"(nothing changed) if x or the statistics hold something else than the scaler makes.");

static PyObject *scaler_learn(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "scaler_learn(counts, means, vars, x) takes 4 arguments, not %zd", nargs);
        return NULL;
    }
    PyObject *counts = args[0], *means = args[1], *vars = args[2], *x = args[3];
    if (!stats_dicts(args, 3) || !PyDict_CheckExact(x))
        Py_RETURN_NONE;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(x, &pos, &key, &value)) { /* all checked before anything is written */
        long long n;
        double m, v;
        int found, rc = PyFloat_CheckExact(value) ? 0 : DECLINE;
        if (rc == 0)
            rc = get_count(counts, key, &n);
        if (rc == 0)
            rc = get_float(means, key, &m, &found);
        if (rc == 0)
            rc = get_float(vars, key, &v, &found);
        if (rc == DECLINE)
            Py_RETURN_NONE;
        if (rc < 0)
            return NULL;
    }
    pos = 0;
    while (PyDict_Next(x, &pos, &key, &value)) {
        double xi = PyFloat_AS_DOUBLE(value), old_mean, var;
        long long n;
        int found;
        if (get_count(counts, key, &n) < 0 || get_float(means, key, &old_mean, &found) < 0
                || get_float(vars, key, &var, &found) < 0)
            return NULL; /* checked above: only an error from the dicts themselves */
        double count = (double)(n + 1);
        PyObject *n_obj = PyLong_FromLongLong(n + 1);
        if (n_obj == NULL || PyDict_SetItem(counts, key, n_obj) < 0) {
            Py_XDECREF(n_obj);
            return NULL;
        }
        Py_DECREF(n_obj);
        double mean = old_mean + (xi - old_mean) / count;
        if (set_float(means, key, mean) < 0)
            return NULL;
        if (set_float(vars, key, var + ((xi - old_mean) * (xi - mean) - var) / count) < 0)
            return NULL;
    }
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(scaler_transform_doc,
"scaler_transform(means, vars, x)\n--\n\n"
"StandardScaler.transform_one(x) with the scaler's means and vars (with_std, no window), or None (nothing "
"changed) if x or the statistics hold something else than the scaler makes.");

static PyObject *scaler_transform(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "scaler_transform(means, vars, x) takes 3 arguments, not %zd", nargs);
        return NULL;
    }
    PyObject *means = args[0], *vars = args[1], *x = args[2];
    if (!stats_dicts(args, 2) || !PyDict_CheckExact(x))
        Py_RETURN_NONE;
    /* One pass: where it declines, what it wrote is the 0.0 defaults Python's path will find and leave */
    PyObject *out = dict_for(PyDict_GET_SIZE(x));
    if (out == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(x, &pos, &key, &value)) {
        double m, v, z = 0.0;
        int found, rc = PyFloat_CheckExact(value) ? get_float(vars, key, &v, &found) : DECLINE;
        if (rc == 0 && !found)
            rc = set_float(vars, key, 0.0); /* vars_[i] of the defaultdict inserts 0.0 */
        if (rc == 0 && v < 0.0)             /* Python's ** would make the result complex */
            rc = DECLINE;
        if (rc == 0 && v != 0.0) {          /* only then does Python read means[i] (inserting 0.0 where missing) */
            rc = get_float(means, key, &m, &found);
            if (rc == 0 && !found)
                rc = set_float(means, key, 0.0);
            z = (PyFloat_AS_DOUBLE(value) - m) / pow(v, 0.5);
        }
        if (rc == 0)
            rc = set_float(out, key, z);
        if (rc != 0) {
            Py_DECREF(out);
            if (rc == DECLINE)
                Py_RETURN_NONE;
            return NULL;
        }
    }
    return out;
}

/* ------------------------------------------------------------------ the logistic regression */

/* z (the clipped, standardised features) as the classifier sees it: a dict of floats */
static int float_dict(PyObject *z)
{
    if (!PyDict_CheckExact(z))
        return 0;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(z, &pos, &key, &value))
        if (!PyFloat_CheckExact(value))
            return 0;
    return 1;
}

/* weights[key]: 0.0 where missing, as River's VectorDict reads it in a dot product and its Zeros initializer
 * makes it in a learning step. 0, DECLINE (a weight that is not a float) or -1 (an error, set). */
static int get_weight(PyObject *weights, PyObject *key, double *w)
{
    *w = 0.0;
    PyObject *v = PyObject_GetItem(weights, key);
    if (v == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_KeyError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    int rc = PyFloat_CheckExact(v) ? 0 : DECLINE;
    if (rc == 0)
        *w = PyFloat_AS_DOUBLE(v);
    Py_DECREF(v);
    return rc;
}

/* VectorDict.dot(z): 0.0 plus weight * value of each feature in z's order (a missing weight counts as 0.0,
 * so an infinite value makes NaN, as in River). 0, DECLINE or -1 as get_weight. */
static int dot(PyObject *weights, PyObject *z, double *sum)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    *sum = 0.0;
    while (PyDict_Next(z, &pos, &key, &value)) {
        double w;
        int rc = get_weight(weights, key, &w);
        if (rc != 0)
            return rc;
        *sum += w * PyFloat_AS_DOUBLE(value);
    }
    return 0;
}

/* optim.losses.Log.gradient(y_true, raw) with the loss's class weights, for a bool y_true, as River writes it
 * (y_true mapped to +1 or -1) */
static double log_loss_gradient(int y, double raw, double weight_pos, double weight_neg)
{
    double sign = y ? 1.0 : -1.0, weight = y ? weight_pos : weight_neg;
    double z = raw * sign;
    if (z > 18.0)
        return weight * exp(-z) * -sign;
    if (z < -18.0)
        return weight * -sign;
    return weight * -sign / (exp(z) + 1.0);
}

/* The learning step's loss gradient for the raw score: the sample weight (1.0) times log_loss_gradient, clamped
 * as River clamps it, max(min(g, clip), -clip) with Python's min and max */
static double step_gradient(int y, double raw, double clip_gradient, double weight_pos, double weight_neg)
{
    double gradient = log_loss_gradient(y, raw, weight_pos, weight_neg) * 1.0;
    gradient = clip_gradient < gradient ? clip_gradient : gradient;
    return -clip_gradient > gradient ? -clip_gradient : gradient;
}

/* weights[key] = w - lr * (z * gradient + l2 * w): SGD's step on one weight, the L2 term from the weight w
 * before it. 0, or -1 with an exception set. */
static int step_weight(PyObject *weights, PyObject *key, double z, double w, double gradient, double lr, double l2)
{
    double g = z * gradient;
    if (l2 != 0.0)
        g = g + l2 * w;
    PyObject *updated = PyFloat_FromDouble(w - lr * g);
    int result = updated == NULL ? -1 : PyObject_SetItem(weights, key, updated);
    Py_XDECREF(updated);
    return result;
}

/* args[at] as the label (its truth) and the `count` floats after it; 0, or -1 with an exception set */
static int label_and_constants(PyObject *const *args, int at, int count, int *y, double *constants)
{
    if ((*y = PyObject_IsTrue(args[at])) < 0)
        return -1;
    for (int k = 0; k < count; k++) {
        constants[k] = PyFloat_AsDouble(args[at + 1 + k]);
        if (constants[k] == -1.0 && PyErr_Occurred())
            return -1;
    }
    return 0;
}

PyDoc_STRVAR(logistic_probability_doc,
"logistic_probability(weights, z, intercept)\n--\n\n"
"LogisticRegression.predict_proba_one(z)[True], as a float, from the classifier's weights (its VectorDict) and "
"intercept: utils.math.sigmoid of weights.dot(z) + intercept. None if z or a weight is not what the pipeline "
"makes (a dict of floats, float weights).");

static PyObject *logistic_probability(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "logistic_probability(weights, z, intercept) takes 3 arguments, not %zd",
                     nargs);
        return NULL;
    }
    if (!float_dict(args[1]) || !PyFloat_CheckExact(args[2]))
        Py_RETURN_NONE;
    double sum;
    int rc = dot(args[0], args[1], &sum);
    if (rc != 0) {
        if (rc == DECLINE)
            Py_RETURN_NONE;
        return NULL;
    }
    double raw = sum + PyFloat_AS_DOUBLE(args[2]);
    return PyFloat_FromDouble(raw < -30 ? 0.0 : raw > 30 ? 1.0 : 1 / (1 + exp(-raw)));
}

PyDoc_STRVAR(logistic_learn_doc,
"logistic_learn(weights, z, y, intercept, lr, intercept_lr, l2, clip_gradient, weight_pos, weight_neg)\n--\n\n"
"LogisticRegression.learn_one(z, y) with plain SGD at the constant rate lr, a constant intercept_lr, no L1, "
"the Log loss (weight_pos, weight_neg) and Zeros initialiser: updates the weights (its VectorDict) in z's "
"order and returns the new intercept (the caller stores it and counts the optimiser's iteration). None, with "
"nothing changed, if z or a weight is not what the pipeline makes.");

static PyObject *logistic_learn(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10) {
        PyErr_Format(PyExc_TypeError, "logistic_learn(weights, z, y, intercept, lr, intercept_lr, l2, "
                     "clip_gradient, weight_pos, weight_neg) takes 10 arguments, not %zd", nargs);
        return NULL;
    }
    PyObject *weights = args[0], *z = args[1];
    if (!float_dict(z))
        Py_RETURN_NONE;
    int y;
    double param[7];
    if (label_and_constants(args, 2, 7, &y, param) < 0)
        return NULL;
    double intercept = param[0], lr = param[1], intercept_lr = param[2], l2 = param[3], clip_gradient = param[4];
    double sum;
    int rc = dot(weights, z, &sum); /* reads every weight: a declined call has changed nothing */
    if (rc != 0) {
        if (rc == DECLINE)
            Py_RETURN_NONE;
        return NULL;
    }
    double gradient = step_gradient(y, sum + intercept, clip_gradient, param[5], param[6]);
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(z, &pos, &key, &value)) {
        double w;
        if (get_weight(weights, key, &w) != 0 /* read above: only an error from the VectorDict itself */
                || step_weight(weights, key, PyFloat_AS_DOUBLE(value), w, gradient, lr, l2) < 0)
            return NULL;
    }
    return PyFloat_FromDouble(intercept - intercept_lr * gradient);
}

/* ------------------------------------------------------------------ a label, scored then learned */

/* What score_then_learn keeps of one feature between its steps (x's key borrowed: x outlives the call) */
typedef struct {
    PyObject *key;
    double symlog, weight, count, mean, var; /* the scaler's statistics after learning, the weight before */
    long long n;                             /* the count after learning */
} Feature;

/* The scaler's transform of one feature, clipped: scaler_transform's z (0.0 where the variance is 0), clip's
 * bound. Inserts the 0.0 defaults River's defaultdicts would (vars, then means where the variance is not 0).
 * 0, DECLINE or -1. */
static int transform_clipped(PyObject *means, PyObject *vars, PyObject *key, double value, double bound, double *z)
{
    double m, v;
    int found, rc = get_float(vars, key, &v, &found);
    if (rc == 0 && !found)
        rc = set_float(vars, key, 0.0);
    if (rc == 0 && v < 0.0)
        rc = DECLINE;
    *z = 0.0;
    if (rc == 0 && v != 0.0) {
        rc = get_float(means, key, &m, &found);
        if (rc == 0 && !found)
            rc = set_float(means, key, 0.0);
        *z = (value - m) / pow(v, 0.5);
    }
    *z = *z > bound ? bound : *z < -bound ? -bound : *z;
    return rc;
}

PyDoc_STRVAR(score_then_learn_doc,
"score_then_learn(counts, means, vars, weights, x, y, intercept, bound, lr, intercept_lr, l2, clip_gradient,\n"
"                 weight_pos, weight_neg)\n--\n\n"
"A label learned prequentially by the default pipeline, in one call: the probability the pipeline gives x,\n"
"then its learning step on (x, y), as logistic_probability(clip(scaler_transform(symlog(x)))) and then\n"
"scaler_learn and logistic_learn compute them, on the scaler's counts, means and vars and the classifier's\n"
"weights. Returns (probability, new intercept): the caller stores the intercept and counts the optimiser's\n"
"iteration. None where one of those functions would decline: nothing is learned then (the scaler's 0.0\n"
"defaults may be in place, as a transform leaves them), and the caller runs the steps one by one.");

static PyObject *score_then_learn(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 14) {
        PyErr_Format(PyExc_TypeError, "score_then_learn takes 14 arguments, not %zd", nargs);
        return NULL;
    }
    PyObject *counts = args[0], *means = args[1], *vars = args[2], *weights = args[3], *x = args[4];
    if (!stats_dicts(args, 3) || !float_dict(x))
        Py_RETURN_NONE;
    int y;
    double param[8];
    if (label_and_constants(args, 5, 8, &y, param) < 0)
        return NULL;
    double intercept = param[0], bound = param[1], lr = param[2], intercept_lr = param[3], l2 = param[4];
    double clip_gradient = param[5];
    Py_ssize_t size = PyDict_GET_SIZE(x), pos = 0, i = 0;
    Feature stack_features[64], *f = size <= 64 ? stack_features : PyMem_New(Feature, size);
    if (f == NULL)
        return PyErr_NoMemory();
    PyObject *key, *value, *result = NULL;
    double sum = 0.0;
    int rc = 0;
    /* the score: symlog, the scaler's transform before it learns x, the clip, the dot product (x's order) */
    while (rc == 0 && PyDict_Next(x, &pos, &key, &value)) {
        double v = PyFloat_AS_DOUBLE(value), z;
        f[i].key = key;
        f[i].weight = 0.0;
        f[i].symlog = copysign(log1p(fabs(v)), v);
        rc = transform_clipped(means, vars, key, f[i].symlog, bound, &z);
        if (rc == 0)
            rc = get_weight(weights, key, &f[i].weight);
        sum += f[i].weight * z;
        i++;
    }
    double raw = sum + intercept;
    double probability = raw < -30 ? 0.0 : raw > 30 ? 1.0 : 1 / (1 + exp(-raw));
    /* the scaler's statistics after learning x, all read and checked before any is written */
    for (i = 0; rc == 0 && i < size; i++) {
        double old_mean, var;
        int found;
        rc = get_count(counts, f[i].key, &f[i].n);
        if (rc == 0)
            rc = get_float(means, f[i].key, &old_mean, &found);
        if (rc == 0)
            rc = get_float(vars, f[i].key, &var, &found);
        if (rc == 0) {
            double xi = f[i].symlog;
            f[i].n += 1;
            f[i].count = (double)f[i].n;
            f[i].mean = old_mean + (xi - old_mean) / f[i].count;
            f[i].var = var + ((xi - old_mean) * (xi - f[i].mean) - var) / f[i].count;
            if (f[i].var < 0.0) /* the transform after learning would decline: left to the steps */
                rc = DECLINE;
        }
    }
    if (rc != 0)
        goto done;
    /* learn: the scaler, then the classifier on the transform after it (the weights as read above) */
    sum = 0.0;
    for (i = 0; i < size; i++) {
        PyObject *n_obj = PyLong_FromLongLong(f[i].n);
        if (n_obj == NULL || PyDict_SetItem(counts, f[i].key, n_obj) < 0) {
            Py_XDECREF(n_obj);
            goto done;
        }
        Py_DECREF(n_obj);
        if (set_float(means, f[i].key, f[i].mean) < 0 || set_float(vars, f[i].key, f[i].var) < 0)
            goto done;
        double z = f[i].var != 0.0 ? (f[i].symlog - f[i].mean) / pow(f[i].var, 0.5) : 0.0;
        f[i].symlog = z > bound ? bound : z < -bound ? -bound : z; /* from here on: the clipped z */
        sum += f[i].weight * f[i].symlog;
    }
    double gradient = step_gradient(y, sum + intercept, clip_gradient, param[6], param[7]);
    for (i = 0; i < size; i++)
        if (step_weight(weights, f[i].key, f[i].symlog, f[i].weight, gradient, lr, l2) < 0)
            goto done;
    result = Py_BuildValue("(dd)", probability, intercept - intercept_lr * gradient);
done:
    if (f != stack_features)
        PyMem_Free(f);
    if (rc == DECLINE)
        Py_RETURN_NONE;
    return result;
}

/* ------------------------------------------------------------------ the module */

static PyMethodDef methods[] = {
    {"symlog", symlog, METH_O, symlog_doc},
    {"clip", (PyCFunction)(void (*)(void))clip, METH_FASTCALL, clip_doc},
    {"scaler_learn", (PyCFunction)(void (*)(void))scaler_learn, METH_FASTCALL, scaler_learn_doc},
    {"scaler_transform", (PyCFunction)(void (*)(void))scaler_transform, METH_FASTCALL, scaler_transform_doc},
    {"logistic_probability", (PyCFunction)(void (*)(void))logistic_probability, METH_FASTCALL,
     logistic_probability_doc},
    {"logistic_learn", (PyCFunction)(void (*)(void))logistic_learn, METH_FASTCALL, logistic_learn_doc},
    {"score_then_learn", (PyCFunction)(void (*)(void))score_then_learn, METH_FASTCALL, score_then_learn_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumer._pipeline",
    "consumer.model's default pipeline (symlog, StandardScaler, clip_z, LogisticRegression) on a feature dict, "
    "compiled.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pipeline(void)
{
    return PyModule_Create(&module_def);
}
