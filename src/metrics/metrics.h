/*
 * metrics.h - Prometheus metrics: counters, gauges and histograms with
 * labels, rendered in the text exposition format 0.0.4 (GET /metrics).
 *
 * A family is declared once, at start-up, with its label names (at most
 * METRICS_LABELS_MAX); a series is one tuple of label values, made on
 * first use.  Label sets must stay bounded -- no ids as labels -- and a
 * family holds at most METRICS_SERIES_MAX series: past it a new tuple is
 * not made, the value is lost and counted in
 * becknd_metrics_series_dropped_total (rendered by metrics_render()).
 *
 * Rendering: families in the order they were declared, each with its
 * "# HELP" and "# TYPE" lines, its series in the order they were made;
 * label values escaped (\\, \", \n); values as Prometheus writes them
 * (integers without a fraction, +Inf, NaN); a histogram's cumulative
 * _bucket{le="..."} series (its bounds, then +Inf), _sum and _count.
 * Collectors (metrics_collector()) run first, so gauges read from other
 * modules' stats are current.
 *
 * Names follow the Prometheus conventions (base units: _seconds, _bytes;
 * counters end in _total); the caller's job, checked by a test.
 *
 * Threads: one thread (the loop).  Nothing here allocates per
 * observation once a series exists.
 */
#ifndef BECKND_METRICS_H
#define BECKND_METRICS_H

#include <stddef.h>

#define METRICS_LABELS_MAX	5
#define METRICS_SERIES_MAX	2000
#define METRICS_BUCKETS_MAX	24

struct metrics;
struct metric;

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);

/*
 * Declare a family (name, help and labels copied; labels NULL-terminated,
 * may be NULL).  Histogram bounds: strictly increasing, at most
 * METRICS_BUCKETS_MAX, +Inf implied.  A name declared twice aborts (a
 * programming error).
 */
struct metric	*metrics_counter(struct metrics *, const char *name,
		    const char *help, const char *const *labels);
struct metric	*metrics_gauge(struct metrics *, const char *name,
		    const char *help, const char *const *labels);
struct metric	*metrics_histogram(struct metrics *, const char *name,
		    const char *help, const char *const *labels,
		    const double *bounds, size_t nbounds);

/*
 * values: one per label, in order (NULL for a family without labels; a
 * NULL value is rendered "").  Wrong kinds are ignored.
 */
void		 metrics_inc(struct metric *, const char *const *values,
		    double by);		/* counter, gauge */
void		 metrics_set(struct metric *, const char *const *values,
		    double v);		/* gauge; counter: a total kept
					   elsewhere (never decreases) */
void		 metrics_observe(struct metric *, const char *const *values,
		    double v);		/* histogram */

/* Called by metrics_render() before it writes, in the order added. */
void		 metrics_collector(struct metrics *,
		    void (*collect)(struct metrics *, void *), void *arg);

/* The exposition text (malloc'd, NUL-terminated; *len without it). */
char		*metrics_render(struct metrics *, size_t *len);

/* The Content-Type of metrics_render()'s text. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/* Histogram bounds for latencies in seconds: 100 us .. 10 s. */
extern const double	 metrics_latency_bounds[];
extern const size_t	 metrics_latency_nbounds;

#endif
