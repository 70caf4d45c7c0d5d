/* consumer/_buffer.h: buffers of float64 for the compiled kernels (_score.c, _drift.c), without the numpy C
 * API: numpy arrays and their contiguous slices, array('d'), anything else that exports native doubles. Include
 * it after Python.h. */
#ifndef BOTWATCH_BUFFER_H
#define BOTWATCH_BUFFER_H

static int is_native_double(const char *format)
{
    if (format == NULL) /* unsigned bytes */
        return 0;
    if (*format == '@' || *format == '=' || *format == (PY_LITTLE_ENDIAN ? '<' : '>'))
        format++;
    return format[0] == 'd' && format[1] == '\0';
}

/* `view` of `obj` as a C-contiguous buffer of native float64, writable if asked (its shape is set). 0, or -1
 * with an exception set (and nothing held): ValueError for a read-only buffer asked to be writable, TypeError
 * for one that is strided, holds another type or is no buffer at all. */
static int get_float64_buffer(PyObject *obj, Py_buffer *view, int writable, const char *what)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
    if (PyObject_GetBuffer(obj, view, flags | (writable ? PyBUF_WRITABLE : 0)) < 0) {
        PyErr_Clear();
        if (writable && PyObject_GetBuffer(obj, view, flags) == 0) {
            PyBuffer_Release(view);
            PyErr_Format(PyExc_ValueError, "%s is read-only", what);
        }
        else {
            PyErr_Clear();
            if (PyObject_GetBuffer(obj, view, PyBUF_FULL_RO) == 0) {
                PyBuffer_Release(view);
                PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous buffer of float64: this %.100s is "
                             "strided (a column, a[::2]; np.ascontiguousarray copies it)", what, Py_TYPE(obj)->tp_name);
            }
            else {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous buffer of float64 (a numpy array, an "
                             "array('d')), not %.100s", what, Py_TYPE(obj)->tp_name);
            }
        }
        return -1;
    }
    if (!is_native_double(view->format)) {
        PyErr_Format(PyExc_TypeError, "%s must hold float64 (format 'd'), not format '%s'", what,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

#endif
