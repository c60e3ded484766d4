/* spanwise.workflow._tracejson: one trace-file line as UTF-8 JSON, in C.
 *
 * encode(value) -> bytes is the text json.dumps(value, ensure_ascii=False, allow_nan=False)
 * gives (separators ", " and ": "), encoded as UTF-8, for the values a trace file holds
 * after StringTable.intern: dicts with str keys, lists, tuples, str, int, float, bool and
 * None, nested at most 32 levels. Anything else raises TypeError (a value the caller then
 * writes with json's own encoder), as does a non-finite float (ValueError) or a string that
 * is not valid UTF-8 (a lone surrogate: UnicodeEncodeError).
 *
 * json's C encoder (Python 3.11) makes a new escaped copy of every string and joins the
 * pieces afterwards; here every string is escaped straight into one growing buffer, and
 * runs of characters that need no escape are copied at once.
 *
 * The pure-Python path (_trace_file._encoder with json) is used when this module is not
 * built or SPANWISE_NO_SPEEDUPS=1, and writes the same bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 200 /* far beyond the 32 levels intern() keeps: a guard, not a limit */

typedef struct {
    char *data;
    Py_ssize_t len, cap;
} Buffer;

static int reserve(Buffer *b, Py_ssize_t more) {
    if (b->len + more <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int put(Buffer *b, const char *s, Py_ssize_t n) {
    if (reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

#define PUT_LITERAL(b, s) put((b), (s), (Py_ssize_t)(sizeof(s) - 1))

static const char HEX[] = "0123456789abcdef";

/* Whether any of the 8 bytes at s is below 0x20, '"' or '\\' (bytes of multi-byte UTF-8
 * characters are 0x80 or more: never). The word-at-a-time tests from "Bit Twiddling Hacks";
 * each is exact as a yes/no answer. */
static inline int any_to_escape(const char *s) {
    uint64_t v;
    memcpy(&v, s, 8);
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
    uint64_t below = (v - ones * 0x20) & ~v;
    uint64_t is_quote = (quote - ones) & ~quote;
    uint64_t is_backslash = (backslash - ones) & ~backslash;
    return ((below | is_quote | is_backslash) & highs) != 0;
}

static int put_string(Buffer *b, PyObject *text) {
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL) return -1;
    /* At worst every byte becomes \u00XX: 6 bytes, plus the quotes. */
    if (n > (PY_SSIZE_T_MAX - 2) / 6 || reserve(b, 6 * n + 2) < 0) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        return -1;
    }
    char *out = b->data + b->len;
    *out++ = '"';
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Skip 8 bytes at a time while none needs an escape. */
        while (i + 8 <= n && !any_to_escape(s + i)) i += 8;
        if (i >= n) break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        memcpy(out, s + start, (size_t)(i - start));
        out += i - start;
        start = i + 1;
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = HEX[c >> 4];
            *out++ = HEX[c & 0xf];
        }
    }
    memcpy(out, s + start, (size_t)(n - start));
    out += n - start;
    *out++ = '"';
    b->len = out - b->data;
    return 0;
}

/* The text of a str()/repr() result, appended. */
static int put_text_of(Buffer *b, PyObject *text) {
    if (text == NULL) return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    int rc = s == NULL ? -1 : put(b, s, n);
    Py_DECREF(text);
    return rc;
}

static int put_value(Buffer *b, PyObject *value, int depth);

static int put_dict(Buffer *b, PyObject *dict, int depth) {
    if (PyDict_GET_SIZE(dict) == 0) return PUT_LITERAL(b, "{}");
    if (PUT_LITERAL(b, "{") < 0) return -1;
    Py_ssize_t pos = 0;
    PyObject *key, *item;
    int first = 1;
    while (PyDict_Next(dict, &pos, &key, &item)) {
        if (!PyUnicode_CheckExact(key)) {
            PyErr_SetString(PyExc_TypeError, "a key that is not a str");
            return -1;
        }
        if (!first && PUT_LITERAL(b, ", ") < 0) return -1;
        first = 0;
        /* The dict cannot change under us: nothing here runs Python code. */
        if (put_string(b, key) < 0 || PUT_LITERAL(b, ": ") < 0) return -1;
        if (put_value(b, item, depth + 1) < 0) return -1;
    }
    return PUT_LITERAL(b, "}");
}

static int put_sequence(Buffer *b, PyObject *seq, int depth) {
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (n == 0) return PUT_LITERAL(b, "[]");
    if (PUT_LITERAL(b, "[") < 0) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i && PUT_LITERAL(b, ", ") < 0) return -1;
        /* A list can only shrink by Python code, and none runs here: the index holds. */
        if (put_value(b, PySequence_Fast_GET_ITEM(seq, i), depth + 1) < 0) return -1;
    }
    return PUT_LITERAL(b, "]");
}

static int put_value(Buffer *b, PyObject *value, int depth) {
    if (depth > MAX_DEPTH) {
        PyErr_SetString(PyExc_ValueError, "nested too deeply");
        return -1;
    }
    PyTypeObject *type = Py_TYPE(value);
    if (type == &PyUnicode_Type) return put_string(b, value);
    if (type == &PyDict_Type) return put_dict(b, value, depth);
    if (value == Py_None) return PUT_LITERAL(b, "null");
    if (value == Py_True) return PUT_LITERAL(b, "true");
    if (value == Py_False) return PUT_LITERAL(b, "false");
    if (type == &PyLong_Type) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) return put_text_of(b, PyObject_Repr(value));
        if (v == -1 && PyErr_Occurred()) return -1;
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%lld", v);
        return put(b, digits, n);
    }
    if (type == &PyFloat_Type) {
        double v = PyFloat_AS_DOUBLE(value);
        if (!Py_IS_FINITE(v)) {
            PyErr_SetString(PyExc_ValueError, "a float that is not finite");
            return -1;
        }
        /* float.__repr__, as json writes floats. */
        char *text = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (text == NULL) return -1;
        int rc = put(b, text, (Py_ssize_t)strlen(text));
        PyMem_Free(text);
        return rc;
    }
    if (type == &PyList_Type || type == &PyTuple_Type) return put_sequence(b, value, depth);
    PyErr_Format(PyExc_TypeError, "a %.100s value", type->tp_name);
    return -1;
}

static PyObject *encode(PyObject *module, PyObject *value) {
    Buffer b = {NULL, 0, 0};
    PyObject *result = NULL;
    if (put_value(&b, value, 0) == 0) result = PyBytes_FromStringAndSize(b.data, b.len);
    PyMem_Free(b.data);
    return result;
}

static PyMethodDef methods[] = {
    {"encode", encode, METH_O,
     "encode(value) -> bytes: json.dumps(value, ensure_ascii=False) as UTF-8, for JSON "
     "types only (TypeError for anything else)."},
    {NULL}
};

static struct PyModuleDef tracejson_module = {
    PyModuleDef_HEAD_INIT, "spanwise.workflow._tracejson", NULL, -1, methods,
};

PyMODINIT_FUNC PyInit__tracejson(void) {
    PyObject *m = PyModule_Create(&tracejson_module);
    if (m == NULL) return NULL;
    if (PyModule_AddIntConstant(m, "API", 1) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
