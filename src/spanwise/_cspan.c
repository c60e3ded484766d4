/* The span hot path in C: the recorder state (RuntimeCore) and the span's own fields and
 * context-manager methods (SpanCore). spanwise._runtime and spanwise._span subclass these
 * types and add everything else in Python; _span_core.py is the same code in Python, used
 * when this module is not built or SPANWISE_NO_SPEEDUPS=1.
 *
 * Spans are not tracked by the cyclic garbage collector (init untracks them): they hold ids, times, a name, an
 * attribute dict and, while open, a context token, and a program may keep hundreds of
 * thousands of them queued for the writer. Tracking them made every collection walk the
 * whole queue (about 40% of a span's cost). A span that a program makes part of a
 * reference cycle (a span stored in its own attributes) is freed only at exit.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *cap, *capture_content, *emit, *mode, *new_span, *new_trace, *offset, *on_full,
        *perf, *pid, *queue, *remote_parent_id, *remote_trace_id, *session, *settings;
} RuntimeObject;

typedef struct {
    PyObject_HEAD
    PyObject *token, *x, *attributes, *end_ns, *kind, *name, *parent_id, *span_id, *start_ns,
        *trace_id;
} SpanObject;

static RuntimeObject *RT = NULL;   /* bound by bind() */
static PyObject *CURRENT = NULL;   /* the ContextVar of the current span */
static PyObject *STR_APPEND, *STR_SET_ERROR, *STR_INTERNAL;
static PyTypeObject SpanCoreType;

/* ---------------------------------------------------------------- RuntimeCore */

#define RT_MEMBER(field) {#field, T_OBJECT_EX, offsetof(RuntimeObject, field), 0, NULL}
static PyMemberDef runtime_members[] = {
    RT_MEMBER(cap), RT_MEMBER(capture_content), RT_MEMBER(emit), RT_MEMBER(mode),
    RT_MEMBER(new_span), RT_MEMBER(new_trace), RT_MEMBER(offset), RT_MEMBER(on_full),
    RT_MEMBER(perf), RT_MEMBER(pid), RT_MEMBER(queue), RT_MEMBER(remote_parent_id),
    RT_MEMBER(remote_trace_id), RT_MEMBER(session), RT_MEMBER(settings),
    {NULL}
};

static void runtime_dealloc(RuntimeObject *self) {
    Py_CLEAR(self->cap); Py_CLEAR(self->capture_content); Py_CLEAR(self->emit);
    Py_CLEAR(self->mode); Py_CLEAR(self->new_span); Py_CLEAR(self->new_trace);
    Py_CLEAR(self->offset); Py_CLEAR(self->on_full); Py_CLEAR(self->perf); Py_CLEAR(self->pid);
    Py_CLEAR(self->queue); Py_CLEAR(self->remote_parent_id); Py_CLEAR(self->remote_trace_id);
    Py_CLEAR(self->session); Py_CLEAR(self->settings);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject RuntimeCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "spanwise._cspan.RuntimeCore",
    .tp_basicsize = sizeof(RuntimeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)runtime_dealloc,
    .tp_members = runtime_members,
};

/* ---------------------------------------------------------------- SpanCore */

static PyMemberDef span_members[] = {
    {"_token", T_OBJECT_EX, offsetof(SpanObject, token), 0, NULL},
    {"_x", T_OBJECT_EX, offsetof(SpanObject, x), 0, NULL},
    {"attributes", T_OBJECT_EX, offsetof(SpanObject, attributes), 0, NULL},
    {"end_ns", T_OBJECT_EX, offsetof(SpanObject, end_ns), 0, NULL},
    {"kind", T_OBJECT_EX, offsetof(SpanObject, kind), 0, NULL},
    {"name", T_OBJECT_EX, offsetof(SpanObject, name), 0, NULL},
    {"parent_id", T_OBJECT_EX, offsetof(SpanObject, parent_id), 0, NULL},
    {"span_id", T_OBJECT_EX, offsetof(SpanObject, span_id), 0, NULL},
    {"start_ns", T_OBJECT_EX, offsetof(SpanObject, start_ns), 0, NULL},
    {"trace_id", T_OBJECT_EX, offsetof(SpanObject, trace_id), 0, NULL},
    {NULL}
};

static PyObject *zero_int;

static int span_init(SpanObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"name", "attributes", "kind", NULL};
    PyObject *name, *attributes, *kind = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO|O:Span", kwlist, &name, &attributes, &kind))
        return -1;
    /* Python subclasses are collected types; their spans need not be (see the top). */
    if (PyObject_IS_GC((PyObject *)self) && PyObject_GC_IsTracked((PyObject *)self))
        PyObject_GC_UnTrack(self);
    Py_XSETREF(self->kind, Py_NewRef(kind == NULL ? STR_INTERNAL : kind));
    Py_XSETREF(self->name, Py_NewRef(name));
    Py_XSETREF(self->attributes, Py_NewRef(attributes));
    Py_XSETREF(self->token, Py_NewRef(Py_None));
    Py_XSETREF(self->x, Py_NewRef(Py_None));
    Py_XSETREF(self->span_id, Py_NewRef(zero_int));
    Py_XSETREF(self->end_ns, Py_NewRef(zero_int));
    return 0;
}

static void span_dealloc(SpanObject *self) {
    Py_CLEAR(self->token); Py_CLEAR(self->x); Py_CLEAR(self->attributes);
    Py_CLEAR(self->end_ns); Py_CLEAR(self->kind); Py_CLEAR(self->name);
    Py_CLEAR(self->parent_id); Py_CLEAR(self->span_id); Py_CLEAR(self->start_ns);
    Py_CLEAR(self->trace_id);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static inline int is_none(PyObject *o) { return o == NULL || o == Py_None; }

/* perf() + offset, as a new reference. */
static PyObject *now_ns(void) {
    PyObject *t = PyObject_CallNoArgs(RT->perf);
    if (t == NULL) return NULL;
    PyObject *r = PyNumber_Add(t, RT->offset);
    Py_DECREF(t);
    return r;
}

static PyObject *span_enter(SpanObject *self, PyObject *unused) {
    if (RT == NULL || is_none(RT->emit)) return Py_NewRef(self);
    PyObject *parent = NULL;
    if (PyContextVar_Get(CURRENT, Py_None, &parent) < 0) return NULL;
    PyObject *trace, *parent_id;
    if (parent == Py_None) {
        int remote = PyObject_IsTrue(RT->remote_trace_id);
        if (remote < 0) { Py_DECREF(parent); return NULL; }
        trace = remote ? Py_NewRef(RT->remote_trace_id) : PyObject_CallNoArgs(RT->new_trace);
        parent_id = Py_NewRef(RT->remote_parent_id);
    } else if (PyObject_TypeCheck(parent, &SpanCoreType)) {
        trace = Py_XNewRef(((SpanObject *)parent)->trace_id);
        parent_id = Py_XNewRef(((SpanObject *)parent)->span_id);
    } else {
        trace = PyObject_GetAttrString(parent, "trace_id");
        parent_id = PyObject_GetAttrString(parent, "span_id");
    }
    Py_DECREF(parent);
    if (trace == NULL || parent_id == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_AttributeError, "parent span has no ids");
        Py_XDECREF(trace); Py_XDECREF(parent_id);
        return NULL;
    }
    Py_XSETREF(self->trace_id, trace);
    Py_XSETREF(self->parent_id, parent_id);
    PyObject *span_id = PyObject_CallNoArgs(RT->new_span);
    if (span_id == NULL) return NULL;
    Py_XSETREF(self->span_id, span_id);
    PyObject *token = PyContextVar_Set(CURRENT, (PyObject *)self);
    if (token == NULL) return NULL;
    Py_XSETREF(self->token, token);
    PyObject *start = now_ns();
    if (start == NULL) return NULL;
    Py_XSETREF(self->start_ns, start);
    return Py_NewRef(self);
}

static PyObject *span_exit(SpanObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "__exit__ takes exc_type, exc and tb");
        return NULL;
    }
    PyObject *token = self->token;
    if (is_none(token) || RT == NULL) Py_RETURN_NONE;
    PyObject *end = now_ns();
    if (end == NULL) return NULL;
    Py_XSETREF(self->end_ns, end);
    self->token = Py_NewRef(Py_None);  /* we now own the old token reference */
    if (PyContextVar_Reset(CURRENT, token) < 0) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) { Py_DECREF(token); return NULL; }
        /* Exited in another context (a generator resumed elsewhere): restore by hand. */
        PyErr_Clear();
        PyObject *t = PyContextVar_Set(CURRENT, Py_None);
        if (t == NULL) { Py_DECREF(token); return NULL; }
        Py_DECREF(t);
    }
    Py_DECREF(token);
    if (args[0] != Py_None) {
        PyObject *r = PyObject_CallMethodObjArgs((PyObject *)self, STR_SET_ERROR, args[0],
                                                 args[1], NULL);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    PyObject *queue = RT->queue;
    if (!is_none(queue)) {
        /* Trace mode: straight into the writer's bounded queue. */
        Py_ssize_t n = PyObject_Size(queue);
        Py_ssize_t cap = PyLong_AsSsize_t(RT->cap);
        if (n < 0 || (cap == -1 && PyErr_Occurred())) return NULL;
        PyObject *r = n < cap
            ? PyObject_CallMethodOneArg(queue, STR_APPEND, (PyObject *)self)
            : PyObject_CallOneArg(RT->on_full, (PyObject *)self);
        if (r == NULL) return NULL;
        Py_DECREF(r);
        Py_RETURN_NONE;
    }
    if (!is_none(RT->emit)) {
        PyObject *r = PyObject_CallOneArg(RT->emit, (PyObject *)self);
        if (r == NULL) return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyMethodDef span_methods[] = {
    {"__enter__", (PyCFunction)span_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))span_exit, METH_FASTCALL, NULL},
    {NULL}
};

static PyTypeObject SpanCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "spanwise._cspan.SpanCore",
    .tp_basicsize = sizeof(SpanObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)span_init,
    .tp_dealloc = (destructor)span_dealloc,
    .tp_members = span_members,
    .tp_methods = span_methods,
};

/* ---------------------------------------------------------------- module */

static PyObject *bind(PyObject *module, PyObject *args) {
    PyObject *rt, *current;
    if (!PyArg_ParseTuple(args, "O!O:bind", &RuntimeCoreType, &rt, &current)) return NULL;
    if (!PyContextVar_CheckExact(current)) {
        PyErr_SetString(PyExc_TypeError, "bind() needs the current-span ContextVar");
        return NULL;
    }
    Py_XSETREF(RT, (RuntimeObject *)Py_NewRef(rt));
    Py_XSETREF(CURRENT, Py_NewRef(current));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind", bind, METH_VARARGS, "bind(runtime, current_var): the state the hot path reads."},
    {NULL}
};

static struct PyModuleDef cspan_module = {
    PyModuleDef_HEAD_INIT, "spanwise._cspan", NULL, -1, module_methods,
};

PyMODINIT_FUNC PyInit__cspan(void) {
    if (PyType_Ready(&RuntimeCoreType) < 0 || PyType_Ready(&SpanCoreType) < 0) return NULL;
    zero_int = PyLong_FromLong(0);
    STR_APPEND = PyUnicode_InternFromString("append");
    STR_SET_ERROR = PyUnicode_InternFromString("_set_error");
    STR_INTERNAL = PyUnicode_InternFromString("internal");
    if (zero_int == NULL || STR_APPEND == NULL || STR_SET_ERROR == NULL || STR_INTERNAL == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&cspan_module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "RuntimeCore", (PyObject *)&RuntimeCoreType) < 0 ||
        PyModule_AddObjectRef(m, "SpanCore", (PyObject *)&SpanCoreType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
