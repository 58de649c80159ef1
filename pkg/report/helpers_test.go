package report_test

import (
	"github.com/patchnight/patchnight/internal/labtest"
	"testing"
)

// labPath is one lab built for the whole test binary (building is the slow part); the
// tests open it read-only.
var labPath string

func TestMain(m *testing.M) { labtest.Main(m, &labPath, 600, 11) }
