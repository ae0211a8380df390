// Package asynchttpprom exports an asynchttp.Client's Stats as Prometheus
// metrics. The collector calls Client.Stats once per scrape and does no
// work per request.
//
// Metrics (label "host" unless WithoutHostLabel; closed_total also "reason"):
//
//	asynchttp_connections_open          gauge    open connections (dialing + in use + idle)
//	asynchttp_connections_idle          gauge    idle connections kept for reuse
//	asynchttp_connections_in_use        gauge    connections carrying a request
//	asynchttp_connections_dialing       gauge    connections being dialed
//	asynchttp_waiting_callers           gauge    callers waiting for a connection
//	asynchttp_connections_created_total counter  connections dialed successfully
//	asynchttp_connections_reused_total  counter  requests sent on a reused connection
//	asynchttp_connections_closed_total  counter  connections closed, by reason (CloseReason.String())
//	asynchttp_waits_total               counter  callers that waited and got a connection
//	asynchttp_wait_seconds_total        counter  total time those callers waited
//	asynchttp_connection_limit          gauge    the host's cap on open connections now (adaptive limit, HostPolicy.MaxConns or MaxConnsPerHost); 0: none
//	asynchttp_over_limit_dials_total    counter  connections dialed past the host's cap (AcquireTimeoutNew)
//	asynchttp_policy_waits_total        counter  requests that waited for the host's Rate or Delay
//	asynchttp_policy_wait_seconds_total counter  total time they waited
//	asynchttp_policy_refusals_total     counter  requests that gave up or were refused while waiting for their turn
//	asynchttp_event_panics_total        counter  panics recovered from Config.Events callbacks (no host label)
//	asynchttp_dial_waits_total          counter  dials that waited for a MaxConcurrentDials slot (no host label)
//	asynchttp_dial_wait_seconds_total   counter  total time they waited (no host label)
//
// Host cap: the first MaxHosts (default 100) hosts seen at scrape time get
// their own "host" series and keep that label for the collector's
// lifetime, so series are stable across scrapes. Everything else is
// host="other", computed as the pool totals minus the labelled hosts, so
// the series always sum to the totals. Counters never go backwards: when
// a labelled host leaves Stats its counters keep their last value (its
// gauges read 0), and if it comes back its fresh counters are added on top
// of that value; counts the collector never saw for it land in "other".
package asynchttpprom

import (
	"sync"

	"github.com/asynchttp/asynchttp"
	"github.com/prometheus/client_golang/prometheus"
)

// OtherHost is the host label value of hosts beyond the cap.
const OtherHost = "other"

type config struct {
	maxHosts    int
	noHost      bool
	namespace   string
	constLabels prometheus.Labels
}

// Option configures NewCollector.
type Option func(*config)

// WithMaxHosts sets how many hosts get their own series (default 100);
// n <= 0 puts every host under "other".
func WithMaxHosts(n int) Option { return func(c *config) { c.maxHosts = n } }

// WithoutHostLabel drops the host label: only pool totals are exported.
func WithoutHostLabel() Option { return func(c *config) { c.noHost = true } }

// WithConstLabels adds constant labels to every metric.
func WithConstLabels(l prometheus.Labels) Option { return func(c *config) { c.constLabels = l } }

// WithNamespace prefixes every metric name with ns + "_".
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

type counters struct {
	created, reused, waits           uint64
	waitSec                          float64
	closed                           map[asynchttp.CloseReason]uint64
	overLimit, policyWaits, refusals uint64
	policyWaitSec                    float64
}

type slot struct {
	base counters // counts from earlier stays of the host
	last counters // last reported (base + current)
	seen counters // raw counters at the last scrape (to detect a restart)
}

type collector struct {
	c   *asynchttp.Client
	cfg config

	open, idle, inUse, dialing, waiting, connLimit      *prometheus.Desc
	created, reused, closed, waits, waitSeconds         *prometheus.Desc
	overLimit, policyWaits, policyWaitSeconds, refusals *prometheus.Desc
	panics, dialWaits, dialWaitSeconds                  *prometheus.Desc
	handshakeWaits, handshakeWaitSeconds                *prometheus.Desc

	mu    sync.Mutex
	order []string
	slots map[string]*slot
}

// reasons lists every CloseReason the core defines.
var reasons = func() []asynchttp.CloseReason {
	var rs []asynchttp.CloseReason
	for r := asynchttp.CloseReason(0); r < 255 && r.String() != "unknown"; r++ {
		rs = append(rs, r)
	}
	return rs
}()

// NewCollector returns a collector of c's Stats; register it with a
// prometheus.Registerer.
func NewCollector(c *asynchttp.Client, opts ...Option) prometheus.Collector {
	cfg := config{maxHosts: 100}
	for _, o := range opts {
		o(&cfg)
	}
	var hl []string
	if !cfg.noHost {
		hl = []string{"host"}
	}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "asynchttp", name), help,
			append(append([]string(nil), hl...), extra...), cfg.constLabels)
	}
	return &collector{
		c: c, cfg: cfg, slots: map[string]*slot{},
		open:              d("connections_open", "Open connections (dialing, in use and idle)."),
		idle:              d("connections_idle", "Idle connections kept for reuse."),
		inUse:             d("connections_in_use", "Connections carrying a request or its response."),
		dialing:           d("connections_dialing", "Connections being dialed."),
		waiting:           d("waiting_callers", "Callers waiting for a connection."),
		created:           d("connections_created_total", "Connections dialed successfully."),
		reused:            d("connections_reused_total", "Requests sent on a connection that had served before."),
		closed:            d("connections_closed_total", "Connections closed, by reason.", "reason"),
		waits:             d("waits_total", "Callers that waited for a connection and got one."),
		waitSeconds:       d("wait_seconds_total", "Total time callers waited for a connection, in seconds."),
		connLimit:         d("connection_limit", "The host's cap on open connections now (adaptive limit, HostPolicy.MaxConns or MaxConnsPerHost); 0: none."),
		overLimit:         d("over_limit_dials_total", "Connections dialed past the host's cap after AcquireTimeout (AcquireTimeoutNew)."),
		policyWaits:       d("policy_waits_total", "Requests that waited for their host's Rate or Delay."),
		policyWaitSeconds: d("policy_wait_seconds_total", "Total time requests waited for their host's Rate or Delay, in seconds."),
		refusals:          d("policy_refusals_total", "Requests that gave up or were refused while waiting for their host's turn."),
		panics: prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "asynchttp", "event_panics_total"),
			"Panics recovered from Config.Events callbacks.", nil, cfg.constLabels),
		dialWaits: prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "asynchttp", "dial_waits_total"),
			"Dials that waited for a MaxConcurrentDials slot.", nil, cfg.constLabels),
		dialWaitSeconds: prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "asynchttp", "dial_wait_seconds_total"),
			"Total time dials waited for a MaxConcurrentDials slot, in seconds.", nil, cfg.constLabels),
		handshakeWaits: prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "asynchttp", "handshake_waits_total"),
			"TLS handshakes that waited for a MaxConcurrentHandshakes slot.", nil, cfg.constLabels),
		handshakeWaitSeconds: prometheus.NewDesc(prometheus.BuildFQName(cfg.namespace, "asynchttp", "handshake_wait_seconds_total"),
			"Total time TLS handshakes waited for a MaxConcurrentHandshakes slot, in seconds.", nil, cfg.constLabels),
	}
}

func (k *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{k.open, k.idle, k.inUse, k.dialing, k.waiting, k.connLimit,
		k.created, k.reused, k.closed, k.waits, k.waitSeconds,
		k.overLimit, k.policyWaits, k.policyWaitSeconds, k.refusals,
		k.panics, k.dialWaits, k.dialWaitSeconds, k.handshakeWaits, k.handshakeWaitSeconds} {
		ch <- d
	}
}

func countersOf(h asynchttp.HostStats) counters {
	c := counters{created: h.Created, reused: h.Reused, waits: h.Waits,
		waitSec: h.WaitTime.Seconds(), closed: map[asynchttp.CloseReason]uint64{},
		overLimit: h.OverLimitDials, policyWaits: h.PolicyWaits, refusals: h.PolicyRefusals,
		policyWaitSec: h.PolicyWaitTime.Seconds()}
	for r, n := range h.ClosedBy {
		c.closed[r] = n
	}
	return c
}

func add(a, b counters) counters {
	c := counters{created: a.created + b.created, reused: a.reused + b.reused, waits: a.waits + b.waits,
		waitSec: a.waitSec + b.waitSec, closed: map[asynchttp.CloseReason]uint64{},
		overLimit: a.overLimit + b.overLimit, policyWaits: a.policyWaits + b.policyWaits,
		refusals: a.refusals + b.refusals, policyWaitSec: a.policyWaitSec + b.policyWaitSec}
	for _, r := range reasons {
		c.closed[r] = a.closed[r] + b.closed[r]
	}
	return c
}

// restarted reports whether cur went below prev: the host left and came back.
func restarted(prev, cur counters) bool {
	if cur.created < prev.created || cur.reused < prev.reused || cur.waits < prev.waits || cur.waitSec < prev.waitSec ||
		cur.overLimit < prev.overLimit || cur.policyWaits < prev.policyWaits || cur.refusals < prev.refusals ||
		cur.policyWaitSec < prev.policyWaitSec {
		return true
	}
	for _, r := range reasons {
		if cur.closed[r] < prev.closed[r] {
			return true
		}
	}
	return false
}

type gauges struct{ open, idle, inUse, dialing, waiting, connLimit int }

func gaugesOf(h asynchttp.HostStats) gauges {
	return gauges{h.Open, h.Idle, h.InUse, h.Dialing, h.Waiting, h.ConnLimit}
}

func (k *collector) emit(ch chan<- prometheus.Metric, g gauges, c counters, host ...string) {
	ch <- prometheus.MustNewConstMetric(k.open, prometheus.GaugeValue, float64(g.open), host...)
	ch <- prometheus.MustNewConstMetric(k.idle, prometheus.GaugeValue, float64(g.idle), host...)
	ch <- prometheus.MustNewConstMetric(k.inUse, prometheus.GaugeValue, float64(g.inUse), host...)
	ch <- prometheus.MustNewConstMetric(k.dialing, prometheus.GaugeValue, float64(g.dialing), host...)
	ch <- prometheus.MustNewConstMetric(k.waiting, prometheus.GaugeValue, float64(g.waiting), host...)
	ch <- prometheus.MustNewConstMetric(k.created, prometheus.CounterValue, float64(c.created), host...)
	ch <- prometheus.MustNewConstMetric(k.reused, prometheus.CounterValue, float64(c.reused), host...)
	for _, r := range reasons {
		ch <- prometheus.MustNewConstMetric(k.closed, prometheus.CounterValue, float64(c.closed[r]), append(host[:len(host):len(host)], r.String())...)
	}
	ch <- prometheus.MustNewConstMetric(k.waits, prometheus.CounterValue, float64(c.waits), host...)
	ch <- prometheus.MustNewConstMetric(k.waitSeconds, prometheus.CounterValue, c.waitSec, host...)
	ch <- prometheus.MustNewConstMetric(k.connLimit, prometheus.GaugeValue, float64(g.connLimit), host...)
	ch <- prometheus.MustNewConstMetric(k.overLimit, prometheus.CounterValue, float64(c.overLimit), host...)
	ch <- prometheus.MustNewConstMetric(k.policyWaits, prometheus.CounterValue, float64(c.policyWaits), host...)
	ch <- prometheus.MustNewConstMetric(k.policyWaitSeconds, prometheus.CounterValue, c.policyWaitSec, host...)
	ch <- prometheus.MustNewConstMetric(k.refusals, prometheus.CounterValue, float64(c.refusals), host...)
}

func (k *collector) Collect(ch chan<- prometheus.Metric) {
	s := k.c.Stats()
	ch <- prometheus.MustNewConstMetric(k.panics, prometheus.CounterValue, float64(s.EventPanics))
	ch <- prometheus.MustNewConstMetric(k.dialWaits, prometheus.CounterValue, float64(s.DialWaits))
	ch <- prometheus.MustNewConstMetric(k.dialWaitSeconds, prometheus.CounterValue, s.DialWaitTime.Seconds())
	ch <- prometheus.MustNewConstMetric(k.handshakeWaits, prometheus.CounterValue, float64(s.HandshakeWaits))
	ch <- prometheus.MustNewConstMetric(k.handshakeWaitSeconds, prometheus.CounterValue, s.HandshakeWaitTime.Seconds())
	total := countersOf(s.HostStats)
	if k.cfg.noHost {
		k.emit(ch, gaugesOf(s.HostStats), total)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	// Give new hosts a slot while there is room; sorted for determinism
	// within one scrape.
	if len(k.order) < k.cfg.maxHosts {
		for _, h := range sortedKeys(s.Hosts) {
			if len(k.order) >= k.cfg.maxHosts {
				break
			}
			if _, ok := k.slots[h]; !ok {
				k.slots[h] = &slot{base: countersOf(asynchttp.HostStats{}), last: countersOf(asynchttp.HostStats{}), seen: countersOf(asynchttp.HostStats{})}
				k.order = append(k.order, h)
			}
		}
	}
	og := gaugesOf(s.HostStats)
	labelled := countersOf(asynchttp.HostStats{})
	for _, h := range k.order {
		sl := k.slots[h]
		hs, ok := s.Hosts[h]
		var g gauges
		if ok {
			cur := countersOf(hs)
			if restarted(sl.seen, cur) {
				sl.base = sl.last
			}
			sl.seen = cur
			sl.last = add(sl.base, cur)
			g = gaugesOf(hs)
		} else {
			// Gone: keep the last values; the next stay starts from them.
			sl.base = sl.last
			sl.seen = countersOf(asynchttp.HostStats{})
		}
		og.open -= g.open
		og.idle -= g.idle
		og.inUse -= g.inUse
		og.dialing -= g.dialing
		og.waiting -= g.waiting
		og.connLimit = 0 // a cap is per host: "other" has none of its own
		labelled = add(labelled, sl.last)
		k.emit(ch, g, sl.last, h)
	}
	k.emit(ch, og, sub(total, labelled), OtherHost)
}

func sub(a, b counters) counters {
	c := counters{created: a.created - b.created, reused: a.reused - b.reused, waits: a.waits - b.waits,
		waitSec: max(a.waitSec-b.waitSec, 0), closed: map[asynchttp.CloseReason]uint64{},
		overLimit: a.overLimit - b.overLimit, policyWaits: a.policyWaits - b.policyWaits,
		refusals: a.refusals - b.refusals, policyWaitSec: max(a.policyWaitSec-b.policyWaitSec, 0)}
	for _, r := range reasons {
		c.closed[r] = a.closed[r] - b.closed[r]
	}
	return c
}
