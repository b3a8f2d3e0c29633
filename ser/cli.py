"""``python -m ser ...``: the same engine functions as the pages, for scripted runs.

With ``--json`` exactly one JSON object goes to stdout; progress and logs go to stderr.
Errors print ``error: title: detail`` on stderr and exit non-zero, without a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shlex
import sys
import time
from pathlib import Path

from .learning.baselines import BaselineSpec
from .learning.encoder import PRECISIONS
from .errors import SerError
from .learning.finetune.lr_search import LrSearchSpec
from .learning.finetune.spec import FinetuneSpec
from .params import add_options, spec_from_args, spec_params
from .runs import json_default


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at the interpreter's exit
        return code
    except BrokenPipeError:  # `python -m ser runs | head -2`: the reader has all it wanted
        _quiet_stdout()
        return 141  # 128 + SIGPIPE, as the shell reports a writer its reader left
    except SerError as exc:
        print(f"error: {exc.title}: {exc.detail}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line for scripts, the traceback on request
        if os.environ.get("SER_DEBUG"):
            raise
        print(f"error: Unexpected failure: {type(exc).__name__}: {exc} (set SER_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush does not fail again (Python's advice
    for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


JSON_HELP = "print one JSON object on stdout (progress and notes go to stderr)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ser", description="Speech emotion recognition workbench.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    corpus = commands.add_parser("corpus", help="load a corpus and report clips, labels and data health")
    _add_source(corpus)
    corpus.add_argument("--json", action="store_true", help=JSON_HELP)
    corpus.set_defaults(handler=cmd_corpus)

    demo = commands.add_parser("demo", help="generate the synthetic demo corpus (CREMA-D layout)")
    demo.add_argument("--out", required=True, help="folder to write")
    demo.add_argument("--actors", type=int, default=24, help="how many actors (91 in CREMA-D; default: 24)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the generator (default: 0)")
    demo.add_argument("--json", action="store_true", help=JSON_HELP)
    demo.set_defaults(handler=cmd_demo)

    features = commands.add_parser("features", help="extract (or read cached) features for every clip")
    _add_source(features)
    features.add_argument("--set", default="mfcc13", dest="feature_set",
                          help="mfcc13 (default, the report's), mfcc-stats, egemaps, or ssl: a speech encoder's "
                               "hidden states (with --model)")
    features.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    features.add_argument("--model", default=None, help="with --set ssl: a hub id (facebook/wav2vec2-base, "
                          "microsoft/wavlm-base-plus...) or a folder written by save_pretrained")
    features.add_argument("--layers", default="all", help="with --set ssl: the hidden states to store: all "
                          "(default), a number (0: the embedding output) or numbers separated by commas")
    features.add_argument("--revision", default=None, help="with --set ssl: the hub revision (default: main)")
    features.add_argument("--device", default="auto", help="with --set ssl: auto (the GPU if any), cuda or cpu "
                                                           "(default: auto)")
    features.add_argument("--precision", default="auto", choices=list(PRECISIONS),
                          help="with --set ssl: auto (bf16 on a GPU, float32 on the CPU), float32, or bfloat16 "
                               "(also on a CPU with avx512_bf16 or AMX: about half float32's time, stored apart) "
                               "(default: auto)")
    features.add_argument("--json", action="store_true", help=JSON_HELP)
    features.set_defaults(handler=cmd_features)
    baseline = commands.add_parser("baseline", help="train and evaluate a baseline: SVM, random forest, logistic "
                                                    "regression or MLP")
    _add_source(baseline)
    _add_spec_options(baseline, BaselineSpec)
    baseline.add_argument("--json", action="store_true", help=JSON_HELP)
    baseline.set_defaults(handler=cmd_baseline)

    probe = commands.add_parser("probe", help="train the same light classifier on every layer of a speech encoder")
    _add_source(probe)
    from .learning.probe import ProbeSpec

    _add_spec_options(probe, ProbeSpec)
    probe.add_argument("--json", action="store_true", help=JSON_HELP)
    probe.set_defaults(handler=cmd_probe)

    runs = commands.add_parser("runs", help="list the runs in the registry")
    runs.add_argument("--json", action="store_true", help=JSON_HELP)
    runs.set_defaults(handler=cmd_runs)

    bias = commands.add_parser("bias", help="a run's macro-F1 by group, with speaker-level intervals and a gap test")
    bias.add_argument("--run", required=True, dest="run_id", help="the run whose predictions to analyse "
                      "(python -m ser runs lists them)")
    bias.add_argument("--by", required=True, help="actor, race, ethnicity, sex, age band, sentence, intensity, "
                                                  "duration band; two joined by '+' for intersections (sex+race)")
    bias.add_argument("--filter", action="append", default=[], metavar="COL=VAL",
                      help="keep clips whose COL is VAL (repeatable; VAL may be a comma-separated list; "
                           "default: every clip)")
    bias.add_argument("--part", default="test", choices=["test", "val", "train"],
                      help="which part of the run's split to analyse (default: test)")
    bias.add_argument("--boot", type=int, default=1000,
                      help="bootstrap replicates for the intervals and shuffles for the gap test (default 1000)")
    bias.add_argument("--json", action="store_true", help=JSON_HELP)
    bias.set_defaults(handler=cmd_bias)

    for name, handler, text in (("finetune", cmd_finetune, "queue a wav2vec2 fine-tuning job"),
                                ("lr-search", cmd_lr_search, "queue the report's learning-rate beam search")):
        command = commands.add_parser(name, help=text)
        _add_source(command)
        _add_spec_options(command, FinetuneSpec)
        if name == "lr-search":
            _add_spec_options(command, LrSearchSpec)
            # --lr is the search's first rate, as on the Fine-tuning page; --init-lr says the same: either will do
            _option_of(command, "init_lr").help = (spec_params(LrSearchSpec)["init_lr"].help
                                                   + " (default: --lr's value, whose default is "
                                                     f"{spec_params(FinetuneSpec)['learning_rate'].default})")
            for dest in ("learning_rate", "init_lr"):
                _option_of(command, dest).__class__ = _StoreGiven
        command.add_argument("--wait", action="store_true", help="wait for the job to end (starts a local worker "
                                                                  "when the queue is local and none is alive)")
        command.add_argument("--json", action="store_true", help=JSON_HELP)
        command.set_defaults(handler=handler)

    predict = commands.add_parser("predict", help="classify audio files with a finished run")
    predict.add_argument("--run", required=True, dest="run_id", help="a finished baseline, wav2vec2 or evaluation "
                         "run (python -m ser runs lists them)")
    predict.add_argument("files", nargs="+", metavar="FILE", help="audio files (wav, flac, ogg, mp3...)")
    predict.add_argument("--json", action="store_true", help=JSON_HELP)
    predict.set_defaults(handler=cmd_predict)

    evaluate = commands.add_parser("evaluate", help="score a finished run on another corpus (the emotions both share)")
    target = evaluate.add_mutually_exclusive_group(required=True)
    target.add_argument("--data", help="the other corpus: a CREMA-D folder")
    target.add_argument("--manifest", help="the other corpus: a CSV with path, emotion, speaker and any metadata")
    evaluate.add_argument("--run", required=True, dest="run_id", help="the finished run to score")
    evaluate.add_argument("--json", action="store_true", help=JSON_HELP)
    evaluate.set_defaults(handler=cmd_evaluate)

    worker = commands.add_parser("worker", help="consume the job queue (one job at a time, on the GPU if any)")
    worker.add_argument("--auto", action="store_true", help="started by the app or the CLI: exit once no job is "
                        "queued or running and no client has been alive for $SER_WORKER_IDLE_SECONDS (300)")
    worker.set_defaults(handler=cmd_worker)
    return parser


def _add_spec_options(parser: argparse.ArgumentParser, spec_cls) -> None:
    """``ser.params.add_options``, without the choices' labels where the help already explains every choice
    (they would say it a second time)."""
    add_options(parser, spec_cls)
    for p in spec_params(spec_cls).values():
        if p.cli and p.choices and all(re.search(rf"\b{re.escape(str(v))}\b", p.help) for v in p.choices):
            _option_of(parser, p.name).help = p.help + ("" if p.default is None else f" (default: {p.default})")


class _StoreGiven(argparse._StoreAction):
    """An option that also notes, in ``given``, that it was given (its default stays the spec's)."""

    def __call__(self, parser, namespace, values, option_string=None):
        super().__call__(parser, namespace, values, option_string)
        namespace.given = {*getattr(namespace, "given", ()), self.dest}


def _option_of(parser: argparse.ArgumentParser, dest: str) -> argparse.Action:
    return next(action for action in parser._actions if action.dest == dest)


def _add_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--data", help="a CREMA-D folder (default: $SER_DATA, else the demo corpus)")
    group.add_argument("--manifest", help="a CSV with path, emotion, speaker and any metadata columns")


def _load(args):
    """The corpus of --data/--manifest (else $SER_DATA, else the demo corpus). One without a usable clip is an
    error (exit 2) that says why, not a run over nothing."""
    from .data.corpus import load_corpus
    from .errors import CorpusError

    corpus = load_corpus(args.data or args.manifest, progress=_print_progress)
    if corpus.clips.empty:
        raise CorpusError(_why_no_clips(corpus), title="No usable clip")
    return corpus


KEPT_KINDS = {"unknown-code", "no-metadata"}  # problems whose clips stay in the corpus (without the code or metadata)


def _dropped(corpus) -> list:
    """The corpus' problems that cost a clip or a file (missing, undecodable, duplicate, unparsed...)."""
    return [p for p in corpus.problems if p.kind not in KEPT_KINDS]


def _why_no_clips(corpus) -> str:
    dropped = _dropped(corpus)
    unparsed = [p for p in dropped if p.kind == "bad-name"]
    if corpus.kind == "crema-d":
        example = f" ({Path(unparsed[0].clip).name} among them)" if unparsed else ""
        text = (f"{corpus.source} holds no usable clip: {len(unparsed)} file(s){example} whose names do not parse "
                "as CREMA-D's ACTOR_SENTENCE_EMOTION_LEVEL.wav (e.g. 1001_DFA_ANG_XX.wav)")
        if len(dropped) > len(unparsed):
            text += f", and {len(dropped) - len(unparsed)} other unusable file(s) ({dropped[-1].problem})"
        return text + (". For another corpus layout, give a manifest (--manifest CSV) with the columns path, "
                       "emotion and speaker.")
    first = f" (first: {dropped[0].clip}: {dropped[0].problem})" if dropped else ""
    return (f"{corpus.source} lists no usable clip: {len(dropped)} row(s) or file(s) could not be used{first}. "
            "A manifest (--manifest CSV) needs the columns path, emotion and speaker, one row per audio file.")


def _note(args, lines: list[str], text: str) -> None:
    """A note for the reader: a line of the text output, or a line on stderr with --json (stdout holds the
    one JSON object)."""
    if getattr(args, "json", False):
        print(text, file=sys.stderr)
    else:
        lines.append(text)


def _note_dropped(args, corpus, payload: dict, lines: list[str]) -> None:
    """How many files of the corpus could not be used (its ``problems``): a line, and ``corpus_problems`` in
    the JSON."""
    dropped = len(_dropped(corpus))
    payload["corpus_problems"] = dropped
    if dropped:
        option = "--manifest" if corpus.kind == "manifest" else "--data"
        where = [option, shlex.quote(str(corpus.source))] if _given(args) else []
        command = " ".join(["python -m ser corpus", *where])
        _note(args, lines, f"{dropped} file(s) of the corpus could not be used: see `{command}`")


def _given(args) -> bool:
    return bool(getattr(args, "data", None) or getattr(args, "manifest", None))


_last_progress = {"t": 0.0}


def _print_progress(done: int, total: int, message: str) -> None:
    """A ``ser.progress.Progress`` that prints one line on stderr, at most twice a second; the last one
    ends the line."""
    now = time.monotonic()
    if done >= total or now - _last_progress["t"] > 0.5:
        _last_progress["t"] = now
        print(message, end="\n" if done >= total else "\r", file=sys.stderr, flush=True)


def _emit(args, payload: dict, lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(payload, default=json_default))
    else:
        print("\n".join(lines))


def cmd_corpus(args) -> int:
    from .data.corpus_report import corpus_summary

    corpus = _load(args)
    summary = corpus_summary(corpus)
    lines = [f"corpus: {corpus.name} ({corpus.kind}{', synthetic' if corpus.synthetic else ''}) at {corpus.source}",
             f"clips: {summary['clips']}  speakers: {summary['speakers']}",
             "emotions: " + "  ".join(f"{k} {v}" for k, v in summary["emotions"].items())]
    if "crowd_voice" in summary:
        crowd = summary["crowd_voice"]
        lines.append(f"crowd voice-only plurality vote: accuracy {crowd['accuracy']:.3f}, "
                     f"macro-F1 {crowd['macro_f1']:.3f}")
        pooled = summary["agreement"]["pooled"]
        lines.append("agreement (pooled): " + "  ".join(f"{k} {v:.3f}" for k, v in pooled.items()))
    lines.append(f"problems: {len(summary['problems'])}")
    lines += [f"  {p['clip']}: {p['problem']}" for p in summary["problems"]]
    _emit(args, summary, lines)
    return 0


def cmd_demo(args) -> int:
    from .data import cremad
    from .data.demo import generate_demo_corpus

    started = time.perf_counter()
    folder = generate_demo_corpus(args.out, actors=args.actors, seed=args.seed,
                                  progress=_print_progress)
    clips = len(list((folder / cremad.AUDIO_DIR).glob("*.wav")))
    payload = {"out": str(folder), "actors": args.actors, "seed": args.seed, "clips": clips,
               "seconds": round(time.perf_counter() - started, 2), "synthetic": True}
    _emit(args, payload, [f"demo corpus (synthetic): {clips} clips of {args.actors} actors in {folder}"])
    return 0


def cmd_features(args) -> int:
    from .learning.features import extract_features

    if args.feature_set == "ssl":
        return _embedding_features(args)
    corpus = _load(args)
    result = extract_features(corpus, args.feature_set, jobs=args.jobs,
                              progress=_print_progress)
    summary = result.summary()
    summary["corpus"] = corpus.name
    origin = "read from the cache" if result.cached else f"{result.computed} computed"
    lines = [f"{result.set_name}: {summary['clips']} clips, {len(result.failed)} failed, "
             f"{summary['seconds']:.2f} s ({origin})"]
    lines += [f"  failed {p.clip}: {p.problem}" for p in result.failed]
    _note_dropped(args, corpus, summary, lines)
    _emit(args, summary, lines)
    return 0


def _embedding_features(args) -> int:
    from .errors import FeatureError
    from .learning.embeddings import extract_embeddings, parse_layers

    if not args.model:
        raise FeatureError("--set ssl needs --model: a hub id (ORG/MODEL_ID) or a folder written by "
                           "save_pretrained.", title="No model")
    parse_layers(args.layers)
    corpus = _load(args)
    result = extract_embeddings(corpus, args.model, args.layers, revision=args.revision, device=args.device,
                                progress=_print_progress, precision=args.precision)
    summary = result.summary()
    summary["corpus"] = corpus.name
    origin = "read from the cache" if result.cached else f"{result.computed} computed"
    lines = [f"ssl {args.model}: {summary['clips']} clips x {summary['layers']} hidden states of {result.dim} "
             f"values, {len(result.failed)} failed, {summary['seconds']:.2f} s ({origin})"]
    lines += [f"  failed {p.clip}: {p.problem}" for p in result.failed]
    _note_dropped(args, corpus, summary, lines)
    _emit(args, summary, lines)
    return 0


def cmd_baseline(args) -> int:
    from .learning.baselines import run_baseline

    spec = spec_from_args(BaselineSpec, args).validate()
    corpus = _load(args)
    run = run_baseline(spec, corpus, progress=_print_progress)
    metrics = {k: run.metrics.get(k) for k in ("accuracy", "macro_f1", "uar")}
    payload = {"run_id": run.run_id, "status": run.status, "split": spec.split, "metrics": metrics,
               "best_params": run.info.get("best_params"),
               "cv": {"folds": run.info["cv"].get("folds"), "scoring": spec.scoring,
                      "scheme": run.info["cv"].get("scheme")},
               "corpus": corpus.name, "synthetic": corpus.synthetic}
    lines = [f"run {run.run_id}: {run.status}",
             f"{spec.model} on {spec.features}, split {spec.split}: macro-F1 {metrics['macro_f1']:.3f}, "
             f"UAR {metrics['uar']:.3f}, accuracy {metrics['accuracy']:.3f}",
             f"best parameters: {run.info.get('best_params')}"]
    if corpus.synthetic:
        lines.append("(synthetic demo corpus: these numbers say nothing about emotion)")
    _note_dropped(args, corpus, payload, lines)
    _emit(args, payload, lines)
    return 0


def cmd_probe(args) -> int:
    """In this process, as ``baseline``: the layers' scores, the best layer and the baseline run kept of it."""
    from .analysis.uncertainty import MIN_ACTORS
    from .learning.probe import ProbeSpec, run_probe

    spec = spec_from_args(ProbeSpec, args).validate()
    corpus = _load(args)
    run = run_probe(spec, corpus, progress=_print_progress)
    layers = [{k: v for k, v in row.items() if k != "metrics"} for row in run.info.get("layers") or []]
    few = sorted({row["actors"] for row in layers if row.get("actors") is not None and row["actors"] < MIN_ACTORS})
    for row in layers:  # as the Bias page: no interval from fewer than MIN_ACTORS speakers
        if row.get("actors") is not None and row["actors"] < MIN_ACTORS:
            row["low"] = row["high"] = None
    payload = {"run_id": run.run_id, "status": run.status, "model": spec.model, "classifier": spec.classifier,
               "split": spec.split, "layers": layers, "best_layer": run.info.get("best_layer"),
               "best_run": run.info.get("best_run"), "metrics": run.metrics, "corpus": corpus.name,
               "synthetic": corpus.synthetic}
    lines = [f"run {run.run_id}: {run.status}",
             f"{spec.classifier} on every layer of {spec.model}, split {spec.split}:"]
    lines += [f"  layer {row['layer']:>2}: macro-F1 {row['macro_f1']:.3f} {_interval(row['low'], row['high'])}"
              f"{'  <- best' if row.get('best') else ''}" for row in layers]
    if few:
        _note(args, lines, f"warning: only {few[0]} speaker(s) in the test part, fewer than {MIN_ACTORS}: no "
                           "interval is given, as one resampled from so few voices says little about new ones "
                           "(a corpus with more speakers, or --split report, gives one).")
    lines.append(f"best layer {run.info.get('best_layer')}, kept as run {run.info.get('best_run')}")
    if corpus.synthetic:
        lines.append("(synthetic demo corpus: these numbers say nothing about emotion)")
    _emit(args, payload, lines)
    return 0 if run.status == "finished" else 1


def _interval(low, high) -> str:
    return "no interval" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"


def cmd_runs(args) -> int:
    from .jobs.control import refresh
    from .runs import list_runs

    runs = [refresh(run) for run in list_runs()]
    payload = {"runs": [{"run_id": r.run_id, "kind": r.kind, "status": r.status, "model": r.info["spec"].get("model"),
                         "split": r.info["spec"].get("split"), "created": r.info.get("created"),
                         "metrics": {k: r.metrics.get(k) for k in ("accuracy", "macro_f1", "uar")}}
                        for r in runs]}
    lines = [r.label() for r in runs] or ["no runs yet"]
    _emit(args, payload, lines)
    return 0


def cmd_worker(args) -> int:
    from .jobs.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_worker(auto=args.auto)


def cmd_bias(args) -> int:
    from .analysis.bias import (analysis_frame, cached_group_report, filter_frame, gap_verdict, group_columns,
                                overall_report)
    from .analysis.uncertainty import MIN_ACTORS
    from .data.corpus import load_corpus
    from .errors import ConfigError
    from .runs import load_run

    if args.boot != 0 and args.boot < MIN_BOOT:
        raise ConfigError(f"--boot {args.boot}: give 0 (no intervals or test) or at least {MIN_BOOT} replicates "
                          "(the page offers 1,000 to 5,000); fewer cannot place a 95% interval's ends.")
    by = _grouping(args.by)
    columns = group_columns(by)  # an unknown name is refused before the run is read
    if len(set(columns)) < len(columns):  # actor+speaker
        raise ConfigError(f"--by {args.by!r} names the column {columns[0]!r} twice; give two different columns.",
                          title="Invalid grouping")
    filters = {}
    for item in args.filter:
        if "=" not in item:
            raise ConfigError(f"--filter {item!r} is not COL=VAL.", title="Invalid filter")
        column, value = item.split("=", 1)
        filters.setdefault(column.strip(), []).extend(v.strip() for v in value.split(","))
    run = load_run(args.run_id)
    corpus = load_corpus(run.info["corpus"]["source"])
    frame = filter_frame(analysis_frame(run, corpus.clips, args.part), filters)
    report = cached_group_report(run, frame, by, args.part, n_boot=args.boot) if not filters else None
    if report is None:
        from .analysis.bias import group_report

        report = group_report(frame, by, n_boot=args.boot)
    headline = overall_report(frame, n_boot=args.boot)  # the page's headline, whatever the grouping
    payload = {"run_id": run.run_id, "part": args.part, "filters": filters, "clips": int(len(frame)),
               **report.to_json()}
    payload["overall"] = {"macro_f1": headline["macro_f1"]["value"], "ci": headline["macro_f1"]["ci"],
                          "actors": headline["macro_f1"]["actors"]}
    payload["overall_metrics"] = headline
    by_actor = columns == ["speaker"]  # an actor's interval resamples its clips, not actors
    overall = payload["overall"]
    interval = "" if not args.boot else f" {_interval(*overall['ci'])}" if overall["ci"][0] is not None else \
        f" no interval ({overall['actors']} actors, fewer than {MIN_ACTORS})"
    lines = [f"run {run.run_id}, {args.part} part, {len(frame)} clips of {overall['actors']} actors: "
             f"macro-F1 {overall['macro_f1']:.3f}{interval}"]
    for group in payload["groups"]:
        ci = group["ci"]
        if not args.boot:
            interval = ""
        elif ci[0] is None and not by_actor and group["actors"] < MIN_ACTORS:
            interval = f" no interval ({group['actors']} actor{'s' if group['actors'] != 1 else ''})"
        else:
            interval = f" {_interval(*ci)}"
        flag = "" if group["eligible"] else "  (too few speakers to generalise)"
        lines.append(f"  {group['group']:<28} clips {group['support']:<5} actors {group['actors']:<3} "
                     f"macro-F1 {group['macro_f1']:.3f}{interval}{flag}")
    lines.append(gap_verdict(payload["gap"]))
    _emit(args, payload, lines)
    return 0


MIN_BOOT = 100  # fewer replicates cannot place the 2.5% and 97.5% ends of an interval


def _grouping(text: str) -> str | list[str]:
    """--by: one column, or two joined by '+' (an intersection); a repeated or third one is refused."""
    from .errors import ConfigError

    names = [name.strip() for name in text.split("+")]
    if len(names) == 1:
        return names[0]
    if len(names) > 2 or "" in names:
        raise ConfigError(f"--by {text!r}: give one column, or two joined by '+' (e.g. sex+race); intersections "
                          "of more than two are not offered.", title="Invalid grouping")
    if names[0] == names[1]:
        raise ConfigError(f"--by {text!r} names {names[0]!r} twice; give two different columns (e.g. sex+race).",
                          title="Invalid grouping")
    return names


def cmd_predict(args) -> int:
    from .learning.predict import predict_files
    from .runs import load_run

    results = predict_files(_model_run(load_run(args.run_id)), args.files)
    lines = []
    for result in results:
        if "error" in result:
            lines.append(f"{result['file']}: error: {result['error']}")
        else:
            top = sorted(result["probs"].items(), key=lambda kv: -kv[1])[:3]
            lines.append(f"{result['file']}: {result['emotion']} ({', '.join(f'{k} {v:.2f}' for k, v in top)})"
                         f"{'' if result['handling'] == 'whole clip' else ' · ' + result['handling']}")
    _emit(args, {"run_id": args.run_id, "results": results}, lines)
    classified = sum("error" not in r for r in results)
    if classified == 0:
        print("error: No clip classified: every file had a problem (see above)", file=sys.stderr)
        return 1
    return 0


def _model_run(run):
    """The run itself, or an error naming the run that holds the model: a probe keeps its best layer as a
    baseline run (``best_run``), a learning-rate search its best candidate (``best.run_id``); neither saves one of
    its own."""
    from .runs import RunError

    kept = {"probe": lambda: run.info.get("best_run"),
            "lr-search": lambda: (run.info.get("best") or {}).get("run_id")}.get(run.kind)
    if kept is None:
        return run
    what = "a layer probe" if run.kind == "probe" else "a learning-rate search"
    holder = "its best layer's baseline run" if run.kind == "probe" else "its best candidate's run"
    if kept():
        raise RunError(f"run {run.run_id} is {what}, which saves no model of its own: {holder} {kept()} has it. "
                       f"Give --run {kept()}.", title="Not a model run")
    raise RunError(f"run {run.run_id} is {what} ({run.status}) that has not kept a model yet: {holder} is named "
                   "once it has one.", title="Not a model run")


def cmd_evaluate(args) -> int:
    from .learning.evaluate import run_evaluation, start_evaluation

    corpus = _load(args)
    run = run_evaluation(start_evaluation(args.run_id, corpus), corpus, progress=_print_progress)
    metrics = {k: run.metrics.get(k) for k in ("accuracy", "macro_f1", "uar")}
    unscored, failed = run.info.get("unscored") or {}, run.info.get("failed") or []
    same_audio = bool(run.info["spec"].get("same_audio"))
    payload = {"run_id": run.run_id, "status": run.status, "source_run": args.run_id, "corpus": corpus.name,
               "labels": run.info.get("labels"), "metrics": metrics, "clips": run.info.get("clips"),
               "unscored": unscored, "failed": failed, "synthetic": corpus.synthetic, "same_audio": same_audio}
    lines = [f"run {run.run_id}: {run.status} ({args.run_id} scored on {corpus.name})",
             f"{run.info.get('clips')} clips of {', '.join(run.info.get('labels') or [])}: macro-F1 "
             f"{metrics['macro_f1']:.3f}, UAR {metrics['uar']:.3f}, accuracy {metrics['accuracy']:.3f}",
             "not scored (emotions the model does not know): "
             + (", ".join(f"{label} {n} clips" for label, n in unscored.items()) or "none")]
    lines += [f"  failed {f['clip']}: {f['problem']}" for f in failed]
    if same_audio:
        _note(args, lines, f"warning: {corpus.name} holds the very audio files run {args.run_id} was trained on "
                           "(same_audio): these scores include its training clips, so they overstate how it does "
                           "on new speech.")
    _note_dropped(args, corpus, payload, lines)
    _emit(args, payload, lines)
    return 0 if run.status == "finished" else 1


def cmd_finetune(args) -> int:
    from .jobs.control import submit_finetune

    spec = _checked_model(spec_from_args(FinetuneSpec, args).validate())
    run = submit_finetune(spec, _load(args))
    return _after_submit(args, run)


def cmd_lr_search(args) -> int:
    from .jobs.control import submit_lr_search

    from .errors import ConfigError

    given = getattr(args, "given", set())
    if given == {"learning_rate", "init_lr"} and args.learning_rate != args.init_lr:
        raise ConfigError(f"--lr {args.learning_rate:g} and --init-lr {args.init_lr:g} differ; both name the "
                          "search's first rate: give either.")
    # as the Fine-tuning page: the peak rate is the search's first (round 1 tries it, /10 and x10)
    args.learning_rate = args.init_lr = args.init_lr if "init_lr" in given else args.learning_rate
    search = spec_from_args(LrSearchSpec, args).validate()
    spec = _checked_model(spec_from_args(FinetuneSpec, args).validate())
    run = submit_lr_search(spec, _load(args), **search.to_dict())
    return _after_submit(args, run)


def _checked_model(spec: FinetuneSpec) -> FinetuneSpec:
    """The model must be had (a folder with weights, the local cache, or the hub) before a job is queued,
    as on the Fine-tuning page: an unknown model is an error here, not a failed run minutes later."""
    from .learning.finetune.model import locate_model

    locate_model(spec.model)
    return spec


def _after_submit(args, run) -> int:
    if args.wait:
        run = _wait(run)
    payload = {"run_id": run.run_id, "kind": run.kind, "status": run.status, "split": run.info["spec"]["split"],
               "metrics": {k: run.metrics.get(k) for k in ("accuracy", "macro_f1", "uar")}}
    if run.kind == "lr-search":
        payload["best"] = run.info.get("best")
        payload["rounds"] = run.info.get("rounds")
        if run.info.get("best"):
            payload["best_params"] = {"learning_rate": run.info["best"]["lr"]}
    if run.info.get("error"):
        payload["error"] = run.info["error"]
    lines = [f"run {run.run_id}: {run.status}" + ("" if args.wait else " (python -m ser runs to follow it)")]
    if run.metrics.get("macro_f1") is not None:
        lines.append(f"macro-F1 {run.metrics['macro_f1']:.3f}, UAR {run.metrics['uar']:.3f}, "
                     f"accuracy {run.metrics['accuracy']:.3f}")
    if run.info.get("error"):
        lines.append(f"error: {run.info['error']}")
    _emit(args, payload, lines)
    return 1 if args.wait and run.status != "finished" else 0


def _wait_line(run) -> str:
    """The run's status and its last progress message, unless that message is only a status word (a run
    queued with the message "queued" and picked up by a worker says "running", not "running: queued")."""
    from .runs import STATES

    message = str((run.info.get("progress") or {}).get("message") or "").strip()
    return run.status if not message or message in STATES else f"{run.status}: {message}"


def _wait(run):
    from .jobs.control import refresh
    from .runs import FINAL_STATES, load_run
    from .jobs.worker import ensure_local_worker

    while True:
        ensure_local_worker()
        run = refresh(load_run(run.run_id))
        _print_progress(0, 1, _wait_line(run))
        if run.status in FINAL_STATES or run.status == "interrupted":
            print("", file=sys.stderr)
            return run
        time.sleep(1.0)
