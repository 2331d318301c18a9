"""``nxbridge import``: bring the customers of a Shopify or WooCommerce export (or any CSV) into NXCloud."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from nxbridge.aws.clients import OPERATOR, client
from nxbridge.endpoints import ConfigError
from nxbridge.importer.formats import FORMATS, Reader
from nxbridge.importer.generic import GenericCsv, mapping_problems
from nxbridge.importer.importer import Importer, ImportOptions, ImportSummary
from nxbridge.importer.progress import Journal, JournalError, journal_dir, journal_path
from nxbridge.importer.rejects import RejectsFile
from nxbridge.importer.shopify import ShopifyCsv, ShopifyJsonl
from nxbridge.importer.streams import LayoutError, examine, open_text
from nxbridge.importer.target import Clients, Where, find_target
from nxbridge.importer.woocommerce import WooCommerceJson
from nxbridge.replay.cli import logs_to
from nxbridge.replay.errors import ReplayError
from nxbridge.replay.replayer import parse_rate
from nxbridge.replay.terminal import dump, say, stop_requests

EXIT_OK = 0
EXIT_INCOMPLETE = 1  # interrupted, or SQS did not take every message: run the same command again
EXIT_USAGE = 2  # bad arguments, configuration or file layout: nothing was queued


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``nxbridge import``."""
    p = subparsers.add_parser(
        "import",
        help="queue the customers of an export file (Shopify, WooCommerce, any CSV)",
        description="Queue the customers of an export file through an endpoint's mapping, each row once "
        "(docs/import.md).",
    )
    p.add_argument("file", metavar="FILE", type=Path, help="the export file")
    p.add_argument("--format", required=True, choices=FORMATS, help="the file's layout")
    p.add_argument("--endpoint", required=True, help="the endpoint whose mapping, defaults and phone policy apply")
    p.add_argument("--mapping", type=Path, help="--format csv: JSON object of column -> NXCloud field")
    group = p.add_argument_group("queue and AWS")
    group.add_argument("--stack", help="CloudFormation stack whose outputs name the queue and the endpoints parameter")
    group.add_argument("--queue-url", help="CustomersQueue URL (default: stack output or QUEUE_URL)")
    group.add_argument("--endpoints-file", help="endpoint configuration JSON (default: the stack's parameter)")
    group.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    group.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    group.add_argument("--endpoint-url", help="AWS endpoint (default: AWS_ENDPOINT_URL), e.g. the local stack")
    p.add_argument("--dry-run", action="store_true", help="validate every row, queue nothing")
    p.add_argument("--rejects", type=Path, help="write the rows that cannot be customers to this CSV")
    p.add_argument("--restart", action="store_true", help="forget the progress of earlier runs of this file")
    p.add_argument("--rate", type=_rate, help="queue at most this many customers, e.g. 50/s or 1000/m")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)


def _rate(text: str) -> float:
    try:
        return parse_rate(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def make_clients(args: argparse.Namespace) -> Clients:
    """boto3 clients configured like the AWS CLI (profile, region, AWS_ENDPOINT_URL unless --endpoint-url)."""
    region = args.region or os.environ.get("AWS_REGION") or None
    session: list[boto3.Session] = []

    def made() -> boto3.Session:
        if not session:
            session.append(boto3.Session(profile_name=args.profile, region_name=region))
        return session[0]

    return Clients(
        sqs=lambda: client("sqs", OPERATOR, made(), endpoint_url=args.endpoint_url),
        ssm=lambda: client("ssm", OPERATOR, made(), endpoint_url=args.endpoint_url),
        cloudformation=lambda: client("cloudformation", OPERATOR, made(), endpoint_url=args.endpoint_url),
    )


def reader_for(args: argparse.Namespace) -> Reader:
    """The reader of ``--format`` (with its ``--mapping``)."""
    if args.mapping is not None and args.format != "csv":
        raise ReplayError("--mapping is for --format csv; other formats use the endpoint's mapping, as its webhooks")
    if args.format == "shopify-csv":
        return ShopifyCsv()
    if args.format == "shopify-jsonl":
        return ShopifyJsonl()
    if args.format == "woocommerce-json":
        return WooCommerceJson()
    mapping = None
    if args.mapping is not None:
        mapping = json.loads(args.mapping.read_text(encoding="utf-8"))
        problems = mapping_problems(mapping) if isinstance(mapping, dict) else ["must be a JSON object"]
        if problems:
            raise ReplayError(f"--mapping {args.mapping}: {'; '.join(problems)}")
    return GenericCsv(mapping)


def run(
    args: argparse.Namespace,
    *,
    clients: Clients | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run one ``nxbridge import``; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    environ = os.environ if env is None else env
    try:
        with logs_to(err):
            summary = _import(args, clients or make_clients(args), err, environ)
    except (ReplayError, ConfigError, JournalError, LayoutError, ValueError, OSError) as exc:
        say(err, f"nxbridge import: {args.file}: {' '.join(str(exc).split())}")
        return EXIT_USAGE
    except UnicodeDecodeError as exc:
        say(err, f"nxbridge import: {args.file}: not UTF-8 text (byte {exc.start}): save it as CSV UTF-8")
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as exc:
        say(err, f"nxbridge import: AWS error: {' '.join(str(exc).split())}")
        return EXIT_USAGE
    if args.json or not out.isatty():
        dump(out, summary.model_dump(mode="json"))
    else:
        say(out, human_summary(summary))
    return EXIT_OK if summary.complete else EXIT_INCOMPLETE


def _import(args: argparse.Namespace, clients: Clients, err: IO[str], env: Mapping[str, str]) -> ImportSummary:
    reader = reader_for(args)
    target = find_target(Where(args.stack, args.queue_url, args.endpoints_file), args.endpoint, clients, env)
    if target.queue_url is None and not args.dry_run:
        raise ReplayError("no CustomersQueue: give --stack, --queue-url or set QUEUE_URL")
    facts = examine(args.file, reader.marker)
    summary = ImportSummary(file=str(args.file), format=args.format, endpoint=args.endpoint, dry_run=args.dry_run)
    importer = Importer(
        reader,
        target.endpoint,
        sqs=None if args.dry_run else clients.sqs,
        queue_url=target.queue_url or "",
        import_id=facts.sha256[:12],
        policy=OPERATOR.retry(),
    )
    journal = None
    if not args.dry_run:
        assert target.queue_url is not None
        journal_file = journal_path(journal_dir(env), facts.sha256, target.queue_url, args.endpoint)
        header = {"sha256": facts.sha256, "file": str(args.file.resolve()), "format": args.format}
        header.update(endpoint=args.endpoint, queue_url=target.queue_url)
        journal = Journal.open(journal_file, header, restart=args.restart)
        summary.journal = str(journal_file)
    rejects = None
    if args.rejects is not None:
        # The rows an earlier run rejected stay in its rejects file when this run writes to the same one.
        path = args.rejects.resolve()
        standing = journal.standing if journal is not None else None
        keep = standing.rejects_bytes if standing is not None and standing.rejects == str(path) else 0
        rejects = RejectsFile(path, keep=keep)
        summary.rejects = str(args.rejects)
    try:
        bar = progress_bar(err, facts.marks)
        with open_text(args.file) as stream, stop_requests(err) as should_stop, bar as progress:
            importer.run(
                stream,
                summary,
                journal=journal,
                rejects=rejects,
                options=ImportOptions(dry_run=args.dry_run, rate=args.rate),
                should_stop=should_stop,
                progress=progress,
            )
    finally:
        if rejects is not None:
            rejects.close()
        if journal is not None:
            journal.close()
    return summary


@contextmanager
def progress_bar(err: IO[str], estimate: int) -> Iterator[Callable[[ImportSummary], None] | None]:
    """A progress bar with rows/s and time left on a terminal (tqdm, an operator-only library); None elsewhere."""
    if not err.isatty():
        yield None
        return
    from tqdm import tqdm  # noqa: PLC0415 - the CLI's alone: the functions never load it (tools/check_layer.py)

    with tqdm(total=max(estimate, 1), unit="rows", file=err, dynamic_ncols=True, smoothing=0.1) as bar:

        def update(summary: ImportSummary) -> None:
            bar.update(1)
            if summary.read % 100 == 0:
                bar.set_postfix(queued=summary.queued + summary.would_queue, rejected=summary.rejected, refresh=False)

        yield update
        # The total was an estimate (lines, or marks in the JSON): the bar ends full at the rows there were.
        bar.total = bar.n
        bar.refresh()


def human_summary(summary: ImportSummary) -> str:
    """A run's outcome for a person."""
    queued = f"would queue {summary.would_queue}" if summary.dry_run else f"queued {summary.queued}"
    lines = [
        f"{summary.read} rows read: {queued}, rejected {summary.rejected}, skipped {summary.skipped} (already imported)"
    ]
    if summary.rejected and summary.rejects:
        lines.append(f"rejected rows, with the column and the reason: {summary.rejects}")
    elif summary.rejected:
        lines.append("give --rejects REJECTS.csv to see the rejected rows with the column and the reason")
    if summary.dropped:
        dropped = ", ".join(f"{reason} {count}" for reason, count in sorted(summary.dropped.items()))
        lines.append(f"values left out of valid customers: {dropped}")
    if summary.resent:
        lines.append(f"{summary.resent} rows sent again: the last run stopped while sending them")
    if summary.not_queued:
        lines.append(f"{summary.not_queued} rows not queued (SQS did not take them): run the same command again")
    elif summary.interrupted:
        lines.append("interrupted: run the same command again to go on where this run stopped")
    if summary.journal:
        lines.append(f"progress: {summary.journal}")
    return "\n".join(lines)
