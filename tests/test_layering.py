"""The layering rules of docs/ARCHITECTURE.md ("Which app imports which"), as contracts in
.importlinter: accounts imports no app, the engine imports no domain app, only config imports
monitoring, nothing imports notifications, the kernel imports no app, no app imports config."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_hold():
    # given: the venv's lint-imports (import-linter, pinned in requirements-dev.txt)
    lint_imports = Path(sys.executable).parent / "lint-imports"

    # when
    result = subprocess.run([str(lint_imports), "--config", str(ROOT / ".importlinter"), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)

    # then
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
