"""A catalog head: a full-catalog softmax trained on top of frozen text embeddings.

The "projection head" training option. The encoder stays as it is; a small model on its
outputs learns what contrastive in-batch training cannot: which items recommenders
actually name (a per-item bias), how the request maps onto the item space (a linear
map of the query), what the movies mentioned so far add (a linear map of their mean
vector), and a per-item offset for items the training data names often:

    score(item | q, h) = scale * cos(q + q A + h B, v_item + d_item) + b_item

q = query (context) embedding, h = mean embedding of the history items (zeros when
none), v = the encoder's item vectors. A, B and d start at zero, so before training the
head ranks exactly like the encoder; an L2 penalty keeps them small. Trained with
cross-entropy over the WHOLE catalog (not in-batch), so it ranks against every item as
the benchmark does. With `mask_history` the history items are masked out of each softmax
(targets repeated from the history are dropped): the "new items" task.

Early stopping on the held-out log-likelihood, checked every epoch.
Runs on the device accelerate picks. Saved as an npz of float32 arrays + manifest
(never pickled). Knows nothing of dialogues or files: vectors and rows in, scores out.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.artifacts import check_manifest, write_manifest

KIND = "catalog-head"


@dataclass(frozen=True)
class HeadConfig:
    seed: int = 0
    epochs: int = 40  # at most; early stopping usually ends it within ~10
    batch_size: int = 256
    lr: float = 1e-3  # Adam
    l2: float = 1e-3  # penalty on A, B and the item offsets (sum of squares)
    scale: float = 20.0  # cosine -> logit, as in the contrastive fine-tuning
    patience: int = 3  # epochs without a better held-out metric before stopping
    mask_history: bool = True  # the new-items task: history items are never the answer


@dataclass(frozen=True)
class HeadExamples:
    """Training or held-out examples: one query vector, its history and its targets each."""

    queries: np.ndarray  # float32 (n, dim), unit rows
    histories: Sequence[Sequence[int]]  # item rows mentioned before (may be empty)
    targets: Sequence[Sequence[int]]  # item rows to predict (one CE term each)

    def __post_init__(self) -> None:
        if not (len(self.queries) == len(self.histories) == len(self.targets)):
            raise ValueError(f"HeadExamples: {len(self.queries)} queries, {len(self.histories)} "
                             f"histories and {len(self.targets)} target lists must match")

    @classmethod
    def empty(cls, dim: int) -> "HeadExamples":
        return cls(np.zeros((0, dim), np.float32), [], [])

    def subset(self, index: Sequence[int]) -> "HeadExamples":
        index = list(index)
        return HeadExamples(self.queries[index], [self.histories[i] for i in index],
                            [self.targets[i] for i in index])

    def concat(self, other: "HeadExamples") -> "HeadExamples":
        return HeadExamples(np.concatenate([self.queries, other.queries]),
                            [*self.histories, *other.histories], [*self.targets, *other.targets])


def history_means(item_vectors: np.ndarray, histories: Sequence[Sequence[int]]) -> np.ndarray:
    """float32 (n, dim): mean item vector of each history, zeros for an empty one."""
    out = np.zeros((len(histories), item_vectors.shape[1]), np.float32)
    for i, rows in enumerate(histories):
        if len(rows):
            out[i] = item_vectors[list(rows)].mean(0)
    return out


class CatalogHead:
    def __init__(self, A: np.ndarray, B: np.ndarray, offsets: np.ndarray, bias: np.ndarray,
                 scale: float) -> None:
        self.A, self.B, self.offsets, self.bias, self.scale = A, B, offsets, bias, float(scale)

    @classmethod
    def identity(cls, n_items: int, dim: int, scale: float = 20.0) -> "CatalogHead":
        """The untrained head: ranks exactly as the encoder's cosine does."""
        return cls(np.zeros((dim, dim), np.float32), np.zeros((dim, dim), np.float32),
                   np.zeros((n_items, dim), np.float32), np.zeros(n_items, np.float32), scale)

    def scores(self, item_vectors: np.ndarray, queries: np.ndarray,
               histories: Sequence[Sequence[int]]) -> np.ndarray:
        """float32 (n_queries, n_items) logits over the whole catalog."""
        if item_vectors.shape != self.offsets.shape:
            raise ValueError(f"head was trained for {self.offsets.shape} item vectors, "
                             f"got {item_vectors.shape}")
        x = queries + queries @ self.A + history_means(item_vectors, histories) @ self.B
        x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return (self.scale * x @ self._items(item_vectors).T + self.bias[None, :]).astype(np.float32)

    def _items(self, item_vectors: np.ndarray) -> np.ndarray:
        """The offset, unit item vectors, computed once per item-vector array (every chat
        turn scores the same catalog)."""
        cached = getattr(self, "_cache", None)
        if cached is not None and cached[0] is item_vectors:
            return cached[1]
        items = item_vectors + self.offsets
        items = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
        self._cache = (item_vectors, items)
        return items

    # --- training ----------------------------------------------------------------------
    @classmethod
    def fit(cls, item_vectors: np.ndarray, train: HeadExamples, valid: HeadExamples,
            config: HeadConfig = HeadConfig(), progress: bool = True) -> "tuple[CatalogHead, dict]":
        """Train on `train`, keep the epoch that is best on `valid` (with no held-out
        examples: train all `epochs` and keep the last); returns (head, report) where the
        report holds the per-epoch held-out metric, the best epoch and seconds."""
        import torch
        from accelerate import PartialState
        from tqdm.auto import tqdm

        start = time.perf_counter()
        q_rows, y, ban = _flatten(train, config.mask_history, len(item_vectors))
        if len(y) == 0:
            raise ValueError("no training targets (every target repeats its history?)")
        torch.manual_seed(config.seed)
        device = PartialState().device
        t = lambda a: torch.as_tensor(np.asarray(a), device=device)  # noqa: E731
        n_items, dim = item_vectors.shape
        V, Q, Hm = t(item_vectors), t(train.queries), t(history_means(item_vectors, train.histories))
        A = torch.zeros(dim, dim, device=device, requires_grad=True)
        B = torch.zeros(dim, dim, device=device, requires_grad=True)
        D = torch.zeros(n_items, dim, device=device, requires_grad=True)
        b = torch.zeros(n_items, device=device, requires_grad=True)
        opt = torch.optim.Adam([A, B, D, b], lr=config.lr)

        def logits(q, h):
            x = torch.nn.functional.normalize(q + q @ A + h @ B, dim=-1)
            return config.scale * x @ torch.nn.functional.normalize(V + D, dim=-1).T + b

        def snapshot() -> "CatalogHead":
            arr = lambda p: p.detach().cpu().numpy().astype(np.float32).copy()  # noqa: E731
            return cls(arr(A), arr(B), arr(D), arr(b), config.scale)

        best, best_epoch, waited = snapshot(), 0, 0  # epoch 0 = the untrained head
        best_metric = heldout_metric(best, item_vectors, valid, config.mask_history)
        history = [(0, best_metric)]
        rng = np.random.default_rng(config.seed)
        epoch = 0
        for epoch in tqdm(range(1, config.epochs + 1), desc="training head", unit="epoch",
                          disable=not progress):
            order = rng.permutation(len(y))
            for s in range(0, len(y), config.batch_size):
                idx = order[s:s + config.batch_size]
                out = logits(Q[t(q_rows[idx])], Hm[t(q_rows[idx])])
                if config.mask_history:
                    out = out.masked_fill(t(ban[idx].toarray()), -1e4)
                loss = torch.nn.functional.cross_entropy(out, t(y[idx]))
                loss = loss + config.l2 * ((A ** 2).sum() + (B ** 2).sum() + (D ** 2).sum())
                opt.zero_grad()
                loss.backward()
                opt.step()
            current = snapshot()
            if len(valid.queries) == 0:
                best, best_epoch = current, epoch
                continue
            metric = heldout_metric(current, item_vectors, valid, config.mask_history)
            history.append((epoch, metric))
            if metric > best_metric:
                best, best_metric, best_epoch, waited = current, metric, epoch, 0
            else:
                waited += 1
                if waited >= config.patience:
                    break
        report = {"head": asdict(config), "history": [[e, round(float(m), 4)] for e, m in history],
                  "best_epoch": best_epoch, "best_metric": float(best_metric), "base_metric": float(history[0][1]),
                  "n_train_targets": int(len(y)), "device": str(device),
                  "seconds": round(time.perf_counter() - start, 1)}
        if progress and len(valid.queries) == 0:
            print(f"trained head {epoch} epochs in {report['seconds']:.0f} s on {len(y)} targets "
                  "(no held-out examples: the last epoch is kept)", flush=True)
        elif progress:
            print(f"trained head {epoch} epochs in {report['seconds']:.0f} s: held-out "
                  f"log-likelihood {history[0][1]:.3f} -> {best_metric:.3f} (best epoch {best_epoch})", flush=True)
        return best, report

    # --- artifacts ---------------------------------------------------------------------
    def save(self, folder: Path, fingerprints: dict[str, str], config: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "head.npz", A=self.A, B=self.B, offsets=self.offsets, bias=self.bias,
                 scale=np.float32(self.scale))
        write_manifest(folder, KIND, fingerprints, config)

    @classmethod
    def load(cls, folder: Path, fingerprints: dict[str, str]) -> "CatalogHead":
        check_manifest(folder, KIND, fingerprints)
        with np.load(folder / "head.npz", allow_pickle=False) as z:
            return cls(z["A"], z["B"], z["offsets"], z["bias"], float(z["scale"]))


def _flatten(ex: HeadExamples, mask_history: bool, n_items: int):
    """One row per (example, target): example index, target row, and a sparse mask of
    the history rows other than the target (all False without `mask_history`; targets
    repeated from the history are dropped with it)."""
    import scipy.sparse as sp

    q_rows, y, ban_r, ban_c = [], [], [], []
    for i, (hist, targets) in enumerate(zip(ex.histories, ex.targets)):
        hist = set(int(h) for h in hist)
        for target in targets:
            if mask_history and int(target) in hist:
                continue
            if mask_history:
                ban_c.extend(hist)
                ban_r.extend([len(y)] * len(hist))
            q_rows.append(i)
            y.append(int(target))
    ban = sp.csr_matrix((np.ones(len(ban_r), bool), (ban_r, ban_c)), shape=(len(y), n_items))
    return np.asarray(q_rows, np.int64), np.asarray(y, np.int64), ban


def heldout_metric(head: CatalogHead, item_vectors: np.ndarray, ex: HeadExamples,
                   mask_history: bool) -> float:
    """Mean log-likelihood of every (example, target) of `ex` under the head's softmax
    over the catalog (history masked and repeated targets dropped when `mask_history`).
    Smoother than Recall@k on a few hundred held-out targets, so early stopping is less
    at the mercy of noise."""
    if len(ex.queries) == 0:
        return 0.0
    scores = head.scores(item_vectors, ex.queries, ex.histories).astype(np.float64)
    total, count = 0.0, 0
    for i, (hist, targets) in enumerate(zip(ex.histories, ex.targets)):
        s = scores[i]
        hist = [int(h) for h in hist]
        if mask_history and hist:
            s[hist] = -np.inf  # masked items leave the softmax (exp(-inf) = 0 below)
        top = s.max()
        log_z = top + np.log(np.exp(s - top).sum())
        for target in targets:
            if mask_history and int(target) in hist:
                continue
            total += s[int(target)] - log_z
            count += 1
    return total / max(count, 1)
