/* consumer._changelog: the changelog's account records of a checkpoint, encoded and produced in C.
 *
 * A checkpoint writes one record per account changed since the last one: about one per tweet while tweets
 * flow, and one per account a rescan flags. consumer/state.py defines the loop
 * (produce_changes_python) and the record (encode_account: the state's doubles, then the tick end it waits
 * for, NaN if none, little-endian); this is the same loop without the Python around each record: the lookups,
 * the encoding and the call of the producer's produce(topic, value, key, partition).
 *
 * librdkafka's queue being full is not an error here: produce raises BufferError, the loop stops at that
 * account and says where, and the caller serves delivery reports and calls again from there. Any other
 * exception leaves the loop as it would the Python one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <string.h>

/* encode_account(state, tick_end): a new bytes object, or NULL with an exception set */
static PyObject *encode_account(PyObject *state, PyObject *tick_end)
{
    Py_buffer view;
    if (PyObject_GetBuffer(state, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *value = PyBytes_FromStringAndSize(NULL, view.len + 8);
    if (value != NULL) {
        char *out = PyBytes_AS_STRING(value);
        memcpy(out, view.buf, view.len);
        double end = tick_end == Py_None ? NAN : PyFloat_AsDouble(tick_end);
        if ((end == -1.0 && PyErr_Occurred()) || PyFloat_Pack8(end, out + view.len, 1) < 0)
            Py_CLEAR(value);
    }
    PyBuffer_Release(&view);
    return value;
}

PyDoc_STRVAR(produce_changes_doc,
"produce_changes(ids, start, accounts, partition_of, waiting, produce, topic, gone)\n--\n\n"
"consumer.state.produce_changes_python, compiled: for each account of the list ids from start on that has a "
"partition, produce(topic, record, key, partition), the record encode_account(state, waiting.get(id)) or None "
"(a tombstone, the account then appended to the list gone); returns the index of the account at which produce "
"raised BufferError (cleared), or len(ids).");

static PyObject *produce_changes(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "produce_changes(ids, start, accounts, partition_of, waiting, produce, "
                     "topic, gone) takes 8 arguments, not %zd", nargs);
        return NULL;
    }
    PyObject *ids = args[0], *accounts = args[2], *partition_of = args[3], *waiting = args[4];
    PyObject *produce = args[5], *topic = args[6], *gone = args[7];
    if (!PyList_Check(ids) || !PyDict_Check(accounts) || !PyDict_Check(partition_of) || !PyDict_Check(waiting)
            || !PyList_Check(gone)) {
        PyErr_SetString(PyExc_TypeError, "ids and gone must be lists; accounts, partition_of and waiting dicts");
        return NULL;
    }
    Py_ssize_t start = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (start == -1 && PyErr_Occurred())
        return NULL;
    if (start < 0) {
        PyErr_Format(PyExc_ValueError, "start must be an index from 0 on, not %zd", start);
        return NULL;
    }
    for (Py_ssize_t i = start; i < PyList_GET_SIZE(ids); i++) { /* produce may run Python: the list is read anew */
        PyObject *account_id = PyList_GET_ITEM(ids, i);
        Py_INCREF(account_id);
        PyObject *partition = PyDict_GetItemWithError(partition_of, account_id); /* borrowed */
        if (partition == NULL) {
            Py_DECREF(account_id);
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
        Py_INCREF(partition);
        PyObject *state = PyDict_GetItemWithError(accounts, account_id), *value = NULL, *key = NULL;
        int failed = 1, full = 0;
        if (state == NULL) {
            if (PyErr_Occurred())
                goto done;
            value = Py_NewRef(Py_None); /* a tombstone */
        }
        else {
            PyObject *tick_end = PyDict_GetItemWithError(waiting, account_id);
            if (tick_end == NULL && PyErr_Occurred())
                goto done;
            if ((value = encode_account(state, tick_end == NULL ? Py_None : tick_end)) == NULL)
                goto done;
        }
        if ((key = PyUnicode_AsUTF8String(account_id)) == NULL)
            goto done;
        PyObject *call[4] = {topic, value, key, partition};
        PyObject *result = PyObject_Vectorcall(produce, call, 4, NULL);
        if (result == NULL) {
            full = PyErr_ExceptionMatches(PyExc_BufferError);
            failed = !full;
            if (full)
                PyErr_Clear(); /* librdkafka's queue is full: the caller makes room and calls again from here */
        }
        else {
            Py_DECREF(result);
            failed = state == NULL && PyList_Append(gone, account_id) < 0;
        }
    done:
        Py_XDECREF(key);
        Py_XDECREF(value);
        Py_DECREF(partition);
        Py_DECREF(account_id);
        if (failed)
            return NULL;
        if (full)
            return PyLong_FromSsize_t(i);
    }
    return PyLong_FromSsize_t(PyList_GET_SIZE(ids));
}

static PyMethodDef methods[] = {
    {"produce_changes", (PyCFunction)(void (*)(void))produce_changes, METH_FASTCALL, produce_changes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "consumer._changelog",
    "consumer.state.produce_changes_python compiled: a checkpoint's account records encoded and produced.",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__changelog(void)
{
    return PyModule_Create(&module_def);
}
