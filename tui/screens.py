"""The TUI's screens: the main screen (panels and key bindings), the help screen and the two forms.

`MainScreen` holds the panels of `tui.widgets` and binds the keys to the app's actions (the app
talks to the rig). The forms only collect values and dismiss with them (`CueForm` -> seconds,
`SpliceForm` -> the splice request body); they never make requests themselves.
"""

from __future__ import annotations

from rich import box
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from tui.models import Selection, Snapshot
from tui.widgets import BreaksTable, SplicesTable, StatusBar, ViewersTable, WindowsTable

SPLICE_FORMATS = ("daterange", "cue-out", "scte35", "oatcls")
SPLICE_COMMANDS = ("splice_insert", "time_signal")

KEYS = (
    ("s", "inject an SCTE-35 cue at the origin emulator (format, command, duration, pre-roll)"),
    ("c", "manual cue: a break through the stitcher's /cue API (duration)"),
    ("r", "return to network early: end the active break"),
    ("v / V", "start / stop one simulated viewer"),
    ("tab / n", "next channel"),
    ("m", "next stitcher mode (ssai, sgai, passthrough)"),
    ("b", "next variant (rung)"),
    ("?", "this help"),
    ("q / ctrl+c", "quit"),
)
PANELS = (
    (
        "Live windows",
        "one row per media sequence number: the origin's segment and cue tags, then the stitched"
        " segment (green content, magenta ad with its id, yellow slate; DISC a discontinuity,"
        " INTERSTITIAL an SGAI break).",
    ),
    (
        "Breaks",
        "the stitcher's active and upcoming breaks, with the time left on the clock; below, the "
        "origin emulator's splices (QA ones in bold).",
    ),
    (
        "Viewers",
        "simulated viewers and real players: variant, position behind live, content or which ad.",
    ),
    ("Status line", "poll health; API errors appear as notifications, in the server's words."),
)


def help_text() -> Table:
    """The keys and the panels, as one rich table."""
    table = Table(
        box=box.SIMPLE_HEAD,
        expand=True,
        show_edge=False,
        title="ssai-rig TUI · the rig through its public HTTP APIs, polled every second",
    )
    table.add_column("key", style="bold yellow", no_wrap=True)
    table.add_column("what")
    for key, what in KEYS:
        table.add_row(key, what)
    table.add_section()
    for name, what in PANELS:
        table.add_row(Text(name, style="bold cyan"), what)
    return table


class MainScreen(Screen):
    """The live windows above, breaks/splices and viewers below, poll health and key bindings."""

    BINDINGS = [
        Binding("s", "app.splice", "Splice"),
        Binding("c", "app.cue", "Cue"),
        Binding("r", "app.return_early", "Return"),
        Binding("v", "app.add_viewer", "+Viewer"),
        Binding("V", "app.remove_viewer", "-Viewer"),
        Binding("n", "app.next_channel", "Channel"),
        Binding("tab", "app.next_channel", "Channel", show=False),
        Binding("m", "app.next_mode", "Mode"),
        Binding("b", "app.next_variant", "Variant"),
        Binding("question_mark", "app.help", "Help", key_display="?"),
        Binding("q", "app.quit", "Quit"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield WindowsTable(id="windows")
        with Horizontal(id="lower"):
            with Vertical(id="breaks-box"):
                yield BreaksTable(id="breaks")
                yield SplicesTable(id="splices")
            yield ViewersTable(id="viewers")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(StatusBar).waiting()
        self.loading_for(self.app.selection)

    def loading_for(self, selection: Selection) -> None:
        """A new channel, variant or mode: nothing from the previous one stays on screen."""
        self.query_one(WindowsTable).waiting(WindowsTable.title(selection))
        if self.query_one(BreaksTable).border_title != f"Breaks · {selection.channel}":
            self.query_one(BreaksTable).waiting(f"Breaks · {selection.channel}")
            self.query_one(SplicesTable).waiting(f"Origin splices · {selection.channel}")

    def show(self, snapshot: Snapshot) -> None:
        self.query_one(WindowsTable).show(snapshot)
        self.query_one(BreaksTable).show(snapshot)
        self.query_one(SplicesTable).show(snapshot)
        self.query_one(ViewersTable).show(snapshot)
        self.query_one(StatusBar).show(snapshot)


class HelpScreen(ModalScreen[None]):
    """The keys and what each panel shows."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help"):
            yield Static(help_text())
            yield Label("escape, ? or q closes", classes="hint")


def _seconds(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class Form(ModalScreen):
    """A small modal form: Enter in a field or the `ok` button submits (`_submit` dismisses with the
    values, or shows the problem), escape or any other button cancels (dismisses with None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def _submit(self) -> None:
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit() if event.button.id == "ok" else self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class CueForm(Form):
    """A manual break's duration (the stitcher checks it; its error words are shown if it
    refuses)."""

    def __init__(self, channel: str, duration: float = 30.0):
        super().__init__()
        self.channel = channel
        self.duration = duration

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(
                f"Manual cue on {self.channel} (POST /v1/channels/{self.channel}/cue)",
                classes="title",
            )
            yield Label("duration (s)")
            yield Input(f"{self.duration:g}", id="duration", type="number")
            yield Label("", id="problem", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button("Cue", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def _submit(self) -> None:
        duration = _seconds(self.query_one("#duration", Input).value)
        if duration is None:
            self.query_one("#problem", Label).update("the duration must be a number of seconds")
            return
        self.dismiss(duration)


class SpliceForm(Form):
    """An SCTE-35 cue at the origin: format, command (blank: the channel's own), duration,
    pre-roll."""

    def __init__(self, channel: str, duration: float = 30.0, preroll: float = 8.0):
        super().__init__()
        self.channel = channel
        self.duration = duration
        self.preroll = preroll

    def compose(self) -> ComposeResult:
        with Vertical(classes="form"):
            yield Label(
                f"SCTE-35 cue at the origin: {self.channel} (POST /control/{self.channel}/splice)",
                classes="title",
            )
            yield Label("format")
            yield Select([(f, f) for f in SPLICE_FORMATS], id="format", prompt="the channel's own")
            yield Label("command")
            yield Select(
                [(c, c) for c in SPLICE_COMMANDS], id="command", prompt="the channel's own"
            )
            yield Label("duration (s)")
            yield Input(f"{self.duration:g}", id="duration", type="number")
            yield Label("pre-roll (s)")
            yield Input(f"{self.preroll:g}", id="preroll", type="number")
            yield Label("", id="problem", classes="problem")
            with Horizontal(classes="buttons"):
                yield Button("Inject", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#duration", Input).focus()

    def _submit(self) -> None:
        duration = _seconds(self.query_one("#duration", Input).value)
        preroll = _seconds(self.query_one("#preroll", Input).value)
        if duration is None or preroll is None:
            self.query_one("#problem", Label).update(
                "duration and pre-roll must be numbers of seconds"
            )
            return
        values = {name: self.query_one(f"#{name}", Select).value for name in ("format", "command")}
        body = {name: (None if value is Select.NULL else value) for name, value in values.items()}
        self.dismiss({"duration": duration, "preroll": preroll, **body})
