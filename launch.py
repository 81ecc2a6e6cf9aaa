"""Entry point: `python launch.py` serves the chat and the HTTP API on 127.0.0.1:7860.

With no arguments it runs on the embedded MovieLens catalog, building the artifacts
(item embeddings, FAISS index, CF model) on first run and reusing them afterwards.
`python launch.py --catalog redial` serves the pipeline trained on ReDial conversations.
`python launch.py evaluate ...` runs the offline evaluations (benchmarks/redial/evaluate.py).
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from installed packages, never a hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent


# One command line: `python launch.py [serve flags]` serves; the offline tools are its subcommands
# (each module keeps its own flags; `python launch.py COMMAND --help` lists them).
COMMANDS = {
    "learn": ("bot.offline.learn", "learn from the logbook into a new artifact folder"),
    "logbook": ("bot.service.logbook", "export or summarise the logbook (export | summary)"),
    "tune": ("fusion.tune", "tune CF model, fuser and MMR on MovieLens validation users"),
    "evaluate": ("benchmarks.redial.evaluate", "score a system folder on the ReDial protocol"),
    "catalog": ("bot.service.admin", "add, replace or withdraw catalog items: on a running server (--url) or "
                                     "in a stopped artifact folder"),
    "user-token": ("bot.service.identity", "issue the signed token that binds a known user (for the pilot's "
                                           "login), or write a new secret (--new-secret FILE)"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Conversational recommender: chat UI + HTTP API.",
        epilog="offline tools, as subcommands: " + "; ".join(f"`launch.py {c} ...`: {w}" for c, (_, w) in COMMANDS.items()))
    p.add_argument("--catalog", type=Path,
                   help="catalog CSV/JSONL, or 'redial' for the ReDial movies and the pipeline trained on "
                        "ReDial conversations (default: embedded MovieLens)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="with --catalog redial: the ReDial folder (default: ../shared/data/redial)")
    p.add_argument("--dialogues", type=Path, default=None,
                   help="ReDial-style dialogue file (JSON lines, movies_with_mentions.csv beside it): the build "
                        "also learns from the conversations whose movies link to the catalog, besides the ReDial "
                        "dialogues shipped for the default catalog (default artifacts: artifacts/<catalog>-dialogues)")
    p.add_argument("--no-dialogues", action="store_true",
                   help="the default catalog without the shipped ReDial dialogues: learning from ratings alone "
                        "(default artifacts: artifacts/movielens-ratings)")
    p.add_argument("--interactions", type=Path,
                   help="interaction log CSV/JSONL for --catalog; without one the bot starts on the item "
                        "texts alone (no CF) until a log is given")
    p.add_argument("--encoding", default="utf-8",
                   help="text encoding of the --catalog and --interactions files, e.g. cp1252 for Excel on "
                        "Windows (default: utf-8; a BOM is read either way)")
    p.add_argument("--rating-scale", type=rating_scale, default=None, metavar="LOW-HIGH",
                   help="the scale of the interactions' ratings, e.g. 1-5 or 1-10; a rating outside it is an "
                        "error (default: rating_scale in catalog.json, else 0.5-5)")
    p.add_argument("--blank-ratings", choices=("refuse", "implicit"), default="refuse",
                   help="a blank rating: refuse the file (default) or count it as implicit feedback, weight 1")
    p.add_argument("--artifacts", type=Path, default=None,
                   help="artifact folder (default: artifacts/<catalog name>)")
    p.add_argument("--encoder", type=Path, default=None,
                   help="local Hugging Face model folder (default: the packaged all-MiniLM-L6-v2)")
    p.add_argument("--query-precision", choices=("int8", "float32"), default="int8",
                   help="how the chat's words are embedded: int8 weights (default; about half the CPU time of a "
                        "turn, at the dev-split quality of float32) or float32. Items keep float32 vectors, "
                        "training is float32; --catalog redial serves what its system folder names")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--alpha", type=float, default=0.7,
                   help="weight of text vs CF in [0, 1] when no tuned strategy exists "
                        "(python -m fusion.tune writes one); also the UI slider's start value")
    p.add_argument("--rebuild", action="store_true", help="rebuild artifacts even if present")
    p.add_argument("--build-only", action="store_true", help="build artifacts, then exit")
    p.add_argument("--wait-for-build", action="store_true",
                   help="on a first build, answer only once the full pipeline is built (default: answer at once "
                        "from a quick pipeline, the base encoder on shorter item texts, and swap the full one in "
                        "when it is built; /api/health says which answers)")
    p.add_argument("--no-finetune", action="store_true",
                   help="use the encoder as it is: skip the first-run fine-tuning on the interactions")
    p.add_argument("--rebuild-choices", action="store_true",
                   help="tune here even where the package ships the tuned choices for this very build "
                        "(retrieval/data/movielens_choices.json; `python -m fusion.choices record` writes it)")
    p.add_argument("--no-tune", action="store_true",
                   help="skip the first-run tuning of CF model, fusion rule and MMR on validation users")
    p.add_argument("--log-db", type=Path, default=ROOT / "logs" / "sessions.sqlite",
                   help="SQLite file every turn, list, feedback and rating is appended to")
    p.add_argument("--no-log", action="store_true", help="do not log sessions")
    p.add_argument("--study", type=Path, default=None,
                   help="user-study config (JSON: arms, seed, consent_text, ask_rating)")
    p.add_argument("--auth", default=os.environ.get("CONVREC_AUTH"),
                   help="USER:PASSWORD required by the chat and the API (default: $CONVREC_AUTH)")
    p.add_argument("--trusted-proxies", default=os.environ.get("CONVREC_TRUSTED_PROXIES", ""),
                   help="comma-separated addresses of the reverse proxies whose X-Forwarded-For names the "
                        "client (the login throttle's key); default none: every client is its own socket "
                        "address, whatever headers it sends (default: $CONVREC_TRUSTED_PROXIES)")
    p.add_argument("--user-secret-file", type=Path, default=os.environ.get("CONVREC_USER_SECRET_FILE"),
                   help="secret that signs user tokens: the API binds a known user_id only with a user_token "
                        "issued with it (`launch.py user-token --user ID --secret-file FILE`; `--new-secret FILE` "
                        "writes one). Without it, a user_id is refused (default: $CONVREC_USER_SECRET_FILE)")
    p.add_argument("--demo-users", action="store_true",
                   help="show the chat page's 'Known user id' box: anyone who can open the page may then act as "
                        "any known user and read what that user rated, so it is for a local demo; outside "
                        "127.0.0.1 it needs --auth. The API still needs user tokens")
    p.add_argument("--admin-token-file", type=Path, default=os.environ.get("CONVREC_ADMIN_TOKEN_FILE"),
                   help="token that POST /api/admin/catalog needs to add, replace or withdraw items while serving "
                        "(`launch.py catalog --new-token FILE` writes one); without it updates are refused "
                        "(default: $CONVREC_ADMIN_TOKEN_FILE)")
    p.add_argument("--concurrency", type=int, default=2,
                   help="chat turns computed at once, over the chat and the API together")
    p.add_argument("--queue", type=int, default=16,
                   help="turns that may wait for a free slot; beyond, 503 + Retry-After")
    p.add_argument("--state-db", type=Path, default=ROOT / "logs" / "state.sqlite",
                   help="SQLite file holding each API session's state (survives restarts)")
    p.add_argument("--redis-url", default=os.environ.get("CONVREC_REDIS_URL"),
                   help="keep API session state in Redis (redis://HOST:6379/0) instead of --state-db, so "
                        "servers on several machines share it (needs the scale extra; default: $CONVREC_REDIS_URL)")
    p.add_argument("--serve", choices=("local", "ray"), default="local",
                   help="local: one process here (default); ray: the API on Ray Serve, the pipeline in "
                        "--replicas replicas on the Ray cluster at $RAY_ADDRESS (or a local one), state in "
                        "--redis-url; no Gradio chat (pip install '.[scale]')")
    p.add_argument("--replicas", type=int, default=None,
                   help="with --serve ray: pipeline replicas, each with its own copy of the bot (default 2)")
    p.add_argument("--replica-cpus", type=float, default=1.0,
                   help="with --serve ray: Ray CPUs reserved per replica (its torch / FAISS threads)")
    p.add_argument("--verify", action="store_true",
                   help="check the sha256 of every artifact file, large ones too, before serving")
    args = p.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        p.error(f"--alpha must be in [0, 1], got {args.alpha}")
    args.redial = args.catalog is not None and str(args.catalog) == "redial"
    if args.redial and args.interactions is not None:
        p.error("--catalog redial learns from ReDial's conversations: drop --interactions")
    if args.redial and args.dialogues is not None:
        p.error("--catalog redial learns from its own dialogues (--data-dir): drop --dialogues")
    if args.no_dialogues and args.dialogues is not None:
        p.error("--no-dialogues and --dialogues FILE contradict each other: keep one")
    if args.no_dialogues and args.catalog is not None:
        p.error("--no-dialogues goes with the default catalog (only it ships dialogues)")
    if args.catalog is None and args.interactions is not None:
        p.error("--interactions goes with --catalog (the catalog its item ids refer to)")
    own_files = [f for f, v in (("--encoding", args.encoding != "utf-8"), ("--rating-scale", args.rating_scale),
                                ("--blank-ratings", args.blank_ratings != "refuse")) if v]
    if own_files and (args.catalog is None or args.redial):
        p.error(f"{own_files[0]} goes with --catalog FILE (your own catalog and interactions)")
    if args.data_dir is not None and not args.redial:
        p.error("--data-dir goes with --catalog redial")
    if args.auth is not None and (":" not in args.auth or not all(args.auth.split(":", 1))):
        p.error("--auth must look like USER:PASSWORD")
    if args.demo_users and args.auth is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        p.error("--demo-users lets anyone who opens the page read every known user's history: serve it on "
                "127.0.0.1, or put it behind --auth USER:PASSWORD")
    if args.demo_users and args.serve == "ray":
        p.error("--demo-users is a chat page option and --serve ray has no chat page: drop it")
    if args.admin_token_file is not None and (args.redial or args.serve == "ray"):
        p.error("--admin-token-file: live catalog updates are served by --serve local over the default catalog or "
                "--catalog FILE, not yet by --catalog redial or --serve ray")
    if args.concurrency < 1 or args.queue < 0:
        p.error("--concurrency must be at least 1 and --queue at least 0")
    if args.study is not None and args.no_log:
        p.error("--study needs the session log: drop --no-log")
    if args.serve == "ray":
        if args.redis_url is None:
            p.error("--serve ray keeps session state in Redis, shared by every replica: pass "
                    "--redis-url redis://HOST:6379/0 (a redis-server every node can reach)")
        if args.study is not None:
            p.error("--study is not supported with --serve ray yet: serve the study with --serve local")
        args.replicas = 2 if args.replicas is None else args.replicas
        if args.replicas < 1 or args.replica_cpus <= 0:
            p.error("--replicas must be at least 1 and --replica-cpus above 0")
    elif args.replicas is not None:
        p.error("--replicas goes with --serve ray")
    return args


def rating_scale(text: str) -> tuple[float, float]:
    """--rating-scale LOW-HIGH, e.g. 1-5."""
    from retrieval.catalog_config import parse_rating_scale

    try:
        return parse_rating_scale(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def load_data(args: argparse.Namespace):
    if args.catalog is None:
        from retrieval.movielens import load_movielens

        return load_movielens()
    from retrieval.loaders import load_interactions, read_catalog
    from retrieval.records import Interactions

    loaded = read_catalog(args.catalog, encoding=args.encoding)
    print(f"catalog {loaded.catalog.name}: {loaded.config.kind_note}", flush=True)
    for notice in loaded.notices:
        print(f"warning: {notice}", file=sys.stderr, flush=True)
    if args.interactions is None:
        return loaded.catalog, Interactions.empty()
    scale = args.rating_scale or loaded.config.rating_scale
    return loaded.catalog, load_interactions(args.interactions, loaded.catalog, encoding=args.encoding,
                                             rating_scale=scale, blank_ratings=args.blank_ratings)


def verify(args: argparse.Namespace, folder: Path) -> None:
    """With --verify: hash every file of every artifact folder, large ones too (loads check
    those under 1 GB); a changed one raises StaleArtifactError."""
    if args.verify and folder.exists():
        from retrieval.artifacts import verify_tree

        for part, n in verify_tree(folder):
            print(f"verified {part}: " + (f"{n} files match their sha256" if n is not None else
                                          "no hashes recorded (built before they were); --rebuild records them"))


def make_redial_bot(args: argparse.Namespace):
    """The ReDial system folder's pipeline (built first when missing: about two hours on 2
    cores, the fine-tunes most of it), exactly as `launch.py evaluate redial` scores it."""
    import time

    from bot.conversation.chat import Bot
    from fusion.build import BuildReport
    from fusion.conversations import load_system
    from retrieval.redial import default_data_dir, fact_tokens, load_catalog_with_genres

    start = time.perf_counter()
    data_dir = args.data_dir or default_data_dir()
    folder = args.artifacts or ROOT / "artifacts" / "redial"
    verify(args, folder)
    built = not (folder / "manifest.json").exists() or args.rebuild
    if built:
        from benchmarks.redial.__main__ import build, refit, tune

        print(f"building the ReDial pipeline into {folder} (trains on {data_dir}/train.jsonl; "
              "about two hours on 2 cores)", flush=True)
        parts = build(data_dir, folder)
        refit(data_dir, folder, parts, tune(data_dir, folder, parts))
    catalog = load_catalog_with_genres(data_dir)
    recommender = load_system(folder, catalog, fact_tokens(catalog, data_dir))
    seconds = time.perf_counter() - start
    print(f"catalog redial: {len(catalog)} items; {'built' if built else 'reused'} the pipeline in {folder} "
          f"({seconds:.1f} s)", flush=True)
    return Bot(recommender), BuildReport(("pipeline",) if built else (), seconds)


def load_conversations(args: argparse.Namespace, catalog):
    """What the build learns from conversations (None: nothing): on the default catalog the
    ReDial dialogues shipped with the package (retrieval/shipped_dialogues.py) unless
    --no-dialogues, plus those of --dialogues FILE on `catalog`'s items (a dialogue both hold
    is taken once; another one under a shipped id is renamed "FILE:id"); split into fit and dev (retrieval/dialogue.py
    `split_dialogues`), with the dev replay as their tuner."""
    from dataclasses import replace

    from bot.offline.replay import tune_on_dialogues, tuner_fingerprint
    from fusion.build import Conversations
    from retrieval.dialogue import split_dialogues
    from retrieval.redial import load_linked_dialogues
    from retrieval.shipped_dialogues import DIALOGUES_FILE, shipped_dialogues

    dialogues, sources = {}, []
    if args.catalog is None and not args.no_dialogues:
        shipped = shipped_dialogues(catalog)
        mentions = sum(len(t.item_ids) for d in shipped for t in d.turns)
        if mentions:
            dialogues.update((d.dialogue_id, d) for d in shipped)
            sources.append(f"{DIALOGUES_FILE.name} (shipped, from ReDial's train.jsonl): {len(shipped):,} dialogues, "
                           f"{mentions:,} mentions of catalog movies")
        else:  # a catalog that none of their movies link to: nothing to learn
            print(f"dialogues {DIALOGUES_FILE.name}: none of their movies is in catalog {catalog.name}; not used",
                  flush=True)
    if args.dialogues is not None:
        linked = load_linked_dialogues(args.dialogues, catalog)
        for d in linked.dialogues:  # the same dialogue once; another one under a shipped id renamed
            if dialogues.get(d.dialogue_id, d) != d:
                d = replace(d, dialogue_id=f"{args.dialogues.name}:{d.dialogue_id}")
            dialogues[d.dialogue_id] = d
        sources.append(f"{args.dialogues.name}: {linked.describe()}")
    if not dialogues:
        return None
    fit, dev = split_dialogues(list(dialogues.values()))
    source = "; ".join(sources)
    print(f"dialogues {source}; {len(fit):,} fit the model, {len(dev):,} tune it", flush=True)
    return Conversations(fit, dev, source, tune_on_dialogues, tuner_fingerprint())


def server_options(trusted_proxies: str = "") -> dict:
    """uvicorn's options for `serve`: connections beyond 256 get 503 at once; idle keep-alive
    connections close after 5 s; X-Forwarded-For is read only from `trusted_proxies`
    (comma-separated addresses): uvicorn's own default trusts it from 127.0.0.1, so any local
    client, or any client behind a proxy that passes the header on, could pick the address
    the login throttle counts its failures under."""
    proxies = [a.strip() for a in trusted_proxies.split(",") if a.strip()]
    return {"limit_concurrency": 256, "timeout_keep_alive": 5, "proxy_headers": bool(proxies),
            "forwarded_allow_ips": ",".join(proxies) or None}


def artifact_folder(args: argparse.Namespace, catalog) -> Path:
    suffix = "-dialogues" if args.dialogues else "-ratings" if args.no_dialogues else ""
    return args.artifacts or ROOT / "artifacts" / (catalog.name + suffix)


def make_bot(args: argparse.Namespace, data=None):
    """(the Bot these flags serve, its build report); `data`: (catalog, interactions) when
    already loaded."""
    if getattr(args, "redial", False):
        return make_redial_bot(args)
    from bot.conversation.chat import Bot
    from fusion.build import load_or_build
    from fusion.choices import ShippedChoices
    from fusion.config import PipelineConfig
    from retrieval.encoder import TransformerEncoder

    catalog, interactions = data or load_data(args)
    if len(interactions) == 0:
        args.alpha = 1.0  # the UI slider starts where the pipeline is: text only
        print(f"no interactions for catalog {catalog.name}: recommendations use the item texts only "
              "(CF off, alpha = 1) until interactions are given (--interactions FILE)", flush=True)
    conversations = load_conversations(args, catalog)
    folder = artifact_folder(args, catalog)
    verify(args, folder)
    encoder = TransformerEncoder(args.encoder)
    recommender, report = load_or_build(catalog, interactions, encoder, folder,
                                        PipelineConfig(alpha=args.alpha), rebuild=args.rebuild,
                                        finetune=not args.no_finetune, tune=not args.no_tune,
                                        conversations=conversations, int8_queries=args.query_precision == "int8",
                                        choices=None if args.rebuild_choices else ShippedChoices.load())
    from fusion.catalog_log import replay

    recommender, _ = replay(folder, recommender, progress=True)  # live catalog updates since the build
    args.artifacts = folder
    print(f"artifacts in {folder}", flush=True)  # the build printed its one-line summary
    return Bot(recommender), report


QUICK_MAX_LENGTH = 64  # word pieces of an item text the quick pipeline reads: its encoding takes half the time


def answers_early(args: argparse.Namespace) -> bool:
    """Whether this start serves a quick pipeline while the full one builds: a first build
    (or --rebuild) served here, unless --wait-for-build, --build-only, --serve ray, the
    ReDial system (built by its own command) or live catalog changes (--admin-token-file:
    they would be made to the quick pipeline) say otherwise."""
    return not (args.wait_for_build or args.build_only or args.serve == "ray" or args.redial
                or args.admin_token_file is not None)


def quick_bot(args: argparse.Namespace, catalog, interactions, folder: Path):
    """The Bot that answers while the full pipeline builds: the base encoder reading the
    first QUICK_MAX_LENGTH word pieces of each item text, CF on the interactions, nothing
    fine-tuned or learnt from conversations. Its CF model, fusion and term weights are the
    ratings-only pipeline's shipped choices where they were made for this catalog and these
    ratings (the embedded MovieLens), else the config's defaults. Built into
    `<folder>/quick/` (the full build never reads it; removed once the full one answers)."""
    import time

    from bot.conversation.chat import Bot
    from fusion.build import load_or_build
    from fusion.cf import fingerprints
    from fusion.choices import RATINGS, ShippedChoices
    from fusion.config import PipelineConfig, with_replay_defaults
    from fusion.stages import estimate_encode_seconds
    from retrieval.encoder import TransformerEncoder

    config, how = PipelineConfig(alpha=args.alpha), "the default fusion"
    shipped = ShippedChoices.load()
    if (shipped is not None and RATINGS in shipped.choices
            and all(shipped.recipe.get(k) == v for k, v in fingerprints(catalog, interactions).items())):
        config, how = with_replay_defaults(shipped.choices[RATINGS].config), "the ratings-only bot's shipped fusion"
    encoder = TransformerEncoder(args.encoder, max_length=QUICK_MAX_LENGTH)
    eta = estimate_encode_seconds(encoder.encode, catalog.texts())
    print(f"a first build: a quick pipeline answers while the full one builds. Quick: the base encoder on item "
          f"texts cut to {QUICK_MAX_LENGTH} word pieces, CF on the interactions, {how}, nothing fine-tuned; "
          f"encoding {len(catalog):,} {catalog.kind.plural} (ETA {eta:.0f} s)", flush=True)
    start = time.perf_counter()
    recommender, _ = load_or_build(catalog, interactions, encoder, folder / "quick", config, rebuild=True,
                                   progress=False, finetune=False, tune=False,
                                   int8_queries=args.query_precision == "int8")
    print(f"quick pipeline built in {time.perf_counter() - start:.0f} s; the full build follows in the background",
          flush=True)
    return Bot(recommender)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in COMMANDS:
        module, what = COMMANDS[argv[0]]
        import importlib

        if argv[0] == "catalog":  # a stopped folder is loaded as `serve` loads it
            return importlib.import_module(module).main(argv[1:], served_bot)
        return importlib.import_module(module).main(argv[1:])
    args = parse_args(argv)
    if args.serve == "ray":
        import importlib

        try:
            importlib.import_module("ray.serve")  # checked before the bot is built
        except ImportError:
            print("error: --serve ray needs Ray Serve and the redis client: pip install '.[scale]'",
                  file=sys.stderr)
            return 2
    from retrieval.artifacts import StaleArtifactError
    from retrieval.loaders import DataError

    try:
        upgrade = None
        if answers_early(args):
            data = load_data(args)
            folder = artifact_folder(args, data[0])
            if args.rebuild or not (folder / "manifest.json").exists():
                args.artifacts = folder
                bot = quick_bot(args, *data, folder)
                upgrade = functools.partial(full_bot, args, data, folder)
        if upgrade is None:
            bot, _ = make_bot(args)
    except (DataError, StaleArtifactError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.build_only:
        return 0
    if args.serve == "ray":
        del bot  # the replicas load their own copies from the artifacts just checked
        return serve_on_ray(args, argv)
    return serve(bot, args, upgrade)


def full_bot(args: argparse.Namespace, data, folder: Path):
    """The full pipeline's Bot, built after the quick one answers (bot/service/upgrade.py)."""
    import shutil

    bot = make_bot(args, data)[0]
    shutil.rmtree(folder / "quick", ignore_errors=True)
    return bot


def served_bot(argv: list[str]):
    """(the Bot these serve flags serve, from artifacts already built, with the catalog
    changes recorded in them; its artifact folder): what `launch.py catalog` updates."""
    args = parse_args(argv)
    args.rebuild = False
    return make_bot(args)[0], args.artifacts


def replica_bot(argv: list[str]):
    """The Bot one Ray Serve replica serves: launch.py's own, from artifacts already built."""
    args = parse_args(argv)
    args.rebuild = False
    return make_bot(args)[0]


def serve_on_ray(args: argparse.Namespace, argv: list[str]) -> int:
    """Deploy on the Ray cluster at $RAY_ADDRESS (a local one started here without it) and
    serve until Ctrl-C. Every node needs this repository at the same path and the
    artifacts there (replicas import `launch` and load them)."""
    import functools
    import time

    import ray

    import launch  # by its module name, so replicas import it rather than unpickle __main__
    from bot.service import serve_ray
    from bot.service.identity import SecretError, load_secret
    from bot.service.redis_store import RedisStateStore
    from bot.service.store import StateStoreError

    try:
        RedisStateStore(args.redis_url).close()  # fail here, in one line, not in every replica
        if args.user_secret_file:
            load_secret(args.user_secret_file)  # the ingress reads it at the same path
    except (StateStoreError, SecretError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not args.no_log:
        args.log_db.parent.mkdir(parents=True, exist_ok=True)  # on this node; others: the same path
    ray.init(runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    config = serve_ray.ServeConfig(replicas=args.replicas, replica_cpus=args.replica_cpus,
                                   concurrency=args.concurrency, queue=args.queue, host=args.host,
                                   port=args.port, pythonpath=str(ROOT))
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    serve_ray.deploy(functools.partial(launch.replica_bot, argv), args.redis_url, config,
                     None if args.no_log else str(args.log_db), auth,
                     str(args.user_secret_file.resolve()) if args.user_secret_file else None)
    print(f"API on http://{args.host}:{args.port}/api/chat  ·  {args.replicas} pipeline replicas on Ray "
          f"({ray.get_runtime_context().gcs_address})  ·  state: {args.redis_url}  ·  Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        serve_ray.shutdown()
    return 0


def serve(bot, args: argparse.Namespace, upgrade=None) -> int:
    """Serve `bot` (chat + API) as the flags say, until stopped; the exit status. `upgrade`:
    a callable building the full pipeline's Bot, swapped in once built (`bot` answers
    until then: bot/service/upgrade.py)."""
    import uvicorn

    from bot.service.gate import TurnGate, apply_thread_budget, thread_budget
    from bot.service.identity import SecretError, load_secret
    from bot.service.logbook import SERVING_BUSY_TIMEOUT_S, Logbook, LogbookError
    from bot.service.server import build_app
    from bot.service.chatservice import ChatService
    from bot.service.sessions import Sessions
    from bot.service.store import SqliteStateStore, StateStoreError
    from bot.service.study import StudyConfigError, load_study_config

    # while the full pipeline builds, the build takes every core (its turns are few); the
    # budget applies once it is swapped in
    budget = functools.partial(apply_thread_budget, thread_budget(args.concurrency))
    if upgrade is None:
        budget()
    try:
        study = load_study_config(args.study) if args.study else None
        users = load_secret(args.user_secret_file) if args.user_secret_file else None
        for folder in {args.log_db.parent, args.state_db.parent}:
            folder.mkdir(parents=True, exist_ok=True)
        logbook = None if args.no_log else Logbook(args.log_db, busy_timeout_s=SERVING_BUSY_TIMEOUT_S)
        service = ChatService(bot, logbook, study, TurnGate(args.concurrency, args.queue))
        if args.redis_url:
            from bot.service.redis_store import RedisStateStore

            sessions = Sessions(RedisStateStore(args.redis_url))
        else:
            sessions = Sessions(SqliteStateStore(args.state_db))
    except (StudyConfigError, LogbookError, StateStoreError, SecretError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not service.self_test():
        print(f"error: the start-up turn failed ({service.self_test_error}); "
              "rebuild the artifacts with --rebuild", file=sys.stderr)
        return 2
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    from bot.service.admin import AdminError, CatalogAdmin, load_token

    try:
        admin = CatalogAdmin(service, args.artifacts, load_token(args.admin_token_file)) if args.admin_token_file else None
    except AdminError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    app = build_app(service, sessions, args.alpha, auth, concurrency=args.concurrency, users=users,
                    demo_users=args.demo_users, admin=admin)
    if upgrade is not None:
        from bot.service.upgrade import PipelineUpgrade

        PipelineUpgrade(service, upgrade, "the full build", then=budget).start()
    print(f"chat on http://{args.host}:{args.port}/  ·  API: POST http://{args.host}:{args.port}/api/chat"
          + (f"  ·  log: {args.log_db}" if logbook else "") + (f"  ·  study: {args.study}" if study else "")
          + ("  ·  known users: with user tokens" if users else "  ·  known users: off (--user-secret-file)")
          + ("  ·  demo users: ON, anyone on the page may act as any user" if args.demo_users else ""),
          flush=True)
    from bot.service.slowloris import connection_protocol

    # headers must arrive within 10 s, and one address holds at most 32 connections
    # (bot/service/slowloris.py); bodies are timed too (bot/service/guard.py); the rest: server_options
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning",
                http=connection_protocol(args.trusted_proxies), **server_options(args.trusted_proxies))
    if service.logbook is not None and not service.logbook.flush():
        print(f"warning: {service.logbook.health()['pending']} log entries could not be written "
              f"at shutdown ({service.logbook.last_error})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
