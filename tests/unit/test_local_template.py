"""template.yaml is packaged and transformed as sam package and the SAM transform do, once per template content."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nxbridge_dev.local.stack import ROOT
from nxbridge_dev.local.template import CODE_BUCKET, CODE_KEY, TemplateError, load_template

LOAD = """
import json, sys
from pathlib import Path
from nxbridge_dev.local.template import load_template
template = load_template(Path(sys.argv[1]), region="eu-west-1", cache_dir=Path(sys.argv[2]))
print(json.dumps({"translator_loaded": "samtranslator" in sys.modules, "body": template.body}))
"""


def _load_in_a_new_process(template: Path, cache: Path) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(template), str(cache)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=120,
    )
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_the_transform_is_cached_by_content_and_a_changed_template_is_transformed_again(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text((ROOT / "template.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    cache = tmp_path / "cache"

    first = _load_in_a_new_process(template, cache)
    again = _load_in_a_new_process(template, cache)
    template.write_text(template.read_text(encoding="utf-8").replace("Timeout: 60", "Timeout: 61"), encoding="utf-8")
    changed = _load_in_a_new_process(template, cache)

    assert first["translator_loaded"] is True
    assert again == {"translator_loaded": False, "body": first["body"]}
    assert changed["translator_loaded"] is True
    assert len(list(cache.glob("*.json"))) == 2


def test_functions_and_the_layer_point_at_the_placeholder_code_and_remember_their_directory() -> None:
    template = load_template(ROOT / "template.yaml", region="eu-west-1")
    resources = template.document["Resources"]
    layers = [r for r in resources.values() if r["Type"] == "AWS::Lambda::LayerVersion"]

    assert template.code_dirs == {"IngestFunction": "ingest", "DrainFunction": "drain", "ReplayFunction": "replay"}
    for name in template.code_dirs:
        assert resources[name]["Properties"]["Code"] == {"S3Bucket": CODE_BUCKET, "S3Key": CODE_KEY}
    assert [layer["Properties"]["Content"] for layer in layers] == [{"S3Bucket": CODE_BUCKET, "S3Key": CODE_KEY}]
    assert "Transform" not in template.document
    assert "NXCLOUD_MAX_ATTEMPTS" in template.literal_variables("DrainFunction")
    assert "DLQ_URL" not in template.literal_variables("DrainFunction")


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("Resources:\n", "Resources: [\n", "is not valid YAML"),
        ("            ApiId: !Ref HttpApi\n", "            ApiId: !Ref NoSuchApi\n", "does not transform"),
    ],
)
def test_a_template_that_does_not_transform_says_why(tmp_path: Path, old: str, new: str, reason: str) -> None:
    template = tmp_path / "template.yaml"
    template.write_text((ROOT / "template.yaml").read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")

    with pytest.raises(TemplateError, match=reason) as error:
        load_template(template, region="eu-west-1")

    assert str(template) in str(error.value)
