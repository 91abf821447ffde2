"""Reports over a period (`devmentor-monitor report`, `GET /api/report`): model.py (what a
report holds and reads), compute.py, the renderers (markdown.py, html.py with svg.py's
charts; JSON is server/shapes.py's), offline.py (the CLI's read-only files)."""
