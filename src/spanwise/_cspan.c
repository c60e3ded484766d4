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

/* ---------------------------------------------------------------- store rows */

static PyObject *STR_OK, *STR_HEX32, *STR_HEX16, *ONE_INT, *SIXTY_FOUR;

static PyObject *hex16(PyObject *value) {
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        /* Not a 64-bit id (only a foreign span could carry one): Python's formatting. */
        PyErr_Clear();
        int nonzero = PyObject_IsTrue(value);
        if (nonzero < 0) return NULL;
        return PyObject_Format(nonzero ? value : ONE_INT, STR_HEX16);
    }
    char buf[17];
    snprintf(buf, sizeof buf, "%016llx", v ? v : 1ULL);
    return PyUnicode_FromStringAndSize(buf, 16);
}

/* 32 lowercase hex digits of a 128-bit trace id (0 written as 1, as Python's f"{id or 1:032x}"). */
static PyObject *hex32(PyObject *value) {
    int nonzero = PyObject_IsTrue(value);
    if (nonzero < 0) return NULL;
    if (!nonzero) value = ONE_INT;
    PyObject *high_obj = PyLong_Check(value) ? PyNumber_Rshift(value, SIXTY_FOUR) : NULL;
    if (high_obj != NULL) {
        unsigned long long high = PyLong_AsUnsignedLongLong(high_obj);
        Py_DECREF(high_obj);
        if (!(high == (unsigned long long)-1 && PyErr_Occurred())) {
            unsigned long long low = PyLong_AsUnsignedLongLongMask(value);
            char buf[33];
            snprintf(buf, sizeof buf, "%016llx%016llx", high, low);
            return PyUnicode_FromStringAndSize(buf, 32);
        }
    }
    PyErr_Clear();  /* negative or wider than 128 bits: Python's formatting */
    return PyObject_Format(value, STR_HEX32);
}

/* The attribute JSON through the store's cache (a dict keyed by tuple(attributes.items())),
 * calling the Python encoder on a miss or for unhashable values. New reference. */
static PyObject *attributes_json(PyObject *attrs, PyObject *cache, PyObject *encode) {
    if (!PyDict_Check(attrs) || PyDict_GET_SIZE(attrs) == 0) {
        if (!PyDict_Check(attrs)) return PyObject_CallOneArg(encode, attrs);
        Py_RETURN_NONE;
    }
    PyObject *items = PyDict_Items(attrs);
    if (items == NULL) return NULL;
    PyObject *key = PyList_AsTuple(items);
    Py_DECREF(items);
    if (key == NULL) return NULL;
    PyObject *found = PyDict_GetItemWithError(cache, key);  /* borrowed */
    Py_DECREF(key);
    if (found != NULL) return Py_NewRef(found);
    PyErr_Clear();  /* a miss, or an unhashable value: the encoder handles both */
    return PyObject_CallOneArg(encode, attrs);
}

/* One plain span (no status, error, events or LLM call) as a row; its trace's totals updated. */
static int add_plain(SpanObject *s, PyObject *traces, PyObject *rows, PyObject *pid,
                     PyObject *cache, PyObject *encode) {
    PyObject *tid = s->trace_id, *start = s->start_ns, *end = s->end_ns, *parent = s->parent_id;
    int has_parent = PyObject_IsTrue(parent);
    if (has_parent < 0) return -1;
    PyObject *t = PyDict_GetItemWithError(traces, tid);  /* borrowed */
    PyObject *trace_hex;
    if (t == NULL) {
        if (PyErr_Occurred()) return -1;
        /* name, start, end, spans, errors, llm, in, out, cost, unpriced, has_root, hex */
        trace_hex = hex32(tid);
        if (trace_hex == NULL) return -1;
        PyObject *zero_f = PyFloat_FromDouble(0.0);
        t = zero_f == NULL ? NULL : Py_BuildValue(
            "[OOOiiiiiNiiO]", s->name, start, end, 0, 0, 0, 0, 0, zero_f, 0, has_parent ? 0 : 1,
            trace_hex);
        if (t == NULL || PyDict_SetItem(traces, tid, t) < 0) {
            Py_XDECREF(t); Py_DECREF(trace_hex);
            return -1;
        }
        Py_DECREF(t);  /* the dict holds it */
        Py_DECREF(trace_hex);  /* and t holds this */
    } else {
        trace_hex = PyList_GET_ITEM(t, 11);
        int rooted = PyObject_IsTrue(PyList_GET_ITEM(t, 10));
        if (rooted < 0) return -1;
        int earlier = PyObject_RichCompareBool(start, PyList_GET_ITEM(t, 1), Py_LT);
        if (earlier < 0) return -1;
        if (!has_parent && !rooted) {
            if (PyList_SetItem(t, 0, Py_NewRef(s->name)) < 0 ||
                PyList_SetItem(t, 10, PyLong_FromLong(1)) < 0) return -1;
        } else if (!rooted && earlier) {
            if (PyList_SetItem(t, 0, Py_NewRef(s->name)) < 0) return -1;
        }
        if (earlier && PyList_SetItem(t, 1, Py_NewRef(start)) < 0) return -1;
        int later = PyObject_RichCompareBool(end, PyList_GET_ITEM(t, 2), Py_GT);
        if (later < 0) return -1;
        if (later && PyList_SetItem(t, 2, Py_NewRef(end)) < 0) return -1;
    }
    PyObject *count = PyNumber_Add(PyList_GET_ITEM(t, 3), ONE_INT);
    if (count == NULL || PyList_SetItem(t, 3, count) < 0) return -1;
    PyObject *span_hex = hex16(s->span_id);
    PyObject *parent_hex = has_parent ? hex16(parent) : Py_NewRef(Py_None);
    PyObject *duration = PyNumber_Subtract(end, start);
    PyObject *attrs = attributes_json(s->attributes, cache, encode);
    PyObject *row = NULL;
    if (span_hex && parent_hex && duration && attrs) {
        row = PyTuple_Pack(14, trace_hex, span_hex, parent_hex, s->name, s->kind, start, end,
                           duration, STR_OK, Py_None, Py_None, attrs, Py_None, pid);
    }
    Py_XDECREF(span_hex); Py_XDECREF(parent_hex); Py_XDECREF(duration); Py_XDECREF(attrs);
    if (row == NULL) return -1;
    int r = PyList_Append(rows, row);
    Py_DECREF(row);
    return r;
}

/* add_plain_spans(spans, start, traces, rows, pid, attrs_cache, attrs_json) -> index.
 * What spanwise.store._span_rows.SpanRows._add does, in C, for the plain spans of
 * spans[start:], in order, up to the first span that is not plain (with a status, events or
 * an LLM call, or not a C span): its index (len(spans) when none) is returned, and Python
 * adds that one. */
static PyObject *add_plain_spans(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyList_Check(args[0]) || !PyDict_Check(args[2]) ||
        !PyList_Check(args[3]) || !PyDict_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "add_plain_spans(spans: list, start: int, traces: dict, rows: list, pid, "
                        "cache: dict, encode)");
        return NULL;
    }
    PyObject *spans = args[0];
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred()) return NULL;
    for (; i < PyList_GET_SIZE(spans); i++) {
        PyObject *item = PyList_GET_ITEM(spans, i);
        SpanObject *s = (SpanObject *)item;
        int plain = PyObject_TypeCheck(item, &SpanCoreType) && is_none(s->x) &&
                    s->trace_id && s->parent_id && s->start_ns && s->end_ns && s->span_id &&
                    s->name && s->kind && s->attributes;
        if (!plain) break;
        if (add_plain(s, args[2], args[3], args[4], args[5], args[6]) < 0) return NULL;
    }
    return PyLong_FromSsize_t(i);
}

/* ---------------------------------------------------------------- LLM-call payloads */

static inline int is_atomic(PyObject *o) {
    return o == Py_None || PyUnicode_CheckExact(o) || PyLong_CheckExact(o) ||
           PyFloat_CheckExact(o) || PyBool_Check(o);
}

/* A list, tuple or dict that holds only atomic values: it cannot be part of a cycle. */
static int is_leaf_container(PyObject *o) {
    if (PyList_CheckExact(o) || PyTuple_CheckExact(o)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
        PyObject **items = PySequence_Fast_ITEMS(o);
        for (Py_ssize_t i = 0; i < n; i++)
            if (!is_atomic(items[i])) return 0;
        return 1;
    }
    if (PyDict_CheckExact(o)) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(o, &pos, &key, &value))
            if (!is_atomic(key) || !is_atomic(value)) return 0;
        return 1;
    }
    return 0;
}

static int untrack_leaf(PyObject *o, void *unused) {
    if (o != NULL && PyObject_IS_GC(o) && PyObject_GC_IsTracked(o) && is_leaf_container(o))
        PyObject_GC_UnTrack(o);
    return 0;
}

static void untrack_root(PyObject *o) {
    if (o == NULL || o == Py_None || !PyObject_IS_GC(o) || !PyObject_GC_IsTracked(o)) return;
    PyObject_GC_UnTrack(o);
    traverseproc traverse = Py_TYPE(o)->tp_traverse;
    if (traverse != NULL) traverse(o, untrack_leaf, NULL);
}

/* untrack_payload(span): an ended LLM-call span waits in the queue for the writer, often
 * long enough for its side objects (the _Extras, the LlmCall, the attribute dict and their
 * lists of plain values) to outlive two collections and count towards a full one, which
 * walks the whole heap. They hold plain data and no cycles, so the collector need not
 * track them: they are freed by reference counting as before. */
static PyObject *untrack_payload(PyObject *module, PyObject *span) {
    if (!PyObject_TypeCheck(span, &SpanCoreType)) Py_RETURN_NONE;
    SpanObject *s = (SpanObject *)span;
    PyObject *x = s->x;
    if (x != NULL && x != Py_None) {
        PyObject *llm = PyObject_GetAttrString(x, "llm");
        if (llm == NULL) return NULL;
        untrack_root(llm);
        Py_DECREF(llm);
        untrack_root(x);
    }
    untrack_root(s->attributes);
    Py_RETURN_NONE;
}

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
    {"untrack_payload", untrack_payload, METH_O,
     "Stop the cyclic GC from tracking an ended LLM span's plain-data side objects."},
    {"add_plain_spans", (PyCFunction)(void (*)(void))add_plain_spans, METH_FASTCALL,
     "Store rows for plain spans (see SpanRows.add_all); returns the spans left to Python."},
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
    STR_OK = PyUnicode_InternFromString("ok");
    STR_HEX32 = PyUnicode_InternFromString("032x");
    STR_HEX16 = PyUnicode_InternFromString("016x");
    ONE_INT = PyLong_FromLong(1);
    SIXTY_FOUR = PyLong_FromLong(64);
    if (SIXTY_FOUR == NULL) return NULL;
    if (STR_OK == NULL || STR_HEX32 == NULL || STR_HEX16 == NULL || ONE_INT == NULL) return NULL;
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
