/* consumer._drift: the two-sample Kolmogorov-Smirnov statistic of consumer/drift.py, compiled.
 *
 * consumer.drift.ks_statistic defines it: numpy sorts the concatenation of the two sorted samples (a stable
 * argsort), takes a cumulative sum of +m and -n and compares the empirical CDFs after each run of ties, 0.1 to
 * 0.3 ms for 5,000 + 5,000 values. Here it is one linear merge: about 30 us on the checks' columns of generated
 * traffic, 8 on samples of few distinct values, 50 to 65 on continuous samples, where which sample comes next
 * is a coin toss the branch predictor loses (benchmarks/drift.py). Branch-free merges, of the whole or of two
 * or four stretches cut at co-ranks, were faster there (25 to 30 us) but slower on the checks' columns (42 to
 * 46 us), whose runs of ties make the branches predictable: this one was kept.
 *
 * Exactness: the gap n*m*(F_a - F_b) after each run of equal values is an exact int64, as numpy's cumulative
 * sum is; its largest magnitude g is divided by n*m once, in double. While n*m <= 2**53 both g and n*m are
 * exact doubles and the quotient is correctly rounded, which is what Python's float(g) / (n * m) gives; larger
 * samples (n + m of about 190 million values at the least) are refused rather than rounded twice. Values are
 * compared with ==, as numpy does, so -0.0 and 0.0 are one run of ties, and so are equal infinities.
 *
 * No numpy C API: the samples are buffers of float64 (numpy arrays and their contiguous slices, array('d')).
 * The GIL is held throughout: a call is short.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#include "_buffer.h"

/* The largest n*m whose gaps and quotient are exact in double */
#define MAX_PRODUCT (INT64_C(1) << 53)

/* The largest |n*m*(F_a - F_b)| over the values of the two samples, each taken after its whole run of ties.
 * Every turn of the loop consumes at least one value and every read is bounds-checked, so unsorted input or
 * NaN gives some number (unspecified), never a read out of bounds or a loop without end. Once one sample is
 * used up the gap only shrinks towards 0 (sorted input), so the loop stops there. */
static int64_t largest_gap(const double *a, int64_t n, const double *b, int64_t m)
{
    int64_t i = 0, j = 0, gap = 0, largest = 0;
    while (i < n && j < m) {
        if (a[i] <= b[j]) { /* a's run of the value, then b's values equal to it */
            double v = a[i];
            do {
                gap += m;
                i++;
            } while (i < n && a[i] == v);
            while (j < m && b[j] == v) {
                gap -= n;
                j++;
            }
        }
        else { /* b's run of a value below a[i]: a holds none equal to it */
            double v = b[j];
            do {
                gap -= n;
                j++;
            } while (j < m && b[j] == v);
        }
        int64_t size = gap < 0 ? -gap : gap;
        if (size > largest)
            largest = size;
    }
    return largest;
}

/* `view` of `obj` as a 1-D C-contiguous buffer of native float64: 0, or -1 with an exception set and nothing
 * held. */
static int get_sample(PyObject *obj, Py_buffer *view, const char *what)
{
    if (get_float64_buffer(obj, view, 0, what) < 0)
        return -1;
    if (view->ndim != 1) {
        PyErr_Format(PyExc_ValueError, "%s must be 1-D, not %d-D", what, view->ndim);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(ks_statistic_doc,
"ks_statistic(a_sorted, b_sorted, /)\n--\n\n"
"A float: consumer.drift.ks_statistic, bit for bit, the two-sample Kolmogorov-Smirnov statistic of two\n"
"samples sorted ascending without NaN, each a 1-D C-contiguous buffer of float64 (a numpy array or a\n"
"contiguous slice of one, an array('d')); NaN if either is empty.\n\n"
"The largest |F_a - F_b| after each run of ties (-0.0 and 0.0 are ties), as the exact integer\n"
"n*m*|F_a - F_b| divided by n*m. Input that is not sorted or holds NaN gives an unspecified number, never\n"
"a crash or a read past either buffer. TypeError for what is not a C-contiguous buffer of float64,\n"
"ValueError for one that is not 1-D, OverflowError where n*m exceeds 2**53.");

static PyObject *ks_statistic(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "ks_statistic(a_sorted, b_sorted) takes 2 arguments, not %zd", nargs);
        return NULL;
    }
    Py_buffer a, b;
    if (get_sample(args[0], &a, "a_sorted") < 0)
        return NULL;
    if (get_sample(args[1], &b, "b_sorted") < 0) {
        PyBuffer_Release(&a);
        return NULL;
    }
    int64_t n = a.shape[0], m = b.shape[0];
    double result = NAN;
    if (n > 0 && m > 0) {
        if (n > MAX_PRODUCT / m) {
            PyErr_Format(PyExc_OverflowError, "ks_statistic: samples of %lld and %lld values, more than 2**53 "
                         "pairs: the statistic would not be exact", (long long)n, (long long)m);
            PyBuffer_Release(&a);
            PyBuffer_Release(&b);
            return NULL;
        }
        result = (double)largest_gap(a.buf, n, b.buf, m) / (double)(n * m);
    }
    PyBuffer_Release(&a);
    PyBuffer_Release(&b);
    return PyFloat_FromDouble(result);
}

static PyMethodDef methods[] = {
    {"ks_statistic", (PyCFunction)(void (*)(void))ks_statistic, METH_FASTCALL, ks_statistic_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumer._drift",
    "consumer.drift's kernel: the two-sample KS statistic by one merge; consumer/drift.py defines it.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__drift(void)
{
    return PyModule_Create(&module_def);
}
