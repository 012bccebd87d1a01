"""The check fixtures (real PAM trees, apt repositories, ClamAV and GNOME packages), shared with tests/agent/checks."""

from tests.agent.checks.conftest import apt_tree, english, pam_root, pam_tree  # noqa: F401
from tests.agent.checks.test_antivirus import clam_root, started  # noqa: F401
from tests.agent.checks.test_screen_lock import gnome, schemas_tree  # noqa: F401
