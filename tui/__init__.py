"""The rig's terminal UI (Textual): live windows, breaks, viewers and QA actions over HTTP.

`tui.app.RigApp` is the app; `tui.sources` polls the rig's public APIs; `tui.models` holds the
frozen views the panels render. Only this package imports textual (tests/test_import_hygiene.py).
"""
