"""Second stage: a small network reranks a pool of candidates from the fused first stage.

The first stage (fusion/recommender.py) adds a handful of min-max-scaled scores with
tuned weights. A weighted sum cannot say "CF counts when the
seeker has named movies, text when they have not", nor use signals whose scale varies
from one dialogue to the next. The second stage takes each sample's pool (the first
stage's top `n_first`, each extra signal's top `n_extra`, and the movies mentioned so
far; fusion/second_stage.py), describes every candidate by a feature row, and scores it with a two-layer MLP
trained listwise: softmax over the pool, cross-entropy on the sample's targets, as the
catalog head is trained over the whole catalog. Several seeds are averaged.

Knows nothing of dialogues, pools or files: feature rows in, scores out. Inference is numpy;
torch only trains. Saved as an npz of float32 arrays + manifest (never pickled).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from retrieval.artifacts import check_manifest, write_manifest

KIND = "reranker"


@dataclass(frozen=True)
class FeatureRows:
    """One request's candidates for the reranker: item rows and their feature rows."""

    rows: np.ndarray  # int64 (m,)
    features: np.ndarray  # float32 (m, n_features)

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or len(self.rows) != len(self.features):
            raise ValueError(f"FeatureRows: {len(self.rows)} rows but features of shape {self.features.shape}")


@dataclass(frozen=True)
class RerankConfig:
    hidden: int = 64
    epochs: int = 10
    lr: float = 1e-3  # Adam
    weight_decay: float = 1e-4
    batch_size: int = 64  # pools per step
    seeds: tuple[int, ...] = (0, 1, 2)  # one network per seed; their scores are averaged


class Reranker:
    def __init__(self, feature_names: Sequence[str], mean: np.ndarray, scale: np.ndarray,
                 layers: Sequence[Sequence[np.ndarray]]) -> None:
        self.feature_names = tuple(feature_names)
        self.mean, self.scale = mean.astype(np.float32), scale.astype(np.float32)
        self.layers = [tuple(np.asarray(a, np.float32) for a in net) for net in layers]  # (W1, b1, W2, b2, W3, b3)

    def scores(self, pool: FeatureRows) -> np.ndarray:
        """float32 (m,): the mean over the networks of each candidate's logit."""
        if pool.features.shape[1] != len(self.feature_names):
            raise ValueError(f"reranker reads {len(self.feature_names)} features, pool has {pool.features.shape[1]}")
        x = (pool.features - self.mean) / self.scale
        out = np.zeros(len(x), np.float32)
        for w1, b1, w2, b2, w3, b3 in self.layers:
            h = np.maximum(x @ w1 + b1, 0.0)
            h = np.maximum(h @ w2 + b2, 0.0)
            out += (h @ w3 + b3)[:, 0]
        return out / len(self.layers)

    @classmethod
    def fit(cls, feature_names: Sequence[str], pools: Sequence[FeatureRows], targets: Sequence[Sequence[int]],
            config: RerankConfig = RerankConfig(), progress: bool = True) -> "tuple[Reranker, dict]":
        """Train on `pools` whose positive rows are `targets` (pools with no target in
        them teach nothing and are skipped). Returns (reranker, report)."""
        import torch
        from tqdm.auto import tqdm

        start = time.perf_counter()
        keep = [i for i, (p, t) in enumerate(zip(pools, targets)) if np.isin(p.rows, list(t)).any()]
        if not keep:
            raise ValueError("no pool holds any of its targets: nothing to learn from")
        allx = np.concatenate([pools[i].features for i in keep])
        mean, scale = allx.mean(0), allx.std(0) + 1e-6
        width = max(len(pools[i].rows) for i in keep)
        n_feat = allx.shape[1]
        X = np.zeros((len(keep), width, n_feat), np.float32)
        Y = np.zeros((len(keep), width), np.float32)
        M = np.zeros((len(keep), width), bool)
        for j, i in enumerate(keep):
            m = len(pools[i].rows)
            X[j, :m] = (pools[i].features - mean) / scale
            Y[j, :m] = np.isin(pools[i].rows, list(targets[i]))
            M[j, :m] = True
        X, Y, M = torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(M)
        layers, losses = [], []
        for seed in tqdm(config.seeds, desc="training reranker", unit="seed", disable=not progress):
            torch.manual_seed(seed)
            net = torch.nn.Sequential(torch.nn.Linear(n_feat, config.hidden), torch.nn.ReLU(),
                                      torch.nn.Linear(config.hidden, config.hidden), torch.nn.ReLU(),
                                      torch.nn.Linear(config.hidden, 1))
            opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
            gen = torch.Generator().manual_seed(seed)
            for _ in range(config.epochs):
                total = 0.0
                for idx in torch.randperm(len(X), generator=gen).split(config.batch_size):
                    logits = net(X[idx]).squeeze(-1).masked_fill(~M[idx], -1e9)
                    loss = -(torch.log_softmax(logits, 1) * Y[idx]).sum() / Y[idx].sum()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(idx)
            losses.append(round(total / len(X), 4))
            layers.append([p.detach().numpy().T.copy() if p.ndim == 2 else p.detach().numpy().copy()
                           for p in net.parameters()])
        report = {"rerank": asdict(config), "n_pools": len(keep), "n_skipped": len(pools) - len(keep),
                  "n_targets_in_pools": int(Y.sum()), "mean_pool": round(float(M.sum(1).float().mean()), 1),
                  "last_epoch_loss": losses, "seconds": round(time.perf_counter() - start, 1)}
        return cls(feature_names, mean, scale, layers), report

    # --- artifacts ---------------------------------------------------------------------
    def save(self, folder: Path, fingerprints: dict[str, str], config: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"mean": self.mean, "scale": self.scale}
        for k, net in enumerate(self.layers):
            arrays.update({f"net{k}_{j}": a for j, a in enumerate(net)})
        np.savez(folder / "reranker.npz", **arrays)
        write_manifest(folder, KIND, fingerprints, {**config, "features": list(self.feature_names),
                                                    "n_networks": len(self.layers)})

    @classmethod
    def load(cls, folder: Path, fingerprints: dict[str, str]) -> "Reranker":
        manifest = check_manifest(folder, KIND, fingerprints)
        with np.load(folder / "reranker.npz", allow_pickle=False) as z:
            nets = [[z[f"net{k}_{j}"] for j in range(6)] for k in range(manifest["config"]["n_networks"])]
            return cls(manifest["config"]["features"], z["mean"], z["scale"], nets)
