/* spanwise.debug._lockfast: the hot path of spanwise.Lock and spanwise.RLock in C.
 *
 * ThreadLockCore is the base type of the two lock classes (spanwise/debug/_locks.py keeps
 * the slow paths in Python: contended waits, deadlock checks, names, repr). Untraced, its
 * acquire/release/__enter__/__exit__ call straight into the raw lock's own C functions.
 * Traced, an uncontended acquisition keeps its holding in C fields (two timestamps, the
 * thread, its span, its list of held locks) and on release moves it into Buffer, a C array
 * the writer thread drains (LockBatch in _lockbuffer.py): no Python object is made for it
 * on the program's thread except the thread ident.
 *
 * The pure-Python implementation of the same behaviour is _PyCore in _locks.py and
 * _PyBuffer in _lockbuffer.py; SPANWISE_NO_SPEEDUPS=1 selects it.
 *
 * Recording never breaks the lock: an error while recording is reported through
 * spanwise._internal.report and the lock stays acquired (or released) exactly once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <structmember.h>

#if PY_VERSION_HEX >= 0x030C0000
#define SW_T_OBJECT_EX Py_T_OBJECT_EX
#define SW_T_BOOL Py_T_BOOL
#define SW_T_PYSSIZET Py_T_PYSSIZET
#define SW_READONLY Py_READONLY
#else
#define SW_T_OBJECT_EX T_OBJECT_EX
#define SW_T_BOOL T_BOOL
#define SW_T_PYSSIZET T_PYSSIZET
#define SW_READONLY READONLY
#endif

/* Bumped whenever the interface to _locks.py / _lockbuffer.py changes: a stale build is
   then ignored (the pure-Python path runs) instead of breaking the import. */
#define LOCKFAST_API 1

typedef PyObject *(*sw_fastcall)(PyObject *, PyObject *const *, Py_ssize_t);
typedef PyObject *(*sw_fastcall_kw)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *);

/* ---- configuration (set once by configure()) --------------------------------------- */

enum { RT_MODE, RT_PERF, RT_QUEUE, RT_COUNT };
static const char *const rt_names[RT_COUNT] = {"mode", "perf", "queue"};

static PyObject *g_rt;              /* spanwise._runtime.RT */
static Py_ssize_t g_rt_off[RT_COUNT]; /* slot offsets in RT, or -1: use getattr */
static PyObject *g_rt_attr[RT_COUNT]; /* interned attribute names */
static PyObject *g_trace;           /* "trace" */
static PyObject *g_perf_counter;    /* time.perf_counter_ns: read in C when RT.perf is it */
static PyObject *g_current;         /* ContextVar of the current span */
static PyObject *g_held;            /* party -> list of held spanwise locks */
static PyObject *g_edges;           /* lock-order graph: (held name, taken name) -> site */
static PyObject *g_threads;         /* threading._active: ident -> Thread */
static PyObject *g_note_held;       /* note_held(lock, held) */
static PyObject *g_forget_held;     /* forget_held(party, lock) */
static PyObject *g_report;          /* _internal.report(where, exc) */
static PyObject *g_mark;            /* mark(rt): queue the batch record */
static PyObject *g_add;             /* add(lock, hold, rel): the slow way to record */
static PyObject *g_buffer;          /* the Buffer locks record into */
static PyObject *g_args_false;      /* (False,) */
static PyObject *g_empty;           /* () */
static PyObject *g_str_contended;   /* "_contended" */
static PyObject *g_str_reentrant;   /* "reentrant" */
static PyObject *g_str_name;        /* "name" */

/* A new reference to RT.<attr>, or NULL with an exception set. */
static PyObject *
rt_get(int which)
{
    Py_ssize_t off = g_rt_off[which];
    if (off >= 0) {
        PyObject *v = *(PyObject **)((char *)g_rt + off);
        if (v != NULL) {
            Py_INCREF(v);
            return v;
        }
    }
    return PyObject_GetAttr(g_rt, g_rt_attr[which]);
}

/* 1 when RT.mode is "trace", 0 when not, -1 on error. */
static int
tracing(void)
{
    PyObject *mode = rt_get(RT_MODE);
    if (mode == NULL) {
        return -1;
    }
    int on = mode == g_trace;
    if (!on && PyUnicode_Check(mode)) {
        on = PyUnicode_Compare(mode, g_trace) == 0;
        if (on == 0 && PyErr_Occurred()) {
            PyErr_Clear();
        }
    }
    Py_DECREF(mode);
    return on;
}

static int
perf_counter_ns(int64_t *out)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyTime_t t;
    if (PyTime_PerfCounterRaw(&t) < 0) {
        return -1;
    }
    *out = (int64_t)t;
#else
    *out = (int64_t)_PyTime_GetPerfCounter();
#endif
    return 0;
}

/* RT.perf() in nanoseconds: read in C when it is time.perf_counter_ns. */
static int
now_ns(int64_t *out)
{
    PyObject *perf = rt_get(RT_PERF);
    if (perf == NULL) {
        return -1;
    }
    if (perf == g_perf_counter) {
        Py_DECREF(perf);
        return perf_counter_ns(out);
    }
    PyObject *r = PyObject_CallNoArgs(perf);
    Py_DECREF(perf);
    if (r == NULL) {
        return -1;
    }
    long long v = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* Hand the pending exception to _internal.report(where, exc) and clear it. A
   KeyboardInterrupt is not swallowed: it is raised again at the next chance. */
static void
report_error(const char *where)
{
    if (!PyErr_Occurred()) {
        return;
    }
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exc = PyErr_GetRaisedException();
#else
    PyObject *type, *exc, *tb;
    PyErr_Fetch(&type, &exc, &tb);
    PyErr_NormalizeException(&type, &exc, &tb);
    if (exc != NULL && tb != NULL) {
        PyException_SetTraceback(exc, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(tb);
#endif
    if (exc == NULL) {
        return;
    }
    if (PyErr_GivenExceptionMatches(exc, PyExc_KeyboardInterrupt)) {
        PyErr_SetInterrupt();
    }
    else if (g_report != NULL) {
        PyObject *r = PyObject_CallFunction(g_report, "sO", where, exc);
        if (r == NULL) {
            PyErr_Clear();
        }
        Py_XDECREF(r);
    }
    Py_DECREF(exc);
}

/* ---- Buffer: finished acquisitions waiting for the writer thread ------------------- */

typedef struct {
    PyObject *lock;
    PyObject *party;
    PyObject *span;
    PyObject *thread; /* or NULL */
    int64_t acq, req, rel, announced; /* announced: 0 (False) or its sequence number */
} Entry;

typedef struct {
    PyObject_HEAD
    Entry *items;
    Py_ssize_t len;
    Py_ssize_t cap;
    Py_ssize_t max;
    char marked;
} Buffer;

static void
entries_clear(Entry *items, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_CLEAR(items[i].lock);
        Py_CLEAR(items[i].party);
        Py_CLEAR(items[i].span);
        Py_CLEAR(items[i].thread);
    }
}

/* Room for one more entry; 0, or -1 (MemoryError) when it cannot grow. */
static int
buffer_reserve(Buffer *self)
{
    if (self->len < self->cap) {
        return 0;
    }
    Py_ssize_t cap = self->cap ? self->cap * 2 : 256;
    Entry *items = PyMem_Realloc(self->items, (size_t)cap * sizeof(Entry));
    if (items == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    self->items = items;
    self->cap = cap;
    return 0;
}

static PyObject *
Buffer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"max", NULL};
    Py_ssize_t max;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n:Buffer", kwlist, &max)) {
        return NULL;
    }
    Buffer *self = (Buffer *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->max = max;
    }
    return (PyObject *)self;
}

static int
Buffer_traverse(Buffer *self, visitproc visit, void *arg)
{
    for (Py_ssize_t i = 0; i < self->len; i++) {
        Py_VISIT(self->items[i].lock);
        Py_VISIT(self->items[i].party);
        Py_VISIT(self->items[i].span);
        Py_VISIT(self->items[i].thread);
    }
    return 0;
}

static int
Buffer_tp_clear(Buffer *self)
{
    Entry *items = self->items;
    Py_ssize_t n = self->len;
    self->items = NULL;
    self->len = self->cap = 0;
    if (items != NULL) {
        entries_clear(items, n);
        PyMem_Free(items);
    }
    return 0;
}

static void
Buffer_dealloc(Buffer *self)
{
    PyObject_GC_UnTrack(self);
    Buffer_tp_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
Buffer_length(Buffer *self)
{
    return self->len;
}

static int
int64_arg(PyObject *o, int64_t *out)
{
    long long v = PyLong_AsLongLong(o);
    if (v == -1 && PyErr_Occurred()) {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* push(lock, hold, rel) -> bool: record one finished acquisition, False when full.
   ``hold`` is (acquired, party, span, announced, requested[, held, thread]). */
static PyObject *
Buffer_push(Buffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) < 5) {
        PyErr_SetString(PyExc_TypeError, "push(lock, hold, released_ns): hold is a tuple");
        return NULL;
    }
    if (self->len >= self->max) {
        Py_RETURN_FALSE;
    }
    PyObject *hold = args[1];
    Entry e;
    PyObject *announced = PyTuple_GET_ITEM(hold, 3);
    if (int64_arg(PyTuple_GET_ITEM(hold, 0), &e.acq) < 0 ||
        int64_arg(PyTuple_GET_ITEM(hold, 4), &e.req) < 0 || int64_arg(args[2], &e.rel) < 0) {
        return NULL;
    }
    if (announced == Py_False || announced == Py_None) {
        e.announced = 0;
    }
    else if (int64_arg(announced, &e.announced) < 0) {
        return NULL;
    }
    PyObject *thread = PyTuple_GET_SIZE(hold) > 6 ? PyTuple_GET_ITEM(hold, 6) : Py_None;
    if (buffer_reserve(self) < 0) {
        return NULL;
    }
    e.lock = Py_NewRef(args[0]);
    e.party = Py_NewRef(PyTuple_GET_ITEM(hold, 1));
    e.span = Py_NewRef(PyTuple_GET_ITEM(hold, 2));
    e.thread = thread == Py_None ? NULL : Py_NewRef(thread);
    self->items[self->len++] = e;
    Py_RETURN_TRUE;
}

/* The holding tuple the Python side reads: (acquired, party, span, announced, requested,
   held, thread). */
static PyObject *
hold_tuple(int64_t acq, PyObject *party, PyObject *span, int64_t announced, int64_t req,
           PyObject *held, PyObject *thread)
{
    PyObject *t = PyTuple_New(7);
    if (t == NULL) {
        return NULL;
    }
    PyObject *a = PyLong_FromLongLong(acq);
    PyObject *r = PyLong_FromLongLong(req);
    PyObject *n = announced ? PyLong_FromLongLong(announced) : Py_NewRef(Py_False);
    if (a == NULL || r == NULL || n == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(r);
        Py_XDECREF(n);
        Py_DECREF(t);
        return NULL;
    }
    PyTuple_SET_ITEM(t, 0, a);
    PyTuple_SET_ITEM(t, 1, Py_NewRef(party));
    PyTuple_SET_ITEM(t, 2, Py_NewRef(span));
    PyTuple_SET_ITEM(t, 3, n);
    PyTuple_SET_ITEM(t, 4, r);
    PyTuple_SET_ITEM(t, 5, Py_NewRef(held ? held : Py_None));
    PyTuple_SET_ITEM(t, 6, Py_NewRef(thread ? thread : Py_None));
    return t;
}

/* take() -> list of (lock, hold, released_ns): empties the buffer; ``marked`` is cleared
   first, so an acquisition recorded after this call queues a new batch. */
static PyObject *
Buffer_take(Buffer *self, PyObject *Py_UNUSED(ignored))
{
    self->marked = 0;
    Entry *items = self->items;
    Py_ssize_t n = self->len, cap = self->cap;
    /* Detach first: building the list can run arbitrary code (the garbage collector,
       finalizers), which may record into the buffer again. */
    self->items = NULL;
    self->len = self->cap = 0;
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Entry *e = &items[i];
        PyObject *hold = hold_tuple(e->acq, e->party, e->span, e->announced, e->req, NULL,
                                    e->thread);
        PyObject *rel = hold ? PyLong_FromLongLong(e->rel) : NULL;
        PyObject *item = rel ? PyTuple_Pack(3, e->lock, hold, rel) : NULL;
        Py_XDECREF(hold);
        Py_XDECREF(rel);
        if (item == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, item);
    }
done:
    if (items != NULL) {
        entries_clear(items, n);
        if (self->items == NULL) { /* keep the array for the next round */
            self->items = items;
            self->cap = cap;
        }
        else {
            PyMem_Free(items);
        }
    }
    return out;
}

static PyObject *
Buffer_clear_method(Buffer *self, PyObject *Py_UNUSED(ignored))
{
    self->marked = 0;
    Entry *items = self->items;
    Py_ssize_t n = self->len, cap = self->cap;
    self->items = NULL; /* detached while the references go (finalizers may record) */
    self->len = self->cap = 0;
    if (items != NULL) {
        entries_clear(items, n);
        if (self->items == NULL) {
            self->items = items;
            self->cap = cap;
        }
        else {
            PyMem_Free(items);
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef Buffer_methods[] = {
    {"push", (PyCFunction)(void (*)(void))Buffer_push, METH_FASTCALL,
     "push(lock, hold, released_ns) -> bool: record one acquisition; False when full."},
    {"take", (PyCFunction)Buffer_take, METH_NOARGS,
     "take() -> list of (lock, hold, released_ns); clears ``marked`` first."},
    {"clear", (PyCFunction)Buffer_clear_method, METH_NOARGS, "Drop everything pending."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Buffer_members[] = {
    {"marked", SW_T_BOOL, offsetof(Buffer, marked), 0,
     "True while a batch record that will carry what is pending is queued."},
    {"max", SW_T_PYSSIZET, offsetof(Buffer, max), SW_READONLY, "Capacity."},
    {NULL, 0, 0, 0, NULL},
};

static PySequenceMethods Buffer_as_sequence = {
    .sq_length = (lenfunc)Buffer_length,
};

static PyTypeObject Buffer_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "spanwise.debug._lockfast.Buffer",
    .tp_doc = "Finished lock acquisitions waiting for the writer thread.",
    .tp_basicsize = sizeof(Buffer),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = Buffer_new,
    .tp_dealloc = (destructor)Buffer_dealloc,
    .tp_traverse = (traverseproc)Buffer_traverse,
    .tp_clear = (inquiry)Buffer_tp_clear,
    .tp_methods = Buffer_methods,
    .tp_members = Buffer_members,
    .tp_as_sequence = &Buffer_as_sequence,
};

/* ---- ThreadLockCore ------------------------------------------------------------------ */

/* How to call one method of the raw lock: its C function when it is a plain method
   descriptor of the raw lock's type, else the bound method. */
typedef struct {
    PyObject *bound;
    PyCFunction fn; /* the method descriptor's C function (cast by flags), or NULL */
    int flags; /* its METH_* flags */
} RawMethod;

typedef struct {
    PyObject_HEAD
    PyObject *weakreflist;
    PyObject *raw;
    RawMethod r_acquire;
    RawMethod r_release;
    /* the holding (party == NULL: not held by a traced acquisition) */
    PyObject *party;
    PyObject *span;
    PyObject *held;
    PyObject *thread;
    unsigned long ident; /* party as a thread ident, 0 when it is not an int */
    int64_t acq, req, announced;
    Py_ssize_t depth; /* re-entrant locks: how deep the recorded holding is */
    char traced;
    char reentrant;
} Core;

static int
raw_method_init(RawMethod *m, PyObject *raw, const char *name)
{
    m->bound = PyObject_GetAttrString(raw, name);
    if (m->bound == NULL) {
        return -1;
    }
    m->fn = NULL;
    m->flags = 0;
    PyTypeObject *tp = Py_TYPE(raw);
    if (tp->tp_dictoffset != 0) {
        return 0; /* an instance attribute could shadow the method */
    }
    PyObject *descr = PyObject_GetAttrString((PyObject *)tp, name);
    if (descr == NULL) {
        PyErr_Clear();
        return 0;
    }
    if (Py_IS_TYPE(descr, &PyMethodDescr_Type)) {
        PyMethodDef *def = ((PyMethodDescrObject *)descr)->d_method;
        int flags = def->ml_flags & ~(METH_COEXIST);
        if (flags == (METH_VARARGS | METH_KEYWORDS) || flags == METH_NOARGS ||
            flags == (METH_FASTCALL | METH_KEYWORDS) || flags == METH_FASTCALL ||
            flags == METH_VARARGS) {
            m->fn = def->ml_meth;
            m->flags = flags;
        }
    }
    Py_DECREF(descr);
    return 0;
}

static PyObject *
raw_call(Core *self, RawMethod *m, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (m->fn == NULL || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0)) {
        if (m->bound == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "spanwise lock used before __init__");
            return NULL;
        }
        return PyObject_Vectorcall(m->bound, args, (size_t)nargs, kwnames);
    }
    switch (m->flags) {
    case METH_NOARGS:
        if (nargs == 0) {
            return m->fn(self->raw, NULL);
        }
        break;
    case METH_FASTCALL:
        return ((sw_fastcall)(void (*)(void))m->fn)(self->raw, args, nargs);
    case METH_FASTCALL | METH_KEYWORDS:
        return ((sw_fastcall_kw)(void (*)(void))m->fn)(self->raw, args, nargs, NULL);
    case METH_VARARGS:
    case METH_VARARGS | METH_KEYWORDS: {
        PyObject *tuple;
        if (nargs == 0) {
            tuple = Py_NewRef(g_empty);
        }
        else if (nargs == 1 && args[0] == Py_False) {
            tuple = Py_NewRef(g_args_false);
        }
        else {
            tuple = PyTuple_New(nargs);
            if (tuple == NULL) {
                return NULL;
            }
            for (Py_ssize_t i = 0; i < nargs; i++) {
                PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
            }
        }
        PyObject *r;
        if (m->flags & METH_KEYWORDS) {
            r = ((PyCFunctionWithKeywords)(void (*)(void))m->fn)(self->raw, tuple, NULL);
        }
        else {
            r = m->fn(self->raw, tuple);
        }
        Py_DECREF(tuple);
        return r;
    }
    }
    return PyObject_Vectorcall(m->bound, args, (size_t)nargs, kwnames);
}

static inline PyObject *
raw_acquire(Core *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return raw_call(self, &self->r_acquire, args, nargs, kwnames);
}

static inline PyObject *
raw_release(Core *self)
{
    return raw_call(self, &self->r_release, NULL, 0, NULL);
}

/* Forget the holding, keeping its references in the out-parameters. */
static void
take_hold(Core *self, PyObject **party, PyObject **span, PyObject **held, PyObject **thread)
{
    *party = self->party;
    *span = self->span;
    *held = self->held;
    *thread = self->thread;
    self->party = self->span = self->held = self->thread = NULL;
    self->ident = 0;
}

static void
drop_refs(PyObject *party, PyObject *span, PyObject *held, PyObject *thread)
{
    Py_XDECREF(party);
    Py_XDECREF(span);
    Py_XDECREF(held);
    Py_XDECREF(thread);
}

/* Switch to untraced: the holding (if any) is forgotten. Never raises. */
static void
set_untraced(Core *self)
{
    self->traced = 0;
    if (self->party == NULL) {
        return;
    }
    PyObject *party, *span, *held, *thread;
    take_hold(self, &party, &span, &held, &thread);
    PyObject *r = PyObject_CallFunctionObjArgs(g_forget_held, party, (PyObject *)self, NULL);
    if (r == NULL) {
        report_error("locks.untrace");
    }
    Py_XDECREF(r);
    drop_refs(party, span, held, thread);
}

/* 1 when taking ``self`` while ``held`` are held adds no new lock-order edge (the check
   of note_held() in _locks.py), 0 when note_held() has work to do, -1 on error. */
static int
order_known(Core *self, PyObject *held)
{
    PyObject *name = PyObject_GetAttr((PyObject *)self, g_str_name);
    if (name == NULL) {
        return -1;
    }
    int known = 1;
    for (Py_ssize_t i = 0; known == 1 && i < PyList_GET_SIZE(held); i++) {
        PyObject *other = PyList_GET_ITEM(held, i);
        if (other == (PyObject *)self) {
            continue;
        }
        Py_INCREF(other);
        PyObject *other_name = PyObject_GetAttr(other, g_str_name);
        Py_DECREF(other);
        if (other_name == NULL) {
            known = -1;
            break;
        }
        int same = other_name == name ? 1 : PyObject_RichCompareBool(other_name, name, Py_EQ);
        if (same == 0) {
            PyObject *key = PyTuple_Pack(2, other_name, name);
            known = key == NULL ? -1 : PyDict_Contains(g_edges, key);
            Py_XDECREF(key);
        }
        else if (same < 0) {
            known = -1;
        }
        Py_DECREF(other_name);
    }
    Py_DECREF(name);
    return known;
}

/* Record an uncontended acquisition that just succeeded. Errors are reported; the lock
   stays acquired either way. */
static void
record_acquired(Core *self)
{
    int64_t now;
    if (now_ns(&now) < 0) {
        report_error("locks.acquire");
        return;
    }
    unsigned long ident = PyThread_get_thread_ident();
    PyObject *party = PyLong_FromUnsignedLong(ident);
    if (party == NULL) {
        report_error("locks.acquire");
        return;
    }
    PyObject *held = PyDict_GetItemWithError(g_held, party); /* borrowed */
    if (held == NULL) {
        if (PyErr_Occurred()) {
            goto error;
        }
        held = PyList_New(0);
        if (held == NULL || PyDict_SetItem(g_held, party, held) < 0) {
            Py_XDECREF(held);
            goto error;
        }
    }
    else {
        Py_INCREF(held);
        if (!PyList_Check(held)) {
            Py_DECREF(held);
            PyErr_SetString(PyExc_TypeError, "held locks must be a list");
            goto error;
        }
        if (PyList_GET_SIZE(held) > 0) {
            int known = order_known(self, held);
            PyObject *r = NULL;
            if (known == 0) {
                r = PyObject_CallFunctionObjArgs(g_note_held, (PyObject *)self, held, NULL);
            }
            if (known < 0 || (known == 0 && r == NULL)) {
                Py_DECREF(held);
                goto error;
            }
            Py_XDECREF(r);
        }
    }
    /* held is a new reference here */
    PyObject *span = NULL;
    if (PyContextVar_Get(g_current, Py_None, &span) < 0) {
        Py_DECREF(held);
        goto error;
    }
    if (PyList_Append(held, (PyObject *)self) < 0) {
        Py_DECREF(span);
        Py_DECREF(held);
        goto error;
    }
    PyObject *thread = PyDict_GetItemWithError(g_threads, party);
    if (thread == NULL && PyErr_Occurred()) {
        PyErr_Clear(); /* the name is looked up later instead */
    }
    Py_XINCREF(thread);
    if (self->party != NULL) { /* cannot happen for a lock we just took; be safe */
        PyObject *p, *s, *h, *t;
        take_hold(self, &p, &s, &h, &t);
        drop_refs(p, s, h, t);
    }
    self->party = party;
    self->ident = ident;
    self->span = span;
    self->held = held;
    self->thread = thread;
    self->acq = self->req = now;
    self->announced = 0;
    self->depth = 1;
    return;
error:
    Py_DECREF(party);
    report_error("locks.acquire");
}

static int
parse_acquire(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, int *blocking,
              double *timeout)
{
    static const char *const names[] = {"blocking", "timeout"};
    PyObject *vals[2] = {NULL, NULL};
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "acquire() takes at most 2 arguments (%zd given)", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        vals[i] = args[i];
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int slot = -1;
        for (int j = 0; j < 2; j++) {
            if (PyUnicode_CompareWithASCIIString(key, names[j]) == 0) {
                slot = j;
            }
        }
        if (slot < 0) {
            PyErr_Format(PyExc_TypeError, "acquire() got an unexpected keyword argument '%U'",
                         key);
            return -1;
        }
        if (vals[slot] != NULL) {
            PyErr_Format(PyExc_TypeError, "acquire() got multiple values for argument '%s'",
                         names[slot]);
            return -1;
        }
        vals[slot] = args[nargs + k];
    }
    *blocking = 1;
    *timeout = -1.0;
    if (vals[0] != NULL && (*blocking = PyObject_IsTrue(vals[0])) < 0) {
        return -1;
    }
    if (vals[1] != NULL) {
        *timeout = PyFloat_AsDouble(vals[1]);
        if (*timeout == -1.0 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
traced_acquire(Core *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int on = tracing();
    if (on <= 0) {
        if (on < 0) {
            report_error("locks.acquire");
        }
        set_untraced(self);
        return raw_acquire(self, args, nargs, kwnames);
    }
    int blocking = 1;
    double timeout = -1.0;
    if ((nargs != 0 || kwnames != NULL) &&
        parse_acquire(args, nargs, kwnames, &blocking, &timeout) < 0) {
        return NULL;
    }
    if (self->reentrant && self->party != NULL && self->ident != 0 &&
        self->ident == PyThread_get_thread_ident()) {
        PyObject *r = raw_acquire(self, NULL, 0, NULL);
        if (r == NULL) {
            return NULL;
        }
        Py_DECREF(r);
        self->depth++;
        Py_RETURN_TRUE;
    }
    if (timeout != -1.0 && !blocking) {
        PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
        return NULL;
    }
    PyObject *no = Py_False;
    PyObject *got = raw_acquire(self, &no, 1, NULL);
    if (got == NULL) {
        return NULL;
    }
    int ok = PyObject_IsTrue(got);
    Py_DECREF(got);
    if (ok < 0) {
        return NULL;
    }
    if (ok) {
        record_acquired(self);
        Py_RETURN_TRUE;
    }
    PyObject *b = PyBool_FromLong(blocking);
    PyObject *t = PyFloat_FromDouble(timeout);
    PyObject *r = NULL;
    if (t != NULL) {
        r = PyObject_CallMethodObjArgs((PyObject *)self, g_str_contended, b, t, NULL);
    }
    Py_DECREF(b);
    Py_XDECREF(t);
    if (r != NULL && self->reentrant && r == Py_True) {
        self->depth = 1;
    }
    return r;
}

/* Queue a finished acquisition for the writer thread. Never raises. */
static void
record_released(Core *self, PyObject *party, PyObject *span, PyObject *thread, int64_t acq,
                int64_t req, int64_t announced, int64_t rel)
{
    Buffer *buf = (Buffer *)g_buffer;
    PyObject *queue = rt_get(RT_QUEUE);
    if (queue == NULL) {
        report_error("locks.record");
        drop_refs(party, span, NULL, thread);
        return;
    }
    int fast = queue != Py_None && buf->len < buf->max;
    Py_DECREF(queue);
    if (fast) {
        if (buffer_reserve(buf) < 0) {
            report_error("locks.record");
            drop_refs(party, span, NULL, thread);
            return;
        }
        Entry *e = &buf->items[buf->len++];
        e->lock = Py_NewRef((PyObject *)self);
        e->party = party; /* the references move into the buffer */
        e->span = span;
        e->thread = thread;
        e->acq = acq;
        e->req = req;
        e->rel = rel;
        e->announced = announced;
        if (!buf->marked) {
            PyObject *r = PyObject_CallOneArg(g_mark, g_rt);
            if (r == NULL) {
                report_error("locks.record");
            }
            Py_XDECREF(r);
        }
        return;
    }
    /* No queue (after shutdown) or the buffer is full: the Python side decides. */
    PyObject *hold = hold_tuple(acq, party, span, announced, req, NULL, thread);
    drop_refs(party, span, NULL, thread);
    PyObject *r = NULL;
    if (hold != NULL) {
        r = PyObject_CallFunction(g_add, "OOL", (PyObject *)self, hold, (long long)rel);
        Py_DECREF(hold);
    }
    if (r == NULL) {
        report_error("locks.record");
    }
    Py_XDECREF(r);
}

static PyObject *
traced_release(Core *self)
{
    if (self->party == NULL) { /* taken while untraced: a plain release */
        return raw_release(self);
    }
    if (self->reentrant) {
        if (self->ident == 0 || self->ident != PyThread_get_thread_ident()) {
            return raw_release(self); /* not ours: raises like the raw RLock does */
        }
        if (self->depth > 1) {
            PyObject *r = raw_release(self);
            if (r != NULL) {
                self->depth--;
            }
            return r;
        }
    }
    int64_t acq = self->acq, req = self->req, announced = self->announced, now = 0;
    PyObject *party, *span, *held, *thread;
    take_hold(self, &party, &span, &held, &thread);
    int failed = now_ns(&now) < 0;
    if (!failed && (held == NULL || !PyList_Check(held))) {
        PyObject *r =
            PyObject_CallFunctionObjArgs(g_forget_held, party, (PyObject *)self, NULL);
        failed = r == NULL;
        Py_XDECREF(r);
    }
    else if (!failed) {
        Py_ssize_t n = PyList_GET_SIZE(held);
        if (n > 0 && PyList_GET_ITEM(held, n - 1) == (PyObject *)self) {
            failed = PyList_SetSlice(held, n - 1, n, NULL) < 0;
        }
        else {
            PyObject *r =
                PyObject_CallFunctionObjArgs(g_forget_held, party, (PyObject *)self, NULL);
            failed = r == NULL;
            Py_XDECREF(r);
        }
    }
    Py_XDECREF(held);
    if (failed) {
        report_error("locks.release");
        drop_refs(party, span, NULL, thread);
        return raw_release(self);
    }
    PyObject *r = raw_release(self);
    if (r == NULL) {
        drop_refs(party, span, NULL, thread);
        return NULL;
    }
    record_released(self, party, span, thread, acq, req, announced, now);
    return r;
}

static PyObject *
Core_acquire(Core *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (!self->traced) {
        return raw_acquire(self, args, nargs, kwnames);
    }
    return traced_acquire(self, args, nargs, kwnames);
}

static PyObject *
Core_release(Core *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->traced) {
        return raw_release(self);
    }
    return traced_release(self);
}

static PyObject *
Core_enter(Core *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *r = self->traced ? traced_acquire(self, NULL, 0, NULL)
                               : raw_acquire(self, NULL, 0, NULL);
    return r;
}

static PyObject *
Core_exit(Core *self, PyObject *const *Py_UNUSED(args), Py_ssize_t Py_UNUSED(nargs))
{
    PyObject *r = self->traced ? traced_release(self) : raw_release(self);
    if (r == NULL) {
        return NULL;
    }
    Py_DECREF(r);
    Py_RETURN_NONE;
}

static PyObject *
Core_set_traced(Core *self, PyObject *on)
{
    int v = PyObject_IsTrue(on);
    if (v < 0) {
        return NULL;
    }
    if (v) {
        if (g_rt == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "spanwise.debug._lockfast.configure() first");
            return NULL;
        }
        self->traced = 1;
    }
    else {
        set_untraced(self);
    }
    Py_RETURN_NONE;
}

static PyObject *
Core_get_hold(Core *self, void *Py_UNUSED(closure))
{
    if (self->party == NULL) {
        Py_RETURN_NONE;
    }
    return hold_tuple(self->acq, self->party, self->span, self->announced, self->req,
                      self->held, self->thread);
}

/* ``lock._hold = (acquired, party, span, announced, requested, held, thread)`` (the
   contended path in Python) or ``None``. */
static int
Core_set_hold(Core *self, PyObject *value, void *Py_UNUSED(closure))
{
    if (value == NULL || value == Py_None) {
        PyObject *p, *s, *h, *t;
        take_hold(self, &p, &s, &h, &t);
        drop_refs(p, s, h, t);
        return 0;
    }
    if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 7) {
        PyErr_SetString(PyExc_TypeError, "_hold must be None or a 7-tuple");
        return -1;
    }
    int64_t acq, req, announced = 0;
    PyObject *n = PyTuple_GET_ITEM(value, 3);
    if (int64_arg(PyTuple_GET_ITEM(value, 0), &acq) < 0 ||
        int64_arg(PyTuple_GET_ITEM(value, 4), &req) < 0 ||
        (n != Py_False && n != Py_None && int64_arg(n, &announced) < 0)) {
        return -1;
    }
    PyObject *party = PyTuple_GET_ITEM(value, 1);
    unsigned long ident = 0;
    if (PyLong_CheckExact(party)) {
        ident = PyLong_AsUnsignedLong(party);
        if (ident == (unsigned long)-1 && PyErr_Occurred()) {
            PyErr_Clear();
            ident = 0;
        }
    }
    PyObject *held = PyTuple_GET_ITEM(value, 5);
    if (!PyList_Check(held)) {
        PyErr_SetString(PyExc_TypeError, "_hold[5] must be the list of held locks");
        return -1;
    }
    PyObject *thread = PyTuple_GET_ITEM(value, 6);
    PyObject *p, *s, *h, *t;
    take_hold(self, &p, &s, &h, &t);
    self->party = Py_NewRef(party);
    self->span = Py_NewRef(PyTuple_GET_ITEM(value, 2));
    self->held = Py_NewRef(held);
    self->thread = thread == Py_None ? NULL : Py_NewRef(thread);
    self->ident = ident;
    self->acq = acq;
    self->req = req;
    self->announced = announced;
    drop_refs(p, s, h, t);
    return 0;
}

static int
Core_init(Core *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"raw", NULL};
    PyObject *raw;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:ThreadLockCore", kwlist, &raw)) {
        return -1;
    }
    if (self->raw != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ThreadLockCore is already initialised");
        return -1;
    }
    PyObject *re = PyObject_GetAttr((PyObject *)self, g_str_reentrant);
    if (re == NULL) {
        PyErr_Clear();
        self->reentrant = 0;
    }
    else {
        int v = PyObject_IsTrue(re);
        Py_DECREF(re);
        if (v < 0) {
            return -1;
        }
        self->reentrant = (char)v;
    }
    if (raw_method_init(&self->r_acquire, raw, "acquire") < 0 ||
        raw_method_init(&self->r_release, raw, "release") < 0) {
        Py_CLEAR(self->r_acquire.bound);
        Py_CLEAR(self->r_release.bound);
        return -1;
    }
    self->raw = Py_NewRef(raw);
    return 0;
}

static int
Core_traverse(Core *self, visitproc visit, void *arg)
{
    /* (a Python subclass's traverse visits its type) */
    Py_VISIT(self->raw);
    Py_VISIT(self->r_acquire.bound);
    Py_VISIT(self->r_release.bound);
    Py_VISIT(self->party);
    Py_VISIT(self->span);
    Py_VISIT(self->held);
    Py_VISIT(self->thread);
    return 0;
}

static int
Core_clear(Core *self)
{
    Py_CLEAR(self->r_acquire.bound);
    Py_CLEAR(self->r_release.bound);
    self->r_acquire.fn = self->r_release.fn = NULL;
    Py_CLEAR(self->party);
    Py_CLEAR(self->span);
    Py_CLEAR(self->held);
    Py_CLEAR(self->thread);
    Py_CLEAR(self->raw);
    return 0;
}

static void
Core_dealloc(Core *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Core_clear(self);
    /* (a Python subclass's dealloc releases the reference to its type) */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Every method needs an initialised lock. */
static PyObject *
Core_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    return type->tp_alloc(type, 0);
}

static PyObject *
Core_get_raw(Core *self, void *Py_UNUSED(closure))
{
    if (self->raw == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_raw");
        return NULL;
    }
    return Py_NewRef(self->raw);
}

static PyObject *
Core_get_traced(Core *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->traced);
}

static PyMethodDef Core_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))Core_acquire, METH_FASTCALL | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool"},
    {"release", (PyCFunction)Core_release, METH_NOARGS, "release()"},
    {"__enter__", (PyCFunction)Core_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Core_exit, METH_FASTCALL, NULL},
    {"_set_traced", (PyCFunction)Core_set_traced, METH_O,
     "Record acquisitions from now on (True) or be a plain lock (False)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Core_getset[] = {
    {"_hold", (getter)Core_get_hold, (setter)Core_set_hold,
     "(acquired, party, span, announced, requested, held, thread) while held, else None",
     NULL},
    {"_raw", (getter)Core_get_raw, NULL, "The threading lock underneath.", NULL},
    {"_traced", (getter)Core_get_traced, NULL, "Whether acquisitions are recorded.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Core_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "spanwise.debug._lockfast.ThreadLockCore",
    .tp_doc = "The hot path of spanwise.Lock and spanwise.RLock.",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = Core_new,
    .tp_init = (initproc)Core_init,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
    .tp_weaklistoffset = offsetof(Core, weakreflist),
    .tp_methods = Core_methods,
    .tp_getset = Core_getset,
};

/* ---- module ------------------------------------------------------------------------- */

/* The offset of slot ``name`` in ``obj`` when it is a plain object slot, else -1. */
static Py_ssize_t
slot_offset(PyObject *obj, PyObject *name)
{
    PyObject *descr = PyObject_GetAttr((PyObject *)Py_TYPE(obj), name);
    if (descr == NULL) {
        PyErr_Clear();
        return -1;
    }
    Py_ssize_t off = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDescrObject *m = (PyMemberDescrObject *)descr;
        if (m->d_member->type == SW_T_OBJECT_EX &&
            PyObject_TypeCheck(obj, m->d_common.d_type)) {
            off = m->d_member->offset;
        }
    }
    Py_DECREF(descr);
    return off;
}

static void
set_global(PyObject **slot, PyObject *value)
{
    PyObject *old = *slot;
    *slot = Py_NewRef(value);
    Py_XDECREF(old);
}

static PyObject *
configure(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"rt",        "perf_counter", "current", "held",   "edges",
                             "threads",   "note_held",    "forget_held", "report", "mark",
                             "add",       "buffer",       NULL};
    PyObject *rt, *perf, *current, *held, *edges, *threads, *note, *forget, *report, *mark, *add,
        *buffer;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "$OOOO!O!O!OOOOOO!:configure", kwlist, &rt,
                                     &perf, &current, &PyDict_Type, &held, &PyDict_Type, &edges,
                                     &PyDict_Type, &threads, &note, &forget, &report, &mark,
                                     &add, &Buffer_Type, &buffer)) {
        return NULL;
    }
    if (!PyContextVar_CheckExact(current)) {
        PyErr_SetString(PyExc_TypeError, "current must be a ContextVar");
        return NULL;
    }
    set_global(&g_rt, rt);
    for (int i = 0; i < RT_COUNT; i++) {
        g_rt_off[i] = slot_offset(rt, g_rt_attr[i]);
    }
    set_global(&g_perf_counter, perf);
    set_global(&g_current, current);
    set_global(&g_held, held);
    set_global(&g_edges, edges);
    set_global(&g_threads, threads);
    set_global(&g_note_held, note);
    set_global(&g_forget_held, forget);
    set_global(&g_report, report);
    set_global(&g_mark, mark);
    set_global(&g_add, add);
    set_global(&g_buffer, buffer);
    Py_RETURN_NONE;
}

/* install(cls): give the subclass ``cls`` its own descriptors of the hot-path methods.
   The interpreter's fast call of a C method requires the instance's type to be exactly
   the type the method was defined on; with descriptors made for ``cls``,
   ``lock.acquire()`` on a ``cls`` instance takes that fast path. */
static PyObject *
install(PyObject *Py_UNUSED(module), PyObject *cls)
{
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &Core_Type)) {
        PyErr_SetString(PyExc_TypeError, "install() needs a subclass of ThreadLockCore");
        return NULL;
    }
    for (PyMethodDef *def = Core_methods; def->ml_name != NULL; def++) {
        PyObject *descr = PyDescr_NewMethod((PyTypeObject *)cls, def);
        if (descr == NULL) {
            return NULL;
        }
        int rc = PyObject_SetAttrString(cls, def->ml_name, descr);
        Py_DECREF(descr);
        if (rc < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"install", (PyCFunction)install, METH_O,
     "Give a subclass its own descriptors of the hot-path methods (for the fast call)."},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     "Point the hot path at the runtime, the detectors' tables and the buffer."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef lockfast_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "spanwise.debug._lockfast",
    .m_doc = "The hot path of spanwise's instrumented thread locks (see _locks.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__lockfast(void)
{
    if (PyType_Ready(&Buffer_Type) < 0 || PyType_Ready(&Core_Type) < 0) {
        return NULL;
    }
    for (int i = 0; i < RT_COUNT; i++) {
        g_rt_off[i] = -1;
        if (g_rt_attr[i] == NULL && (g_rt_attr[i] = PyUnicode_InternFromString(rt_names[i])) == NULL) {
            return NULL;
        }
    }
    if ((g_trace == NULL && (g_trace = PyUnicode_InternFromString("trace")) == NULL) ||
        (g_str_contended == NULL &&
         (g_str_contended = PyUnicode_InternFromString("_contended")) == NULL) ||
        (g_str_reentrant == NULL &&
         (g_str_reentrant = PyUnicode_InternFromString("reentrant")) == NULL) ||
        (g_str_name == NULL && (g_str_name = PyUnicode_InternFromString("name")) == NULL) ||
        (g_empty == NULL && (g_empty = PyTuple_New(0)) == NULL) ||
        (g_args_false == NULL && (g_args_false = PyTuple_Pack(1, Py_False)) == NULL)) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&lockfast_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "API", LOCKFAST_API) < 0 ||
        PyModule_AddObjectRef(m, "Buffer", (PyObject *)&Buffer_Type) < 0 ||
        PyModule_AddObjectRef(m, "ThreadLockCore", (PyObject *)&Core_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
