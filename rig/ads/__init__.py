"""The ad library: the rig's own creatives and registering ads conditioned for every channel.

`creatives` holds the house ads and the slate (recipes, their ffmpeg command, rendering),
`ladders` which ladders an ad is conditioned for, `library` the ads in the catalog (`register_ad`,
`ensure_house_ads`, `condition_library`). The conditioning itself is `rig.conditioning`.
"""

from rig.ads.creatives import (
    CreativeRecipe,
    creative_argv,
    house_recipes,
    render_creative,
    sized_for,
    slate_recipe,
)
from rig.ads.ladders import conditioning_for_media, distinct_conditionings, interchangeable
from rig.ads.library import (
    AdError,
    check_ad_id,
    condition_library,
    ensure_house_ads,
    register_ad,
)

__all__ = [
    "AdError",
    "CreativeRecipe",
    "check_ad_id",
    "condition_library",
    "conditioning_for_media",
    "creative_argv",
    "distinct_conditionings",
    "ensure_house_ads",
    "house_recipes",
    "interchangeable",
    "register_ad",
    "render_creative",
    "sized_for",
    "slate_recipe",
]
