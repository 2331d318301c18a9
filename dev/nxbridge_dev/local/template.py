"""template.yaml as the local stack deploys it: packaged as ``sam package`` does, transformed by SAM's translator.

The transform is the one the SAM CLI runs (``aws-sam-translator``), with the parameters' defaults as ``sam
validate`` uses them; the overrides are resolved by CloudFormation when the stack is created, which is the only
place this template uses them. The result depends only on the template's bytes, the translator's version and the
region, so it is cached by those: in memory for the stacks one process starts, on disk across processes.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

# Where `sam package` would have uploaded each function's and layer's code; the local stack puts one placeholder
# object there (the handlers run from the checkout).
CODE_BUCKET = "nxbridge-local-code"
CODE_KEY = "placeholder.zip"
# Bumped when what this module writes into the cache changes shape.
_CACHE_FORMAT = "1"
_CODE_PROPERTIES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}
_memory: dict[str, str] = {}


class TemplateError(Exception):
    """The template cannot be read or transformed; the message says where and why."""


@dataclass(frozen=True)
class PackagedTemplate:
    """The transformed CloudFormation template, and the code directory of each of its functions."""

    body: str
    # Function logical id -> its CodeUri's directory name (``functions/ingest/`` -> ``ingest``).
    code_dirs: Mapping[str, str]

    @cached_property
    def document(self) -> dict[str, Any]:
        """The template as a dict (the caller must not change it)."""
        document: dict[str, Any] = json.loads(self.body)
        return document

    def declared_parameters(self) -> dict[str, dict[str, Any]]:
        """The template's Parameters section."""
        return copy.deepcopy(self.document.get("Parameters", {}))

    def literal_variables(self, function: str) -> frozenset[str]:
        """The environment variables of ``function`` that the template sets to a plain value (no Ref, no GetAtt)."""
        properties = self.document["Resources"][function].get("Properties", {})
        variables = properties.get("Environment", {}).get("Variables", {})
        return frozenset(name for name, value in variables.items() if not isinstance(value, dict | list))


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/nxbridge/templates`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nxbridge" / "templates"


def load_template(path: Path, *, region: str, cache_dir: Path | None = None) -> PackagedTemplate:
    """``path`` packaged and transformed for ``region``: from the cache when the same bytes were transformed before."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    key = _cache_key(source, region)
    cached = _memory.get(key) or _read_cache(cache_dir, key)
    if cached is None:
        cached = json.dumps(_transform(source, path, region), sort_keys=True)
        _write_cache(cache_dir, key, cached)
    _memory[key] = cached
    entry = json.loads(cached)
    return PackagedTemplate(body=json.dumps(entry["template"]), code_dirs=entry["code_dirs"])


def _cache_key(source: bytes, region: str) -> str:
    translator = importlib.metadata.version("aws-sam-translator")
    digest = hashlib.sha256()
    for part in (_CACHE_FORMAT.encode(), translator.encode(), region.encode(), source):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _read_cache(cache_dir: Path | None, key: str) -> str | None:
    if cache_dir is None:
        return None
    try:
        text = (cache_dir / f"{key}.json").read_text(encoding="utf-8")
        entry = json.loads(text)
    except (OSError, ValueError):
        return None
    return text if isinstance(entry, dict) and {"template", "code_dirs"} <= set(entry) else None


def _write_cache(cache_dir: Path | None, key: str, text: str) -> None:
    if cache_dir is None:
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a stack starting in parallel never reads half a file.
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=cache_dir, delete=False, suffix=".tmp") as out:
            out.write(text)
        Path(out.name).replace(cache_dir / f"{key}.json")
    except OSError:
        # A cache that cannot be written only costs the next start a transform.
        return


def _transform(source: bytes, path: Path, region: str) -> dict[str, Any]:
    # Imported on a cache miss only: the translator and its schema take about a second to load.
    import boto3  # noqa: PLC0415
    import yaml  # noqa: PLC0415
    from samtranslator.model.exceptions import ExceptionWithMessage, InvalidDocumentException  # type: ignore[import-untyped]  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]  # noqa: PLC0415
    from samtranslator.yaml_helper import intrinsics_multi_constructor  # type: ignore[import-untyped]  # noqa: PLC0415

    class CfnLoader(yaml.SafeLoader):
        """YAML with CloudFormation's short tags (!Ref, !Sub, ...), without changing PyYAML's SafeLoader."""

    CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)
    try:
        document = yaml.load(source, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    code_dirs = _package(document)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        transformed: dict[str, Any] = translator.translate(document, {}, get_managed_policy_map=dict)
    except InvalidDocumentException as exc:
        reasons = "; ".join(cause.message for cause in exc.causes)
        raise TemplateError(f"{path} does not transform: {reasons}") from None
    except ExceptionWithMessage as exc:
        raise TemplateError(f"{path} does not transform: {exc.message}") from None
    return {"template": transformed, "code_dirs": code_dirs}


def _package(document: dict[str, Any]) -> dict[str, str]:
    """Point every local CodeUri/ContentUri at the placeholder object, as ``sam package`` points them at S3."""
    code_dirs: dict[str, str] = {}
    for logical_id, resource in document["Resources"].items():
        key = _CODE_PROPERTIES.get(resource.get("Type", "")) if isinstance(resource, dict) else None
        properties = resource.get("Properties") if key is not None else None
        if not isinstance(properties, dict) or not isinstance(properties.get(key), str):
            continue
        uri = properties[key]
        if not uri.startswith("s3://"):
            if resource["Type"] == "AWS::Serverless::Function":
                code_dirs[logical_id] = Path(uri).name
            properties[key] = f"s3://{CODE_BUCKET}/{CODE_KEY}"
    return code_dirs
