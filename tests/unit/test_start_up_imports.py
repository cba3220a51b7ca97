"""What starting the API costs: scikit-learn and skops load only when a model is used."""

import subprocess
import sys

HEAVY = ("sklearn", "skops")


def test_the_app_imports_without_the_model_libraries() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, app.main, app.worker; print([m for m in {HEAVY!r} if m in sys.modules])",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "[]"
