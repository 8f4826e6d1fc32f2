package httpapi

import (
	"math"
	"strconv"

	"github.com/taxieta/taxieta/internal/serving"
	"github.com/taxieta/taxieta/internal/trip"
	"github.com/taxieta/taxieta/internal/tripjson"
)

// appendMinutes writes minutes rounded to two decimals, as
// strconv.AppendFloat(b, math.Round(v*100)/100, 'f', -1, 64) writes them
// (FuzzAppendMinutes checks it), without its general shortest-decimal
// search: the hundredths, trailing zeros dropped. NaN and infinities are 0.
func appendMinutes(b []byte, v float32) []byte {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	k := math.Round(f * 100)
	// Beyond this, doubles are too sparse for the hundredths to be the
	// shortest decimal; estimates never come near it.
	if math.Abs(k) >= 1e15 {
		return strconv.AppendFloat(b, k/100, 'f', -1, 64)
	}
	if math.Signbit(k) {
		b = append(b, '-')
		k = -k
	}
	n := uint64(k)
	b = strconv.AppendUint(b, n/100, 10)
	switch c := n % 100; {
	case c == 0:
	case c%10 == 0:
		b = append(b, '.', byte('0'+c/10))
	default:
		b = append(b, '.', byte('0'+c/10), byte('0'+c%10))
	}
	return b
}

func appendEstimate(b []byte, p trip.Prediction) []byte {
	b = append(b, `{"trip_duration_prediction":`...)
	b = appendMinutes(b, p.Minutes)
	b = append(b, `,"interval":{"low":`...)
	b = appendMinutes(b, p.Low)
	b = append(b, `,"high":`...)
	b = appendMinutes(b, p.High)
	return append(b, `}}`...)
}

func appendModelRef(b []byte, m *serving.ModelVersion) []byte {
	b = append(b, `{"name":`...)
	b = tripjson.AppendString(b, m.Name)
	b = append(b, `,"version":`...)
	b = tripjson.AppendString(b, m.Version)
	return append(b, '}')
}

// appendPrediction writes a PredictionResponse.
func appendPrediction(b []byte, p trip.Prediction, m *serving.ModelVersion) []byte {
	b = appendEstimate(b, p)
	b = b[:len(b)-1]
	b = append(b, `,"model":`...)
	b = appendModelRef(b, m)
	return append(b, "}\n"...)
}

// appendBatch writes a BatchResponse.
func appendBatch(b []byte, ps []trip.Prediction, m *serving.ModelVersion) []byte {
	b = append(b, `{"model":`...)
	b = appendModelRef(b, m)
	b = append(b, `,"predictions":[`...)
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEstimate(b, p)
	}
	return append(b, "]}\n"...)
}
