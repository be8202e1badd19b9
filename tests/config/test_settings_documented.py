"""Every environment variable the settings read is in the README's configuration table."""
import re

from tests.conftest import ROOT


def test_every_setting_read_from_the_environment_is_documented():
    read = set()
    for path in (ROOT / "config" / "settings").glob("*.py"):
        read |= set(re.findall(r"""env_\w+\(\s*["']([A-Z][A-Z0-9_]+)["']""", path.read_text()))
        read |= set(re.findall(r"""os\.environ(?:\.get)?[\[(]\s*["']([A-Z][A-Z0-9_]+)["']""", path.read_text()))
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Configuration (environment variables)"):]

    missing = sorted(name for name in read if f"`{name}`" not in table)

    assert len(read) > 50 and missing == []
