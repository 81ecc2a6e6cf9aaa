"""Contrastive fine-tuning of the text encoder on (query text, item text) pairs.

Loss: in-batch negatives (MultipleNegativesRanking, as in sentence-transformers): each
query must pick its own item among all items of the batch, plus the batch's hard negatives;
another copy of the same item in the batch is masked rather than counted as a negative.
Pooling is the one `TransformerEncoder` uses (mean over tokens, L2 norm), so the saved
folder loads as `TransformerEncoder(folder)` with no other change.

Runs through `accelerate`: CPU here; CUDA, mixed precision and several GPUs (launched with
`accelerate launch`) with no code change. Early stopping on Recall@k of held-out pairs
(from held-out users or dialogues: never a share of the training pairs)
against a fixed pool of items, checked every `eval_every` steps (step 0 included, so a
run that never helps keeps the base weights). Output: `save_pretrained` weights +
tokenizer + `manifest.json` (config, data fingerprint, validation history, seconds).

The loop (`finetune`) knows nothing of dialogues, CF or the bot: pairs and item texts in,
a model folder out. `finetune_on_interactions` and `finetune_on_dialogues` build those
pairs (retrieval/pairs.py) from an interaction log or from dialogues, and reuse a model
folder whose manifest says it was trained on the same pairs.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from retrieval.encoder import model_identity

from retrieval.artifacts import write_manifest
from retrieval.encoder import mean_pool
from retrieval.pairs import Pair, fingerprint

log = logging.getLogger(__name__)
KIND = "finetuned-encoder"


@dataclass(frozen=True)
class FinetuneConfig:
    seed: int = 0
    batch_size: int = 32  # in-batch negatives: 31 per query (+ hard negatives)
    lr: float = 5e-5  # AdamW; the usual sentence-transformers learning rate for MiniLM
    weight_decay: float = 0.01
    warmup_share: float = 0.1  # linear warm-up over the first 10% of steps, then linear decay
    max_steps: int = 300
    scale: float = 20.0  # cosine -> logit temperature (1/0.05), sentence-transformers default
    query_max_length: int = 96  # word pieces; contexts are rendered newest turn first
    item_max_length: int = 64  # ReDial/MovieLens item texts fit in ~60 word pieces
    trainable: str = "all"  # "all", or "top:K" = only the last K transformer layers
    hard_negatives: bool = True
    eval_every: int = 50  # steps between validation checks
    patience: int = 2  # stop after this many checks without improvement
    val_k: int = 10  # early stopping metric: Recall@val_k
    val_pool: int = 1000  # validation items ranked per query (targets + random others)
    mixed_precision: str = "auto"  # "auto": bf16 on CUDA where supported, else "no"


@dataclass(frozen=True)
class FinetuneResult:
    model_dir: Path
    best_step: int
    best_metric: float
    base_metric: float
    history: tuple[tuple[int, float], ...]  # (step, validation Recall@k)
    steps: int
    seconds: float


def top_layers(trainable: str) -> int | None:
    """K of a "top:K" `trainable`; None for "all" (or anything else)."""
    return int(trainable.split(":", 1)[1]) if trainable.startswith("top:") else None


def set_trainable(model, trainable: str) -> int:
    """Freeze all but the chosen part; returns the number of trainable parameters."""
    k = top_layers(trainable)
    if trainable == "all":
        for p in model.parameters():
            p.requires_grad_(True)
    elif k is not None:
        layers = model.encoder.layer  # BERT-style encoders (MiniLM is one)
        if not 1 <= k <= len(layers):
            raise ValueError(f"trainable={trainable!r}: the model has {len(layers)} layers")
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in layers[-k:]:
            for p in layer.parameters():
                p.requires_grad_(True)
    else:
        raise ValueError(f"trainable must be 'all' or 'top:K', got {trainable!r}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _mixed_precision(setting: str) -> str:
    if setting != "auto":
        return setting
    import torch

    if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return "bf16"
    return "no"


def contrastive_loss(q, items, positive_cols, scale: float):
    """q (b, d) and items (m, d) unit rows, positive_cols (b,) long: cross-entropy of each
    query over all the batch's items. Items are distinct (a positive shared by two queries
    is one column), so no copy of a query's own item ever counts as its negative."""
    import torch

    return torch.nn.functional.cross_entropy(scale * q @ items.T, positive_cols)


def finetune(model_dir: Path, train: Sequence[Pair], valid: Sequence[Pair],
             item_texts: Mapping[str, str], out_dir: Path, config: FinetuneConfig = FinetuneConfig(),
             progress: bool = True, extra_manifest: dict | None = None) -> FinetuneResult:
    """Fine-tune the model in `model_dir` and save the best checkpoint to `out_dir`.

    `item_texts`: external item id -> text for every item a pair names (the whole catalog
    is fine; its other items fill the validation pool)."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

    if not train:
        raise ValueError("no training pairs: check the data the pairs were built from")
    missing = {p.item_id for p in list(train) + list(valid) if p.item_id not in item_texts}
    if missing:
        raise ValueError(f"{len(missing)} pair items have no text (e.g. {sorted(missing)[:3]})")
    start = time.perf_counter()
    set_seed(config.seed)
    accelerator = Accelerator(mixed_precision=_mixed_precision(config.mixed_precision))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir)
    n_trainable = set_trainable(model, config.trainable)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_share * config.max_steps), config.max_steps)
    generator = torch.Generator().manual_seed(config.seed)
    loader = torch.utils.data.DataLoader(range(len(train)), batch_size=config.batch_size,
                                         shuffle=True, drop_last=len(train) > config.batch_size,
                                         generator=generator)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    device = accelerator.device

    def tok(texts: list[str], max_length: int):
        return tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                         return_tensors="pt").to(device)

    embed = lambda m, texts, max_length: mean_pool(m, tok(texts, max_length))  # noqa: E731
    validator = _Validator(valid, item_texts, config, embed)
    if top_layers(config.trainable) is not None and accelerator.num_processes == 1:
        # Frozen lower layers give the same output every step: run them once per text.
        embed = _TopLayers(accelerator.unwrap_model(model), tok, top_layers(config.trainable))
        queries = [p.query for p in list(train)]
        items = {p.item_id for p in train} | {p.negative_id for p in train if p.negative_id}
        embed.precompute(queries, config.query_max_length, progress and accelerator.is_local_main_process)
        embed.precompute([item_texts[i] for i in sorted(items)], config.item_max_length,
                         progress and accelerator.is_local_main_process)
        validator.embed = embed
        validator.precompute(progress and accelerator.is_local_main_process)
    best_state = None
    best_metric = base_metric = validator(model) if valid else 0.0
    history = [(0, base_metric)]
    best_step, checks_without_gain, step = 0, 0, 0
    epochs = math.ceil(config.max_steps / max(len(loader), 1))
    bar = tqdm(total=config.max_steps, desc="fine-tuning", unit="step",
               disable=not (progress and accelerator.is_local_main_process))
    model.train()
    stop = False
    for _ in range(epochs):
        for idx in loader:
            pairs = [train[int(i)] for i in idx]
            q_ids = [p.item_id for p in pairs]
            cols = list(dict.fromkeys(q_ids))  # distinct positives first, then negatives
            if config.hard_negatives:
                cols += [p.negative_id for p in pairs if p.negative_id and p.negative_id not in cols]
            col_of = {c: i for i, c in enumerate(cols)}
            positive = torch.tensor([col_of[i] for i in q_ids], device=device)
            with accelerator.autocast():
                q = embed(model, [p.query for p in pairs], config.query_max_length)
                it = embed(model, [item_texts[c] for c in cols], config.item_max_length)
                loss = contrastive_loss(q, it, positive, config.scale)
            accelerator.backward(loss)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}", best=f"{best_metric:.3f}")
            if valid and step % config.eval_every == 0:
                metric = validator(model)
                model.train()
                history.append((step, metric))
                if metric > best_metric:
                    best_metric, best_step, checks_without_gain = metric, step, 0
                    best_state = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
                else:
                    checks_without_gain += 1
                    stop = checks_without_gain >= config.patience
            if stop or step >= config.max_steps:
                stop = True
                break
        if stop:
            break
    bar.close()
    final = accelerator.unwrap_model(model)
    if not valid:
        best_step = step
    elif best_state is not None:
        final.load_state_dict(best_state)
    # else: no check beat step 0, so the base weights are kept (best_state is None).
    seconds = time.perf_counter() - start
    result = FinetuneResult(Path(out_dir), best_step, best_metric, base_metric, tuple(history), step, seconds)
    if accelerator.is_main_process:
        if best_state is None and valid:
            final = AutoModel.from_pretrained(model_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        final.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        write_manifest(out_dir, KIND, {"train_pairs": fingerprint(train), "valid_pairs": fingerprint(valid)},
                       {"finetune": asdict(config), "base_model": model_identity(model_dir),
                        "n_train_pairs": len(train), "n_valid_pairs": len(valid),
                        "n_trainable_params": n_trainable, "device": str(device),
                        "mixed_precision": accelerator.mixed_precision,
                        "history": [list(h) for h in history], "best_step": best_step,
                        "steps": step, "seconds": round(seconds, 1), **(extra_manifest or {})})
    accelerator.wait_for_everyone()
    print(f"fine-tuned {step} steps in {seconds:.0f} s on {device}: valid Recall@{config.val_k} "
          f"{base_metric:.3f} -> {best_metric:.3f} (best step {best_step}); saved {out_dir}", flush=True)
    return result


class _Validator:
    """Recall@k of held-out pairs against a fixed pool: their own items plus random others."""

    def __init__(self, valid: Sequence[Pair], item_texts: Mapping[str, str], config: FinetuneConfig,
                 embed) -> None:
        rng = random.Random(config.seed)
        own = list(dict.fromkeys(p.item_id for p in valid))
        others = sorted(set(item_texts) - set(own))
        extra = rng.sample(others, max(0, min(len(others), config.val_pool - len(own))))
        self.items = own + extra
        self.col = {c: i for i, c in enumerate(self.items)}
        self.valid, self.item_texts, self.config = valid, item_texts, config
        self.embed = embed  # (model, texts, max_length) -> (n, dim) unit tensor

    def precompute(self, progress: bool) -> None:
        self.embed.precompute([p.query for p in self.valid], self.config.query_max_length, progress)
        self.embed.precompute([self.item_texts[c] for c in self.items], self.config.item_max_length, progress)

    def _embed(self, model, texts: list[str], max_length: int):
        import torch

        out = []
        with torch.inference_mode():
            for s in range(0, len(texts), 64):
                out.append(self.embed(model, texts[s:s + 64], max_length).float().cpu())
        return torch.cat(out).numpy()

    def __call__(self, model) -> float:
        model.eval()
        cfg = self.config
        items = self._embed(model, [self.item_texts[c] for c in self.items], cfg.item_max_length)
        queries = self._embed(model, [p.query for p in self.valid], cfg.query_max_length)
        scores = queries @ items.T
        target = np.array([self.col[p.item_id] for p in self.valid])
        own = scores[np.arange(len(target)), target]
        ranks = (scores > own[:, None]).sum(1) + 1
        return float((ranks <= cfg.val_k).mean())


class _TopLayers:
    """Embeds texts by running only the top `k` transformer layers on cached outputs of the
    frozen layers below (fp16 in memory, one (tokens, dim) tensor per text): with "top:1"
    a training step costs about a sixth of a full forward pass. Single process only."""

    def __init__(self, model, tok, k: int) -> None:
        self.model, self.tok, self.k = model, tok, k
        self.n_layers = len(model.encoder.layer)
        self.cache: dict[tuple[str, int], object] = {}

    def precompute(self, texts: list[str], max_length: int, progress: bool = False) -> None:
        import torch
        from tqdm.auto import tqdm

        todo = sorted({t for t in texts if (t, max_length) not in self.cache}, key=len)
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for s in tqdm(range(0, len(todo), 64), desc="caching frozen layers", unit="batch",
                          disable=not progress):
                chunk = todo[s:s + 64]
                batch = self.tok(chunk, max_length)
                hidden = self.model(**batch, output_hidden_states=True).hidden_states[self.n_layers - self.k]
                lengths = batch["attention_mask"].sum(1).tolist()
                for text, h, n in zip(chunk, hidden, lengths):
                    self.cache[(text, max_length)] = h[:n].to(torch.float16).clone()
        self.model.train(was_training)

    def __call__(self, model, texts: list[str], max_length: int):
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        missing = [t for t in texts if (t, max_length) not in self.cache]
        if missing:
            self.precompute(missing, max_length)
        states = [self.cache[(t, max_length)] for t in texts]
        width = max(len(h) for h in states)
        dim = states[0].shape[-1]
        device = states[0].device
        hidden = torch.zeros(len(states), width, dim, device=device)
        mask = torch.zeros(len(states), width, dtype=torch.long, device=device)
        for i, h in enumerate(states):
            hidden[i, :len(h)] = h.float()
            mask[i, :len(h)] = 1
        mask4d = create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden, attention_mask=mask)
        for layer in self.model.encoder.layer[self.n_layers - self.k:]:
            hidden = layer(hidden, mask4d)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled.float(), dim=-1)


# --- first-run build: fine-tune on a catalog's interaction log (pair source 2) ----------
CATALOG_RECIPE = FinetuneConfig(
    # Only the last layer trains, on cached outputs of the frozen ones (see _TopLayers):
    # ~1 min to cache ~10k short texts, then ~0.5 s per step on 2 cores (the default build:
    # about 4 minutes). Tried for a faster first answer: 150 steps over 2,400 + 2,400 pairs
    # halve it but lose on held-out data (the pairs' early-stopping Recall@10 0.105 against
    # 0.122, the ratings tuner's validation NDCG@10 0.195 against 0.206): kept as it is.
    trainable="top:1", lr=1e-4, max_steps=300, eval_every=100, patience=1,
    query_max_length=64,
    item_max_length=48,  # "Title (year). Genres: ..." texts are ~20 word pieces
    val_pool=1000)
CATALOG_PAIRS = 4000  # pairs drawn from the interaction log (taste + metadata phrases)
DIALOGUE_PAIRS = 4000  # at most this many (context -> named item) pairs when dialogues are given
# Fine-tuning on a catalog's log needs at least this many training users with two or more
# likes (after tuning's and fine-tuning's held-out users left): in-batch negatives from a
# handful of users teach their quirks, not the catalog (300 steps on 5 users' pairs made
# author searches worse).
MIN_FINETUNE_USERS = 100
# ... and at least this many distinct (user, liked item) targets among them: 300 steps x
# 32 pairs draw ~9,600 taste pairs, so fewer targets would repeat each more than 5 times.
MIN_FINETUNE_PAIRS = 2000
VALID_USER_SHARE = 0.1  # users held out whole for the early-stopping pairs ...
MIN_VALID_USERS = 10  # ... and never fewer: Recall@10 over fewer users is noise
MAX_VALID_PAIRS = 200  # early-stopping pairs (one validation pass ~ embedding them + the pool)


@dataclass(frozen=True)
class CatalogFinetune:
    """What `finetune_on_interactions` did: `model_dir` is None when it skipped (`skipped`
    then says why, in words a build can print); `evidence` holds the counts it judged by."""

    model_dir: Path | None
    trained: bool
    skipped: str = ""
    evidence: Mapping[str, int] = field(default_factory=dict)


def finetune_split(interactions, seed: int = 0):
    """(why not, or "" when there is enough; the counts behind it; training users' events;
    validation users' events), validation users held out whole (`split_pair_users`)."""
    from retrieval.pairs import pair_evidence, split_pair_users

    fit_log, valid_log = split_pair_users(interactions, VALID_USER_SHARE, seed, MIN_VALID_USERS)
    users, targets = pair_evidence(fit_log)
    valid_users = pair_evidence(valid_log)[0]
    evidence = {"train_users": users, "train_pairs": targets, "valid_users": valid_users,
                "min_users": MIN_FINETUNE_USERS, "min_pairs": MIN_FINETUNE_PAIRS, "min_valid_users": MIN_VALID_USERS}
    if users < MIN_FINETUNE_USERS or targets < MIN_FINETUNE_PAIRS or valid_users < MIN_VALID_USERS:
        why = (f"{users:,} training users with two or more likes, {targets:,} liked items to pair, "
               f"{valid_users:,} held-out users (needs {MIN_FINETUNE_USERS:,}, {MIN_FINETUNE_PAIRS:,} "
               f"and {MIN_VALID_USERS:,})")
        return why, evidence, fit_log, valid_log
    return "", evidence, fit_log, valid_log


def estimate_seconds(config: FinetuneConfig, n_items: int, seconds_per_text: float, n_layers: int = 6,
                     text_length: int = 128, dialogues: bool = False) -> float:
    """A rough ETA of `finetune_on_interactions` from the encoder's inference time per text
    (`seconds_per_text`, e.g. timed on a sample of texts up to `text_length` word pieces):
    with "top:K", one pass over the texts to cache (the pairs' queries, with DIALOGUE_PAIRS
    more when `dialogues`, and items, the validation pool), each cut to the recipe's shorter
    lengths, then each step's 2 x batch texts through K of `n_layers` layers at ~3x a
    forward pass (forward + backward); with "all", every step through every layer. Early
    stopping can only make it shorter."""
    k = top_layers(config.trainable)
    share = k / n_layers if k is not None else 1.0
    shorter = min(1.0, (config.query_max_length + config.item_max_length) / 2 / max(text_length, 1))
    cached = ((CATALOG_PAIRS + (DIALOGUE_PAIRS if dialogues else 0) + MAX_VALID_PAIRS + min(n_items, CATALOG_PAIRS)
               + config.val_pool) * shorter if share < 1.0 else 0)
    steps = config.max_steps * 2 * config.batch_size * 3 * share
    checks = config.max_steps // max(config.eval_every, 1) * (MAX_VALID_PAIRS + config.val_pool) * share
    return (cached + steps + checks) * seconds_per_text


def finetune_on_interactions(catalog, interactions, base_dir: Path, out_dir: Path,
                             config: FinetuneConfig | None = None, rebuild: bool = False,
                             progress: bool = True, dialogues: Sequence = ()) -> CatalogFinetune:
    """Fine-tune `base_dir` on `interaction_pairs` of this catalog into `out_dir`, or reuse
    `out_dir` when its manifest matches these pairs, this recipe and this base model; skip
    below MIN_FINETUNE_USERS / MIN_FINETUNE_PAIRS / MIN_VALID_USERS. Early-stopping pairs
    come from users held out whole, never from the training users' likes.
    `dialogues` (conversations naming this catalog's items, retrieval/dialogue.py) add up
    to DIALOGUE_PAIRS (context -> the items a recommender named next) to the training
    pairs, their last 10% giving as many early-stopping pairs as the users do."""
    from retrieval.artifacts import OutdatedArtifactError, check_manifest
    from retrieval.pairs import interaction_pairs

    config = config or CATALOG_RECIPE
    why, evidence, fit_log, valid_log = finetune_split(interactions, config.seed)
    if why:
        return CatalogFinetune(None, False, why, evidence)
    train = interaction_pairs(catalog, fit_log, max_pairs=CATALOG_PAIRS, seed=config.seed)
    # taste pairs only (a metadata phrase says nothing of a user), each pair once
    valid = list(dict.fromkeys(interaction_pairs(catalog, valid_log, max_pairs=MAX_VALID_PAIRS * 2,
                                                 metadata_share=0.0, seed=config.seed)))[:MAX_VALID_PAIRS]
    if dialogues:
        from retrieval.pairs import dialogue_pairs

        n_fit = len(dialogues) - len(dialogues) // 10
        talk = dialogue_pairs(dialogues[:n_fit], seed=config.seed)
        random.Random(config.seed).shuffle(talk)
        train = train + talk[:DIALOGUE_PAIRS]
        valid = valid + dialogue_pairs(dialogues[n_fit:], hard_negatives=False, seed=config.seed)[:len(valid)]
    fps = {"train_pairs": fingerprint(train), "valid_pairs": fingerprint(valid)}
    expected = {"finetune": asdict(config), "base_model": model_identity(base_dir), "catalog": catalog.fingerprint()}
    if not rebuild and (out_dir / "config.json").exists():
        try:
            check_manifest(out_dir, KIND, fps, expected=expected)
            return CatalogFinetune(out_dir, False, "", evidence)
        except OutdatedArtifactError as e:  # built for other pairs or recipe: train anew
            log.warning("%s; retraining", e)
        # damaged weights (a file changed or missing: StaleArtifactError) stay a refusal, as for
        # every other artifact: retraining on a serving box is not what anyone asked for
    finetune(base_dir, train, valid, {it.item_id: it.text for it in catalog.items}, out_dir, config,
             progress=progress, extra_manifest={"catalog": catalog.fingerprint(),
                                                "pairs": "interactions + dialogues" if dialogues else "interactions",
                                                "valid": "users held out whole", "evidence": evidence})
    return CatalogFinetune(out_dir, True, "", evidence)


def finetune_on_dialogues(dialogues, catalog, base_dir: Path, out_dir: Path, config: FinetuneConfig,
                          rebuild: bool = False, reuse_if=None) -> dict:
    """Fine-tune `base_dir` with `config` on the `dialogue_pairs` of `dialogues` (the last
    10% of them give the early-stopping pairs) into `out_dir`, or reuse `out_dir` when its
    manifest has these pairs, this catalog and a recipe that `reuse_if(manifest's
    finetune dict)` accepts (default: the same recipe). Returns the folder's manifest."""
    from retrieval.artifacts import OutdatedArtifactError, check_manifest, read_manifest
    from retrieval.pairs import dialogue_pairs

    n_fit = len(dialogues) - len(dialogues) // 10  # the last 10%: early-stopping pairs
    train = dialogue_pairs(dialogues[:n_fit], seed=0)
    valid = dialogue_pairs(dialogues[n_fit:], hard_negatives=False, seed=0)[:300]
    fps = {"train_pairs": fingerprint(train), "valid_pairs": fingerprint(valid)}
    reuse_if = reuse_if or (lambda done: done == asdict(config))
    if not rebuild and (out_dir / "config.json").exists():
        try:
            # The catalog too: its item texts are the other side of every pair.
            manifest = check_manifest(out_dir, KIND, fps, expected={"catalog": catalog.fingerprint()})
            if reuse_if(manifest["config"]["finetune"]):
                print(f"reusing fine-tuned encoder {out_dir} "
                      f"({manifest['config']['finetune']['max_steps']} max steps)", flush=True)
                return manifest
        except OutdatedArtifactError as e:  # other pairs or catalog: train anew; damaged files stay a refusal
            print(f"retraining: {e}", flush=True)
    finetune(base_dir, train, valid, {it.item_id: it.text for it in catalog.items},
             out_dir, config, extra_manifest={"catalog": catalog.fingerprint()})
    return read_manifest(out_dir)
