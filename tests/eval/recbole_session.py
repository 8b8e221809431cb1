"""Train a RecBole session model (GRU4Rec, NARM, ...) on the NowPlaying-1M
train/valid files that `vitrine session eval` reads, and write its top 20 for
every test prediction point to a TSV that `vitrine session score` scores with
vitrine's own next-item code.

Usage: recbole_session.py --data DIR --model GRU4Rec --work DIR --predictions OUT.tsv
                          --meta OUT.json [--epochs N] [--patience N] [--threads N]

The split is vitrine's, reproduced line for line from src/eval/session.rs:
- a file is a tab-separated log with a header naming session_id, item_id and
  timestamp; a data line must have the header's width, a non-empty session and
  item and a finite timestamp, else it is skipped (as `parse_log` does; the
  Rust scorer enforces the bad-line share);
- sessions in order of first appearance, events stably sorted by timestamp;
- the catalogue is the items of train.csv; items unknown to it are dropped
  from prefixes (vitrine's `events_of` does the same) and can never be hit;
- a prediction point is every next item of every session, predicted from the
  whole prefix before it (`points`: positions 1..len).

RecBole gets the points as pre-split benchmark files (session, prefix, next
item), so its own augmentation and splitting play no part: it trains on the
train points, early-stops on MRR@20 of the valid points, and the best
checkpoint predicts the test points here, scored outside RecBole. A test
prefix with no known item gets train popularity (counted in the meta file).
"""

import argparse
import json
import math
import os
import sys
import time

COLUMNS = ("session_id", "item_id", "timestamp")


def read_log(path):
    """Sessions of one file as lists of item-id strings (see module doc)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [l[:-1] if l.endswith("\r") else l for l in lines]
    if not lines:
        raise SystemExit(f"{path}: empty file")
    cols = [c.strip() for c in lines[0].split("\t")]
    try:
        cs, ci, ct = (cols.index(c) for c in COLUMNS)
    except ValueError:
        raise SystemExit(f"{path}: header must name {', '.join(COLUMNS)}; found {lines[0][:120]!r}")
    width = len(cols)
    order, sessions = [], {}
    total = skipped = 0
    for line in lines[1:]:
        if not line.strip():
            continue
        total += 1
        f = line.split("\t")
        ok = len(f) == width and f[cs] != "" and f[ci] != ""
        ts = None
        if ok:
            t = f[ct].strip()
            # Rust's f64 parser takes neither digit separators nor padding.
            try:
                ts = float(t) if "_" not in t else None
            except ValueError:
                ts = None
            ok = ts is not None and math.isfinite(ts)
        if not ok:
            skipped += 1
            continue
        s = f[cs]
        if s not in sessions:
            sessions[s] = []
            order.append(s)
        sessions[s].append((f[ci], ts * 1000.0))
    out = []
    for s in order:
        ev = sorted(sessions[s], key=lambda x: x[1])  # stable, as Rust's sort_by
        out.append((s, [i for i, _ in ev]))
    return out, total, skipped


def points(sessions, known, max_len):
    """(session id, position, prefix of known items, target) for every next item."""
    for s, items in sessions:
        for p in range(1, len(items)):
            prefix = [i for i in items[:p] if i in known]
            yield s, p, prefix[-max_len:], items[p]


def write_inter(path, prefix_tag, rows):
    """A RecBole benchmark file: one (session, prefix, next item) row per point."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("session_id:token\titem_id_list:token_seq\titem_id:token\n")
        for k, (s, _p, prefix, target) in enumerate(rows):
            # A session token per row: RecBole's full-sort evaluation of a
            # sequential model treats each row as one case anyway.
            f.write(f"{prefix_tag}{k}\t{' '.join(prefix)}\t{target}\n")
            n += 1
    return n


HEADER = "session_id\tposition\ttarget\titems\n"


def write_predictions(out, rows, recs, header=True):
    """The file `vitrine session score` reads: one line per point, in order."""
    if header:
        out.write(HEADER)
    for (s, p, _prefix, target), r in zip(rows, recs):
        out.write(f"{s}\t{p}\t{target}\t{' '.join(r)}\n")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="GRU4Rec")
    ap.add_argument("--work", required=True)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--test-file", default="test.csv")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-len", type=int, default=50)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--embedding", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--valid-step", type=int, default=1,
                    help="early stopping on every N-th valid session (evenly over the period)")
    ap.add_argument("--budget-minutes", type=float, default=0,
                    help="no new epoch once the last epoch's length would overrun this (0 = none)")
    ap.add_argument("--popularity-only", action="store_true",
                    help="no RecBole: train popularity for every test point (checks the split against vitrine's scorer)")
    ap.add_argument("--resume", default="",
                    help="a RecBole checkpoint of an earlier run with the SAME data and model arguments: "
                         "training continues after its epoch (a shared machine rarely gives one run enough epochs)")
    ap.add_argument("--resume-meta", default="",
                    help="the earlier run's --meta file: its per-epoch history is kept in the new one")
    ap.add_argument("--max-train-sessions", type=int, default=0, help="0 = all (smaller for smoke runs)")
    ap.add_argument("--max-test-sessions", type=int, default=0, help="0 = all (smaller for smoke runs)")
    a = ap.parse_args()

    t_start = time.time()
    data = os.path.abspath(a.data)
    work = os.path.abspath(a.work)
    pred_path = os.path.abspath(a.predictions)
    meta_path = os.path.abspath(a.meta)
    resume_path = os.path.abspath(a.resume) if a.resume else ""
    resume_meta_path = os.path.abspath(a.resume_meta) if a.resume_meta else ""
    os.makedirs(work, exist_ok=True)

    train, tr_lines, tr_bad = read_log(os.path.join(data, "train.csv"))
    valid, va_lines, va_bad = read_log(os.path.join(data, "valid.csv"))
    test, te_lines, te_bad = read_log(os.path.join(data, a.test_file))
    if a.max_train_sessions:
        train = train[: a.max_train_sessions]
    if a.max_test_sessions:
        test = test[: a.max_test_sessions]
        valid = valid[: a.max_test_sessions]
    catalogue = {i for _, items in train for i in items}
    pop = {}
    for _, items in train:
        for i in items:
            pop[i] = pop.get(i, 0) + 1

    pop_top = [i for i, _ in sorted(pop.items(), key=lambda x: (-x[1], x[0]))[:20]]
    if a.popularity_only:
        rows = list(points(test, catalogue, a.max_len))
        with open(pred_path, "w", encoding="utf-8") as out:
            write_predictions(out, rows, [pop_top] * len(rows))
        with open(meta_path, "w") as f:
            json.dump({"model": "popularity", "data": {"test_points": len(rows),
                                                       "catalogue_items": len(catalogue)}}, f, indent=2)
        return 0

    ds = "np"
    ds_dir = os.path.join(work, ds)
    os.makedirs(ds_dir, exist_ok=True)
    n_train = write_inter(os.path.join(ds_dir, f"{ds}.train.inter"), "t",
                          points(train, catalogue, a.max_len))
    # Valid points whose target is outside the catalogue, or whose prefix has
    # no catalogue item, cannot be learned from: left out of early stopping.
    valid = valid[:: max(1, a.valid_step)]
    valid_rows = [r for r in points(valid, catalogue, a.max_len) if r[2] and r[3] in catalogue]
    n_valid = write_inter(os.path.join(ds_dir, f"{ds}.valid.inter"), "v", valid_rows)
    # RecBole wants three files; its test split is never used (the test points
    # are predicted below and scored by vitrine), so it gets a copy of valid.
    write_inter(os.path.join(ds_dir, f"{ds}.test.inter"), "x", valid_rows)
    print(f"{a.model}: {n_train} train points, {n_valid} valid points, {len(catalogue)} items", flush=True)

    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    import numpy as np
    import torch

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed, init_logger

    # RecBole writes log/ and log_tensorboard/ under the working directory.
    os.chdir(work)
    config = Config(
        model=a.model,
        dataset=ds,
        config_dict={
            "data_path": work,
            "benchmark_filename": ["train", "valid", "test"],
            "USER_ID_FIELD": "session_id",
            "ITEM_ID_FIELD": "item_id",
            "TIME_FIELD": None,
            "load_col": {"inter": ["session_id", "item_id_list", "item_id"]},
            "alias_of_item_id": ["item_id_list"],
            "MAX_ITEM_LIST_LENGTH": a.max_len,
            "loss_type": "CE",
            "train_neg_sample_args": None,
            "epochs": a.epochs,
            "stopping_step": a.patience,
            "train_batch_size": a.batch,
            "eval_batch_size": 1024,
            "learning_rate": a.lr,
            "embedding_size": a.embedding,
            "hidden_size": a.hidden,
            "dropout_prob": a.dropout,
            "eval_args": {"split": {"RS": [1.0, 0.0, 0.0]}, "order": "TO", "mode": "full", "group_by": "user"},
            "metrics": ["Hit", "MRR"],
            "topk": [20],
            "valid_metric": "MRR@20",
            "device": "cpu",
            "use_gpu": False,
            "worker": 0,
            "seed": a.seed,
            "reproducibility": True,
            "show_progress": False,
            "checkpoint_dir": os.path.join(work, "saved"),
            "log_wandb": False,
        },
    )
    init_seed(config["seed"], config["reproducibility"])
    init_logger(config)
    dataset = create_dataset(config)
    train_data, valid_data, _test_data = data_preparation(config, dataset)
    model = get_model(config["model"])(config, train_data.dataset).to("cpu")
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    history = []
    earlier = {}
    if a.resume:
        # RecBole overwrites the checkpoint it resumed from: work on a copy.
        import shutil

        resumed = os.path.join(work, "saved", "resumed-" + os.path.basename(resume_path))
        os.makedirs(os.path.dirname(resumed), exist_ok=True)
        shutil.copyfile(resume_path, resumed)
        trainer.resume_checkpoint(resumed)
        if resume_meta_path:
            with open(resume_meta_path) as f:
                earlier = json.load(f)
            history.extend(earlier.get("valid_by_epoch", [])[: trainer.start_epoch])
        print(f"{a.model}: resumed after epoch {trainer.start_epoch - 1} from {a.resume}", flush=True)
    valid_epoch = trainer._valid_epoch

    def recorded(valid_data, show_progress=False):
        score, result = valid_epoch(valid_data, show_progress=show_progress)
        history.append({k: float(v) for k, v in result.items()})
        print(f"  {a.model} epoch {len(history) - 1}: valid {history[-1]} "
              f"({time.time() - t_train:.0f}s)", flush=True)
        return score, result

    trainer._valid_epoch = recorded

    # A wall-clock budget on a shared machine: checked before each epoch, so
    # the best checkpoint so far (saved after its validation) stays intact.
    class OutOfBudget(Exception):
        pass

    train_epoch = trainer._train_epoch
    epoch_starts = []

    class Progress:
        """The train loader, logging every `every` batches how far the epoch
        is, in wall and CPU seconds: on a loaded machine a run stopped
        mid-epoch still tells what an epoch costs."""

        def __init__(self, data, every=50):
            self.data, self.every = data, every

        def __len__(self):
            return len(self.data)

        def __getattr__(self, name):
            return getattr(self.data, name)

        def __iter__(self):
            t0, c0, n = time.time(), time.process_time(), len(self.data)
            for i, batch in enumerate(self.data):
                if i and i % self.every == 0:
                    print(f"  {a.model} batch {i}/{n}: {time.time() - t0:.0f}s wall, "
                          f"{time.process_time() - c0:.0f}s CPU", flush=True)
                yield batch

    def budgeted(*args, **kwargs):
        now = time.time()
        if a.budget_minutes > 0 and epoch_starts:
            last = now - epoch_starts[-1]
            if now - t_train + last > a.budget_minutes * 60:
                raise OutOfBudget()
        epoch_starts.append(now)
        if args:
            args = (Progress(args[0]),) + args[1:]
        return train_epoch(*args, **kwargs)

    trainer._train_epoch = budgeted
    t_train = time.time()
    stopped_by = "early stopping or epoch budget"
    try:
        trainer.fit(train_data, valid_data, saved=True, show_progress=False)
    except OutOfBudget:
        stopped_by = f"wall-clock budget of {a.budget_minutes} minutes"
    best_result = trainer.best_valid_result
    train_seconds = time.time() - t_train
    state = torch.load(trainer.saved_model_file, map_location="cpu", weights_only=False)
    model.load_state_dict(state["state_dict"])
    model.eval()

    # Test points, predicted over the catalogue in RecBole's internal ids.
    tok2id = dataset.field2token_id["item_id"]
    id2tok = dataset.field2id_token["item_id"]
    n_ids = len(id2tok)
    allowed = torch.zeros(n_ids, dtype=torch.bool)
    for t, k in tok2id.items():
        if t in catalogue:
            allowed[k] = True
    t_pred = time.time()
    rows = list(points(test, {t for t in catalogue if t in tok2id}, a.max_len))
    fallback = 0
    from recbole.data.interaction import Interaction

    with open(pred_path, "w", encoding="utf-8") as out, torch.no_grad():
        out.write(HEADER)
        B = 512
        for b in range(0, len(rows), B):
            chunk = rows[b : b + B]
            live = [k for k, r in enumerate(chunk) if r[2]]
            recs = [None] * len(chunk)
            if live:
                seq = torch.zeros((len(live), a.max_len), dtype=torch.long)
                lens = torch.zeros(len(live), dtype=torch.long)
                for j, k in enumerate(live):
                    ids = [tok2id[t] for t in chunk[k][2]]
                    seq[j, : len(ids)] = torch.tensor(ids)
                    lens[j] = len(ids)
                inter = Interaction({model.ITEM_SEQ: seq, model.ITEM_SEQ_LEN: lens})
                scores = model.full_sort_predict(inter).reshape(len(live), -1)
                scores[:, ~allowed] = -math.inf
                top = torch.topk(scores, 20, dim=1).indices.tolist()
                for j, k in enumerate(live):
                    recs[k] = [id2tok[x] for x in top[j]]
            for k in range(len(chunk)):
                if recs[k] is None:
                    recs[k] = pop_top
                    fallback += 1
            write_predictions(out, chunk, recs, header=False)
    predict_seconds = time.time() - t_pred

    meta = {
        "model": a.model,
        "library": {"recbole": __import__("recbole").__version__, "torch": torch.__version__,
                    "numpy": np.__version__, "torch_threads": torch.get_num_threads()},
        "params": {"embedding_size": a.embedding, "hidden_size": a.hidden, "dropout": a.dropout,
                   "learning_rate": a.lr, "train_batch_size": a.batch, "loss": "CE (full softmax)",
                   "max_item_list_length": a.max_len, "epoch_budget": a.epochs,
                   "early_stopping_patience": a.patience, "valid_metric": "MRR@20", "seed": a.seed,
                   "budget_minutes": a.budget_minutes},
        "data": {"train_points": n_train, "valid_points_used": n_valid, "test_points": len(rows),
                 "catalogue_items": len(catalogue),
                 "lines": {"train": tr_lines, "valid": va_lines, "test": te_lines},
                 "skipped_lines": {"train": tr_bad, "valid": va_bad, "test": te_bad},
                 "test_points_without_known_prefix_item_given_popularity": fallback},
        "epochs_run": len(history),
        "epochs_this_run": len(history) - len(earlier.get("valid_by_epoch", [])[: getattr(trainer, "start_epoch", 0)]),
        "resumed_from": ({"checkpoint": a.resume, "after_epoch": trainer.start_epoch - 1,
                          "earlier_train_seconds": earlier.get("seconds", {}).get("train")}
                         if a.resume else None),
        "stopped_by": stopped_by,
        "valid_sessions_step": a.valid_step,
        "valid_by_epoch": history,
        "best_valid": {k: float(v) for k, v in (best_result or {}).items()},
        "train_loss_by_epoch": {**earlier.get("train_loss_by_epoch", {}),
                                **{str(k): float(v) for k, v in trainer.train_loss_dict.items()}},
        "seconds": {"train": train_seconds, "predict": predict_seconds, "total": time.time() - t_start,
                    "cpu_total": time.process_time()},
    }
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2)
    print(f"{a.model}: trained {train_seconds:.0f}s over {len(history)} epochs, "
          f"predicted {len(rows)} test points in {predict_seconds:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
