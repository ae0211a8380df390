// Every test of the package must leave no goroutine or descriptor behind.

package asynchttptest_test

import (
	"testing"

	"github.com/asynchttp/asynchttp/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }
