"""`batch`: a folder or a job file of photos into one output folder, resumable, locally or on Ray.

    python main.py batch (FOLDER | JOBS.toml | JOBS.csv) -o OUT_DIR [--task stage|defurnish|defurnish+stage]
        [--auto furniture|floor] [--style ...] [--room ...] [--prompt ...] [--variations K] [--seed S]
        [--models ...] [--ray auto|ADDRESS] [--workers N] [--retry-failed] [--json]

Exit codes: 0 every item done, 1 some items failed (listed in the summary), 2 bad usage.
"""

from __future__ import annotations

import json
import sys
import time

from tqdm import tqdm

from app.cli.common import quality
from app.engine import BATCH_TASKS as TASKS
from app.engine import BatchOptions, BatchSession
from app.errors import UserError

DISCLOSURE = "Virtually staged"


def register(sub) -> None:
    p = sub.add_parser("batch", help="stage or de-furnish a folder or a job file of photos (resumable)")
    p.add_argument("source", metavar="FOLDER|JOBS.toml|JOBS.csv")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="output folder (holds the manifest)")
    p.add_argument("--task", default=None, choices=TASKS, help="default: stage")
    p.add_argument("--auto", default=None, choices=["furniture", "floor"],
                   help="automatic masks for photos without a mask (de-furnishing uses furniture by default)")
    p.add_argument("--style", default=None, metavar="NAME", help="default: modern")
    p.add_argument("--room", default=None, metavar="TYPE", help="default: living_room")
    p.add_argument("--prompt", default=None, metavar="TEXT")
    p.add_argument("--variations", type=int, default=None, metavar="K")
    p.add_argument("--seed", type=int, default=None, metavar="S",
                   help="one seed for every photo (default: one drawn for the batch and kept in its manifest)")
    p.add_argument("--models", default="auto", metavar="tiny|DIR")
    p.add_argument("--model-set", default=None, metavar="NAME")
    p.add_argument("--device", default=None, choices=["cpu", "cuda", "mps"])
    p.add_argument("--ray", default=None, metavar="auto|ADDRESS",
                   help="run on a Ray cluster (auto: the running one, else a private one on this machine)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local: photos in flight on the one engine (default: 2 on a GPU, 1 on a CPU); "
                        "Ray: actors (default: one per GPU)")
    p.add_argument("--retry-failed", action="store_true",
                   help="also redo items that failed because of their photo or mask (bad file, nothing found)")
    p.add_argument("--json", action="store_true", help="one JSON line per item on stdout")
    p.add_argument("--steps", type=int, default=30, metavar="N")
    p.add_argument("--guidance", type=float, default=7.5, metavar="G")
    p.add_argument("--strength", type=float, default=None, metavar="S")
    p.add_argument("--negative", default="", metavar="TEXT")
    p.add_argument("--margin", type=int, default=None, metavar="PX", help="de-furnishing ring around mask files")
    p.add_argument("--prefill", default="telea", choices=["telea", "ns", "erase", "none"])
    p.add_argument("--quality", type=quality, default=95, metavar="Q", help="JPEG/WebP quality (1-100)")
    p.add_argument("--format", default=None, choices=["jpg", "png", "tif", "webp"],
                   help="output format (default: JPEG for JPEG photos, PNG for the rest)")
    p.add_argument("--disclose", action="store_true", help=f"stamp '{DISCLOSURE}' on every output")
    p.add_argument("--disclose-text", default=None, metavar="TEXT", help="the notice's text (implies --disclose)")
    p.set_defaults(run=run_batch_command)


def options_from(args):
    # the batch package loads OpenCV: only when a batch runs, not for every command
    disclose = args.disclose_text or (DISCLOSURE if args.disclose else None)
    return BatchOptions(
        task=args.task, mask=f"auto:{args.auto}" if args.auto else None, style=args.style, room=args.room,
        prompt=args.prompt, seed=args.seed, variations=args.variations, models=args.models,
        model_set=args.model_set, device=args.device, steps=args.steps, guidance=args.guidance,
        strength=args.strength, negative=args.negative, margin=args.margin, prefill=args.prefill,
        quality=args.quality, format=args.format, disclose=disclose)


class Console:
    """Progress bar (count, rate, ETA) on stderr; one JSON line per item on stdout with --json."""

    def __init__(self, as_json: bool, stdout):
        self.as_json = as_json
        self.stdout = stdout
        self.bar = None
        self.session = None

    def __call__(self, event) -> None:
        if event.kind == "planned":
            s = self.session
            done = len(s.items) - len(s.todo)
            print(f"{len(s.items)} photo jobs: {len(s.todo)} to do, {done} done or kept from earlier runs",
                  file=sys.stderr)
            if s.todo:
                self.bar = tqdm(total=len(s.todo), file=sys.stderr, unit="photo", dynamic_ncols=True,
                                desc="batch", mininterval=0.5)
        elif event.kind == "progress" and self.bar is not None:
            step, total, _ = event.progress
            self.bar.set_postfix_str(f"{event.item.id} {step}/{total}" if total else event.item.id, refresh=False)
        elif event.kind == "finished":
            if self.bar is not None:
                self.bar.update(1)
            self._line(event, skipped=False)
        elif event.kind == "skipped":
            self._line(event, skipped=True)

    def _line(self, event, skipped: bool) -> None:
        if not self.as_json:
            return
        e = event.entry or {}
        out = self.session.out_dir
        line = {"id": event.item.id, "photo": event.item.photo, "task": event.item.task,
                "status": e.get("status"), "reason": e.get("reason"), "message": e.get("message") or "",
                "outputs": [str(out / o["file"]) for o in e.get("outputs") or []],
                "seeds": e.get("seeds") or [], "attempts": e.get("attempts", 0), "skipped": skipped,
                "timings": e.get("timings") or {}}
        if e.get("empty"):
            line["empty"] = [str(out / o["file"]) for o in e["empty"]]
        if self.bar is not None:
            self.bar.clear()
        self.stdout.write(json.dumps(line) + "\n")
        self.stdout.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run_batch_command(args) -> int:
    # the batch package loads OpenCV: only when a batch runs, not for every command
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise UserError(f"--workers must be between 1 and 256 (got {args.workers})")
    console = Console(args.json, sys.stdout)
    session = BatchSession(args.source, options_from(args), args.output, retry_failed=args.retry_failed,
                           listener=console)
    console.session = session
    # stdout carries only the JSON lines: what libraries print there (Ray relays worker errors) goes to stderr
    sys.stdout = sys.stderr
    stopped = ""
    try:
        session.prepare()
        try:
            session.run(ray=args.ray, workers=args.workers)
        except UserError as exc:
            if not session.started_now:
                raise  # nothing ran: a usage problem (exit 2)
            stopped = str(exc)  # e.g. the manifest could not be saved: what finished stands (exit 1)
        finally:
            console.close()
            report = session.close()
        _summary(session, report)
    finally:
        sys.stdout = console.stdout
    if stopped:
        print(f"error: the batch stopped: {stopped}", file=sys.stderr)
        return 1
    return session.exit_code()


def _summary(session, report) -> None:
    entries = session.entries()
    done = sum(e.get("status") == "done" for e in entries)
    failed = [e for e in entries if e.get("status") != "done"]
    elapsed = max(1e-6, time.perf_counter() - session.started_at)
    rate = f", {60 * session.finished_now / elapsed:.1f} photos/min" if session.finished_now else ""
    print(f"{done} of {len(entries)} done{rate}; {len(failed)} failed", file=sys.stderr)
    for e in failed:
        why = e.get("message") or ("not reached" if e.get("status") in ("pending", "queued", "running") else "")
        print(f"  {e['id']} ({e.get('reason') or e.get('status')}): {why}", file=sys.stderr)
    if report is not None:
        print(f"report: {report}", file=sys.stderr)
    elif session.report_problem:
        print(f"no report: {session.report_problem}", file=sys.stderr)
