package night

import (
	_ "embed"
	"fmt"
)

//go:embed default-plan.yaml
var defaultPlanYAML []byte

// DefaultSource is the Source of the built-in plan.
const DefaultSource = "built-in"

// DefaultYAML returns the text of the built-in plan (the restart method), comments included,
// for admins to copy and edit.
func DefaultYAML() []byte { return append([]byte(nil), defaultPlanYAML...) }

// Default returns the built-in plan: the restart method with the watcher and the Thursday
// notice. It is parsed from the embedded default-plan.yaml; a test guarantees it is valid.
func Default() *Plan {
	p, err := Parse(DefaultSource, defaultPlanYAML)
	if err != nil {
		// Unreachable while TestDefaultPlanValid passes; never reached from user input.
		panic(fmt.Sprintf("night: built-in plan is invalid: %v", err))
	}
	return p
}

// LoadOrDefault loads the plan at path, or returns the built-in plan when path is empty.
func LoadOrDefault(path string) (*Plan, error) {
	if path == "" {
		return Default(), nil
	}
	return Load(path)
}
