"""The live-playlist validator's pure core: a `Checker` fed with playlists, collecting `Violation`s.

Everything that fetches playlists (the origin emulator's and stitcher's tests, the viewer fleet,
the soak tests, `rig validate`) feeds them into one `Checker` and asserts that it stays empty. It
runs the single-playlist checks and keeps, through `Variants`, `Reloads` and `Dateranges`, the
history the other rules need; each finding is reported once. No I/O, no clock: the caller passes
the observation time `at`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from typing import Any

from rig.validator.dateranges import Dateranges
from rig.validator.findings import Finding, Tolerances, Violation
from rig.validator.playlist_checks import (
    check_master_playlist,
    check_media_playlist,
    classify_parse_error,
)
from rig.validator.reloads import Reloads
from rig.validator.variants import Variants
from stitcher.playlist import (
    MediaPlaylist,
    PlaylistError,
    parse_master_playlist,
    parse_media_playlist,
)

MAX_KEPT_VIOLATIONS = 10_000


class Checker:
    """Accumulates violations from observed playlists. Pure: no I/O, no clock; `at` is passed in.

    `observe_master` / `observe_media` return the violations that observation produced (and append
    them to `violations`, count them in `counts` and pass each to `on_violation`); `report` adds a
    violation found outside (HTTP, CORS, R12 by the shell). `tolerances` holds every tolerance.
    """

    def __init__(
        self,
        tolerances: Tolerances = Tolerances(),  # noqa: B008 - frozen: one value for all
        on_violation: Callable[[Violation], None] | None = None,
    ):
        self.tolerances = tolerances
        self.on_violation = on_violation
        self.violations: list[Violation] = []
        self.counts: Counter[str] = Counter()
        self.playlists_checked = 0
        self.reloads: Counter[str] = Counter()
        self.masters: list[str] = []
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._variant_history = Variants(tolerances)
        self._variants = self._variant_history.states  # URL -> records, de-duplication keys
        self._viewer_reloads = Reloads(tolerances)
        self._dateranges = Dateranges()
        self._unnumbered: set[tuple[str, Hashable]] = set()  # de-duplication keys without an MSN

    # ------------------------------------------------------------------ public API

    @property
    def ok(self) -> bool:
        return not self.counts

    @property
    def variants(self) -> list[str]:
        return list(self._variants)

    @property
    def segments_seen(self) -> int:
        """Media sequence numbers seen so far, counted once per variant."""
        return self._variant_history.segments_seen

    def snapshot(self, variant: str, viewer: str | None = None) -> MediaPlaylist | None:
        """The last playlist of `variant` that `viewer` fetched and that parsed (None before
        that)."""
        return self._viewer_reloads.snapshot(variant, viewer)

    def report(
        self,
        rule: str,
        message: str,
        *,
        variant: str,
        at: float,
        viewer: str | None = None,
        msn: int | None = None,
        once_key: Hashable | None = None,
    ) -> Violation | None:
        """Record a violation found outside the checker; with `once_key`, only the first one per
        variant."""
        if once_key is not None and not self._first_time(variant, msn, (rule, once_key)):
            return None
        return self._add(Violation(rule, message, variant, viewer, msn, at))

    def observe_master(
        self, url: str, text: str, at: float, viewer: str | None = None
    ) -> list[Violation]:
        """Check a multivariant playlist fetched from `url` (M1, PARSE)."""
        self._count(at, viewer, media=False)
        if url not in self.masters:
            self.masters.append(url)
        try:
            playlist = parse_master_playlist(text)
        except PlaylistError as exc:
            return self._emit_new(
                [Finding(classify_parse_error(exc, master=True), str(exc))], url, viewer, at
            )
        return self._emit_new(check_master_playlist(playlist), url, viewer, at)

    def observe_media(
        self,
        url: str,
        text: str,
        at: float,
        viewer: str | None = None,
        round_id: Hashable | None = None,
    ) -> list[Violation]:
        """Check a media playlist fetched from `url` by `viewer` at `at`; the observations of one
        `viewer` with the same `round_id` are one poll round (D9, see `Dateranges`)."""
        self._count(at, viewer, media=True)
        self._variant_history.state(url)
        try:
            playlist = parse_media_playlist(text)
        except PlaylistError as exc:
            return self._emit_new(
                [Finding(classify_parse_error(exc, master=False), str(exc))], url, viewer, at
            )
        findings = check_media_playlist(playlist, url, self.tolerances, text)
        findings += self._variant_history.check(url, playlist)
        findings += self._dateranges.check_history(url, playlist)
        findings += self._viewer_reloads.check(url, viewer, playlist, at)
        findings += self._dateranges.check_round(url, viewer, round_id, playlist)
        emitted = self._emit_new(findings, url, viewer, at)
        self._variant_history.prune(url, playlist)
        return emitted

    def summary(self) -> dict[str, Any]:
        """Counts and coverage of the run, ready for `json.dumps`."""
        duration = (
            (self.last_at - self.first_at)
            if self.first_at is not None and self.last_at is not None
            else 0.0
        )
        return {
            "ok": self.ok,
            "violations": sum(self.counts.values()),
            "by_rule": dict(sorted(self.counts.items())),
            "playlists_checked": self.playlists_checked,
            "reloads_per_viewer": dict(sorted(self.reloads.items())),
            "segments_seen": self.segments_seen,
            "masters": list(self.masters),
            "variants": self.variants,
            "first_observation": self.first_at,
            "last_observation": self.last_at,
            "observed_seconds": round(duration, 3),
            "examples": [v.to_dict() for v in self.violations[:20]],
        }

    # ------------------------------------------------------------------ bookkeeping

    def _count(self, at: float, viewer: str | None, media: bool) -> None:
        self.playlists_checked += 1
        if media:
            self.reloads[viewer if viewer is not None else "-"] += 1
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)

    def _add(self, violation: Violation) -> Violation:
        self.counts[violation.rule] += 1
        if len(self.violations) < MAX_KEPT_VIOLATIONS:
            self.violations.append(violation)
        if self.on_violation is not None:
            self.on_violation(violation)
        return violation

    def _first_time(self, variant: str, msn: int | None, key: Hashable) -> bool:
        """True the first time `key` is reported for (variant, msn); MSN-less keys are kept for the
        run."""
        if msn is None:
            if (variant, key) in self._unnumbered:
                return False
            self._unnumbered.add((variant, key))
            return True
        bucket = self._variant_history.state(variant).reported.setdefault(msn, set())
        if key in bucket:
            return False
        bucket.add(key)
        return True

    def _emit_new(
        self, findings: list[Finding], url: str, viewer: str | None, at: float
    ) -> list[Violation]:
        emitted = []
        for f in findings:
            if self._first_time(url, f.msn, (f.rule, f.key if f.key is not None else f.message)):
                emitted.append(self._add(Violation(f.rule, f.message, url, viewer, f.msn, at)))
        return emitted
