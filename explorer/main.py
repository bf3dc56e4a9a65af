"""What ``panel serve explorer`` runs for every browser session.

Extra models: ``panel serve explorer --args --models DIR`` or $RATE2SPIKE_MODELS.
"""

import sys
from pathlib import Path

try:
    import explorer  # noqa: F401  (installed with `pip install -e .`)
except ImportError:  # served from a checkout without installing: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import panel as pn

from explorer.app import Dashboard, load_extensions
from explorer.catalog import models_dir_from

load_extensions()
dashboard = Dashboard(models_dir=models_dir_from(sys.argv[1:]))
# bind the dashboard now: Bokeh clears this module's globals once the page is built
pn.state.on_session_destroyed(lambda _context, session=dashboard: session.close())
dashboard.template().servable(title="rate2spike explorer")
