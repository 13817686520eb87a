"""The ``pointlabel`` command line: demo, serve, ingest, import, export, doctor, synth, bench, users."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pointcloud.errors import PointCloudError
from server import cli_ingest, cli_users
from server.errors import ApiError
from server.interchange.model import InterchangeError
from server.names import InvalidNameError
from server.progress import terminal_bar

IMPORTS = [
    "sustech", "kitti", "kitti-tracking", "kitti-raw", "nuscenes", "pointlabel-json", "openlabel",
    "supervisely",
]  # fmt: skip
"""The interchange formats (``server.interchange.READERS``; docs/formats.md)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pointlabel",
        description="Browser-based 3D point-cloud annotation. Data lives in "
        "$POINTLABEL_DATA_DIR (default ./pointlabel-data).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="generate and ingest the demo sequence, then serve it")
    _serve_args(p)

    p = sub.add_parser("serve", help="serve the web app and API")
    _serve_args(p)
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes sharing the port (more than 1 needs PostgreSQL: "
        "POINTLABEL_DATABASE_URL; docs/scaling.md)",
    )

    cli_ingest.add_parser(sub)

    p = sub.add_parser("import", help="import a labelled scene (points and labels)")
    p.add_argument("format", choices=IMPORTS)
    p.add_argument("path", type=Path, help="the scene folder (docs/formats.md)")
    p.add_argument("--name", help="scene name (default: the folder name)")
    p.add_argument("--json", action="store_true", help="print one JSON summary")

    p = sub.add_parser("export", help="write a task's label set in an interchange format")
    p.add_argument(
        "task_id", type=int, help="the task whose labels to write (ingest prints the first)"
    )
    p.add_argument("format", choices=[*IMPORTS, "csv"])
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--no-points", action="store_true", help="labels only, no point clouds")
    p.add_argument("--json", action="store_true", help="print one JSON summary")

    p = sub.add_parser(
        "demo-history", help="seed a review history on a generated sequence (docs/quality.md)"
    )
    p.add_argument("path", type=Path, help="a folder written by `pointlabel synth`")
    p.add_argument("--max-tracks", type=int, default=None, help="label only the first N tracks")
    p.add_argument("--json", action="store_true", help="print one JSON summary")

    p = sub.add_parser("synth", help="write the generated demo driving sequence")
    p.add_argument("out", type=Path, help="output folder")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)

    p = sub.add_parser(
        "doctor",
        help="check the data directory: every scene loads, the edit log replays to the "
        "stored state, every referenced tile exists; exit 1 when something is wrong",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser(
        "prelabel",
        help="pre-label a scene's task with the CPU pipeline (source pre-label, with confidence)",
    )
    p.add_argument(
        "task_id", type=int, help="the task (task id == scene id for a scene's first task)"
    )
    p.add_argument(
        "--frames", type=str, default=None, help="only these frames, e.g. 0,1,5 (0-based)"
    )
    p.add_argument(
        "--min-score", type=float, default=0.3, help="drop pre-labels scoring lower (0..1)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("bench", help="run the benchmarks (ratios against peers, same run)")
    p.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=[
            "all",
            "core",
            "tiles",
            "geometry",
            "ingest",
            "quality",
            "ws",
            "browser",
            "assist",
            "scale",
        ],
        help="tiles: LOD build vs open3d, wire bytes, quantisation error; geometry: IoU vs "
        "shapely, points in boxes; ingest: peak memory ingesting a generated 100M-point LAS; "
        "quality: agreement of two label sets of 10k frames x 100 boxes, IoU pairs/s; "
        "ws: live edits/s and ack latency, 32 clients, vs an echo endpoint; "
        "browser: first pixel (KITTI vs bcts) and frame switch in headless Chromium; "
        "core = tiles + geometry + ingest; all = core + quality + ws + browser (default); "
        "assist: auto-fit, propagation and pre-label quality on the real labels (docs/assist.md); "
        "scale: the ws harness on PostgreSQL with serve --workers 2 (docs/scaling.md)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")

    cli_users.add_parser(sub)

    args = parser.parse_args(argv)
    try:
        return int(COMMANDS[args.command](args) or 0)
    except PointCloudError as exc:
        _out(json.dumps({"error": exc.code, "message": str(exc)}), err=True)
        return 2
    except InterchangeError as exc:
        _out(json.dumps({"error": exc.code, "message": str(exc)}), err=True)
        return 2
    except InvalidNameError as exc:
        _out(json.dumps({"error": exc.code, "message": str(exc)}), err=True)
        return 2
    except FileNotFoundError as exc:
        _out(json.dumps({"error": "file_not_found", "message": str(exc)}), err=True)
        return 2
    except ApiError as exc:
        _out(json.dumps({"error": exc.code, "message": exc.message}), err=True)
        return 2


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _serve_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)


def _serve(args: argparse.Namespace, demo_credentials: list[Any] | None = None) -> int:
    import uvicorn

    from server.app import create_app
    from server.logs import configure

    configure()
    workers = getattr(args, "workers", 1)
    if workers > 1:
        return _serve_workers(args, workers)
    app = create_app()
    app.state.demo_credentials = demo_credentials  # the login page states them (demo only)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ws_per_message_deflate=False,
        log_level="warning",
        timeout_graceful_shutdown=10,  # then open sockets are closed (1012: come back later)
    )
    return 0


def _serve_workers(args: argparse.Namespace, workers: int) -> int:
    """``workers`` uvicorn processes on one port, each a whole app (server.app.worker_app)
    on the same PostgreSQL database; uvicorn restarts a worker that dies."""
    import uvicorn

    from server.config import get_settings
    from server.db import make_engine

    url = get_settings().db_url
    if not url.startswith("postgres"):
        _out(json.dumps({"error": "workers_need_postgresql",
                         "message": "--workers above 1 needs POINTLABEL_DATABASE_URL="
                                    "postgresql://...; SQLite serves one process"}), err=True)  # fmt: skip
        return 2
    make_engine(url).dispose()  # migrate once, before the workers start
    uvicorn.run(
        "server.app:worker_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=60,  # a worker still importing on a busy machine is alive
        host=args.host,
        port=args.port,
        ws_per_message_deflate=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
    )
    return 0


def _import(args: argparse.Namespace) -> int:
    from server.config import get_settings
    from server.db import make_engine
    from server.interchange import import_scene

    settings = get_settings()
    result = import_scene(
        make_engine(settings.db_url), settings, args.format, args.path, name=args.name,
        progress=terminal_bar(),
    )  # fmt: skip
    summary = result.to_json()
    _out(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


def _export(args: argparse.Namespace) -> int:
    from server.config import get_settings
    from server.db import make_engine
    from server.interchange import export_scene

    settings = get_settings()
    engine = make_engine(settings.db_url)
    summary = export_scene(
        engine, settings, args.task_id, args.format, args.out, points=not args.no_points,
        progress=terminal_bar(),
    )  # fmt: skip
    _out(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from server.config import get_settings
    from server.db import make_engine
    from server.doctor import check

    settings = get_settings()
    findings = check(make_engine(settings.db_url), settings)
    if args.json:
        _out(json.dumps({"ok": not findings, "findings": [f.to_json() for f in findings]}))
    else:
        for f in findings:
            task = f" task {f.task_id}" if f.task_id is not None else ""
            _out(f"scene {f.scene_id}{task}: {f.code} ({f.where}): {f.message}")
        _out("all scenes are healthy" if not findings else f"{len(findings)} finding(s)")
    return 1 if findings else 0


def _synth(args: argparse.Namespace) -> int:
    from pointcloud.synth import generate_sequence

    generate_sequence(args.out, frames=args.frames, seed=args.seed)
    _out(f"wrote {args.frames} frames to {args.out}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pointcloud.synth import generate_sequence
    from server.config import get_settings

    folder = get_settings().data_dir / "demo" / "sequence"
    if not (folder / "ground_truth.json").exists():
        _out(f"generating the demo sequence in {folder} ...")
        generate_sequence(folder)
    cli_ingest.run(
        argparse.Namespace(path=folder, name="demo sequence", json=False, skip_existing=True)
    )
    from sqlmodel import Session

    from server.accounts import create_demo_users
    from server.db import make_engine

    with Session(make_engine(get_settings().db_url)) as session:
        credentials = create_demo_users(session)
    _out("seeding the review history of the quality dashboard (once; about a minute) ...")
    _history(argparse.Namespace(path=folder, json=False))
    users = "\n".join(f"    {c.role:<10} {c.name:<10} password {c.password}" for c in credentials)
    _out(
        f"\n  PointLabel: open http://{args.host}:{args.port}/ and log in as\n{users}\n"
        "  As the annotator: 'Take the next task', Start, pick a class, press T for the top\n"
        "  view and Shift+click (or drag) to place a box; Submit for review. As the reviewer: 'Review the\n"
        "  next task', select a box, pin an issue, Approve or Reject. Every edit is saved as\n"
        "  you make it: reload to check.\n"
    )
    return _serve(args, demo_credentials=credentials)


def _history(args: argparse.Namespace) -> int:
    from server.config import get_settings
    from server.db import make_engine
    from server.demo_history import seed_history
    from server.ingest import ingest

    settings = get_settings()
    engine = make_engine(settings.db_url)
    scene = ingest(engine, settings, args.path, skip_existing=True)
    made = seed_history(
        engine, settings, scene.scene_id, args.path, max_tracks=getattr(args, "max_tracks", None)
    )
    summary = {"scene_id": scene.scene_id, "tasks": made}
    if args.json:
        _out(json.dumps(summary))
    else:
        _out(f"demo history: {made} reviewed task(s) on scene {scene.scene_id}"
             if made else "demo history: already seeded")  # fmt: skip
    return 0


def _prelabel(args: argparse.Namespace) -> int:
    from server.annotations import Writer
    from server.config import get_settings
    from server.db import make_engine
    from server.frames import FrameStore
    from server.prelabels import prelabel_task
    from server.taxonomies import Taxonomies

    settings = get_settings()
    engine = make_engine(settings.db_url)
    writer = Writer(engine, Taxonomies(engine), FrameStore(settings.frames_dir))
    frames = None if args.frames is None else [int(v) for v in args.frames.split(",") if v.strip()]
    result = prelabel_task(
        engine, writer, args.task_id, settings.default_user, frames=frames, min_score=args.min_score
    )
    summary = result.to_json()
    _out(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from benchmarks.run import run

    result = run(args.suite)
    _out(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


COMMANDS = {
    "demo": _demo,
    "demo-history": _history,
    "doctor": _doctor,
    "serve": _serve,
    "ingest": cli_ingest.run,
    "import": _import,
    "export": _export,
    "synth": _synth,
    "bench": _bench,
    "prelabel": _prelabel,
    "users": cli_users.run,
}


if __name__ == "__main__":
    sys.exit(main())
