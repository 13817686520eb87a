"""``pointlabel ingest PATH [PATH ...]``: point-cloud files or folders of frames become
scenes, encoded in this process or on a Dask cluster (``--dask``; server/bulk.py,
docs/scaling.md). Progress: a bar on a terminal; with Dask, a line per finished frame
on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack, closing
from pathlib import Path

from server.progress import terminal_bar


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``ingest`` on the top-level subparsers."""
    p = sub.add_parser(
        "ingest", help="store a point-cloud file or a folder of frames as a scene (each PATH one)"
    )
    p.add_argument(
        "path",
        type=Path,
        nargs="+",
        help="LAS/LAZ, PCD, PLY, KITTI .bin, nuScenes .pcd.bin, "
        ".npy, or a folder of them (frames in name order; lidar/ or velodyne/ inside); "
        "several PATHs are several scenes, stored one after the other",
    )
    p.add_argument("--name", help="scene name (default: the file or folder name; one PATH only)")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object per scene, one per line"
    )
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="if a scene was already ingested from PATH, report it instead",
    )
    p.add_argument(
        "--dask",
        action="store_true",
        help="encode the frames on a Dask cluster: the scheduler of --dask-scheduler or "
        "POINTLABEL_DASK_SCHEDULER, else a local cluster of POINTLABEL_DASK_WORKERS (2) "
        "processes; a line per finished frame on stderr (docs/scaling.md)",
    )
    p.add_argument(
        "--dask-scheduler",
        metavar="tcp://HOST:PORT",
        help="encode the frames on the Dask cluster of this scheduler (implies --dask); its "
        "workers need PointLabel installed and PATH at the same place",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``pointlabel ingest``; errors propagate to ``server.cli.main``, which prints them."""
    from server.cameras import store_shots
    from server.config import get_settings
    from server.db import make_engine
    from server.ingest import FrameEncoder, encode_in_process, ingest_paths
    from server.interchange.cameras import folder_shots

    paths: list[Path] = args.path if isinstance(args.path, list) else [args.path]
    if args.name and len(paths) > 1:
        _out(json.dumps({"error": "name_needs_one_path",
                         "message": "--name names one scene: give one PATH"}), err=True)  # fmt: skip
        return 2
    settings = get_settings()
    engine = make_engine(settings.db_url)
    shots = [folder_shots(p) for p in paths]  # read (and refused) before anything is stored
    with ExitStack() as stack:
        encoder: FrameEncoder = encode_in_process
        scheduler = getattr(args, "dask_scheduler", None)
        if scheduler or getattr(args, "dask", False):
            from server.bulk import dask_client, dask_encoder

            address = scheduler or settings.dask_scheduler
            client = stack.enter_context(dask_client(address, workers=settings.dask_workers))
            encoder = dask_encoder(client, report=lambda line: _out(line, err=True))
        results = stack.enter_context(closing(ingest_paths(
            engine, settings, paths, encoder=encoder, name=args.name,
            skip_existing=args.skip_existing, progress=terminal_bar(),
        )))  # fmt: skip
        for path, scene_shots, result in zip(paths, shots, results, strict=False):
            if scene_shots and not result.existing:
                result.camera_images = store_shots(engine, settings, result.scene_id, scene_shots)
            if args.json:
                _out(json.dumps(result.to_json()))
            else:
                verb = "already ingested as" if result.existing else "ingested as"
                _out(
                    f"{path} {verb} scene {result.scene_id} '{result.name}': "
                    f"{result.frames} frame(s), {result.points:,} points"
                )
    return 0


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")
