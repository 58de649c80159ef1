package remote_test

import (
	"testing"

	"github.com/patchnight/patchnight/internal/kdctest"
)

// testKDC is the package's real MIT KDC on loopback (realm LAB.TEST): the Kerberos tests
// get their tickets from it. Without the MIT packages the test binary fails and says what to
// install.
var testKDC *kdctest.KDC

func TestMain(m *testing.M) { kdctest.Main(m, &testKDC) }
