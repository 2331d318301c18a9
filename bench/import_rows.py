"""Figure 7: ``nxbridge import`` of a 100,000-row Shopify export through a fake SQS client: CPU per row and memory.

The floor is what any import of the file must do: read the CSV with the csv module and ``json.dumps`` each row.
The import is the command itself in a fresh interpreter (bench/import_child.py): it reads, converts each row to the
REST customer, takes the webhooks' path (mapping, phone library, validation, envelope), journals each batch of ten
and sends it. The webhooks' path alone, for a sample of the same rows, shows what the one-path rule costs.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import EVENTS, ROOT, Figure, table
from bench.import_child import RESULT_PREFIX, SAMPLE

ROWS = 100_000
TARGET_RATIO = 4.0
TARGET_MB = 150.0
COMMAND = "python -m bench --only import"

_FIRST = ("María", "Oliver", "Wei", "Sophie", "Kenji", "Ana", "Ahmed", "Priya", "Lena", "Noah")
_LAST = ("García", "Smith", "Zhang", "Dubois", "Tanaka", "Souza", "Hassan", "Sharma", "Fischer", "Tan")
# (country code, a national number's first digits, city): phones in every customer's own country.
_PLACES = (
    ("ES", "+34 6", "Madrid"),
    ("GB", "+44 7700 9", "London"),
    ("FR", "+33 6", "Paris"),
    ("DE", "+49 151 ", "Berlin"),
    ("US", "+1 415 555 ", "San Francisco"),
)


def write_export(path: Path, rows: int) -> int:
    """A Shopify customer export of ``rows`` made-up customers, in the admin's layout; its size in bytes."""
    from nxbridge.importer.shopify import EXPORT_COLUMNS  # noqa: PLC0415

    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(EXPORT_COLUMNS)
        for n in range(rows):
            first, last = _FIRST[n % 10], _LAST[(n // 10) % 10]
            country, prefix, city = _PLACES[n % len(_PLACES)]
            phone = f"{prefix}{n % 10000:04d}" if country == "US" else f"{prefix}{n % 100_000_000:08d}"[:16]
            writer.writerow(
                [
                    f"'{7_000_000_000 + n}",
                    first,
                    last,
                    f"{first.lower()}.{last.lower()}.{n}@example.com",
                    "yes" if n % 3 else "no",
                    "",
                    f"Calle {n % 200} Bajo",
                    "",
                    city,
                    "",
                    country,
                    f"'{10000 + n % 90000}",
                    "",
                    f"'{phone}",
                    "no",
                    f"{n % 500}.00",
                    str(n % 12),
                    "Prefers WhatsApp" if n % 5 == 0 else "",
                    "no",
                    "newsletter, vip" if n % 2 else "newsletter",
                ]
            )
    return path.stat().st_size


def run(rows: int = ROWS) -> Figure:
    """Import ``rows`` rows in a child interpreter; compare its CPU with the floor's, report its peak RSS."""
    with tempfile.TemporaryDirectory() as directory:
        export = Path(directory) / "customers_export.csv"
        size = write_export(export, rows)
        completed = subprocess.run(
            [sys.executable, "-m", "bench.import_child", str(export), str(EVENTS / "endpoints.json")],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
    line = next(line for line in completed.stdout.splitlines() if line.startswith(RESULT_PREFIX))
    result = json.loads(line.removeprefix(RESULT_PREFIX))
    if result["status"] != 0 or result["queued"] != rows:
        raise AssertionError(f"the import did not queue every row: {result}")
    floor_us = result["floor_cpu"] / rows * 1e6
    import_us = result["import_cpu"] / rows * 1e6
    shared_us = result["shared_cpu_per_row"] * 1e6
    ratio = import_us / floor_us
    stages: dict[str, list[float]] = result["stages"]
    peak = max(hwm for hwm, _ in stages.values())
    details = [
        f"{rows:,} rows, {size / 1e6:.1f} MB, in the admin's layout; {result['calls']:,} SendMessageBatch calls "
        "to a fake SQS client; the journal written as in production; one fresh interpreter.",
        "",
        *table(
            ["CPU per row", "µs", "x floor"],
            [
                ["floor: csv module + `json.dumps` of the row", f"{floor_us:.1f}", "1.0"],
                [
                    f"the webhooks' path alone (`customer_messages`, {SAMPLE:,} rows)",
                    f"{shared_us:.1f}",
                    f"{shared_us / floor_us:.1f}",
                ],
                [
                    "`nxbridge import` (read, convert, the webhooks' path, journal, send)",
                    f"{import_us:.1f}",
                    f"{ratio:.1f}",
                ],
            ],
        ),
        "",
        f"The import adds {import_us - shared_us:.0f} µs a row to the webhooks' path "
        f"({import_us / shared_us:.2f}x it): reading, the REST resource, the request, the journal and the batches.",
        "",
        *table(["stage", "peak RSS (VmHWM)"], [[stage, f"{hwm:.1f} MB"] for stage, (hwm, _) in stages.items()]),
    ]
    return Figure(
        number=7,
        name="import",
        title="Import of a Shopify export",
        value=f"{ratio:.1f}x the floor per row, {peak:.0f} MB peak RSS for {rows:,} rows",
        target=f"<= {TARGET_RATIO:g}x the floor, <= {TARGET_MB:g} MB",
        passed=ratio <= TARGET_RATIO and peak <= TARGET_MB,
        command=COMMAND,
        details=details,
        data={"ratio": ratio, "peak_mb": peak, "import_us": import_us, "shared_us": shared_us},
    )
