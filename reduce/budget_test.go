package reduce

import "testing"

func TestParseBudget(t *testing.T) {
	const total = 491520
	good := map[string]int{
		"12.9k": 12900, "12.9K": 12900, "12900": 12900, " 12900 ": 12900,
		"5%": 24576, "0": 0, "100%": total, "0.4915M": 491500, "491520": total, "1e3": 1000,
	}
	for s, want := range good {
		got, err := ParseBudget(s, total)
		if err != nil || got != want {
			t.Errorf("ParseBudget(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "k", "abc", "-1", "-5%", "101%", "491521", "500k", "NaN", "Inf", "12.9kk", "5 %%"} {
		if got, err := ParseBudget(s, total); err == nil {
			t.Errorf("ParseBudget(%q) = %d, want error", s, got)
		}
	}
	if _, err := ParseBudget("10", 0); err == nil {
		t.Error("zero-ReLU model accepted")
	}
}
