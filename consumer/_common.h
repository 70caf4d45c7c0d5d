/* consumer/_common.h: what the compiled parts share (setup.py lists it in the depends of those that include it,
 * so that a change rebuilds them).
 *
 * - The fields of a slotted dataclass (consumer.events.Tweet, Profile): a __slots__ field is an object pointer
 *   at a fixed offset in the instance; read there, it costs a load, where PyObject_GetAttr costs a type lookup
 *   and a descriptor call.
 * - Python's float floor division, to the bit.
 */
#ifndef BOTWATCH_COMMON_H
#define BOTWATCH_COMMON_H

#include <Python.h>
#include <structmember.h> /* T_OBJECT_EX: the kind of member a __slots__ field is */
#include <math.h>

/* Offsets of a slots class's members, by name; -1 with an error if one is not a plain object slot. */
static inline int member_offsets(PyTypeObject *type, const char *const *names, int count, Py_ssize_t *offsets)
{
    for (int i = 0; i < count; i++) {
        PyObject *descr = PyObject_GetAttrString((PyObject *)type, names[i]);
        if (descr == NULL)
            return -1;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
        if (ok)
            offsets[i] = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", type->tp_name, names[i]);
            return -1;
        }
    }
    return 0;
}

/* The object in a __slots__ member, or NULL when it was never set (Python would raise AttributeError). */
static inline PyObject *slot_of(PyObject *obj, Py_ssize_t offset)
{
    return *(PyObject **)((char *)obj + offset);
}

/* vx // wx for floats, as CPython's float_floor_div computes it (floatobject.c's _float_div_mod): fmod, the
 * quotient of what is left (the remainder given the sign of the divisor), snapped to the nearest whole number;
 * a zero quotient has the sign of the true one. Infinities and NaNs come out as Python's do. wx is not 0 (Python
 * raises ZeroDivisionError: the caller sees to it). */
static inline double float_floor_div(double vx, double wx)
{
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod && (wx < 0) != (mod < 0))
        div -= 1.0;
    if (!div)
        return copysign(0.0, vx / wx);
    double floordiv = floor(div);
    if (div - floordiv > 0.5)
        floordiv += 1.0;
    return floordiv;
}

#endif
