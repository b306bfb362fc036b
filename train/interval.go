package train

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultSaveEvery is the checkpoint interval of a run whose
// Options.SaveEvery is the zero Interval: a kill loses at most about this
// much work.
const DefaultSaveEvery = 10 * time.Minute

// Interval is how often a run saves a checkpoint in the middle of an
// epoch: after every Steps optimizer steps (counted from the start of the
// run) or once Every of wall time has passed since the last checkpoint,
// whichever comes first. A field ≤ 0 is unused; the zero Interval means
// Every = DefaultSaveEvery. Checkpoints are also saved at the end of every
// epoch and of the session.
//
// Its text form, as ParseInterval reads it and String writes it, is a
// step count ("500") or a duration ("10m", "90s").
type Interval struct {
	Steps int           `json:"steps,omitempty"`
	Every time.Duration `json:"every,omitempty"`
}

// ParseInterval reads a step count such as "500" or a duration such as
// "10m" (time.ParseDuration's syntax, at least one second).
func ParseInterval(s string) (Interval, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return Interval{}, fmt.Errorf("save interval %q: a step count must be at least 1", s)
		}
		return Interval{Steps: n}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Interval{}, fmt.Errorf("save interval %q: give a step count (500) or a duration (10m, 90s)", s)
	}
	if d < time.Second {
		return Interval{}, fmt.Errorf("save interval %q: a duration must be at least 1s", s)
	}
	return Interval{Every: d}, nil
}

// String returns the interval as ParseInterval reads it; an interval with
// both fields set reads "500 or 10m0s".
func (i Interval) String() string {
	i = i.resolve()
	switch {
	case i.Steps > 0 && i.Every > 0:
		return fmt.Sprintf("%d or %v", i.Steps, i.Every)
	case i.Steps > 0:
		return strconv.Itoa(i.Steps)
	}
	return i.Every.String()
}

// Set parses s into i, so that an *Interval is a flag.Value (and a
// pflag.Value with Type).
func (i *Interval) Set(s string) error {
	v, err := ParseInterval(s)
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// Type names the flag's value type for pflag.
func (i *Interval) Type() string { return "steps|duration" }

// resolve applies the default to the zero Interval.
func (i Interval) resolve() Interval {
	if i.Steps <= 0 && i.Every <= 0 {
		return Interval{Every: DefaultSaveEvery}
	}
	return i
}

// due reports whether a checkpoint is due after step (1-based, counted
// from the run's start) when since has passed since the last one.
func (i Interval) due(step int, since time.Duration) bool {
	i = i.resolve()
	return (i.Steps > 0 && step%i.Steps == 0) || (i.Every > 0 && since >= i.Every)
}
