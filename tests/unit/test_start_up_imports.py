"""What starting the API costs: scikit-learn and skops load only when a model is used; TA-Lib
(which imports pandas), PyMongo and Alembic only when indicators are computed, users live in
MongoDB or the database is migrated (issue 17 point 4: ~65 MiB of an idle server's RSS)."""

import subprocess
import sys

HEAVY = ("sklearn", "skops")
LOADED_WHEN_USED = ("talib", "pandas", "pymongo", "alembic")


def _loaded_by_importing_the_app(modules: tuple[str, ...]) -> str:
    code = f"import sys, app.main, app.worker; print([m for m in {modules!r} if m in sys.modules])"
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_the_app_imports_without_the_model_libraries() -> None:
    assert _loaded_by_importing_the_app(HEAVY) == "[]"


def test_the_app_imports_without_what_serving_prices_does_not_need() -> None:
    assert _loaded_by_importing_the_app(LOADED_WHEN_USED) == "[]"


def test_indicators_import_ta_lib_when_first_computed() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, numpy as np, domain.indicators as i; before = 'talib' in sys.modules; "
            "i.sma(np.arange(1.0, 30.0), 5); print(before, 'talib' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert loaded == "False True"
