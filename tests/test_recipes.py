import pickle

import numpy as np
import pytest
import yaml

from synthscope.recipes import get_recipe, list_recipes, load_scenario_file

from .conftest import SEED

# one entry per registered recipe: (classes, shape to render at)
CASES = {"grain_boundaries": (("grain", "boundary"), (96, 128)), "surface_cracks": (("background", "crack"), (96, 128)),
         "precipitates": (("matrix", "precipitate", "fine precipitate"), (96, 128)),
         "coating_cross_section": (("background", "layer", "crack"), (96, 128)),
         "cell_membranes": (("cell", "membrane"), (96, 128)),
         "fibsem_porous": (("pore", "solid"), (96, 128))}


def test_every_recipe_has_a_case():
    assert set(CASES) == set(list_recipes())


@pytest.mark.parametrize("name", sorted(CASES))
def test_recipe_invariants(name):
    r = get_recipe(name)
    classes, shape = CASES[name]
    assert r.classes == classes
    a = r.render_index(3, entropy=SEED, shape=shape)
    b = r.render_index(3, entropy=SEED, shape=shape)
    c = r.render_index(4, entropy=SEED, shape=shape)
    assert a.image.shape == shape and a.image.dtype == np.float32 and a.mask.dtype == np.uint8
    assert 0 <= a.image.min() and a.image.max() <= 1
    assert a.mask.max() < len(classes)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)
    assert a.scenario == r.space.validate_scenario(a.scenario)
    # recipes travel to worker processes by pickle, and render the same there
    again = pickle.loads(pickle.dumps(r)).render_index(3, entropy=SEED, shape=shape)
    assert np.array_equal(a.image, again.image) and np.array_equal(a.mask, again.mask)


@pytest.mark.parametrize("name", sorted(CASES))
def test_scenario_round_trips_through_yaml(name, tmp_path):
    r = get_recipe(name)
    scen = r.space.sample_one(SEED, 0)
    back = yaml.safe_load(yaml.safe_dump(scen))
    a = r.render(scen, shape=(64, 64), entropy=1, index=0)
    b = r.render(back, shape=(64, 64), entropy=1, index=0)
    assert np.array_equal(a.image, b.image)
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"recipe": name, "parameters": r.space.to_dict()}))
    named, params = load_scenario_file(f)
    assert named == name and r.space.with_overrides(params).to_dict() == r.space.to_dict()


@pytest.mark.parametrize("name", sorted(CASES))
def test_imaging_change_leaves_structure_unchanged(name):
    r = get_recipe(name)
    scen = r.space.sample_one(SEED, 0)
    other = {**scen, "blur_sigma_px": 2.0, "dose_e_per_px": 20.0}
    a = r.render(scen, shape=(64, 64), entropy=1, index=0)
    b = r.render(other, shape=(64, 64), entropy=1, index=0)
    assert np.array_equal(a.mask, b.mask) and not np.array_equal(a.image, b.image)


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown recipe 'grains'.*allowed: cell_membranes, coating_cross_section, fibsem_porous, grain_boundaries, "
                                         "precipitates, surface_cracks"):
        get_recipe("grains")


def test_scenario_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipe: grain_boundaries\nparameters: [1, 2\n")
    with pytest.raises(ValueError, match=r"bad.yaml: malformed YAML at line"):
        load_scenario_file(bad)
    odd = tmp_path / "odd.yaml"
    odd.write_text("recipe: grain_boundaries\nparams: {}\n")
    with pytest.raises(ValueError, match="unknown key 'params'"):
        load_scenario_file(odd)
    with pytest.raises(ValueError, match="cannot read"):
        load_scenario_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize("boundary, particle", [("groove", "dark_rim"), ("edge", "bright_rim"), ("ridge", "bright_rim"), ("step", "bright")])
def test_matched_particles_take_the_look_of_the_boundary_line(boundary, particle):
    r = get_recipe("grain_boundaries")
    scen = {**r.space.sample_one(SEED, 0), "boundary_style": boundary, "particles_per_grain": 1.5}
    matched = r.render({**scen, "particle_style": "matched"}, shape=(96, 96), entropy=1, index=0)
    explicit = r.render({**scen, "particle_style": particle}, shape=(96, 96), entropy=1, index=0)
    other = r.render({**scen, "particle_style": "dark" if particle != "dark" else "bright"},
                     shape=(96, 96), entropy=1, index=0)
    assert np.array_equal(matched.image, explicit.image)
    assert not np.array_equal(matched.image, other.image)


def test_coating_lamellae_and_layer_streaks_change_the_look_not_the_labels():
    r = get_recipe("coating_cross_section")
    base = {**r.space.sample_one(0, 0), "coating_lamellae": 0.0, "layer_streaks": 0.0, "coating_porosity": 0.0,
            "substrate_porosity": 0.0, "layer_position": 0.6, "layer_thickness_px": 40.0, "coating_fraction": 1.0,
            "cracks_per_100px": 0.0, "phase_texture": 0.0, "coating_mottle": 0.0, "coating_level": 0.9,
            "layer_level": 0.4, "lamella_offset": 0.0, "dark_level": 0.05, "magnification": 1.0, "partial_view": 0.0}
    plain = r.structure((128, 192), base, np.random.default_rng(5))
    rich = r.structure((128, 192), {**base, "coating_lamellae": 0.25, "layer_streaks": 0.06}, np.random.default_rng(5))
    assert np.array_equal(plain.labels, rich.labels)
    coating = plain.maps["phase"] == 1
    layer = plain.maps["phase"] == 2
    # about the requested share of the coating turns grey at the layer's level ...
    grey = np.isclose(rich.maps["tint"], 0.4, atol=1e-4) & coating
    assert abs(grey.sum() / coating.sum() - 0.25) < 0.03
    # ... and of the layer dark, while both stay labelled as before
    dark = np.isclose(rich.maps["tint"], 0.05, atol=1e-4) & layer
    assert abs(dark.sum() / layer.sum() - 0.06) < 0.02
    assert np.allclose(plain.maps["tint"][coating & ~grey], 0.9)


def test_grain_recipe_cells_kind_renders_a_cell_section_with_its_scenario_recorded():
    r = get_recipe("grain_boundaries")
    kinds = [r.space.sample_one(SEED, i)["structure_kind"] for i in range(400)]
    share = kinds.count("cells") / len(kinds)
    assert abs(share - 0.25) < 0.06, share  # binomial sd 0.022 at n=400
    cells = r.space.with_overrides({"structure_kind": "cells"})
    a = r.render_index(3, entropy=SEED, space=cells, shape=(128, 128))
    b = r.render_index(3, entropy=SEED, space=cells, shape=(128, 128))
    sub = a.stats["cells_scenario"]
    assert set(sub) == set(get_recipe("cell_membranes").space.names)
    assert np.array_equal(a.mask, b.mask) and np.array_equal(a.image, b.image)
    assert 0.02 < (a.mask == 1).mean() < 0.6 and set(np.unique(a.mask)) == {0, 1}
    assert a.stats["cell_count"] == a.instances.max()
    grains = r.render_index(3, entropy=SEED, space=r.space.with_overrides({"structure_kind": "grains"}),
                            shape=(128, 128))
    assert "cells_scenario" not in grains.stats


def test_banded_grains_example_turns_on_elongation_and_striations():
    from pathlib import Path

    r = get_recipe("grain_boundaries")
    default = [r.space.sample_one(SEED, i) for i in range(60)]
    assert all(s["elongation"] == 1.0 and s["striation_amplitude"] == 0.0 for s in default)
    name, overrides = load_scenario_file(Path(__file__).parents[1] / "examples" / "banded_grains.yaml")
    assert name == "grain_boundaries"
    space = r.space.with_overrides(overrides)
    drawn = [space.sample_one(SEED, i) for i in range(200)]
    # half the renders each (choice of 6 values, 3 of them "off"); binomial sd 0.035
    assert 0.38 < np.mean([s["elongation"] > 1 for s in drawn]) < 0.62
    assert 0.38 < np.mean([s["striation_amplitude"] > 0 for s in drawn]) < 0.62
    # with the overrides off the scenario's other draws are unchanged
    assert all(d["mean_grain_diameter_px"] == s["mean_grain_diameter_px"] for d, s in zip(drawn[:60], default, strict=True))


def test_plain_grains_example_renders_dark_grooves_without_distractors():
    from pathlib import Path

    r = get_recipe("grain_boundaries")
    name, overrides = load_scenario_file(Path(__file__).parents[1] / "examples" / "plain_grains.yaml")
    assert name == "grain_boundaries"

    def line_sign(space, i):
        """+1 where the labelled lines are darker than the grains in the scene (before
        inversion), -1 where brighter; the render's particle count; whether it is a cell
        section."""
        s = r.render_index(i, entropy=SEED, space=space, shape=(128, 128))
        inverted = space.sample_one(SEED, i)["invert"]
        d = s.image[s.mask == 1].mean() - s.image[s.mask == 0].mean()
        return (1 if (d < 0) != inverted else -1), s.stats.get("n_particles", 0), "cells_scenario" in s.stats

    plain = [line_sign(r.space.with_overrides(overrides), i) for i in range(24)]
    assert all(sign == 1 and n == 0 and not cells for sign, n, cells in plain), plain
    # the default space draws bright lines, particles and cell sections too
    default = [line_sign(r.space, i) for i in range(24)]
    assert any(sign == -1 for sign, _, _ in default) and any(n > 0 for _, n, _ in default)
    assert any(cells for _, _, cells in default)


@pytest.mark.parametrize("kind", ["grains", "cells"])
def test_grain_recipe_detector_blur_is_off_by_default_and_correlates_the_noise(kind):
    r = get_recipe("grain_boundaries")
    assert r.space.sample_one(SEED, 0)["detector_blur_px"] == 0.0
    space = r.space.with_overrides({"structure_kind": kind, "dose_e_per_px": "20", "blur_sigma_px": "0.3"})
    blurred = space.with_overrides({"detector_blur_px": "1.0"})
    a = r.render_index(3, entropy=SEED, space=space, shape=(128, 128))
    b = r.render_index(3, entropy=SEED, space=blurred, shape=(128, 128))
    assert np.array_equal(a.mask, b.mask)  # labels untouched
    # pixel-to-pixel roughness (mostly shot noise at this dose) falls with the blur
    assert np.abs(np.diff(b.image, axis=1)).mean() < 0.7 * np.abs(np.diff(a.image, axis=1)).mean()
