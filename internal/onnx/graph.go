package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/taxieta/taxieta/internal/onnx/onnxpb"
)

// graph builds an onnx GraphProto: named constants as initializers, and
// nodes whose outputs get fresh names.
type graph struct {
	g *onnxpb.GraphProto
	n int
}

func newGraph(name string) *graph {
	return &graph{g: &onnxpb.GraphProto{Name: proto.String(name)}}
}

// batchShape is [N], N the number of trips.
func batchShape() *onnxpb.TensorShapeProto {
	return &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
	}}
}

func valueInfo(name string, t onnxpb.TensorProto_DataType) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(t)),
			Shape:    batchShape(),
		}}},
	}
}

func (g *graph) input(name string, t onnxpb.TensorProto_DataType) {
	g.g.Input = append(g.g.Input, valueInfo(name, t))
}

func (g *graph) output(name string, t onnxpb.TensorProto_DataType) {
	g.g.Output = append(g.g.Output, valueInfo(name, t))
}

func (g *graph) constant(t *onnxpb.TensorProto) string {
	g.g.Initializer = append(g.g.Initializer, t)
	return t.GetName()
}

func tensor(name string, dt onnxpb.TensorProto_DataType, dims []int64) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(dt)), Dims: dims}
}

// Scalar constants (no dims) broadcast over the batch.

// int64s is an int64 scalar constant.
func (g *graph) int64s(name string, v int64) string {
	t := tensor(name, onnxpb.TensorProto_INT64, nil)
	t.Int64Data = []int64{v}
	return g.constant(t)
}

// float is a float32 scalar constant.
func (g *graph) float(name string, v float32) string {
	t := tensor(name, onnxpb.TensorProto_FLOAT, nil)
	t.FloatData = []float32{v}
	return g.constant(t)
}

// floats is a float32 table.
func (g *graph) floats(name string, v []float32) string {
	t := tensor(name, onnxpb.TensorProto_FLOAT, []int64{int64(len(v))})
	t.FloatData = v
	return g.constant(t)
}

// double is a float64 scalar constant.
func (g *graph) double(name string, v float64) string {
	t := tensor(name, onnxpb.TensorProto_DOUBLE, nil)
	t.DoubleData = []float64{v}
	return g.constant(t)
}

// doubles is a float64 table.
func (g *graph) doubles(name string, v []float64) string {
	t := tensor(name, onnxpb.TensorProto_DOUBLE, []int64{int64(len(v))})
	t.DoubleData = v
	return g.constant(t)
}

// op adds a node and returns the name of its one output.
func (g *graph) op(opType string, inputs ...string) string {
	g.n++
	return g.opTo(opType, fmt.Sprintf("%s_%d", opType, g.n), inputs...)
}

// opTo adds a node whose output is named out.
func (g *graph) opTo(opType, out string, inputs ...string) string {
	g.addNode(opType, out, nil, inputs...)
	return out
}

func (g *graph) addNode(opType, out string, attrs []*onnxpb.AttributeProto, inputs ...string) {
	g.g.Node = append(g.g.Node, &onnxpb.NodeProto{
		Name:      proto.String(fmt.Sprintf("n%d_%s", len(g.g.Node), opType)),
		OpType:    proto.String(opType),
		Input:     inputs,
		Output:    []string{out},
		Attribute: attrs,
	})
}

func (g *graph) and(a, b string) string { return g.op("And", a, b) }

// gather looks up indices in a 1-D table.
func (g *graph) gather(table, indices string) string { return g.op("Gather", table, indices) }

func castAttr(to onnxpb.TensorProto_DataType) []*onnxpb.AttributeProto {
	return []*onnxpb.AttributeProto{{
		Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(to)),
	}}
}

func (g *graph) cast(in string, to onnxpb.TensorProto_DataType) string {
	g.n++
	out := fmt.Sprintf("Cast_%d", g.n)
	g.castTo(out, in, to)
	return out
}

func (g *graph) castTo(out, in string, to onnxpb.TensorProto_DataType) {
	g.addNode("Cast", out, castAttr(to), in)
}
