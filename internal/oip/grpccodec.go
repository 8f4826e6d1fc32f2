package oip

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// grpc-go answers a request that is not valid protobuf with INTERNAL,
// which would blame the server for the client's bytes. The codec below
// turns a failed decoding into an empty message marked with the error (an
// unknown field of the largest field number), and the interceptor answers
// a marked message with INVALID_ARGUMENT instead of calling the method.

// malformedField is the field number of the mark.
const malformedField = protowire.MaxValidNumber

// strictCodec is the proto codec, marking messages it cannot decode.
type strictCodec struct{ base encoding.CodecV2 }

func newStrictCodec() strictCodec { return strictCodec{base: encoding.GetCodecV2(grpcproto.Name)} }

// Marshal is the proto codec's.
func (c strictCodec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

// Unmarshal decodes data into v; a message that does not decode is left
// empty and marked with the error.
func (c strictCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	if err == nil {
		return nil
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	proto.Reset(m)
	mark := protowire.AppendTag(nil, malformedField, protowire.BytesType)
	m.ProtoReflect().SetUnknown(protowire.AppendString(mark, err.Error()))
	return nil
}

// Name is the proto codec's, so that it serves application/grpc+proto.
func (c strictCodec) Name() string { return grpcproto.Name }

// malformed returns the decoding error a message was marked with.
func malformed(m proto.Message) (string, bool) {
	b := m.ProtoReflect().GetUnknown()
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != malformedField || typ != protowire.BytesType {
		return "", false
	}
	s, k := protowire.ConsumeString(b[n:])
	if k < 0 || n+k != len(b) {
		return "", false
	}
	return s, true
}

// rejectMalformed answers a request the codec marked with INVALID_ARGUMENT.
func rejectMalformed(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if msg, bad := malformed(m); bad {
			return nil, grpcstatus.Errorf(codes.InvalidArgument, "the request to %s is not a valid %s protobuf message: %s",
				info.FullMethod, m.ProtoReflect().Descriptor().FullName(), msg)
		}
	}
	return handler(ctx, req)
}
