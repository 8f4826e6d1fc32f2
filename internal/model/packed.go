package model

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
)

// packedFloats is a large float32 table stored in the artifact as base64 of
// little-endian IEEE 754 values, with its encoding spelled out. Written as
// JSON numbers the od model's 70,756 pair estimates took most of a model
// load; packed, loading is a memory copy.
type packedFloats []float32

type packedJSON struct {
	DType     string `json:"dtype"`
	ByteOrder string `json:"byte_order"`
	Count     int    `json:"count"`
	Base64    string `json:"base64"`
}

// MarshalJSON writes the packed form.
func (p packedFloats) MarshalJSON() ([]byte, error) {
	raw := make([]byte, 4*len(p))
	for i, v := range p {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return json.Marshal(packedJSON{DType: "float32", ByteOrder: "little", Count: len(p), Base64: base64.StdEncoding.EncodeToString(raw)})
}

// UnmarshalJSON reads the packed form, checking its declared encoding.
func (p *packedFloats) UnmarshalJSON(b []byte) error {
	var j packedJSON
	if err := strictUnmarshal(b, &j); err != nil {
		return err
	}
	if j.DType != "float32" || j.ByteOrder != "little" {
		return fmt.Errorf("packed table: dtype %q byte order %q; want float32, little", j.DType, j.ByteOrder)
	}
	raw, err := base64.StdEncoding.DecodeString(j.Base64)
	if err != nil {
		return fmt.Errorf("packed table: %w", err)
	}
	if len(raw) != 4*j.Count {
		return fmt.Errorf("packed table: %d bytes for %d values", len(raw), j.Count)
	}
	out := make([]float32, j.Count)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	*p = out
	return nil
}
