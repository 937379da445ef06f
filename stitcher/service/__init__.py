"""Serving playlists: the shell around the pure renderers (passthrough, SSAI, SGAI).

`service` (`PlaylistService`) takes the shared inputs from the feeds, calls the pure renderer and
keeps the rendered bytes per (channel, variant, mode) with the versions of the inputs they came
from; `rendered` holds what it answers; `resume` serves the content segment a break returns to.
How and why (caching, T5, ad-media outages): docs/stitcher.md, "`stitcher.service`".
"""

from stitcher.service.playlists import PlaylistService
from stitcher.service.rendered import Rendered
from stitcher.service.resume import RESUME_NAME, resume_segment

__all__ = ["PlaylistService", "RESUME_NAME", "Rendered", "resume_segment"]
