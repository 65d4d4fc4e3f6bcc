"""Ways of exporting MiniLM to ONNX, side by side: speed on ONNX Runtime and faithfulness to torch.

Why rag/embedding/onnx_export.py traces the graph the way it does, as a command anyone can
re-run. Three float32 graphs, each also quantised to int8 the way the service quantises:
- `dynamo, sdpa`: the first export (`torch.onnx.export(dynamo=True)` of BertModel as loaded,
  SDPA attention, transformers' own mask builder). Its boolean mask became Where/IsNaN over
  every (batch, head, query, key) cell.
- `torchscript, prepared mask`: the service's export today (`rag.embedding.onnx_export`).
- `classic attention, fused`: transformers 4's attention pattern patched in for the export, so
  that ONNX Runtime's BERT optimiser fuses Attention, then the optimiser's output.
Every graph embeds the same SciFact abstracts in batches of `--batch` (tokenised once, by the
model's tokenizer), whole passes in turn for `--rounds` rounds with the order rotated; the time
is each graph's median pass. Cosines are against sentence-transformers on torch.

    .venv/bin/python -m bench.onnx_exports --texts 128 --profile
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from bench.machine import machine_info
from bench.paths import cache_dir, require_data
from bench.report import Report, Table
from rag.embedding import load_embedder
from rag.embedding.base import embedding_text
from rag.embedding.onnx_export import INPUTS, OUTPUT, mean_pooled, onnx_model, quantize_int8
from rag.embedding.sentence import packaged_model_dir

Feeds = dict[str, Any]


def export_dynamo(model_dir: Path, path: Path) -> None:
    """The first export: dynamo, BertModel as loaded (SDPA), transformers' mask builder."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in INPUTS)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    program = torch.onnx.export(
        mean_pooled(bert, mask_fill=None),
        example,
        dynamo=True,
        opset_version=18,
        input_names=list(INPUTS),
        output_names=[OUTPUT],
        dynamic_shapes={name: {0: batch, 1: seq} for name in INPUTS},
        verbose=False,
    )
    assert program is not None
    program.save(str(path))


def _classic_attention(self: Any, hidden_states: Any, attention_mask: Any = None, **_: Any) -> Any:
    """transformers 4's BertSelfAttention, the pattern ONNX Runtime's optimiser fuses."""
    import torch

    b, s = hidden_states.shape[0], hidden_states.shape[1]
    h, d = self.num_attention_heads, self.attention_head_size
    q = self.query(hidden_states).view(b, s, h, d).permute(0, 2, 1, 3)
    k = self.key(hidden_states).view(b, s, h, d).permute(0, 2, 3, 1)
    v = self.value(hidden_states).view(b, s, h, d).permute(0, 2, 1, 3)
    probs = torch.nn.functional.softmax(torch.matmul(q, k) / math.sqrt(d) + attention_mask, -1)
    context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
    return context.view(b, s, h * d), None


def export_classic_fused(model_dir: Path, path: Path) -> None:
    """The classic attention pattern, traced by TorchScript, then fused by the BERT optimiser."""
    import torch
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel
    from transformers.models.bert import modeling_bert

    bert = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="eager"
    ).eval()
    original = modeling_bert.BertSelfAttention.forward
    modeling_bert.BertSelfAttention.forward = _classic_attention  # type: ignore[method-assign]
    raw = path.with_name("classic.raw.onnx")
    try:
        torch.onnx.export(
            mean_pooled(bert, mask_fill=-10000.0),  # transformers 4's padding value
            tuple(torch.ones(2, 16, dtype=torch.long) for _ in INPUTS),
            str(raw),
            dynamo=False,
            opset_version=17,
            input_names=list(INPUTS),
            output_names=[OUTPUT],
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in INPUTS},
        )
    finally:
        modeling_bert.BertSelfAttention.forward = original  # type: ignore[method-assign]
    config = bert.config
    fused = optimize_model(
        str(raw), "bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
    )
    fused.save_model_to_file(str(path))
    stats = {k: v for k, v in fused.get_fused_operator_statistics().items() if v}
    (path.with_suffix(".fused.json")).write_text(json.dumps(stats))


def _feeds(model_dir: Path, texts: list[str], batch: int) -> list[Feeds]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    feeds = []
    for start in range(0, len(texts), batch):
        enc = tok.encode_batch(texts[start : start + batch])
        feeds.append(
            {
                "input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64),
            }
        )
    return feeds


def _session(path: Path) -> Callable[[Feeds], Any]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as the service
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda feeds: session.run([OUTPUT], feeds)[0]


def _op_table(name: str, path: Path, feeds: list[Feeds], folder: Path) -> Table:
    """Share of one pass's kernel time per operator type, from ONNX Runtime's own profiler."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_profiling = True
    options.profile_file_prefix = str(folder / "profile")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for f in feeds:
        session.run([OUTPUT], f)
    trace = Path(session.end_profiling())
    per_op: Counter[str] = Counter()
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    trace.unlink()
    total = sum(per_op.values())
    table = Table(f"kernel time per operator type: {name}", ["operator", "share", "ms"])
    for op, micros in per_op.most_common(6):
        table.rows.append([op, f"{100 * micros / total:.1f}%", micros / 1000])
    return table


def main() -> None:
    """Export each way (cached), time every graph side by side, print speed and cosines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=128, help="SciFact abstracts to embed")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="time per operator type too")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args()

    model_dir = packaged_model_dir()
    folder = cache_dir("onnx-exports")
    with require_data("scifact", "corpus.jsonl").open() as fh:
        rows = [json.loads(line) for line, _ in zip(fh, range(args.texts), strict=False)]
    texts = [embedding_text(r.get("title", ""), r["text"]) for r in rows]

    logging.getLogger().setLevel(logging.ERROR)  # exporter and quantiser chatter
    warnings.simplefilter("ignore")
    service = "torchscript, prepared mask (service)"
    graphs = {service: onnx_model(model_dir, cache_dir("onnx"), quantized=False)}
    for name, export in (
        ("dynamo, sdpa (first export)", export_dynamo),
        ("classic attention, fused", export_classic_fused),
    ):
        path = folder / f"{export.__name__}.onnx"
        if not path.exists():
            export(model_dir, path)
        graphs[name] = path
    for name, path in list(graphs.items()):
        int8 = path.with_name(path.stem + "-int8.onnx")
        if name == service:
            int8 = onnx_model(model_dir, cache_dir("onnx"), quantized=True)
        elif not int8.exists():
            # The fused graph's contrib ops defeat shape inference: say outputs are float.
            quantize_int8(path, int8, {"DefaultTensorType": onnx.TensorProto.FLOAT})
        graphs[f"{name}, int8"] = int8

    reference = load_embedder(runtime="torch").embed(texts)
    feeds = _feeds(model_dir, texts, args.batch)
    runs = {name: _session(path) for name, path in graphs.items()}
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    vectors: dict[str, np.ndarray[Any, Any]] = {}
    order = list(runs)
    for name in order:
        runs[name](feeds[0])  # untimed warm-up
    for round_no in range(args.rounds):
        shift = round_no % len(order)
        for name in order[shift:] + order[:shift]:
            t0 = time.perf_counter()
            vectors[name] = np.concatenate([runs[name](f) for f in feeds])
            seconds[name].append(time.perf_counter() - t0)

    base = float(np.median(seconds["dynamo, sdpa (first export)"]))
    report = Report(
        "ONNX exports of MiniLM: speed on ONNX Runtime and cosine against torch",
        machine_info(),
        {
            "texts": f"{len(texts)} SciFact abstracts (title + text)",
            "batch": args.batch,
            "timing": f"median of {args.rounds} whole passes, graphs in rotated turns",
        },
    )
    table = Table(
        "abstracts/s per graph",
        ["graph", "abstracts/s", "x first export", "min cos vs torch", "mean cos vs torch"],
    )
    for name in order:
        median = float(np.median(seconds[name]))
        cos = np.sum(vectors[name] * reference, axis=1)
        table.rows.append(
            [name, len(texts) / median, base / median, float(cos.min()), float(cos.mean())]
        )
    report.tables.append(table)
    first, today = vectors["dynamo, sdpa (first export), int8"], vectors[f"{service}, int8"]
    between = np.sum(first * today, axis=1)
    report.notes.append(
        "int8 of the first export vs int8 of the service's: min cosine "
        f"{between.min():.4f}, mean {between.mean():.4f} (why they are different vector spaces)"
    )
    if args.profile:
        for name in (service, f"{service}, int8", "dynamo, sdpa (first export)"):
            report.tables.append(_op_table(name, graphs[name], feeds, folder))
    fused = folder / "export_classic_fused.fused.json"
    if fused.exists():
        report.notes.append(f"fused operators in the classic graph: {fused.read_text()}")
    report.emit(args.json)


if __name__ == "__main__":
    main()
