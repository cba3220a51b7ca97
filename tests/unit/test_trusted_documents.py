"""Reading the trusted documents manifest: both formats, and refusing what cannot be trusted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.persisted_queries import TrustedDocumentsError, load_trusted_documents

QUERY = "{ symbols }"
HASH = hashlib.sha256(QUERY.encode()).hexdigest()


def written(tmp_path: Path, manifest: object) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path


def test_a_map_of_hash_to_document(tmp_path: Path) -> None:
    assert load_trusted_documents(written(tmp_path, {HASH.upper(): QUERY})) == {HASH: QUERY}


def test_apollos_persisted_query_manifest(tmp_path: Path) -> None:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [{"id": HASH, "body": QUERY, "name": "Symbols", "type": "query"}],
    }
    assert load_trusted_documents(written(tmp_path, manifest)) == {HASH: QUERY}


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({HASH: "{ me { email } }"}, "not the hash of its document"),
        ([QUERY], "expected a JSON object"),
        ({HASH: 3}, "needs a hash and a document"),
    ],
)
def test_a_manifest_that_cannot_be_trusted_is_refused(
    tmp_path: Path, manifest: object, message: str
) -> None:
    with pytest.raises(TrustedDocumentsError, match=message):
        load_trusted_documents(written(tmp_path, manifest))


def test_a_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TrustedDocumentsError, match="cannot read"):
        load_trusted_documents(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(TrustedDocumentsError, match="cannot read"):
        load_trusted_documents(broken)


def test_serve_refuses_to_start_on_a_manifest_it_cannot_read(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import cli

    missing = tmp_path / "absent.json"
    result = CliRunner().invoke(cli, ["serve"], env={"STOCKQL_TRUSTED_DOCUMENTS": str(missing)})
    assert result.exit_code == 2
    assert "cannot read the trusted documents" in result.output
