package store

import "github.com/switchboard-chat/switchboard"

// Size returns the number of items p asks for: DefaultLimit when Limit is 0,
// else Limit. A negative Limit or one above MaxLimit is a
// *switchboard.ValidationError for field "limit".
func (p Page) Size() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultLimit, nil
	case p.Limit < 0 || p.Limit > MaxLimit:
		return 0, switchboard.Invalid("limit", "must be between 1 and %d", MaxLimit)
	}
	return p.Limit, nil
}
