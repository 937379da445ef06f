"""The TUI's messages: what the poller tells the app.

Each message is a dataclass whose payload is a frozen value (`tui.models.Snapshot`); the
message object itself cannot be frozen because textual sets its delivery flags on it. A newer
message of the same kind replaces one still queued (`can_replace`), so a slow screen never works
through a backlog of stale polls: it always renders the newest snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tui.models import Snapshot


@dataclass
class Polled(Message):
    """One poll of the rig (windows, breaks, splices, sessions, viewers, health)."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, Polled)
