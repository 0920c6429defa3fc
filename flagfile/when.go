package flagfile

import (
	"fmt"
	"strings"
	"time"
)

// ParseWhen reads a time the way an operator types it for --until and
// --start:
//
//	90m, 2h30m            a duration from now
//	14:30                 the next 14:30, local time (today or tomorrow)
//	2026-12-01 06:00      local time
//	2026-12-01T06:00:00Z  RFC 3339, with any offset
func ParseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("%q: a duration must be positive", s)
		}
		return now.Add(d).Truncate(time.Second), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	loc := now.Location()
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range []string{"15:04", "15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			y, m, d := now.Date()
			at := time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), 0, loc)
			if !at.After(now) {
				at = at.AddDate(0, 0, 1)
			}
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use a duration (90m), a clock time (14:30), \"2006-01-02 15:04\" or RFC 3339", s)
}
