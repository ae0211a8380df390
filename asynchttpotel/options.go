// Options shared by Instrument and ObserveStats.

package asynchttpotel

import (
	"errors"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ScopeName is the name of the Meter the instruments are created on: this
// module's path.
const ScopeName = "github.com/asynchttp/asynchttp/asynchttpotel"

// KnownMethodsEnv is the environment variable that, when set and no
// WithKnownMethods option is given, replaces the list of known HTTP
// methods: a comma-separated, case-sensitive list, as the semantic
// conventions name it.
const KnownMethodsEnv = "OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"

// Option configures Instrument and ObserveStats.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	mp           metric.MeterProvider
	knownMethods map[string]bool // nil: the default list (or KnownMethodsEnv)
	peerAddress  bool
	err          error
}

// WithMeterProvider makes the instruments on mp rather than on the global
// MeterProvider (otel.GetMeterProvider). A nil mp is an error.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp == nil {
			c.err = errors.Join(c.err, errors.New("asynchttpotel: WithMeterProvider: nil MeterProvider"))
			return
		}
		c.mp = mp
	})
}

// WithKnownMethods replaces the list of HTTP methods reported as they are
// in http.request.method; any other method is reported as "_OTHER". The
// default list is the semantic conventions': CONNECT, DELETE, GET, HEAD,
// OPTIONS, PATCH, POST, PUT, TRACE and QUERY. Names are case-sensitive.
// The list is a full replacement, not an addition; an empty list makes
// every method "_OTHER". It takes precedence over KnownMethodsEnv.
func WithKnownMethods(methods ...string) Option {
	return optionFunc(func(c *config) {
		c.knownMethods = methodSet(methods)
	})
}

// WithNetworkPeerAddress adds network.peer.address (the IP address the
// connection went to) to http.client.connection.duration. The conventions
// make it opt-in: it multiplies the series by the number of addresses
// behind each host.
func WithNetworkPeerAddress() Option {
	return optionFunc(func(c *config) { c.peerAddress = true })
}

func newConfig(opts []Option) (*config, error) {
	c := &config{}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("asynchttpotel: nil Option")
		}
		o.apply(c)
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.knownMethods == nil {
		if env, ok := os.LookupEnv(KnownMethodsEnv); ok {
			c.knownMethods = methodSet(strings.Split(env, ","))
		} else {
			c.knownMethods = defaultMethods
		}
	}
	return c, nil
}

func (c *config) meter() metric.Meter {
	return c.mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
}

var defaultMethods = methodSet([]string{
	"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY",
})

func methodSet(methods []string) map[string]bool {
	m := make(map[string]bool, len(methods))
	for _, s := range methods {
		if s = strings.TrimSpace(s); s != "" {
			m[s] = true
		}
	}
	return m
}
