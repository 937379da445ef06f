"""The main screen's panels: each renders one part of a `tui.models.Snapshot` and nothing else.

How and why: docs/rig.md, "`tui.widgets`".
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable, Static

from tui.models import Selection, Snapshot, clock_text, locate, relative_to_live
from tui.windows import SegmentView

KIND_STYLE = {"content": "green", "ad": "bold magenta", "slate": "yellow"}
STATE_STYLE = {**KIND_STYLE, "stalled": "bold red", "joining": "cyan", "?": "dim"}
BREAK_STYLE = {"active": "bold magenta", "upcoming": "cyan"}


class Table(DataTable):
    """A read-only table whose columns are sized anew for each snapshot."""

    COLUMNS: tuple[str, ...] = ()
    TITLE = ""

    def on_mount(self) -> None:
        self.cursor_type = "none"
        if not self.border_title:
            self.border_title = self.TITLE
        if not self.columns:
            self.add_columns(*self.COLUMNS)

    def _reset(self) -> None:
        """Empty the table for new rows, keeping where the user scrolled to."""
        x, y = self.scroll_x, self.scroll_y
        self.clear(columns=True)
        self.add_columns(*self.COLUMNS)
        if x or y:
            self.call_after_refresh(self.scroll_to, x, y, animate=False)

    def waiting(self, title: str) -> None:
        """Empty, until the first snapshot of a new selection arrives."""
        self.border_title = title
        self._reset()
        self.add_row(*_none("waiting for the first poll…", len(self.COLUMNS)))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _none(text: str, width: int) -> list[Text]:
    return [Text(text, style="dim")] + [Text("")] * (width - 1)


class WindowsTable(Table):
    """Origin window | stitched window, aligned by media sequence number, oldest first."""

    COLUMNS = ("MSN", "PDT", "origin", "origin cues", "stitched", "stitched cues")
    TITLE = "Live windows"

    @staticmethod
    def title(selection: Selection) -> str:
        return f"Live windows · {selection.channel}/{selection.variant} · origin | {selection.mode}"

    def show(self, snapshot: Snapshot) -> None:
        self.border_title = self.title(snapshot.selection)
        rows = snapshot.rows
        if snapshot.origin is None and snapshot.stitched is None and not rows:
            return  # both failed: keep what is on screen, the status bar says why
        self._reset()
        for row in rows:
            stitched = self._segment(row.stitched)
            if row.pdt_mismatch:
                stitched.append(" PDT≠", style="bold red")
            self.add_row(
                Text(str(row.msn)),
                Text(clock_text(row.pdt, millis=True)),
                self._segment(row.origin),
                self._markers(row.origin, "bright_cyan"),
                stitched,
                self._markers(row.stitched, "bright_blue"),
                key=str(row.msn),
            )

    @staticmethod
    def _segment(segment: SegmentView | None) -> Text:
        if segment is None:
            return Text("—", style="dim")
        label = segment.kind + (f" {segment.ad_id}" if segment.ad_id else "")
        return Text(f"{segment.duration:.3f} {label}", style=KIND_STYLE.get(segment.kind, ""))

    @staticmethod
    def _markers(segment: SegmentView | None, style: str) -> Text:
        text = Text()
        if segment is None:
            return text
        if segment.discontinuities:
            text.append(
                "DISC" + (f"×{segment.discontinuities}" if segment.discontinuities > 1 else ""),
                style="bold red",
            )
        for marker in segment.markers:
            if text:
                text.append(" ")
            text.append(marker, style=style)
        return text


class BreaksTable(Table):
    """Active and upcoming breaks of the selected channel (the stitcher's ledger)."""

    COLUMNS = ("event", "source", "state", "ads at", "remaining", "pod")
    TITLE = "Breaks"

    def show(self, snapshot: Snapshot) -> None:
        if snapshot.breaks is None:
            return
        self._reset()
        self.border_title = f"Breaks · {snapshot.selection.channel}"
        if not snapshot.breaks:
            self.add_row(*_none("no active or upcoming break", len(self.COLUMNS)))
        for view in snapshot.breaks:
            pod = ", ".join(f"{item.id} {item.duration:g}s" for item in view.items)
            self.add_row(
                Text(view.event_id, style="bold"),
                Text(view.source),
                Text(view.state, style=BREAK_STYLE.get(view.state, "")),
                Text(clock_text(view.ad_start)),
                Text(view.remaining(snapshot.now)),
                Text(pod),
                key=view.event_id,
            )


class SplicesTable(Table):
    """The origin emulator's splices around now (QA splices, source `control`, in bold)."""

    COLUMNS = ("splice", "format", "command", "state", "start", "duration")
    TITLE = "Origin splices"

    def show(self, snapshot: Snapshot) -> None:
        if snapshot.splices is None:
            return
        self._reset()
        self.border_title = f"Origin splices · {snapshot.selection.channel}"
        if not snapshot.splices:
            self.add_row(*_none("none", len(self.COLUMNS)))
        for view in snapshot.splices:
            self.add_row(
                Text(view.id, style="bold" if view.source == "control" else ""),
                Text(view.format),
                Text(view.command),
                Text(view.state, style=BREAK_STYLE.get(view.state, "")),
                Text(clock_text(view.start)),
                Text("-" if view.duration is None else f"{view.duration:g} s"),
            )


class ViewersTable(Table):
    """Simulated viewers (the fleet) and real players (the stitcher's sessions)."""

    COLUMNS = ("viewer", "variant", "position", "state", "ad", "MSN", "stalls/viol.")
    TITLE = "Viewers"

    def show(self, snapshot: Snapshot) -> None:
        now = snapshot.now
        self._reset()
        simulated = snapshot.viewers or ()
        players = snapshot.sessions or ()
        fleet = "no fleet" if snapshot.viewers is None else f"{len(simulated)} simulated"
        sessions = "players n/a" if snapshot.sessions is None else f"{len(players)} players"
        self.border_title = f"Viewers · {fleet} · {sessions}"
        for v in simulated:
            self.add_row(
                Text(f"sim {v.id}"),
                Text(v.variant),
                Text(relative_to_live(v.playhead, now)),
                Text(v.state, style=STATE_STYLE.get(v.state, "")),
                Text(v.ad_id or ""),
                Text("-" if v.msn is None else str(v.msn)),
                Text(
                    f"{v.stalls}/{v.violations}",
                    style="bold red" if v.stalls or v.violations else "",
                ),
            )
        for s in players:
            state, ad_id = locate(
                s, snapshot.selection, snapshot.breaks or (), snapshot.stitched or ()
            )
            seen = "" if s.last_seen is None else f" {max(0.0, now - s.last_seen):.0f}s ago"
            label = s.id if not s.client or s.client in s.id else f"{s.id} ({s.client})"
            self.add_row(
                Text(_clip(label, 28) + seen),
                Text(f"{s.channel}/{s.mode}/{s.variant}"),
                Text(relative_to_live(s.playhead, now)),
                Text(state, style=STATE_STYLE.get(state, "")),
                Text(ad_id or ""),
                Text("-" if s.msn is None else str(s.msn)),
                Text(""),
            )
        if not simulated and not players:
            self.add_row(*_none("no viewers (v adds a simulated one)", len(self.COLUMNS)))


class StatusBar(Static):
    """Poll health: when the last poll ran and which sources failed, in the servers' words."""

    def show(self, snapshot: Snapshot) -> None:
        text = Text()
        failures = snapshot.failures
        text.append("● ", style="bold red" if failures else "bold green")
        text.append(f"poll {clock_text(snapshot.now)}")
        for health in snapshot.health:
            if health.ok:
                detail = "ok"
                if health.name == "sessions" and snapshot.sessions is None:
                    detail = "n/a"
                text.append(f" · {health.name} {detail}", style="dim")
        for health in failures:
            text.append(f" · {health.name}: {health.detail}", style="bold red")
        if snapshot.topology is not None:
            text.append(f"   {snapshot.topology.describe()}", style="cyan")
        self.update(text)

    def waiting(self) -> None:
        self.update(Text("○ waiting for the first poll", style="dim"))
