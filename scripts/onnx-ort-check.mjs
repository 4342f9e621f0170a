// Runs an ONNX model with onnxruntime-node (an independent numeric oracle
// for `autorep export`): reads a raw little-endian float32 input of the
// given shape and prints the first output as one JSON object
// {"dims": [...], "data": [...]} on stdout.
//
//   npm install --ignore-scripts onnxruntime-node@1.17.0   (in some DIR)
//   NODE_PATH=DIR/node_modules node scripts/onnx-ort-check.mjs MODEL.onnx INPUT.f32 N,C,H,W
//
// The onnxmodel test TestExportMatchesOnnxRuntime runs it when
// AUTOREP_ORT_NODE_PATH names such a node_modules directory.
import { createRequire } from "module";
import { readFileSync } from "fs";

const [model, input, shape] = process.argv.slice(2);
if (!model || !input || !shape) {
  console.error("usage: node onnx-ort-check.mjs MODEL.onnx INPUT.f32 N,C,H,W");
  process.exit(2);
}
// require() honours NODE_PATH; an ES import would not.
const ort = createRequire(import.meta.url)("onnxruntime-node");
const dims = shape.split(",").map(Number);
const buf = readFileSync(input);
const n = dims.reduce((a, b) => a * b, 1);
if (buf.length !== 4 * n) {
  console.error(`onnx-ort-check: ${input} has ${buf.length} bytes, shape ${shape} needs ${4 * n}`);
  process.exit(1);
}
const data = new Float32Array(n);
for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(4 * i);
const session = await ort.InferenceSession.create(model);
const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", data, dims) };
const out = await session.run(feeds);
const y = out[session.outputNames[0]];
process.stdout.write(JSON.stringify({ dims: y.dims, data: Array.from(y.data) }) + "\n");
