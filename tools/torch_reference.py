#!/usr/bin/env python3
"""Check moegrad's clusters models against a PyTorch implementation of the same model.

Builds the PyTorch counterpart of moegrad's `mlp_moe` (or `mlp_dense`) model from a moegrad
config, loads a plain state dict written by `moegrad export` into it with
`load_state_dict(strict=True)` (so every name and shape must be the one PyTorch users get),
runs it in eval mode on the batch that `moegrad eval ... --dump` wrote, and compares its
prediction and main loss (MSE) with moegrad's.

Usage (Debian's python, which has torch and PyYAML):

    /usr/bin/python3 tools/torch_reference.py WEIGHTS.safetensors DUMP.safetensors \
        [--config CONFIG.yaml] [--json]

    WEIGHTS  a plain state dict (`moegrad export CHECKPOINT --out WEIGHTS`)
    DUMP     `moegrad eval --weights WEIGHTS --dump DUMP`: tensors `inputs` (b, n, input_dim),
             `targets` (b, n, output_dim), `route_uniforms` (top_n, b, n), the uniforms of
             threshold routing, one tensor for every MoE layer, `prediction` (b, n, output_dim)
             and `main_loss` (1,)
    --config a resolved moegrad config (a run's config.yaml, or what `moegrad check-config
             CONFIG` prints); without it the one stored in DUMP's safetensors metadata (key
             `moegrad.config`: the config that made the prediction), else in WEIGHTS's.
    --json   one JSON object instead of one line per comparison

Exit status: 0 when both agree (prediction: max abs diff <= 1e-4 * (1 + max |prediction|);
main loss: relative diff <= 1e-4), 1 when they do not, 2 on bad input (a file that is not
safetensors, a missing or misshapen tensor, a config this tool does not reproduce, such as
`model.router` or `model.differentiable_topk: true`), with a message naming the file and key.

The modules follow moegrad's (moe/, nn/, train/mlp_models.cpp), which follow st-moe-pytorch
(docs/moe_semantics.md); they are written out here, not imported, so that this file
needs nothing but torch and PyYAML. The experts run through the dense dispatch and combine
tensors of the spec (moegrad's `dispatch: dense`), which moegrad's indexed dispatch matches.
Only eval mode is reproduced: no gate noise, and no aux losses (they are not in the main loss).
"""

import argparse
import json
import math
import struct
import sys

try:
    import torch
    import torch.nn.functional as F
    import yaml
    from torch import nn
except ImportError as err:  # the pyenv python3 lacks torch
    print(f"torch_reference.py: {err}; run it with /usr/bin/python3 (Debian's, with torch and PyYAML)",
          file=sys.stderr)
    sys.exit(2)

PROG = "torch_reference.py"
CONFIG_KEY = "moegrad.config"  # train/checkpoint.h kWeightsConfigKey
PREDICTION_TOL = 1e-4  # times (1 + max |prediction|)
LOSS_TOL = 1e-4  # relative


class InputError(Exception):
    """Bad input: reported on stderr, exit status 2."""


# --------------------------------------------------------------------------------------
# safetensors, read by hand: 8-byte little-endian header length, a JSON header, raw
# little-endian bytes (so that no `safetensors` package is needed).
# --------------------------------------------------------------------------------------

DTYPES = {
    "F64": (torch.float64, 8),
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "I64": (torch.int64, 8),
    "I32": (torch.int32, 4),
    "I16": (torch.int16, 2),
    "I8": (torch.int8, 1),
    "U8": (torch.uint8, 1),
    "BOOL": (torch.bool, 1),
}
MAX_HEADER_BYTES = 100 << 20


def read_safetensors(path):
    """(dict name -> tensor, dict metadata) of a safetensors file; InputError naming the file."""
    if sys.byteorder != "little":
        raise InputError(f"{path}: safetensors data is little-endian; this machine is not")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise InputError(f"{path}: cannot read: {err.strerror}") from err
    if len(data) < 8:
        raise InputError(f"{path}: not a safetensors file ({len(data)} bytes, "
                         "less than the 8-byte header length)")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8 or header_len > MAX_HEADER_BYTES:
        raise InputError(f"{path}: not a safetensors file (header length {header_len} does not fit the file)")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: not a safetensors file (header is not JSON: {err})") from err
    if not isinstance(header, dict):
        raise InputError(f"{path}: not a safetensors file (header is not a JSON object)")
    body = memoryview(data)[8 + header_len :]
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise InputError(f"{path}: __metadata__ is not an object")
    tensors = {}
    for name, info in header.items():
        where = f"{path}: tensor '{name}'"
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= info.keys():
            raise InputError(f"{where}: expected an object with dtype, shape and data_offsets")
        if info["dtype"] not in DTYPES:
            raise InputError(f"{where}: dtype {info['dtype']!r} is not supported "
                             f"(one of {', '.join(DTYPES)})")
        dtype, size = DTYPES[info["dtype"]]
        shape, offsets = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise InputError(f"{where}: shape {shape!r} is not a list of non-negative integers")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise InputError(f"{where}: data_offsets {offsets!r} is not [begin, end]")
        begin, end = offsets
        numel = math.prod(shape)
        if not 0 <= begin <= end <= len(body) or end - begin != numel * size:
            raise InputError(
                f"{where}: data_offsets {offsets} do not hold {numel} x {size} bytes "
                f"within the {len(body)}-byte data"
            )
        if numel == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            # A copy: frombuffer shares memory, and the file's bytes are read-only.
            t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype).reshape(shape)
        tensors[name] = t
    return tensors, metadata


# --------------------------------------------------------------------------------------
# The config. moegrad writes the resolved config (every key that applies, with its value)
# into exported weights and dumps, and `moegrad check-config CONFIG` prints it; moegrad has
# already checked it. So nothing here repeats moegrad's defaults or ranges: a key the model
# needs is read as given, and one that is missing is an error.
# --------------------------------------------------------------------------------------

# TopNGatingOptions' eps and min_expert_capacity: not config keys (MoE does not pass its own on).
GATING_EPS = 1e-9
MIN_EXPERT_CAPACITY = 4
RESOLVE_HINT = "give the resolved config: `moegrad check-config CONFIG > resolved.yaml`, then --config resolved.yaml"


class Config:
    """A moegrad config's `model` and `data` sections, read where the model needs them."""

    def __init__(self, text, source):
        self.source = source
        try:
            root = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise InputError(f"{source}: not valid YAML: {err}") from err
        if not isinstance(root, dict):
            raise InputError(f"{source}: expected a mapping of sections (model, data, ...)")
        self.model = Section(root, "model", source)
        self.data = Section(root, "data", source)
        self._refuse_what_is_not_reproduced()

    def _refuse_what_is_not_reproduced(self):
        m, d, src = self.model, self.data, self.source
        if m["kind"] not in MODELS:
            raise InputError(f"{src}: model.kind: '{m['kind']}' is not supported "
                             f"(this tool builds {' and '.join(MODELS)})")
        if d["task"] != "clusters":
            raise InputError(f"{src}: data.task: '{d['task']}' is not supported ({' and '.join(MODELS)} run on clusters)")
        if m["expert_kind"] not in EXPERT_KINDS:
            raise InputError(f"{src}: model.expert_kind: '{m['expert_kind']}' is not supported "
                             f"(one of {', '.join(EXPERT_KINDS)})")
        if m["kind"] != "mlp_moe":
            return
        # They change the forward, and this tool does not implement them.
        if m.get("router") is not None:
            raise InputError(f"{src}: model.router: an MoERouter is not supported (only router: null)")
        if m["differentiable_topk"]:
            raise InputError(f"{src}: model.differentiable_topk: true is not supported (only false)")

    def threshold_vector(self, key):
        """[eps, t_1, ..., t_{k-1}]: TopNGatingOptions::threshold_vector."""
        t, k = self.model[key], self.model["top_n"]
        return [GATING_EPS] + (list(t) if isinstance(t, list) else [t] * (k - 1))


class Section:
    """One section's keys; a missing one is an InputError naming it."""

    def __init__(self, root, name, source):
        keys = root.get(name)
        if not isinstance(keys, dict):
            raise InputError(f"{source}: no '{name}' section; {RESOLVE_HINT}")
        self.name, self.keys, self.source = name, keys, source

    def __getitem__(self, key):
        if key not in self.keys:
            raise InputError(f"{self.source}: {self.name}.{key} is missing; {RESOLVE_HINT}")
        value = self.keys[key]
        # PyYAML (YAML 1.1) reads moegrad's "1e-09" as a string.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value

    def get(self, key):
        return self.keys.get(key)


# --------------------------------------------------------------------------------------
# The modules, named as moegrad names them (so their state_dict names are moegrad's).
# --------------------------------------------------------------------------------------


class RMSNorm(nn.Module):
    """x / max(||x||_2, 1e-12) * sqrt(dim) * gamma over the last axis (nn/normalization.h)."""

    def __init__(self, dim):
        super().__init__()
        self.scale = dim**0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class GEGLU(nn.Module):
    """Halves (value, gate) of the last axis -> gelu(gate) * value * mult_bias (nn/geglu.h)."""

    def __init__(self, dim, mult_bias=True):
        super().__init__()
        self.mult_bias = nn.Parameter(torch.ones(dim)) if mult_bias else None

    def forward(self, x):
        value, gate = x.chunk(2, dim=-1)
        out = F.gelu(gate) * value  # the exact (erf) gelu, torch's default as moegrad's
        return out * self.mult_bias if self.mult_bias is not None else out


class SwiGLU(nn.Module):
    """Halves (value, gate) -> silu(gate) * value: the halves ordered as GEGLU's (nn/swiglu.h)."""

    def forward(self, x):
        value, gate = x.chunk(2, dim=-1)
        return F.silu(gate) * value


def gated_hidden(dim, hidden_mult):
    # int(dim * hidden_mult * 2 / 3), evaluated left to right as the C++ does.
    return int(dim * hidden_mult * 2 / 3)


# moe/expert_kind.cpp: the hidden width and the layers after the optional prenorm.
EXPERT_KINDS = {
    "geglu": (gated_hidden, lambda d, h: [nn.Linear(d, 2 * h), GEGLU(h), nn.Linear(h, d)]),
    "swiglu": (gated_hidden, lambda d, h: [nn.Linear(d, 2 * h), SwiGLU(), nn.Linear(h, d)]),
    "mlp": (lambda d, m: int(d * m), lambda d, h: [nn.Linear(d, h), nn.GELU(), nn.Linear(h, d)]),
}


class Expert(nn.Module):
    """[RMSNorm(dim)] then the kind's layers, all named net.<i> (moe/expert.h)."""

    def __init__(self, dim, hidden_mult, kind, prenorm=False):
        super().__init__()
        hidden_of, layers_of = EXPERT_KINDS[kind]
        hidden = hidden_of(dim, hidden_mult)
        if hidden < 1:
            raise InputError(f"model: a {kind} expert of dim {dim} and hidden_mult {hidden_mult} "
                             f"has hidden width {hidden} < 1")
        self.net = nn.Sequential(*([RMSNorm(dim)] if prenorm else []), *layers_of(dim, hidden))

    def forward(self, x):
        return self.net(x)


class Experts(nn.Module):
    """experts.<i>; input (e, ..., d), expert i on slice i."""

    def __init__(self, num_experts, dim, hidden_mult, kind):
        super().__init__()
        self.experts = nn.ModuleList(Expert(dim, hidden_mult, kind) for _ in range(num_experts))

    def forward(self, x):
        return torch.stack([expert(x[i]) for i, expert in enumerate(self.experts)])


def cumsum_exclusive(t, dim):
    # Counts of earlier tokens; exact in float32 while n < 2^24.
    return t.cumsum(dim) - t


class TopNGating(nn.Module):
    """moe/top_n_gating.cpp's routing, without noise (eval) and without the aux losses."""

    def __init__(self, dim, num_gates, top_n, threshold_train, threshold_eval, capacity_factor_train,
                 capacity_factor_eval, eps=GATING_EPS, min_expert_capacity=MIN_EXPERT_CAPACITY):
        super().__init__()
        self.num_gates, self.top_n, self.eps = num_gates, top_n, eps
        self.capacity_factor_train, self.capacity_factor_eval = capacity_factor_train, capacity_factor_eval
        self.min_expert_capacity = min_expert_capacity
        self.to_gates = nn.Linear(dim, num_gates, bias=False)
        # Buffers, in the state dict as in the reference: the loaded ones are what routes.
        self.register_buffer("threshold_train", torch.tensor(threshold_train))
        self.register_buffer("threshold_eval", torch.tensor(threshold_eval))
        self.last_routing = None  # (routed, kept) choices of the last call, for the report

    def capacity(self, n):
        # max(min(n, int(n * factor / e)), min_expert_capacity), compared in double first.
        factor = self.capacity_factor_train if self.training else self.capacity_factor_eval
        scaled = n * factor / self.num_gates
        return max(n if scaled >= n else math.floor(scaled), self.min_expert_capacity)

    def forward(self, x, route_uniforms):
        """x (b, n, d), route_uniforms (k, b, n) -> dispatch, combine (b, n, e, c)."""
        b, n, _ = x.shape
        e, k, dt = self.num_gates, self.top_n, x.dtype
        c = self.capacity(n)
        raw_gates = self.to_gates(x).softmax(dim=-1)  # (b, n, e); no gate noise in eval

        top_values, top_indices = raw_gates.topk(k, dim=-1)  # descending
        indices = top_indices.permute(2, 0, 1)  # (k, b, n)
        gates = top_values.permute(2, 0, 1)
        gates = gates / gates.sum(dim=0, keepdim=True).clamp(min=self.eps)

        # Threshold routing: choice j > 0 survives where u < gate_j / max(threshold_j, eps);
        # choice 0 always (its threshold is eps anyway).
        threshold = self.threshold_train if self.training else self.threshold_eval
        ratio = gates.detach() / threshold.to(dt).reshape(k, 1, 1).clamp(min=self.eps)
        routed = route_uniforms.to(dt) < ratio
        routed[0] = True

        # Capacity, choice by choice: a token's slot at its expert counts the routed tokens
        # before it in this choice, after the KEPT tokens of every earlier choice there.
        mask = F.one_hot(indices, e).to(dt) * routed.unsqueeze(-1).to(dt)  # (k, b, n, e)
        before = cumsum_exclusive(mask, dim=2)
        offset = torch.zeros(b, 1, e, dtype=dt)
        kept_masks, slots = [], []
        for j in range(k):
            pos = (before[j] + offset) * mask[j]
            kept_j = mask[j] * (pos < c).to(dt)
            offset = offset + kept_j.sum(dim=1, keepdim=True)
            kept_masks.append(kept_j)
            slots.append(pos.sum(dim=-1).long())
        kept = torch.stack(kept_masks).sum(dim=-1) > 0  # (k, b, n)
        gates = gates * kept.to(dt)
        self.last_routing = (int(routed.sum()), int(kept.sum()))

        # combine[b, n, e, s] = sum_j gate_j * onehot(expert_j)[e] * onehot(slot_j)[s], a
        # slot >= c matching no column (dropped: its gate is already 0).
        combine = x.new_zeros(b, n, e, c)
        for j in range(k):
            expert_hot = F.one_hot(indices[j], e).to(dt)  # (b, n, e)
            slot_hot = F.one_hot(slots[j].clamp(max=c), c + 1)[..., :c].to(dt)  # (b, n, c)
            combine = combine + (gates[j] * kept[j].to(dt))[..., None, None] * (
                expert_hot[..., :, None] * slot_hot[..., None, :]
            )
        dispatch = (combine != 0).to(dt)  # straight-through only changes gradients
        return dispatch, combine


class MoE(nn.Module):
    """gate (TopNGating) and experts; the spec's dense einsums (moe/moe.h)."""

    def __init__(self, cfg):
        super().__init__()
        m = cfg.model
        self.gate = TopNGating(
            m["dim"], m["num_experts"], m["top_n"],
            cfg.threshold_vector("threshold_train"), cfg.threshold_vector("threshold_eval"),
            m["capacity_factor_train"], m["capacity_factor_eval"],
        )
        self.experts = Experts(m["num_experts"], m["dim"], m["expert_hidden_mult"], m["expert_kind"])

    def forward(self, x, route_uniforms):
        dispatch, combine = self.gate(x, route_uniforms)
        expert_in = torch.einsum("bnec,bnd->ebcd", dispatch, x)
        expert_out = self.experts(expert_in)
        return torch.einsum("ebcd,bnec->bnd", expert_out, combine)


class SparseMoEBlock(nn.Module):
    """[x = ff_before(x) + x]; x = moe(moe_prenorm(x)) + x; [x = ff_after(x) + x]."""

    def __init__(self, cfg):
        super().__init__()
        m = cfg.model
        self.moe = MoE(cfg)
        self.moe_prenorm = RMSNorm(m["dim"])
        # SparseMoEBlockOptions::feedforward(): Expert(dim, prenorm) of the experts' kind,
        # with Expert's own default hidden_mult 4, not expert_hidden_mult.
        feedforward = lambda: Expert(m["dim"], 4.0, m["expert_kind"], prenorm=True)  # noqa: E731
        self.ff_before = feedforward() if m["add_ff_before"] else None
        self.ff_after = feedforward() if m["add_ff_after"] else None

    def forward(self, x, route_uniforms):
        if self.ff_before is not None:
            x = self.ff_before(x) + x
        x = self.moe(self.moe_prenorm(x), route_uniforms) + x
        if self.ff_after is not None:
            x = self.ff_after(x) + x
        return x


class MlpMoE(nn.Module):
    """in_proj -> depth SparseMoEBlocks -> norm -> head (train/mlp_models.cpp)."""

    def __init__(self, cfg):
        super().__init__()
        m, d = cfg.model, cfg.data
        self.in_proj = nn.Linear(d["input_dim"], m["dim"])
        self.blocks = nn.ModuleList(SparseMoEBlock(cfg) for _ in range(m["depth"]))
        self.norm = RMSNorm(m["dim"])
        self.head = nn.Linear(m["dim"], d["output_dim"])

    def forward(self, inputs, route_uniforms):
        h = self.in_proj(inputs)
        for block in self.blocks:
            h = block(h, route_uniforms)  # the same uniforms in every layer, as the dump's
        return self.head(self.norm(h))


class MlpDense(nn.Module):
    """in_proj -> depth residual prenorm Experts(dim, hidden_mult) -> norm -> head."""

    def __init__(self, cfg):
        super().__init__()
        m, d = cfg.model, cfg.data
        self.in_proj = nn.Linear(d["input_dim"], m["dim"])
        self.blocks = nn.ModuleList(
            Expert(m["dim"], m["hidden_mult"], m["expert_kind"], prenorm=True) for _ in range(m["depth"])
        )
        self.norm = RMSNorm(m["dim"])
        self.head = nn.Linear(m["dim"], d["output_dim"])

    def forward(self, inputs, route_uniforms=None):
        h = self.in_proj(inputs)
        for block in self.blocks:
            h = block(h) + h
        return self.head(self.norm(h))


MODELS = {"mlp_moe": MlpMoE, "mlp_dense": MlpDense}


# --------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------


def load_config(args, weights_meta, dump_meta):
    """The Config from --config, else DUMP's metadata, else WEIGHTS's."""
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as f:
                return Config(f.read(), args.config)
        except OSError as err:
            raise InputError(f"{args.config}: cannot read: {err.strerror}") from err
        except UnicodeDecodeError as err:
            raise InputError(f"{args.config}: not UTF-8 text") from err
    # The dump's config made the prediction (eval --set may have changed it from the
    # weights' own), so it comes first.
    for path, meta in ((args.dump, dump_meta), (args.weights, weights_meta)):
        if meta.get(CONFIG_KEY):
            return Config(meta[CONFIG_KEY], f"{path} (metadata {CONFIG_KEY})")
    raise InputError(
        f"no config: give --config, or files whose metadata has {CONFIG_KEY} "
        f"(neither {args.dump} nor {args.weights} has one)"
    )


def dump_tensor(dump, path, name, shape=None, floating=True):
    if name not in dump:
        raise InputError(f"{path}: no tensor '{name}' (is it a file from `moegrad eval --dump`?)")
    t = dump[name]
    if floating and not t.is_floating_point():
        raise InputError(f"{path}: tensor '{name}' has dtype {t.dtype}, expected a floating-point type")
    if shape is not None and tuple(t.shape) != tuple(shape):
        raise InputError(f"{path}: tensor '{name}' has shape {tuple(t.shape)}, expected {tuple(shape)}")
    return t


def check_names(model, weights, context):
    """InputError listing the missing, unexpected and misshapen tensors, torch's checks spelled out."""
    own = model.state_dict()
    problems = []
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    misshapen = [
        f"{k} (file {tuple(weights[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in weights and weights[k].shape != own[k].shape
    ]
    lists = (("missing tensors", missing), ("unexpected tensors", unexpected), ("shape mismatch", misshapen))
    for what, names in lists:
        if names:
            shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
            problems.append(f"{what}: {shown}")
    if problems:
        raise InputError(f"{context}: " + "; ".join(problems))


def compare(args):
    weights, weights_meta = read_safetensors(args.weights)
    dump, dump_meta = read_safetensors(args.dump)
    cfg = load_config(args, weights_meta, dump_meta)
    m, d = cfg.model, cfg.data

    inputs = dump_tensor(dump, args.dump, "inputs")
    if inputs.dim() != 3 or inputs.shape[-1] != d["input_dim"]:
        raise InputError(f"{args.dump}: tensor 'inputs' has shape {tuple(inputs.shape)}, expected "
                         f"(batch, seq, data.input_dim={d['input_dim']}) as {cfg.source} says")
    b, n, _ = inputs.shape
    dt = inputs.dtype  # moegrad's compute dtype: the model runs in it here too
    out_shape = (b, n, d["output_dim"])
    targets = dump_tensor(dump, args.dump, "targets", out_shape)
    prediction_ref = dump_tensor(dump, args.dump, "prediction", out_shape)
    loss_ref = dump_tensor(dump, args.dump, "main_loss")
    if loss_ref.numel() != 1:
        raise InputError(f"{args.dump}: tensor 'main_loss' has shape {tuple(loss_ref.shape)}, expected (1,)")
    uniforms = None
    if m["kind"] == "mlp_moe":
        uniforms = dump_tensor(dump, args.dump, "route_uniforms", (m["top_n"], b, n))

    for name, t in weights.items():
        if not t.is_floating_point():
            raise InputError(f"{args.weights}: tensor '{name}' has dtype {t.dtype}, "
                             "expected a floating-point type")
    model = MODELS[m["kind"]](cfg).to(dt)
    check_names(model, weights, f"{args.weights}: does not load into the {m['kind']} "
                                f"that {cfg.source} describes")
    model.load_state_dict(weights, strict=True)  # what a PyTorch user would call: it must pass
    model.eval()

    with torch.no_grad():
        prediction = model(inputs, uniforms)
        loss = F.mse_loss(prediction, targets.to(dt))  # mean, as nn::mse_loss

    diff = (prediction.double() - prediction_ref.double()).abs()
    max_abs = float(diff.max()) if diff.numel() else 0.0
    scale = float(prediction_ref.double().abs().max()) if diff.numel() else 0.0
    loss_ref_v, loss_v = float(loss_ref.double().reshape(())), float(loss.double())
    loss_rel = abs(loss_v - loss_ref_v) / max(abs(loss_ref_v), 1e-30)
    # A NaN anywhere makes a comparison false, so it fails.
    ok = max_abs <= PREDICTION_TOL * (1 + scale) and loss_rel <= LOSS_TOL
    result = {
        "model": m["kind"],
        "expert_kind": m["expert_kind"],
        "config": cfg.source,
        "tokens": b * n,
        "prediction_max_abs_diff": max_abs,
        # Relative to the largest |prediction|, the scale the tolerance uses.
        "prediction_max_rel_diff": max_abs / scale if scale > 0 else max_abs,
        "prediction_max_abs": scale,
        "main_loss_moegrad": loss_ref_v,
        "main_loss_torch": loss_v,
        "main_loss_rel_diff": loss_rel,
        "ok": bool(ok),
    }
    if m["kind"] == "mlp_moe":
        result["layers"] = [
            {"routed": blk.moe.gate.last_routing[0], "kept": blk.moe.gate.last_routing[1],
             "capacity": blk.moe.gate.capacity(n)}
            for blk in model.blocks
        ]
    return result


def print_text(r):
    print(f"prediction: max abs diff {r['prediction_max_abs_diff']:.3e}, max rel diff "
          f"{r['prediction_max_rel_diff']:.3e} (of max |prediction| {r['prediction_max_abs']:.4g}, "
          f"{r['tokens']} tokens)")
    print(f"main_loss: moegrad {r['main_loss_moegrad']:.9g}, torch {r['main_loss_torch']:.9g}, "
          f"rel diff {r['main_loss_rel_diff']:.3e}")
    for i, layer in enumerate(r.get("layers", [])):
        print(f"routing (torch), layer {i}: {layer['routed']} routed choices, {layer['kept']} kept, "
              f"{layer['routed'] - layer['kept']} dropped at capacity {layer['capacity']}")
    print(f"{r['model']} ({r['expert_kind']} experts, config from {r['config']}): "
          + ("ok, moegrad and torch agree" if r["ok"] else "MISMATCH: moegrad and torch disagree"))


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Compare moegrad's mlp_moe / mlp_dense with a PyTorch implementation of it."
    )
    parser.add_argument("weights", help="plain state dict .safetensors (moegrad export)")
    parser.add_argument("dump", help=".safetensors written by `moegrad eval --dump`")
    parser.add_argument("--config",
                        help="moegrad YAML config (default: the one in WEIGHTS's, else DUMP's metadata)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        result = compare(args)
    except InputError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        print_text(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
