package reduce

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseBudget parses a ReLU budget for a network of total ReLUs: a count
// ("12900"), a count in thousands or millions ("12.9k", "1.2M"), or a
// percentage of total ("5%"). The result is rounded to the nearest integer.
// A budget that is negative, not finite, unparsable or above total is an
// error.
func ParseBudget(s string, total int) (int, error) {
	if total <= 0 {
		return 0, fmt.Errorf("budget: model has no ReLUs (%d)", total)
	}
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("budget: empty (want e.g. 12.9k, 12900 or 5%%)")
	}
	mult := 1.0
	pct := false
	switch t[len(t)-1] {
	case '%':
		pct = true
		t = t[:len(t)-1]
	case 'k', 'K':
		mult = 1e3
		t = t[:len(t)-1]
	case 'm', 'M':
		mult = 1e6
		t = t[:len(t)-1]
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("budget: cannot parse %q (want e.g. 12.9k, 12900 or 5%%)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("budget: %q is negative", s)
	}
	if pct {
		if v > 100 {
			return 0, fmt.Errorf("budget: %q is above 100%%", s)
		}
		v = v / 100 * float64(total)
	} else {
		v *= mult
	}
	n := int(math.Round(v))
	if n > total {
		return 0, fmt.Errorf("budget: %q = %d ReLUs is above the model's %d", s, n, total)
	}
	return n, nil
}
