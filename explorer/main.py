"""What ``panel serve explorer`` (and ``rate2spike explore``) runs for every browser session.

Extra models: ``panel serve explorer --args --models DIR`` or $RATE2SPIKE_MODELS; add
``--allow-save`` to let pages write the grid search into those files. It imports
the installed package (``pip install -e .`` or ``pip install .``), never the folder it sits in.
"""

import sys

import panel as pn

from rate2spike.explorer.app import TITLE, ExplorerPage, load_extensions
from rate2spike.explorer.catalog import allow_save_from, models_dir_from
from rate2spike.explorer.collector import SERVER_COLLECTOR
from rate2spike.explorer.internals import install_browser_fixes, keep_server_writes_flowing
from rate2spike.explorer.limits import limits_from
from rate2spike.explorer.session import ExplorerSession

load_extensions()
keep_server_writes_flowing()  # once per process is enough; again is harmless
# bounded in what a model may cost, its simulations on the server's pool (never the event loop)
session = ExplorerSession(models_dir=models_dir_from(sys.argv[1:]), allow_save=allow_save_from(sys.argv[1:]),
                          limits=limits_from(sys.argv[1:]), doc=pn.state.curdoc)
session.apply_query(pn.state.session_args)  # a link restores its view
# bind the session and the collector now: Bokeh clears this module's globals once the page is built
def _closed(_context, session=session, collector=SERVER_COLLECTOR) -> None:
    session.close()
    collector.session_closed()  # what the page leaves is collected soon (explorer/collector.py)


pn.state.on_session_destroyed(_closed)
# Bokeh walks the whole document after each root the template adds (a dozen walks of 800 models);
# frozen, it walks it once: 3.4 -> 2.0 s of server CPU per page opened (docs/performance.md)
with pn.state.curdoc.models.freeze():
    ExplorerPage(session).servable(title=TITLE)
install_browser_fixes(pn.state.curdoc)
SERVER_COLLECTOR.page_built()  # the page's objects leave the garbage collector's rounds while it lives
SERVER_COLLECTOR.note_allocator()  # tells a plain `panel serve` that a class's memory will be kept
