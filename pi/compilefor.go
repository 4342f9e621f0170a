package pi

import "github.com/autorep/autorep/models"

// ForSuite returns c for suite (Suite, the canonical name) with the
// polynomial form and truncation mode (Poly, Trunc) that suite computes
// for the command-line truncation name trunc (SuiteForms; "" is the
// suite's default: PolyFormFor, TruncFor), its other fields unchanged.
func (c Config) ForSuite(suite, trunc string) (Config, error) {
	poly, mode, err := SuiteForms(suite, trunc)
	if err != nil {
		return Config{}, err
	}
	c.Suite, c.Poly, c.Trunc = suiteName(suite), poly, mode
	return c, nil
}

// OutputError is CompileOutput's error for an output mode the model
// cannot give (more best labels than it has classes), so that a command
// can name its flag.
type OutputError struct{ Err error }

func (e *OutputError) Error() string { return e.Err.Error() }
func (e *OutputError) Unwrap() error { return e.Err }

// CompileOutput compiles m with cfg (a suite's: Config.ForSuite) and the
// output mode topK (ParseOutput: 0 reveals the logits, K ≥ 1 the K best
// labels). The output mode is public: part of the plan and its hash,
// which the client receives and checks.
func CompileOutput(m *models.Model, cfg Config, topK int) (*Plan, error) {
	plan, err := Compile(m, cfg)
	if err != nil {
		return nil, err
	}
	plan.Public.TopK = topK
	if err := plan.Public.Validate(); err != nil {
		return nil, &OutputError{err}
	}
	return plan, nil
}
