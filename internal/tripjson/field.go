package tripjson

import (
	"time"

	"github.com/taxieta/taxieta/internal/trip"
)

// Field is a trip field by name, for inputs that carry the fields apart
// from one another, such as the columns of a table: FieldOf names it, and
// DecodeField reads one value of it with the same rules as Decode.
type Field uint8

// The trip fields; NoField is a name that is none of them.
const (
	NoField Field = iota
	PULocationID
	DOLocationID
	PassengerCount
	PickupDatetime
)

// FieldOf returns the field a member or column name names, or NoField.
func FieldOf(name []byte) Field {
	switch string(name) {
	case fieldPU:
		return PULocationID
	case fieldDO:
		return DOLocationID
	case fieldPax:
		return PassengerCount
	case fieldPickup:
		return PickupDatetime
	}
	return NoField
}

// String is the field's name as the web API's schema spells it.
func (f Field) String() string {
	switch f {
	case PULocationID:
		return fieldPU
	case DOLocationID:
		return fieldDO
	case PassengerCount:
		return fieldPax
	case PickupDatetime:
		return fieldPickup
	}
	return ""
}

// DecodeField reads the value at s as field f of t, reporting the rule it
// breaks as Decode does (null passenger counts and pickup times leave t
// unknown there). The error, which stops decoding, is a *SyntaxError.
func DecodeField(s *Scanner, f Field, ny *time.Location, t *trip.Trip, report func(Problem)) error {
	switch f {
	case PULocationID:
		return zone(s, fieldPU, &t.PULocationID, report)
	case DOLocationID:
		return zone(s, fieldDO, &t.DOLocationID, report)
	case PassengerCount:
		return passengers(s, &t.Passengers, report)
	case PickupDatetime:
		return pickup(s, ny, &t.Pickup, report)
	}
	_, err := s.Skip()
	return err
}
