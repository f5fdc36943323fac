"""Where a training step's GPU time goes, from a trace that `gpu_mfu_xla.py --profile` wrote.

  python bench/gpu_profile.py TRACE.xplane.pb [--steps 4] [--top 15]

Sums each GPU kernel's time and names what it computes from the TensorFlow ops fused into it
(the trace holds XLA's optimized module, whose instructions keep TensorFlow's op names):
matrix products by kernel name, then dropout, softmax, LayerNorm, GELU, transposes, other.
--steps divides the sums (gpu_mfu_xla.py traces TRACED_STEPS of each program, its warm-up
included).
Needs TensorFlow only for its bundled protos (XSpace, HloProto).
"""

import argparse
import collections
import re

from gpu_mfu_xla import TRACED_STEPS
from tensorflow.compiler.xla.service import hlo_pb2
from tensorflow.tsl.profiler.protobuf import xplane_pb2

# First match wins: a fusion holding a LayerNorm and its dropout counts as dropout.
KINDS = [("dropout", "dropout"), ("softmax", "softmax"), ("layer_norm", "LayerNorm"),
         ("gelu", "GELU"), ("intermediate", "GELU"), ("adam", "optimizer"),
         ("clip_by_global_norm", "optimizer"), ("transpose", "transpose"),
         ("embedding", "embeddings")]


def fused_op_names(module):
  """{kernel name: TensorFlow op names of the instructions fused into it}."""
  computations = {c.id: c for c in module.computations}

  def names(instruction):
    out = [instruction.metadata.op_name] if instruction.metadata.op_name else []
    if instruction.opcode == "fusion":  # not reducers' to_apply, shared between ops
      for called in instruction.called_computation_ids:
        for inner in computations[called].instructions:
          out += names(inner)
    return out

  # Kernels are named after their instruction, '.' and '-' written as '_'.
  return {re.sub(r"[.-]", "_", i.name): names(i)
          for c in module.computations for i in c.instructions}


def kind_of(kernel, op_names):
  if re.search(r"nvjet|gemm|cutlass|cublas", kernel):
    return "matrix products"
  text = " ".join(op_names).lower()
  return next((kind for key, kind in KINDS if key in text), "other")


def _stats(plane, holder):
  values = {}
  for stat in holder.stats:
    field = stat.WhichOneof("value")
    value = getattr(stat, field)
    values[plane.stat_metadata[stat.metadata_id].name] = (
        plane.stat_metadata[value].name if field == "ref_value" else value)
  return values


def kernel_times(space):
  """{(kind, kernel): picoseconds} over the GPU's kernels, kinds from the traced modules
  (kernel names repeat across modules: each kernel is looked up in its own program's)."""
  metadata = next((p for p in space.planes if p.name == "/host:metadata"), None)
  if metadata is None:
    raise SystemExit("the trace holds no XLA modules (no /host:metadata plane)")
  op_names = {}
  for event in metadata.event_metadata.values():
    stats = _stats(metadata, event)
    if "Hlo Proto" in stats:
      proto = hlo_pb2.HloProto()
      proto.ParseFromString(stats["Hlo Proto"])
      op_names[int(stats.get("program_id", 0))] = fused_op_names(proto.hlo_module)
  times = collections.Counter()
  for plane in space.planes:
    if plane.name.startswith("/device:GPU"):
      for line in plane.lines:
        for event in line.events:
          kernel = plane.event_metadata[event.metadata_id].name
          program = op_names.get(int(_stats(plane, event).get("program_id", -1)), {})
          times[(kind_of(kernel, program.get(kernel, [])), kernel)] += event.duration_ps
  return times


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("trace", help="the .xplane.pb under the --profile folder")
  parser.add_argument("--steps", type=int, default=TRACED_STEPS, help="steps traced per program")
  parser.add_argument("--top", type=int, default=15, help="kernels listed")
  args = parser.parse_args()
  space = xplane_pb2.XSpace()
  with open(args.trace, "rb") as f:
    space.ParseFromString(f.read())
  times = kernel_times(space)
  total = sum(times.values())
  if not total:
    raise SystemExit("%s holds no GPU kernels: was it traced on a GPU?" % args.trace)
  by_kind = collections.Counter()
  for (kind, _), ps in times.items():
    by_kind[kind] += ps
  print("GPU kernel time: %.2f ms per step (all traced programs)\n" % (total / 1e9 / args.steps))
  print("| kind | ms per step | share |\n|---|---|---|")
  for kind, ps in by_kind.most_common():
    print("| %s | %.2f | %.1f%% |" % (kind, ps / 1e9 / args.steps, 100 * ps / total))
  print("\n| kernel | kind | ms per step |\n|---|---|---|")
  for (kind, kernel), ps in times.most_common(args.top):
    print("| %s | %s | %.2f |" % (kernel[:60], kind, ps / 1e9 / args.steps))


if __name__ == "__main__":
  main()
