"""Scores trips with an exported taxieta ONNX graph in onnxruntime, as a
Python user would, for internal/onnx's tests.

usage: ort_predict.py MODEL.onnx DIR

DIR holds one little-endian int64 file per graph input, INPUT.bin; the
script checks the model with onnx's full checker, runs it on the CPU and
writes each output as little-endian float32 OUTPUT.bin beside them.
"""

import sys

import numpy as np
import onnx
import onnxruntime as ort


def main(model_path, io_dir):
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in sess.get_inputs():
        if i.type != "tensor(int64)" or len(i.shape) != 1:
            sys.exit(f"input {i.name} is {i.type} {i.shape}; want tensor(int64) [N]")
        feeds[i.name] = np.fromfile(f"{io_dir}/{i.name}.bin", dtype="<i8")
    outputs = sess.get_outputs()
    for o, v in zip(outputs, sess.run([o.name for o in outputs], feeds)):
        if v.dtype != np.float32 or v.shape != (len(feeds[sess.get_inputs()[0].name]),):
            sys.exit(f"output {o.name} is {v.dtype} {v.shape}; want float32 [N]")
        v.astype("<f4").tofile(f"{io_dir}/{o.name}.bin")


if __name__ == "__main__":
    main(*sys.argv[1:])
