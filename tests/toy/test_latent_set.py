import numpy as np
import pytest

from mmcache.pipelines.toy.latent_set import background_draw_probabilities

BLACK = "a red circle moving left on a black background"
GRAY = "a blue square moving up on a gray background"


def test_each_background_gets_its_share_spread_over_its_clips():
    p = background_draw_probabilities([BLACK, BLACK, BLACK, GRAY], {"black": 1, "gray": 1, "white": 0})
    np.testing.assert_allclose(p, [1 / 6, 1 / 6, 1 / 6, 1 / 2])
    p = background_draw_probabilities([BLACK, GRAY, GRAY], {"black": 0, "gray": 3, "white": 0})
    np.testing.assert_allclose(p, [0, 1 / 2, 1 / 2])


def test_equal_weights_on_balanced_clips_are_uniform():
    p = background_draw_probabilities([BLACK, GRAY] * 3, {"black": 2, "gray": 2})
    np.testing.assert_allclose(p, np.full(6, 1 / 6))


@pytest.mark.parametrize("weights, message", [
    ({"black": 1, "white": 1}, "'white' has weight 1 but no clips"),
    ({"black": -1, "gray": 2}, "non-negative with a positive sum"),
    ({"black": 0, "gray": 0}, "non-negative with a positive sum"),
    ({"pink": 1}, "Unknown background"),
])
def test_bad_weights_are_one_clear_error(weights, message):
    with pytest.raises(ValueError, match=message):
        background_draw_probabilities([BLACK, GRAY], weights)
