/*
 * metrics.c - Prometheus counters, gauges and histograms (see metrics.h).
 *
 * A family keeps its series twice: in an array, in the order they were
 * made (the order they are rendered in), and in an open-addressing table
 * of indices into that array, keyed by a hash of the label values, so an
 * observation on an existing series is a hash, a probe and an add -- no
 * allocation.  A series is one allocation: the struct, its bucket counts
 * and a copy of its label values.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "util/siphash.h"
#include "util/xmalloc.h"

#define DROPPED_NAME	"becknd_metrics_series_dropped_total"
#define DROPPED_HELP	"Observations lost because their family already " \
			"held its maximum number of series."

/* Slots of a family's table at first; it doubles at half full. */
#define SLOTS_MIN	16

enum kind {
	KIND_COUNTER,
	KIND_GAUGE,
	KIND_HISTOGRAM
};

struct series {
	uint64_t	 hash;
	double		 value;		/* counter, gauge */
	double		 sum;		/* histogram */
	uint64_t	 count;		/* histogram */
	const char	*values[METRICS_LABELS_MAX];	/* into this block */
	uint64_t	 buckets[];	/* histogram: nbounds + 1, per bucket,
					   not cumulative */
};

struct metric {
	struct metrics	*m;
	enum kind	 kind;
	char		*name;
	char		*help;
	char		*labels[METRICS_LABELS_MAX];
	size_t		 nlabels;
	double		 bounds[METRICS_BUCKETS_MAX];
	size_t		 nbounds;
	struct series	**series;	/* in the order made */
	size_t		 nseries;
	size_t		 capseries;
	uint32_t	*slots;		/* index into series + 1; 0: empty */
	size_t		 nslots;	/* a power of two */
	struct metric	*next;
};

struct collector {
	void		(*fn)(struct metrics *, void *);
	void		*arg;
};

struct metrics {
	struct metric	*head;
	struct metric	**tail;
	struct collector *collectors;
	size_t		 ncollectors;
	/*
	 * One key per label position: a tuple's hash is the XOR of its
	 * values' hashes, each under its position's key, so ("a", "b") and
	 * ("b", "a") differ and nobody choosing values can aim at a slot.
	 */
	struct siphash_key keys[METRICS_LABELS_MAX];
	uint64_t	 dropped;
};

const double metrics_latency_bounds[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10
};
const size_t metrics_latency_nbounds =
    sizeof(metrics_latency_bounds) / sizeof(metrics_latency_bounds[0]);

/* A declaration error is a bug in the caller: stop at start-up. */
static void __attribute__((noreturn, format(printf, 1, 2)))
bug(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "becknd: metrics: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

struct metrics *
metrics_new(void)
{
	struct metrics	*m;
	size_t		 i;

	m = xcalloc(1, sizeof(*m));
	m->tail = &m->head;
	for (i = 0; i < METRICS_LABELS_MAX; i++) {
		/*
		 * Without entropy, a fixed key: label sets are bounded and a
		 * family holds METRICS_SERIES_MAX series at most, so the
		 * worst an aimed set of values can do is slow probes.
		 */
		if (siphash_key_random(&m->keys[i]) == -1) {
			m->keys[i].k[0] = 0x6d6574726963735fULL + i;
			m->keys[i].k[1] = 0x6265636b6e645f6bULL;
		}
	}
	return m;
}

void
metrics_free(struct metrics *m)
{
	struct metric	*mt, *next;
	size_t		 i;

	if (m == NULL)
		return;
	for (mt = m->head; mt != NULL; mt = next) {
		next = mt->next;
		for (i = 0; i < mt->nseries; i++)
			free(mt->series[i]);
		free(mt->series);
		free(mt->slots);
		for (i = 0; i < mt->nlabels; i++)
			free(mt->labels[i]);
		free(mt->name);
		free(mt->help);
		free(mt);
	}
	free(m->collectors);
	free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for names; no ':' in label names. */
static int
valid_name(const char *s, int label)
{
	const char	*p;

	if (*s == '\0' || (*s >= '0' && *s <= '9'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' ||
		    (*p == ':' && !label)))
			return 0;
	/* Names starting "__" are reserved for Prometheus itself. */
	return !(label && s[0] == '_' && s[1] == '_');
}

static struct series	*series_make(struct metric *, const char *const *,
			    uint64_t);

static struct metric *
declare(struct metrics *m, enum kind kind, const char *name,
    const char *help, const char *const *labels, const double *bounds,
    size_t nbounds)
{
	struct metric	*mt, *o;
	size_t		 i, j;

	if (name == NULL || !valid_name(name, 0))
		bug("bad metric name \"%s\"", name == NULL ? "(null)" : name);
	if (strcmp(name, DROPPED_NAME) == 0)
		bug("%s is the module's own", name);
	for (o = m->head; o != NULL; o = o->next)
		if (strcmp(o->name, name) == 0)
			bug("%s is declared twice", name);
	if (nbounds > METRICS_BUCKETS_MAX)
		bug("%s: %zu bounds", name, nbounds);
	for (i = 0; i < nbounds; i++)
		/* +Inf is implied: given, it would render twice. */
		if (!isfinite(bounds[i]) || (i > 0 &&
		    !(bounds[i] > bounds[i - 1])))
			bug("%s: bounds not finite and increasing", name);

	mt = xcalloc(1, sizeof(*mt));
	mt->m = m;
	mt->kind = kind;
	mt->name = xstrdup(name);
	mt->help = xstrdup(help == NULL ? "" : help);
	for (i = 0; labels != NULL && labels[i] != NULL; i++) {
		if (i == METRICS_LABELS_MAX)
			bug("%s: more than %d labels", name,
			    METRICS_LABELS_MAX);
		if (!valid_name(labels[i], 1) || (kind == KIND_HISTOGRAM &&
		    strcmp(labels[i], "le") == 0))
			bug("%s: bad label name \"%s\"", name, labels[i]);
		for (j = 0; j < i; j++)
			if (strcmp(labels[j], labels[i]) == 0)
				bug("%s: label %s twice", name, labels[i]);
		mt->labels[i] = xstrdup(labels[i]);
	}
	mt->nlabels = i;
	if (nbounds > 0)
		memcpy(mt->bounds, bounds, nbounds * sizeof(bounds[0]));
	mt->nbounds = nbounds;

	/* Without labels the one series exists from the start, at 0. */
	if (mt->nlabels == 0)
		series_make(mt, NULL, 0);

	*m->tail = mt;
	m->tail = &mt->next;
	return mt;
}

struct metric *
metrics_counter(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	return declare(m, KIND_COUNTER, name, help, labels, NULL, 0);
}

struct metric *
metrics_gauge(struct metrics *m, const char *name, const char *help,
    const char *const *labels)
{
	return declare(m, KIND_GAUGE, name, help, labels, NULL, 0);
}

struct metric *
metrics_histogram(struct metrics *m, const char *name, const char *help,
    const char *const *labels, const double *bounds, size_t nbounds)
{
	return declare(m, KIND_HISTOGRAM, name, help, labels, bounds,
	    nbounds);
}

/* Label value i of a caller's tuple; NULL (or no tuple) is "". */
static const char *
value_at(const char *const *values, size_t i)
{
	return values == NULL || values[i] == NULL ? "" : values[i];
}

static uint64_t
tuple_hash(const struct metric *mt, const char *const *values)
{
	uint64_t	 h = 0;
	const char	*v;
	size_t		 i;

	for (i = 0; i < mt->nlabels; i++) {
		v = value_at(values, i);
		h ^= siphash24(&mt->m->keys[i], v, strlen(v));
	}
	return h;
}

static int
tuple_eq(const struct metric *mt, const struct series *s,
    const char *const *values)
{
	size_t	 i;

	for (i = 0; i < mt->nlabels; i++)
		if (strcmp(s->values[i], value_at(values, i)) != 0)
			return 0;
	return 1;
}

/* Put series index idx (hash h) in the first free slot of its probe. */
static void
slot_put(uint32_t *slots, size_t nslots, uint64_t h, size_t idx)
{
	size_t	 i;

	for (i = (size_t)h & (nslots - 1); slots[i] != 0;
	    i = (i + 1) & (nslots - 1))
		;
	slots[i] = (uint32_t)idx + 1;
}

static void
slots_grow(struct metric *mt)
{
	size_t	 i, n = mt->nslots == 0 ? SLOTS_MIN : mt->nslots * 2;

	free(mt->slots);
	mt->slots = xcalloc(n, sizeof(mt->slots[0]));
	mt->nslots = n;
	for (i = 0; i < mt->nseries; i++)
		slot_put(mt->slots, n, mt->series[i]->hash, i);
}

static struct series *
series_make(struct metric *mt, const char *const *values, uint64_t h)
{
	struct series	*s;
	size_t		 i, nb, len, textlen = 0;
	char		*p;

	nb = mt->kind == KIND_HISTOGRAM ? mt->nbounds + 1 : 0;
	for (i = 0; i < mt->nlabels; i++)
		textlen += strlen(value_at(values, i)) + 1;
	s = xcalloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]) + textlen);
	s->hash = h;
	p = (char *)&s->buckets[nb];
	for (i = 0; i < mt->nlabels; i++) {
		len = strlen(value_at(values, i));
		memcpy(p, value_at(values, i), len + 1);
		s->values[i] = p;
		p += len + 1;
	}

	if (mt->nseries == mt->capseries) {
		mt->capseries = mt->capseries == 0 ? 8 : mt->capseries * 2;
		mt->series = xreallocarray(mt->series, mt->capseries,
		    sizeof(mt->series[0]));
	}
	mt->series[mt->nseries++] = s;
	/* At most half full, so probes stay short and always end. */
	if (mt->nseries * 2 > mt->nslots)
		slots_grow(mt);
	else
		slot_put(mt->slots, mt->nslots, h, mt->nseries - 1);
	return s;
}

/* The series of a tuple, made on first use; NULL past the cap. */
static struct series *
series_get(struct metric *mt, const char *const *values)
{
	struct series	*s;
	uint64_t	 h;
	size_t		 i;

	if (mt->nlabels == 0)
		return mt->series[0];
	h = tuple_hash(mt, values);
	for (i = (size_t)h & (mt->nslots - 1); mt->nslots > 0 &&
	    mt->slots[i] != 0; i = (i + 1) & (mt->nslots - 1)) {
		s = mt->series[mt->slots[i] - 1];
		if (s->hash == h && tuple_eq(mt, s, values))
			return s;
	}
	if (mt->nseries >= METRICS_SERIES_MAX) {
		mt->m->dropped++;
		return NULL;
	}
	return series_make(mt, values, h);
}

void
metrics_inc(struct metric *mt, const char *const *values, double by)
{
	struct series	*s;

	if (mt == NULL || mt->kind == KIND_HISTOGRAM)
		return;
	/* A counter that went down would read as a restart. */
	if (mt->kind == KIND_COUNTER && !(by >= 0))
		return;
	if ((s = series_get(mt, values)) != NULL)
		s->value += by;
}

void
metrics_set(struct metric *mt, const char *const *values, double v)
{
	struct series	*s;

	if (mt == NULL || mt->kind == KIND_HISTOGRAM)
		return;
	if ((s = series_get(mt, values)) != NULL)
		s->value = v;
}

void
metrics_observe(struct metric *mt, const char *const *values, double v)
{
	struct series	*s;
	size_t		 i;

	if (mt == NULL || mt->kind != KIND_HISTOGRAM)
		return;
	if ((s = series_get(mt, values)) == NULL)
		return;
	/* NaN is below no bound: it lands in +Inf, as client_golang does. */
	for (i = 0; i < mt->nbounds && !(v <= mt->bounds[i]); i++)
		;
	s->buckets[i]++;
	s->count++;
	s->sum += v;
}

void
metrics_collector(struct metrics *m, void (*fn)(struct metrics *, void *),
    void *arg)
{
	m->collectors = xreallocarray(m->collectors, m->ncollectors + 1,
	    sizeof(m->collectors[0]));
	m->collectors[m->ncollectors].fn = fn;
	m->collectors[m->ncollectors].arg = arg;
	m->ncollectors++;
}

/* ---- rendering ----------------------------------------------------------- */

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

static void
buf_reserve(struct buf *b, size_t n)
{
	if (b->cap - b->len > n)
		return;
	while (b->cap - b->len <= n)
		b->cap = b->cap == 0 ? 4096 : b->cap * 2;
	b->p = xrealloc(b->p, b->cap);
}

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Escape \ and newline, and " too when quote (label values). */
static void
buf_escaped(struct buf *b, const char *s, int quote)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\\')
			buf_add(b, "\\\\", 2);
		else if (*p == '\n')
			buf_add(b, "\\n", 2);
		else if (*p == '"' && quote)
			buf_add(b, "\\\"", 2);
		else
			buf_add(b, p, 1);
	}
}

/*
 * A value as Prometheus writes it: an integer without a fraction while
 * every integer is exact in a double (below 2^53), otherwise the shortest
 * %g form that reads back as the same double.
 */
static void
fmt_value(char *out, size_t size, double v)
{
	int	 prec;

	if (isnan(v))
		snprintf(out, size, "NaN");
	else if (isinf(v))
		snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
	else if (v == 0)
		snprintf(out, size, "0");	/* -0 too */
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		snprintf(out, size, "%.0f", v);
	else {
		for (prec = 15; prec < 17; prec++) {
			snprintf(out, size, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				return;
		}
		snprintf(out, size, "%.17g", v);
	}
}

/* name{l1="v1",...[,le="bound"]} value */
static void
sample(struct buf *b, const struct metric *mt, const char *suffix,
    const struct series *s, const char *le, const char *value)
{
	size_t	 i;

	buf_str(b, mt->name);
	buf_str(b, suffix);
	if (mt->nlabels > 0 || le != NULL) {
		buf_add(b, "{", 1);
		for (i = 0; i < mt->nlabels; i++) {
			if (i > 0)
				buf_add(b, ",", 1);
			buf_str(b, mt->labels[i]);
			buf_add(b, "=\"", 2);
			buf_escaped(b, s->values[i], 1);
			buf_add(b, "\"", 1);
		}
		if (le != NULL) {
			buf_str(b, mt->nlabels > 0 ? ",le=\"" : "le=\"");
			buf_str(b, le);
			buf_add(b, "\"", 1);
		}
		buf_add(b, "}", 1);
	}
	buf_add(b, " ", 1);
	buf_str(b, value);
	buf_add(b, "\n", 1);
}

static void
header(struct buf *b, const char *name, const char *help, const char *type)
{
	buf_str(b, "# HELP ");
	buf_str(b, name);
	if (*help != '\0') {
		buf_add(b, " ", 1);
		buf_escaped(b, help, 0);
	}
	buf_str(b, "\n# TYPE ");
	buf_str(b, name);
	buf_add(b, " ", 1);
	buf_str(b, type);
	buf_add(b, "\n", 1);
}

static void
render_histogram(struct buf *b, const struct metric *mt,
    const struct series *s)
{
	char		 le[32], val[32];
	uint64_t	 cum = 0;
	size_t		 i;

	for (i = 0; i <= mt->nbounds; i++) {
		cum += s->buckets[i];
		if (i < mt->nbounds)
			fmt_value(le, sizeof(le), mt->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		snprintf(val, sizeof(val), "%" PRIu64, cum);
		sample(b, mt, "_bucket", s, le, val);
	}
	fmt_value(val, sizeof(val), s->sum);
	sample(b, mt, "_sum", s, NULL, val);
	snprintf(val, sizeof(val), "%" PRIu64, s->count);
	sample(b, mt, "_count", s, NULL, val);
}

static void
render_family(struct buf *b, const struct metric *mt)
{
	static const char *const types[] = {
		[KIND_COUNTER] = "counter",
		[KIND_GAUGE] = "gauge",
		[KIND_HISTOGRAM] = "histogram",
	};
	char	 val[32];
	size_t	 i;

	header(b, mt->name, mt->help, types[mt->kind]);
	for (i = 0; i < mt->nseries; i++) {
		if (mt->kind == KIND_HISTOGRAM)
			render_histogram(b, mt, mt->series[i]);
		else {
			fmt_value(val, sizeof(val), mt->series[i]->value);
			sample(b, mt, "", mt->series[i], NULL, val);
		}
	}
}

char *
metrics_render(struct metrics *m, size_t *len)
{
	struct buf	 b = { NULL, 0, 0 };
	struct metric	*mt;
	char		 val[32];
	size_t		 i;

	for (i = 0; i < m->ncollectors; i++)
		m->collectors[i].fn(m, m->collectors[i].arg);
	buf_reserve(&b, 0);
	b.p[0] = '\0';
	for (mt = m->head; mt != NULL; mt = mt->next)
		render_family(&b, mt);
	/* Last, so it counts what the families above could not hold. */
	header(&b, DROPPED_NAME, DROPPED_HELP, "counter");
	snprintf(val, sizeof(val), "%" PRIu64, m->dropped);
	buf_str(&b, DROPPED_NAME " ");
	buf_str(&b, val);
	buf_add(&b, "\n", 1);
	if (len != NULL)
		*len = b.len;
	return b.p;
}
