package night

import (
	"fmt"
	"strings"
	"time"

	// The IANA zone database, compiled in: Windows site servers have no zoneinfo files, and
	// Patch Tuesday is computed in the site's IANA zone (config time_zone).
	_ "time/tzdata"

	"github.com/patchnight/patchnight/pkg/exit"
)

// LoadLocation resolves a time zone name: an IANA name such as Europe/London, "Local" or ""
// for the machine's zone, "UTC". Names with "..", a leading "/" or a backslash are refused
// (they would be read as file paths).
func LoadLocation(name string) (*time.Location, error) {
	switch name {
	case "", "Local":
		return time.Local, nil
	}
	if strings.Contains(name, "..") || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) {
		return nil, fmt.Errorf("time zone %q is not an IANA zone name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", name, err)
	}
	return loc, nil
}

// Location is the zone the plan runs in: the plan's time_zone if it has one, otherwise
// profileZone (the profile's time_zone).
func (p *Plan) Location(profileZone string) (*time.Location, error) {
	name := p.TimeZone
	if name == "" {
		name = profileZone
	}
	loc, err := LoadLocation(name)
	if err != nil {
		return nil, exit.Wrap(exit.Usage, err, "use an IANA zone such as Europe/London or America/Chicago", "plan %s", p.Name)
	}
	return loc, nil
}
