// Package onnxpb holds the Go types of the ONNX protobuf schema, generated
// by protoc-gen-go from onnx.proto, which is ONNX's own file as released in
// ONNX v1.22.0 (github.com/onnx/onnx, onnx/onnx.proto at commit
// 2bb50465112feca9003e1ed654d77f01ff1415ca; Apache-2.0), unmodified.
// Regenerate with make generate; do not edit onnx.pb.go.
package onnxpb
