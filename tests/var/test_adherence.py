"""The single-image checker scores rendered images of every caption right, and wrong captions wrong."""

import numpy as np

from mmcache.pipelines.var.adherence import compare_images, score_image
from mmcache.pipelines.var.captions import ImageSpec, held_out_image_specs, parse_image_caption, train_image_specs
from mmcache.pipelines.var.data import make_image


def test_rendered_images_match_their_captions():
    for index in range(60):
        image, spec = make_image(4, index, "all")
        score = score_image(image, spec.text)
        assert score.colour_ok and score.shape_ok, (spec.text, score.details)


def test_another_colour_or_shape_is_wrong():
    image, spec = make_image(4, 0, "all")
    colour = "blue" if spec.colour != "blue" else "red"
    shape = "square" if spec.shape != "square" else "circle"
    assert not score_image(image, ImageSpec(colour, spec.shape, spec.background)).colour_ok
    assert score_image(image, ImageSpec(spec.colour, shape, spec.background)).shape_ok is False


def test_split_and_grammar():
    held_out, train = held_out_image_specs(), train_image_specs()
    assert len(held_out) == 15 and len(train) == 30 and not set(held_out) & set(train)
    for pair in ((lambda s: (s.colour, s.shape)), (lambda s: (s.colour, s.background)),
                 (lambda s: (s.shape, s.background))):
        assert {pair(s) for s in held_out} <= {pair(s) for s in train}  # every pair still trained on
    assert parse_image_caption("A Red circle on a white background.") == ImageSpec("red", "circle", "white")
    images = np.stack([make_image(4, i)[0] for i in range(2)])
    assert compare_images(images, images) == {"psnr": 100.0, "ssim": 1.0}
